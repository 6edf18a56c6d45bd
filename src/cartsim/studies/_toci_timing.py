"""When should tocilizumab be given? The same virtual patients under five tocilizumab timings.

The Porter interview (CLL Society, "CAR-T Part 2") asks whether the cytokine
storm helps CAR-T cells kill the leukaemia, in which case blocking IL-6 early
could cost responses. Every arm keeps the rest of standard management
(dexamethasone for CRS >= 3 or ICANS >= 2, anakinra when refractory, the
suicide switch at CRS 4); only the tocilizumab rule changes. Each arm runs
twice: with the model's default assumption that inflammation does not change
killing, and with the hypothesis that IL-6 signalling boosts it
(``inflammatory_killing_gain``).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from .._batch import build_batch
from ..clinical import Care, run_clinical
from ..io import PROTOCOL_PRESETS, Scenario
from ..patient import DEFAULT_POPULATION, patient_fields, sample_population
from ..stats import analysed, wilson_interval
from ..trial import RATES

_TOCILIZUMAB = dict(give="tocilizumab", dose_mg_per_kg=8, max_dose_mg=800, repeat_after_hours=8, max_doses=3)

#: Arm name -> the tocilizumab rules of that arm (FDA label dose: 8 mg/kg, max 800 mg, >= 8 h apart).
TOCI_ARMS: dict[str, tuple[dict, ...]] = {
    "no tocilizumab": (),
    "prophylactic (day 0)": (dict(_TOCILIZUMAB, name="prophylactic", when="infused", repeat_after_hours=None,
                                  max_doses=1), dict(_TOCILIZUMAB, when="crs_grade >= 2")),
    "at first fever": (dict(_TOCILIZUMAB, when="fever"),),
    "at CRS grade 2": (dict(_TOCILIZUMAB, when="crs_grade >= 2"),),
    "at CRS grade 3": (dict(_TOCILIZUMAB, when="crs_grade >= 3"),),
}
#: The two assumptions on inflammation and killing (parameter overrides).
KILLING_ASSUMPTIONS = {"storm neutral": {"inflammatory_killing_gain": 0.0},
                       "storm aids killing": {"inflammatory_killing_gain": 1.0}}  # doubles killing


def _other_standard_rules() -> list[dict]:
    return [rule.model_dump() for rule in PROTOCOL_PRESETS["standard"] if rule.give != "tocilizumab"]


def cohort(n: int, seed: int, days: int) -> list[dict]:
    """``n`` virtual patients of the default R/R CLL population (scenario dictionaries without treatment),
    fixed by ``seed``; each keeps its own simulation seed from the population."""
    patients = sample_population(DEFAULT_POPULATION, n, seed)
    return [{"name": f"patient {int(row.patient)}", "patient": patient_fields(row),
             "product": {"cd4_fraction": float(row.cd4_fraction)},
             "simulation": {"days": days, "seed": int(row.seed)}} for row in patients.itertuples(index=False)]


#: The study's rates, as the trial analysis defines them.
STUDY_RATES = ("crs_grade3plus_rate", "crs_death_rate", "icans_grade3plus_rate", "response_day28_rate", "cr_rate",
               "umrd4_blood_rate")


def _row(arm: str, assumption: str, endpoints: dict[str, np.ndarray]) -> dict:
    """One row of the study table: the arm's rates with 95% Wilson intervals, CAR-T peak, tocilizumab use."""
    frame = analysed(pd.DataFrame(endpoints))
    n = len(frame)
    row = {"arm": arm, "assumption": assumption, "n": n}
    for name in STUDY_RATES:
        hits = int(RATES[name](frame).sum())
        row[name] = hits / n if n else float("nan")
        row[f"{name}_ci_low"], row[f"{name}_ci_high"] = wilson_interval(hits, n)
    row["car_t_peak_median"] = float(frame["car_t_peak_cells"].median())
    row["tocilizumab_doses_mean"] = float(frame["tocilizumab_doses"].mean())
    return row


def run_toci_timing(n: int = 200, seed: int = 0, days: int = 365,
                    progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Run every arm under both assumptions on the same ``n`` patients; one row per arm and assumption."""
    if n < 1:
        raise ValueError(f"n (patients per arm) must be >= 1; got {n}")
    patients = cohort(n, seed, days)
    rest = _other_standard_rules()
    rows = []
    for assumption, overrides in KILLING_ASSUMPTIONS.items():
        for arm, toci_rules in TOCI_ARMS.items():
            scenarios = [Scenario.validated({**p, "protocol": [*toci_rules, *rest], "parameters": overrides})
                         for p in patients]
            outcome = run_clinical(build_batch(scenarios), Care.of(scenarios))
            rows.append(_row(arm, assumption, outcome.endpoints))
            if progress is not None:
                progress(f"{assumption}: {arm}")
    return pd.DataFrame(rows)
