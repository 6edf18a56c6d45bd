"""The scenario schema: patient, product, lymphodepletion, drug schedule, protocol, clinical clock, parameter overrides.

A scenario is validated when it is built; a malformed file raises
:class:`ScenarioError` whose message names each field, the value given and
what was expected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator

from ..model import PARAMETERS
from .._diseases import DISEASE_NAMES
from ..product import COSTIMULATION, PRODUCT_PRESETS, SOURCES, TARGETS
from ._protocol import DRUGS, PROTOCOL_PRESETS, Rule
from ._strict import ScenarioError, StrictModel, refuse_client_path
from ._yaml import MAX_YAML_BYTES, YamlRefused, parse_yaml

#: Ceilings on what sizes the work of one patient (README "Limits"): every request has a known cost.
MAX_FOLLOW_UP_DAYS = 36500
MAX_SCHEDULED_DOSES = 10_000
MAX_VISITS = 20_000
#: Scheduled doses and lymphodepletion start at most this many days before infusion.
EARLIEST_DAY = -60.0


def _model_parameter(name: str, description: str):
    """A patient field that is a model parameter: its default and bounds are the parameter table's."""
    p = PARAMETERS[name]
    return Field(p.default, ge=p.low, le=p.high, description=f"{description} ({p.units}; {p.description})")


class Tumor(StrictModel):
    """Tumour burden at the start, whole-body cells per compartment, and the tumour's biology relative to CLL
    (the defaults are CLL's: cartsim.patient.DISEASES)."""

    blood_cells: float = Field(2e11, ge=0, le=1e13, description="tumour cells in blood (5 L)")
    marrow_cells: float = Field(3e11, ge=0, le=1e13, description="tumour cells in bone marrow")
    node_cells: float = Field(4e11, ge=0, le=1e13, description="tumour cells in lymph nodes, spleen and "
                                                                "extranodal masses")
    antigen_negative_fraction: float = Field(0.0, ge=0, lt=1, description="share of the antigen-negative/low clone")
    growth_factor: float = Field(1.0, gt=0, le=50, description="tumour proliferation, multiple of CLL's (the "
                                                              "parameter table's cll_birth_* rates)")
    antigen_density: float = Field(1.0, gt=0, le=10, description="target antigen per tumour cell, multiple of "
                                                                "CLL's: scales CAR-T engagement and killing")
    node_access: float = _model_parameter("access_node", "CAR-T access to nodal/extranodal tumour")
    killing_factor: float = Field(1.0, gt=0, le=5, description="CAR-T killing in the tumour's microenvironment, "
                                                              "multiple of CLL's (the table's max_kill_rate)")


class Patient(StrictModel):
    disease: Literal[DISEASE_NAMES] = Field(  # type: ignore[valid-type]
        DISEASE_NAMES[0], description="the B-cell malignancy (sets the response criteria; cartsim.patient.DISEASES)")
    age_years: float = Field(65, ge=1, le=100)
    weight_kg: float = Field(70, gt=5, le=250)
    tumor: Tumor = Tumor()
    normal_b_cells: float = Field(5e9, ge=0, le=1e11, description="whole-body normal B cells (suppressed in CLL)")
    tcell_fitness: float = _model_parameter("tcell_fitness", "1 = healthy-donor-like T cells")
    cytokine_propensity: float = _model_parameter("cytokine_propensity", "1 = typical CRS susceptibility")
    cd4_fraction: float = Field(0.5, gt=0, lt=1, description="CD4 share of the patient's T cells")
    t_cells_per_ul: float = Field(1000.0, gt=0, le=50000, description="blood T cells at apheresis, per uL")
    prior_lines: int = Field(4, ge=0, le=30, description="prior lines of therapy (TRANSCEND CLL 004 median 4)")
    prior_btki: bool = Field(True, description="prior BTK inhibitor (ibrutinib) exposure")


#: The most fractions a split dose may have (CTL019 in CLL and adult ALL was given in three: Frey 2020 JCO).
MAX_INFUSION_FRACTIONS = 10


class Infusion(StrictModel):
    """When the released product is infused: once on day 0, or split into fractions on successive days
    (CTL019: 10%, 30% and 60% on three days, Porter 2011 NEJM, Frey 2020 JCO). Each fraction is that share
    of the whole product, with its phenotype and CD4:CD8 mix; the fractions add up to the released dose."""

    days: tuple[Annotated[float, Field(ge=0, le=MAX_FOLLOW_UP_DAYS)], ...] = Field(
        (0.0,), min_length=1, max_length=MAX_INFUSION_FRACTIONS,
        description="infusion day of each fraction (day 0 is the first infusion; non-decreasing)")
    fractions: tuple[Annotated[float, Field(gt=0, le=1)], ...] = Field(
        (1.0,), min_length=1, max_length=MAX_INFUSION_FRACTIONS,
        description="share of the released dose given on each of days (adding up to 1)")

    @field_validator("days")
    @classmethod
    def _ordered(cls, days):
        for i in range(1, len(days)):
            if days[i] < days[i - 1]:
                raise ValueError(f"days must not decrease: days[{i}] = {days[i]:g} after days[{i - 1}] = "
                                 f"{days[i - 1]:g}")
        return days

    @field_validator("fractions")
    @classmethod
    def _shares_of_one(cls, fractions):
        if abs(sum(fractions) - 1.0) > 1e-9:
            raise ValueError(f"fractions are shares of one dose and must add up to 1 (within 1e-9); got "
                             f"{sum(fractions):.12g}")
        return fractions

    @model_validator(mode="after")
    def _one_day_per_fraction(self):
        if len(self.days) != len(self.fractions):
            raise ValueError(f"infusion needs one day per fraction: days has {len(self.days)} entries, "
                             f"fractions {len(self.fractions)}")
        return self


class Product(StrictModel):
    """The product as specified; for an autologous product the manufacturing stage
    (:mod:`cartsim.product`) turns the specification and the patient into the cells infused."""

    preset: str | None = Field(None, description="a product of cartsim.product.PRODUCT_PRESETS; fields given "
                                                 "next to it override the preset's")
    description: str = ""
    source: Literal[SOURCES] = SOURCES[0]  # type: ignore[valid-type]
    dose_cells: float = Field(1.6e8, ge=0, le=1e11,
                              description="target dose of CAR+ cells, or the cap of a weight-based dose")
    dose_cells_per_kg: float | None = Field(None, gt=0, le=1e8, description="weight-based target dose")
    minimum_dose_cells: float | None = Field(None, ge=0, le=1e11, description="smallest dose released within "
                                                                          "specification; left out, half the target")
    cd4_fraction: float | None = Field(None, ge=0, le=1,
                                       description="defined CD4 share; left out, the patient's T cells'")
    memory_fraction: float = Field(0.3, ge=0, le=1, description="resting/memory-like share of a typical product "
                                                                "(the rest that is not senescent is effector)")
    senescent_fraction: float = Field(0.1, ge=0, le=1, description="senescent share of a typical product")
    prior_exposures: int = Field(0, ge=0, le=2, description="antigen exposures before infusion")
    # The construct choices are the product module's (the parameter table holds what each one sets);
    # the first of each is the table's reference product.
    target: Literal[TARGETS] = TARGETS[0]  # type: ignore[valid-type]
    costimulation: Literal[COSTIMULATION] = COSTIMULATION[0]  # type: ignore[valid-type]
    suicide_switch: bool = False
    manufacturing: bool = Field(True, description="simulate apheresis, transduction and expansion; false: "
                                                  "infuse exactly this product after vein_to_vein_days")
    vein_to_vein_days: float = Field(21.0, ge=0, le=180, description="typical apheresis-to-infusion time of an "
                                                                     "autologous product (about 3 weeks: NCI "
                                                                     "CAR T-cell overview, cancer.gov)")
    transduction_efficiency: float = Field(0.3, gt=0, le=1, description="typical CAR+ share after transduction")
    gvhd_risk: float = Field(0.0, ge=0, le=1, description="probability of acute GvHD (allogeneic cells)")
    infusion: Infusion = Field(Infusion(), description="one infusion on day 0, or a split dose: "
                                                       "{days: [0, 1, 2], fractions: [0.1, 0.3, 0.6]}")

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data):
        if isinstance(data, dict) and data.get("preset") is not None:
            name = data["preset"]
            if not isinstance(name, str):  # a list or mapping is not a name (and cannot be looked up)
                raise ValueError(f"preset is a product name (a string), got {type(name).__name__}; "
                                 f"presets: {', '.join(PRODUCT_PRESETS)}")
            if name not in PRODUCT_PRESETS:
                raise ValueError(f"unknown product preset '{name}'; presets: {', '.join(PRODUCT_PRESETS)}")
            preset = dict(PRODUCT_PRESETS[name])
            dose = data.get("dose_cells")
            if "minimum_dose_cells" in preset and "minimum_dose_cells" not in data and isinstance(dose, float | int):
                # A lower dose of a preset (a dose-ranging arm) is released down to that dose at most.
                preset["minimum_dose_cells"] = min(preset["minimum_dose_cells"], dose)
            data = {**preset, **data}
        return data

    @model_validator(mode="after")
    def _consistent(self):
        if self.source == "autologous" and self.gvhd_risk > 0:
            raise ValueError("gvhd_risk applies to allogeneic cells; autologous products have none")
        if self.memory_fraction + self.senescent_fraction > 1 + 1e-12:  # rounding of 1 - x is no excess
            raise ValueError(f"memory_fraction + senescent_fraction are shares of one product and must add up to "
                             f"at most 1; got {self.memory_fraction:g} + {self.senescent_fraction:g}")
        if self.minimum_dose_cells is not None and self.minimum_dose_cells > self.dose_cells:
            raise ValueError(f"minimum_dose_cells ({self.minimum_dose_cells:g}) is the smallest dose released and "
                             f"must not exceed dose_cells ({self.dose_cells:g}); a lower dose needs a lower minimum_dose_cells")
        return self


class Lymphodepletion(StrictModel):
    regimen: Literal["flu_cy", "none"] = "flu_cy"
    intensity: float = Field(1.0, gt=0, le=3, description="multiple of the standard daily flu/cy dose; above 1 "
                                                         "for deeper lymphodepletion (e.g. before allogeneic cells)")
    days: tuple[Annotated[float, Field(ge=EARLIEST_DAY, le=0)], ...] = Field(
        (-5.0, -4.0, -3.0), max_length=10, description="days of the standard daily doses, before infusion (<= 0)")

    @model_validator(mode="after")
    def _given_on_some_day(self):
        if self.regimen == "flu_cy" and not self.days:
            raise ValueError("flu_cy needs at least one day in days (regimen: none gives no lymphodepletion)")
        return self


class DrugDose(StrictModel):
    """A scheduled dose, or a course of doses every ``every_days`` from ``day`` through ``until_day``
    (e.g. ibrutinib 420 mg daily from day -28 as bridging and on through the expansion)."""

    drug: Literal[tuple(DRUGS)]  # type: ignore[valid-type]
    day: float = Field(ge=EARLIEST_DAY, le=MAX_FOLLOW_UP_DAYS,
                       description="day relative to infusion (of the first dose of a course)")
    dose: float = Field(gt=0, le=5000, description="amount in the drug's unit (see DRUGS)")
    every_days: float | None = Field(None, ge=0.25, le=365, description="interval of a course")
    until_day: float | None = Field(None, le=MAX_FOLLOW_UP_DAYS, description="last day of a course")

    @model_validator(mode="after")
    def _course(self):
        if (self.every_days is None) != (self.until_day is None):
            raise ValueError("a course needs both every_days and until_day (or neither, for one dose)")
        if self.until_day is not None:
            if self.until_day < self.day:
                raise ValueError(f"until_day ({self.until_day:g}) must not come before day ({self.day:g})")
            if len(self.days) > 2000:
                raise ValueError(f"a course may have at most 2000 doses; this one has {len(self.days)}")
        return self

    @property
    def days(self) -> tuple[float, ...]:
        """The days of every dose."""
        if self.every_days is None:
            return (self.day,)
        count = int((self.until_day - self.day) / self.every_days + 1e-9) + 1
        return tuple(self.day + i * self.every_days for i in range(count))


class VisitSegment(StrictModel):
    """Visits every ``every_hours`` after infusion until ``until_day`` (None: to the end of follow-up)."""

    until_day: float | None = Field(None, gt=0, le=MAX_FOLLOW_UP_DAYS)
    every_hours: float = Field(ge=1, le=8760)


class ClinicalSettings(StrictModel):
    visits: tuple[VisitSegment, ...] = Field(
        (
            VisitSegment(until_day=30, every_hours=6),
            VisitSegment(until_day=90, every_hours=24),
            VisitSegment(every_hours=720),
        ),
        max_length=20,
        description="piecewise visit schedule after infusion; the last segment runs to the end of follow-up",
    )

    @field_validator("visits")
    @classmethod
    def _piecewise(cls, visits):
        if not visits:
            raise ValueError("at least one visit segment is needed")
        *inner, last = visits
        for i, segment in enumerate(inner):
            if segment.until_day is None:
                raise ValueError(f"only the last visit segment may omit until_day; segment {i} has none")
            if i and segment.until_day <= inner[i - 1].until_day:
                raise ValueError(
                    f"until_day must increase strictly: segment {i} has {segment.until_day:g} "
                    f"after {inner[i - 1].until_day:g}"
                )
        if last.until_day is not None:
            raise ValueError(
                f"the last visit segment runs to the end of follow-up and must omit until_day; "
                f"got {last.until_day:g}"
            )
        return visits

    def visit_count(self, days: float) -> int:
        """How many visits a follow-up of ``days`` has (an upper bound: death ends them sooner)."""
        count, start = 0.0, 0.0
        for segment in self.visits:
            end = min(days, MAX_FOLLOW_UP_DAYS if segment.until_day is None else segment.until_day)
            count += max(end - start, 0.0) * 24.0 / segment.every_hours
            start = max(start, end)
        return int(count) + len(self.visits)

    def check_follow_up(self, days: float, field: str) -> None:
        """Refuse a visit schedule too dense for a follow-up of ``days`` (``field`` names the follow-up)."""
        count = self.visit_count(days)
        if count > MAX_VISITS:
            raise ValueError(f"clinical.visits give {count} visits over {field} = {days:g} days; at most "
                             f"{MAX_VISITS} are allowed (visit less often, e.g. every_hours >= 24 after day 90)")


def check_schedule_ends(schedule: tuple[DrugDose, ...], days: float, field: str) -> None:
    """Refuse scheduled doses after the end of follow-up (``days``, named by ``field``)."""
    for i, given in enumerate(schedule):
        last = given.day if given.until_day is None else given.until_day
        if last > days:
            raise ValueError(f"schedule[{i}] ({given.drug}) gives a dose on day {last:g}, after the end of "
                             f"follow-up ({field} = {days:g})")


def check_infusion_ends(product: Product, days: float, field: str) -> None:
    """Refuse a fraction of the product infused after the end of follow-up (``days``, named by ``field``)."""
    last = product.infusion.days[-1]
    if last > days:
        raise ValueError(f"product.infusion.days gives a fraction on day {last:g}, after the end of follow-up "
                         f"({field} = {days:g})")


class SimulationSettings(StrictModel):
    days: int = Field(3650, ge=1, le=MAX_FOLLOW_UP_DAYS, description="follow-up after infusion")
    seed: int = Field(0, ge=0, lt=2**63)
    stochastic: bool = True
    rtol: float = Field(1e-6, ge=1e-12, le=1e-2)


class Treatment(StrictModel):
    """What a patient is given: product, lymphodepletion, scheduled drugs, protocol, parameter overrides
    (a scenario's treatment, or a trial arm)."""

    product: Product = Product()
    lymphodepletion: Lymphodepletion = Lymphodepletion()
    schedule: tuple[DrugDose, ...] = Field((), max_length=100)
    protocol: tuple[Rule, ...] = Field(
        "standard",  # type: ignore[assignment]  (a preset name, expanded by the validator)
        validate_default=True, max_length=50,
        description="rules 'condition -> drug' applied at each visit, or a preset name (PROTOCOL_PRESETS)",
    )
    parameters: dict[str, float] = Field(default_factory=dict, description=(
        "model parameter overrides by name, or the path of a parameter-set file (cartsim calibrate --out) "
        "whose model parameter values apply"))

    @field_validator("protocol", mode="before")
    @classmethod
    def _expand_preset(cls, protocol):
        if isinstance(protocol, str):
            if protocol not in PROTOCOL_PRESETS:
                raise ValueError(
                    f"unknown protocol preset '{protocol}'; presets: {', '.join(PROTOCOL_PRESETS)} "
                    "(or give a list of rules)"
                )
            return PROTOCOL_PRESETS[protocol]
        return protocol

    @field_validator("parameters", mode="before")
    @classmethod
    def _parameter_set_file(cls, parameters, info: ValidationInfo):
        if isinstance(parameters, (str, Path)):  # a path (relative to the working directory): the set's values
            refuse_client_path(info, 'a mapping of model parameter overrides by name, e.g. {"senescence_rate": 0.05}')
            from ..patient import load_parameter_set  # lazy: the sampler is not needed otherwise

            return load_parameter_set(parameters)["parameters"]
        return parameters

    @field_validator("parameters")
    @classmethod
    def _known_and_in_range(cls, overrides):
        for name, value in overrides.items():
            if name not in PARAMETERS:
                raise ValueError(f"unknown model parameter '{name}'; see cartsim.model.PARAMETER_NAMES")
            PARAMETERS[name].check(value)
        return overrides

    @field_validator("schedule")
    @classmethod
    def _bounded_doses(cls, schedule):
        total = sum(len(given.days) for given in schedule)
        if total > MAX_SCHEDULED_DOSES:
            raise ValueError(f"the schedule expands to {total} doses; at most {MAX_SCHEDULED_DOSES} are allowed")
        return schedule


class Scenario(Treatment):
    """One patient, its treatment, the clinical clock and the simulation settings."""

    name: str = "scenario"
    description: str = ""
    patient: Patient = Patient()
    clinical: ClinicalSettings = ClinicalSettings()
    simulation: SimulationSettings = SimulationSettings()

    @model_validator(mode="after")
    def _within_follow_up(self):
        check_schedule_ends(self.schedule, self.simulation.days, "simulation.days")
        check_infusion_ends(self.product, self.simulation.days, "simulation.days")
        self.clinical.check_follow_up(self.simulation.days, "simulation.days")
        return self


def to_yaml(model: BaseModel) -> str:
    """A validated scenario or trial as the YAML file that :func:`read_yaml` would read back to it."""
    return yaml.safe_dump(model.model_dump(mode="json"), sort_keys=False)


def read_yaml(path: str | Path, what: str = "scenario") -> object:
    """Parse a ``what`` YAML file (plain YAML: see :mod:`cartsim.io._yaml`); a missing, unreadable or
    refused file is a ScenarioError naming the file."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            text = file.read(MAX_YAML_BYTES + 1)
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such {what} file") from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read the {what} file ({exc.strerror})") from None
    return parse_yaml_text(text, str(path))


def parse_yaml_text(text: str | bytes, source: str) -> object:
    """The data of a YAML document from ``source`` (a file name, or what a web request holds)."""
    try:
        return parse_yaml(text)
    except YamlRefused as exc:
        raise ScenarioError(f"{source}: {exc}") from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file."""
    return Scenario.validated(read_yaml(path), str(path))
