"""Virtual cohorts of the published studies, simulated like with like (same product, dose and follow-up).

Every cohort draws its patients from one population (an R/R CLL population, a calibration candidate of it, or
the B-ALL and LBCL populations of the trials in those diseases) with a fixed seed, so two runs of a cohort treat the same virtual patients (common
random numbers: a change of parameters, not of patients, moves the result).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..patient import (B_ALL_POPULATION, CTL019_ERA_POPULATION, DEFAULT_POPULATION, LBCL_POPULATION, POPULATIONS,
                       Population, sample_population)
from ..clinical import CRS_GRADE_ENDPOINTS
from ..trial import Trial, simulate_patients

#: Days at which cohort states are kept for kinetics: daily through the expansion and contraction, then
#: monthly to ten years.
RECORD_DAYS = np.unique(np.concatenate([np.arange(0.0, 121.0), np.arange(150.0, 3651.0, 30.0), [365.0, 3650.0]]))


@dataclass(frozen=True)
class Cohort:
    """Patients per arm, follow-up, seed and arms (trial-file arm mappings) of one virtual study."""

    description: str
    arms: tuple[dict, ...]
    patients_per_arm: int
    days: int
    seed: int
    population: str = DEFAULT_POPULATION
    #: The CRS scale the study graded by (cartsim.clinical.CRS_SCALES): its virtual patients are graded by it.
    crs_scale: str = "ASTCT"

    @property
    def disease(self) -> str:
        """The disease of the cohort's population."""
        return POPULATIONS[self.population].disease


_CTL019 = {"preset": "tisa-cel", "dose_cells": 1.6e8}  # Porter 2015: CTL019 at its median dose (porter2015_dose)
#: The UPenn CTL019 trials treated their patients before BTK inhibitors and venetoclax.
_CTL019_ERA = CTL019_ERA_POPULATION
#: ... and before the early-tocilizumab algorithms: the UPenn trials gave tocilizumab for severe CRS only and graded
#: CRS by the Penn scale, which Porter 2018 J Hematol Oncol 11:35 set out from these CLL patients (with ELIANA's);
#: the protocol is the one of the tisagenlecleucel trials below [A].
_SEVERE_CRS_ONLY = {"protocol": "tocilizumab_for_severe_crs"}

#: The Fred Hutch CD19 CAR-T of the blind studies (Turtle 2017 J Clin Oncol; Gauthier 2020 Blood; Liang 2023 Blood
#: Adv; Hay 2017 Blood): 4-1BB, CD4 and CD8 CAR-T cells in a defined 1:1 composition, 2e6 CAR+ cells/kg (the dose
#: level Turtle 2017 carried forward; recalled, verify), flu/cy. The 1e9 cap [A] leaves every weight at 2e6/kg.
_FRED_HUTCH = {"costimulation": "4-1BB", "cd4_fraction": 0.5, "dose_cells_per_kg": 2e6, "dose_cells": 1e9}
#: Gauthier 2020 Blood: ibrutinib 420 mg daily from at least 2 weeks before leukapheresis (which is vein-to-vein
#: days before infusion) to at least 3 months after infusion.
_CONCURRENT_IBRUTINIB = ({"drug": "ibrutinib", "day": -35.0, "dose": 420.0, "every_days": 1.0, "until_day": 90.0},)
#: Geyer 2019 JCI Insight: 19-28z, CD19 CAR with CD28 co-stimulation; dose [A] 1e7 CAR+ cells/kg (the trial's dose
#: levels were not found in the sources searched; recalled, verify).
_MSKCC_19_28Z = {"costimulation": "CD28", "dose_cells_per_kg": 1e7, "dose_cells": 1e10}

#: ELIANA (Maude 2018 NEJM): tisa-cel 0.2-5e6 CAR+ cells/kg up to 50 kg, 0.1-2.5e8 above; median 3.0e6/kg (Grupp 2018
#: ASH update). The cohort gives the median per kg, capped at 2.5e8.
_ELIANA_DOSE = {"preset": "tisa-cel", "dose_cells_per_kg": 3e6, "dose_cells": 2.5e8, "minimum_dose_cells": 1e7}
#: JULIET (Schuster 2019 NEJM): tisa-cel target 5e8, median infused 3e8 (0.1-6e8; recalled, verify).
_JULIET_DOSE = {"preset": "tisa-cel", "dose_cells": 3e8}
#: Both trials gave tocilizumab for severe CRS only (the protocol preset's source), not at grade 2: _SEVERE_CRS_ONLY.

COHORTS: dict[str, Cohort] = {
    "porter": Cohort("CTL019 at the median dose of Porter 2015 (1.6e8 CAR+ cells) after flu/cy, tocilizumab for "
                     "severe CRS, ten years", ({"name": "CTL019", "product": _CTL019, **_SEVERE_CRS_ONLY},), 300, 3650,
                     2015, _CTL019_ERA, "Penn"),
    "frey": Cohort("CTL019 5e7 vs 5e8 CAR+ cells (Frey 2020), tocilizumab for severe CRS, one year",
                   ({"name": "5e7", "product": {**_CTL019, "dose_cells": 5e7}, **_SEVERE_CRS_ONLY},
                    {"name": "5e8", "product": {**_CTL019, "dose_cells": 5e8}, **_SEVERE_CRS_ONLY}), 150, 365, 2020,
                   _CTL019_ERA, "Penn"),
    "transcend": Cohort("liso-cel 1e8 (TRANSCEND CLL 004), one year",
                        ({"name": "liso-cel", "product": {"preset": "liso-cel"}},), 300, 365, 2023),
    "natural": Cohort("CTL019 without and with the standard CRS protocol in the same patients, 120 days "
                      "(the natural course of CRS, as for the first UPenn patients)",
                      ({"name": "no protocol", "product": _CTL019, "protocol": "none"},
                       {"name": "standard", "product": _CTL019}), 300, 120, 2011, _CTL019_ERA),
    "untreated": Cohort("no CAR-T (manufacturing off, zero dose), no lymphodepletion, one year",
                        ({"name": "untreated", "product": {"dose_cells": 0.0, "manufacturing": False},
                          "lymphodepletion": {"regimen": "none"}, "protocol": "none"},), 100, 365, 7),
    # The tisagenlecleucel trials of the other diseases, graded by the Penn scale as they were.
    "eliana": Cohort("tisa-cel ~3e6/kg after flu/cy in paediatric/young-adult R/R B-ALL (ELIANA, Maude 2018 NEJM), "
                     "one year", ({"name": "tisa-cel", "product": _ELIANA_DOSE, **_SEVERE_CRS_ONLY},), 200, 365, 2018,
                     B_ALL_POPULATION, "Penn"),
    "juliet": Cohort("tisa-cel 3e8 after lymphodepletion in R/R LBCL (JULIET, Schuster 2019 NEJM), one year",
                     ({"name": "tisa-cel", "product": _JULIET_DOSE, **_SEVERE_CRS_ONLY},), 200, 365, 2019,
                     LBCL_POPULATION, "Penn"),
    # Cohorts of the blind studies (blind.yaml): compared by cartsim validate --blind, never fitted.
    "fred_hutch": Cohort("Fred Hutch defined-composition 4-1BB CD19 CAR-T 2e6/kg after flu/cy in R/R CLL after "
                         "ibrutinib (Turtle 2017 J Clin Oncol; long-term follow-up Liang 2023 Blood Adv), six and a "
                         "half years", ({"name": "CD19 CAR-T", "product": _FRED_HUTCH},), 200, 2400, 2017),
    "fred_hutch_dose": Cohort("the Fred Hutch CAR-T at 2e5 vs 2e6 CAR+ cells/kg (dose levels of Turtle 2017; the dose "
                              "effect on CRS of Hay 2017 Blood), 120 days",
                              ({"name": "2e5/kg", "product": {**_FRED_HUTCH, "dose_cells_per_kg": 2e5}},
                               {"name": "2e6/kg", "product": _FRED_HUTCH}), 200, 120, 2018),
    "gauthier": Cohort("the Fred Hutch CAR-T 2e6/kg with and without concurrent ibrutinib in the same patients "
                       "(Gauthier 2020 Blood), one year",
                       ({"name": "concurrent ibrutinib", "product": _FRED_HUTCH, "schedule": _CONCURRENT_IBRUTINIB},
                        {"name": "no ibrutinib", "product": _FRED_HUTCH}), 200, 365, 2020),
    "zuma1": Cohort("axi-cel (CD28) 2e6/kg after flu/cy in refractory LBCL (ZUMA-1, Neelapu 2017 NEJM), graded by "
                    "Lee 2014, one year", ({"name": "axi-cel", "product": {"preset": "axi-cel"}},), 200, 365, 2017,
                    LBCL_POPULATION, "Lee 2014"),
    "transcend_nhl": Cohort("liso-cel 1e8 (4-1BB, defined CD4:CD8) in R/R LBCL (TRANSCEND NHL 001, Abramson 2020 "
                            "Lancet), graded by Lee 2014, one year",
                            ({"name": "liso-cel", "product": {"preset": "liso-cel"}},), 200, 365, 2020,
                            LBCL_POPULATION, "Lee 2014"),
    "geyer": Cohort("MSKCC 19-28z (CD28) CD19 CAR-T after conditioning in R/R CLL (Geyer 2019 JCI Insight), 120 days",
                    ({"name": "19-28z", "product": _MSKCC_19_28Z},), 200, 120, 2019),
}


@dataclass
class CohortResult:
    """One row per patient (covariates, product, clinical endpoints) and the recorded states."""

    frame: pd.DataFrame
    states: np.ndarray  # [patient, record day, state], patients in frame order
    days: np.ndarray
    extra: dict = field(default_factory=dict)
    crs_scale: str = "ASTCT"  # the scale of the study, whose grades ``crs_grades`` gives

    def arm(self, name: str) -> "CohortResult":
        rows = (self.frame["arm"] == name).to_numpy()
        return CohortResult(self.frame[rows].reset_index(drop=True), self.states[rows], self.days,
                            crs_scale=self.crs_scale)

    def crs_grades(self) -> np.ndarray:
        """Each patient's maximum CRS grade by the scale the study graded with."""
        return self.frame[CRS_GRADE_ENDPOINTS[self.crs_scale]].to_numpy()


def within_follow_up(arm: dict, days: int) -> dict:
    """``arm`` with its scheduled doses cut at a shortened follow-up of ``days`` (a course ends there)."""
    schedule = []
    for dose in arm.get("schedule", ()):
        if dose["day"] > days:
            continue
        schedule.append({**dose, "until_day": min(dose["until_day"], days)} if "until_day" in dose else dose)
    return {**arm, "schedule": schedule} if "schedule" in arm else arm


def simulate_cohort(cohort: Cohort, populations: Mapping[str, Population] | None = None, days: int | None = None,
                    patients_per_arm: int | None = None) -> CohortResult:
    """Simulate ``cohort`` (optionally with candidate ``populations``, by preset name, in place of the presets;
    a shorter follow-up or fewer patients)."""
    days = cohort.days if days is None else days
    n = cohort.patients_per_arm if patients_per_arm is None else patients_per_arm
    arms = [within_follow_up(arm, days) for arm in cohort.arms]
    trial = Trial.validated({"name": "cohort", "population": cohort.population, "patients_per_arm": n,
                             "follow_up_days": days, "seed": cohort.seed, "arms": arms})
    patients = sample_population((populations or {}).get(cohort.population, cohort.population), n, cohort.seed)
    record_days = RECORD_DAYS[RECORD_DAYS <= days]
    frames, states = [], []
    for arm in trial.arms:
        frame, recorded = simulate_patients(trial, arm, patients, record_days)
        frames.append(frame)
        states.append(recorded)
    return CohortResult(pd.concat(frames, ignore_index=True), np.concatenate(states), record_days,
                        crs_scale=cohort.crs_scale)
