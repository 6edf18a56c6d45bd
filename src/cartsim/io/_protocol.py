"""Protocol rules as the scenario schema reads them: the drugs, the visit variables a rule's condition may
use, :class:`Rule` and the named presets. The clinical clock decides them (:mod:`cartsim.clinical`); the
condition language is :mod:`cartsim.conditions`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from ..conditions import compile_condition
from ..model import DRUG_TABLE
from ._strict import StrictModel

#: Drugs a schedule can give, with the unit of ``dose`` (the model's drug table).
DRUGS: dict[str, str] = {drug.name: drug.unit for drug in DRUG_TABLE}


#: Variables a condition may use: the visit's clinical readouts, and per drug in
#: :data:`DRUGS` the doses given so far (``<drug>_doses``, by any rule or
#: the schedule) and the hours since the last dose (``hours_since_<drug>``, inf if never).
VISIT_VARIABLES: tuple[str, ...] = (
    "day",  # days since infusion
    "crs_grade",  # ASTCT CRS grade now, 0-5
    "icans_grade",  # ASTCT ICANS grade now, 0-5
    "crs_max_grade",  # highest CRS grade so far
    "icans_max_grade",  # highest ICANS grade so far
    "temperature_c",
    "fever",  # 0/1, temperature >= 38 C
    "infused",  # 0/1, CAR-T cells given (0 before day 0 and after a failed manufacture)
    *(f"{drug}_doses" for drug in DRUGS),
    *(f"hours_since_{drug}" for drug in DRUGS),
)


class Rule(StrictModel):
    """A protocol rule: at each clinical visit, give ``give`` to the patients for whom ``when`` holds.

    ``when`` is a condition over the visit variables (see
    :data:`VISIT_VARIABLES`, language: :mod:`cartsim.conditions`); the dose is
    ``dose_mg`` or ``min(dose_mg_per_kg * weight, max_dose_mg)``.
    """

    name: str = Field("", description="label; default derived from give/when")
    when: str = Field(description="condition over the visit variables, e.g. 'crs_grade >= 2'")
    give: Literal[tuple(DRUGS)]  # type: ignore[valid-type]
    dose_mg: float | None = Field(None, gt=0, le=5000, description="flat dose in the drug's unit")
    dose_mg_per_kg: float | None = Field(None, gt=0, le=50, description="weight-based dose")
    max_dose_mg: float | None = Field(None, gt=0, le=5000, description="cap on a weight-based dose")
    repeat_after_hours: float | None = Field(
        None, gt=0, le=8760, description="minimum hours between doses from this rule; None: fires once"
    )
    max_doses: int = Field(1, ge=1, le=1000, description="doses per patient from this rule")

    @model_validator(mode="before")
    @classmethod
    def _default_name(cls, data):
        if isinstance(data, dict) and not data.get("name"):
            data = {**data, "name": f"{data.get('give')} when {data.get('when')}"}
        return data

    @field_validator("when")
    @classmethod
    def _parses(cls, text):
        compile_condition(text, VISIT_VARIABLES)  # raises ValueError naming position and what was expected
        return text

    @model_validator(mode="after")
    def _dose_and_repeat(self):
        if (self.dose_mg is None) == (self.dose_mg_per_kg is None):
            which = "both" if self.dose_mg is not None else "neither"
            raise ValueError(f"give exactly one of dose_mg or dose_mg_per_kg (got {which})")
        if self.max_dose_mg is not None and self.dose_mg_per_kg is None:
            raise ValueError("max_dose_mg caps a weight-based dose; it needs dose_mg_per_kg, not dose_mg")
        if self.repeat_after_hours is None and self.max_doses != 1:
            raise ValueError(
                f"max_doses = {self.max_doses} needs repeat_after_hours (a rule without it fires once)"
            )
        return self


# Presets. Doses and intervals:
# * tocilizumab 8 mg/kg IV (max 800 mg per infusion), >= 8 h between doses: FDA Actemra
#   (tocilizumab) label, "Cytokine Release Syndrome" (CAR T cell-induced CRS), which allows up
#   to 3 further doses after the first if there is no improvement; consensus algorithms
#   (Neelapu et al., Nat Rev Clin Oncol 2018; Lee et al., ASTCT consensus grading, Biol Blood
#   Marrow Transplant 2019) limit this to 3 doses in 24 h, which is the rule's cap here.
# * dexamethasone 10 mg IV every 6 h for CRS grade >= 3 or ICANS grade >= 2: NCCN Guidelines,
#   Management of Immunotherapy-Related Toxicities (CAR T-cell section); Santomasso et al.,
#   ASCO guideline, J Clin Oncol 2021; Neelapu et al. 2018.
# * anakinra 100 mg every 6 h for CRS/ICANS refractory to tocilizumab/steroids: NCCN
#   Management of Immunotherapy-Related Toxicities; Santomasso et al., ASCO 2021.
# * switch_drug (rimiducid-type dimerizer for an inducible-caspase-9 switch) 20 mg once for
#   grade 4 CRS: the model's flat dose; in iCasp9 trials rimiducid (AP1903) was given at
#   0.4 mg/kg (Di Stasi et al., N Engl J Med 2011).

_TOCILIZUMAB = {"give": "tocilizumab", "dose_mg_per_kg": 8, "max_dose_mg": 800}

_STANDARD: tuple[Rule, ...] = (
    Rule(name="tocilizumab for CRS grade >= 2", when="crs_grade >= 2", **_TOCILIZUMAB,
         repeat_after_hours=8, max_doses=3),
    Rule(name="dexamethasone for CRS grade >= 3 or ICANS grade >= 2",
         when="crs_grade >= 3 or icans_grade >= 2", give="corticosteroid", dose_mg=10,
         repeat_after_hours=6, max_doses=12),
    Rule(name="anakinra for refractory CRS/ICANS",
         when="(crs_grade >= 3 and tocilizumab_doses >= 2) or (icans_grade >= 3 and corticosteroid_doses >= 2)",
         give="anakinra", dose_mg=100, repeat_after_hours=6, max_doses=12),
    Rule(name="safety switch for CRS grade 4", when="crs_grade >= 4", give="switch_drug", dose_mg=20),
)

#: Named protocols; ``Scenario.protocol`` accepts a name and holds the expanded rules.
PROTOCOL_PRESETS: dict[str, tuple[Rule, ...]] = {
    "standard": _STANDARD,
    "none": (),
    "prophylactic_tocilizumab": (
        Rule(name="prophylactic tocilizumab", when="infused", **_TOCILIZUMAB),
        *_STANDARD,
    ),
    "early_tocilizumab": (
        Rule(name="tocilizumab at first fever", when="fever", **_TOCILIZUMAB),
        *_STANDARD,
    ),
    # The tisagenlecleucel trials (ELIANA, JULIET) kept tocilizumab for severe CRS: in JULIET 16 of 111 infused
    # received it, all for Penn grade 3/4 CRS (Maziarz 2020 Blood Adv 4:1440), i.e. hypotension needing
    # vasopressors or more oxygen than a low-flow cannula (ASTCT >= 3); corticosteroids came second, for CRS
    # refractory to tocilizumab (JULIET: 10% received both) or severe neurotoxicity [A]. Anakinra and switch as
    # standard.
    "tocilizumab_for_severe_crs": (
        Rule(name="tocilizumab for CRS grade >= 3", when="crs_grade >= 3", **_TOCILIZUMAB,
             repeat_after_hours=8, max_doses=3),
        Rule(name="dexamethasone for CRS grade >= 3 after tocilizumab or ICANS grade >= 3",
             when="(crs_grade >= 3 and tocilizumab_doses >= 1) or icans_grade >= 3", give="corticosteroid",
             dose_mg=10, repeat_after_hours=6, max_doses=12),
        *_STANDARD[2:],
    ),
}
