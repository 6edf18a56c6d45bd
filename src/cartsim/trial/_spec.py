"""Trial files: a virtual population, arms that differ by treatment, patients per arm, follow-up, seed.

Every arm treats the same virtual patients (patient ``i`` of every arm is one
person with one seed), so arms are compared on common random numbers.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator, model_validator

from ..clinical import Care
from ..io import (MAX_FOLLOW_UP_DAYS, ClinicalSettings, Scenario, ScenarioError, SimulationSettings, StrictModel,
                  Treatment, check_infusion_ends, check_schedule_ends, from_client, read_yaml, refuse_client_path)
from ..patient import (DEFAULT_POPULATION, POPULATIONS, Population, load_parameter_set, patient_fields,
                       populations_of)
from ..solver import SolverOptions


class Arm(Treatment):
    """One arm: a name and the treatment every patient of the arm gets. A product ``cd4_fraction`` set
    here is the product's; left out, each product mirrors its patient's own CD4:CD8."""

    name: str = Field(min_length=1, max_length=100)


class Trial(StrictModel):
    name: str = "trial"
    description: str = ""
    population: str = Field(DEFAULT_POPULATION, description="a preset of cartsim.patient.POPULATIONS")
    patients_per_arm: int = Field(1000, ge=1, le=10_000_000)
    seed: int = Field(0, ge=0, lt=2**63)
    follow_up_days: int = Field(3650, ge=30, le=MAX_FOLLOW_UP_DAYS)
    stochastic: bool = True
    clinical: ClinicalSettings = ClinicalSettings()
    parameters: str | None = Field(None, description=(
        "a parameter-set file (cartsim calibrate --out): its population marginals are the population's, its "
        "model parameters every arm's, beneath the arm's own overrides"))
    # Not min_length: it would add a spurious "at least 1 item" to the errors of every invalid arm.
    arms: tuple[Arm, ...] = Field(max_length=20)

    @model_validator(mode="before")
    @classmethod
    def _parameter_set_in_every_arm(cls, data, info: ValidationInfo):
        if not (isinstance(data, dict) and isinstance(data.get("parameters"), str)) or from_client(info):
            return data  # a client's path is left, unread, to the field's check, which refuses it by name
        values = load_parameter_set(data["parameters"])["parameters"]
        arms = data.get("arms")
        if values and isinstance(arms, (list, tuple)):
            # An arm naming its own set keeps it; an arm's mapping of overrides goes on top of the trial's set.
            arms = [{**arm, "parameters": {**values, **(arm.get("parameters") or {})}}
                    if isinstance(arm, dict) and not isinstance(arm.get("parameters"), str) else arm for arm in arms]
            data = {**data, "arms": arms}
        return data

    def sampled_population(self) -> str | Population:
        """What the trial's patients are drawn from: the preset, calibrated by ``parameters`` when given."""
        if self.parameters is None:
            return self.population
        return populations_of(load_parameter_set(self.parameters))[self.population]

    @field_validator("parameters")
    @classmethod
    def _no_client_path(cls, path, info: ValidationInfo):
        if path is not None:
            refuse_client_path(info, "the field left out: patients of a preset (population), model parameters "
                                     "as a mapping in each arm's parameters, or the shipped posterior "
                                     "(?posterior=shipped)")
        return path

    @field_validator("population")
    @classmethod
    def _known_population(cls, name):
        if name not in POPULATIONS:
            raise ValueError(f"unknown population '{name}'; presets: {', '.join(POPULATIONS)}")
        return name

    @field_validator("arms")
    @classmethod
    def _unique_names(cls, arms):
        if not arms:
            raise ValueError("a trial needs at least one arm")
        names = [arm.name for arm in arms]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"arm names must be unique; repeated: {', '.join(repeated)}")
        return arms

    @model_validator(mode="after")
    def _within_follow_up(self):
        for arm in self.arms:
            check_schedule_ends(arm.schedule, self.follow_up_days, f"follow_up_days (arm '{arm.name}')")
            check_infusion_ends(arm.product, self.follow_up_days, f"follow_up_days (arm '{arm.name}')")
        self.clinical.check_follow_up(self.follow_up_days, "follow_up_days")
        return self

    def care(self, arm: Arm) -> Care:
        """What every patient of ``arm`` shares in the clinic: its protocol, the trial's visits and follow-up,
        the solver options of a scenario's default tolerance."""
        rtol = SimulationSettings.model_fields["rtol"].default
        options = SolverOptions(rtol=rtol, stochastic=self.stochastic)
        return Care(arm.protocol, self.clinical, self.follow_up_days, options)

    def scenario(self, arm: Arm, patient) -> Scenario:
        """The scenario of one ``patient`` (a row of the population frame) in ``arm``: the per-patient form
        of a trial's patient (validation of the arms, a patient's YAML); trials run on arrays."""
        data = arm.model_dump(exclude={"name"})
        data.update(name=f"{arm.name} #{int(patient.patient)}", patient=patient_fields(patient),
                    clinical=self.clinical.model_dump(),
                    simulation={"days": self.follow_up_days, "seed": int(patient.seed), "stochastic": self.stochastic})
        return Scenario.model_validate(data)


def load_trial(path: str | Path) -> Trial:
    """Read and validate a trial YAML file (a ScenarioError lists every invalid field)."""
    data = read_yaml(path, "trial")
    if isinstance(data, dict) and "arms" not in data:
        raise ScenarioError(f"{path}: a trial file needs 'arms' (a list of named treatments)")
    return Trial.validated(data, str(path))
