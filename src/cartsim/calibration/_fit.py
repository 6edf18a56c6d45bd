"""`cartsim calibrate`: fit the T-cell fitness (median and spread) of the default and CTL019-era populations to
published response rates.

Why these parameters: in every virtual trial so far the responder analysis finds that T-cell fitness
decides who responds (CLL-related T-cell dysfunction, Fraietta 2018 Nat Med), so its distribution sets the
response rate of a population; the other characteristics come from trial demographics.

Objective: the sum over the fitted targets of ((simulated - published) / se)^2, where se combines
the published proportion's binomial error (its own count, or a quarter of a published band) and the
simulated rate's sampling error. The cohorts keep their patients fixed (common random numbers), and
Nelder-Mead (scipy) searches log median and the spread within SPREAD_BOUNDS. The result is a versioned parameter set
with its provenance (targets, date, objective, evaluations), written to the file ``--out`` names and used by
a run through ``--parameters FILE``. Targets marked blind (blind.yaml) are refused with a CalibrationError.
The command never writes into the installed package: the shipped default
(``cartsim/patient/calibrated.json``) changes only by committing a parameter set over it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, logit

from ..patient import CTL019_ERA_POPULATION, DEFAULT_POPULATION
from ..patient import PARAMETER_SET_FORMAT, UNCALIBRATED_POPULATIONS
from ._targets import Target, refuse_blind
from ._validate import compare

#: The targets the fit uses (response rates of CAR-T in R/R CLL); every other target only validates.
FIT_TARGETS = ("porter2015_cr", "porter2015_orr", "frey2020_cr_overall", "fraietta2018_response_counts",
               "cll_reasons_lower_efficacy")
#: Bounds of the fitted log-sd of T-cell fitness ([A]): below 0.3 patients would be near-identical; above
#: 0.8 a fifth of a population with a low median would pile up at the parameter's floor (0.05).
SPREAD_BOUNDS = (0.3, 0.8)
#: Follow-up and patients per arm of the fitting cohorts (a best response is reached within a year).
FIT_DAYS = 365
FIT_PATIENTS = 200


#: The presets whose T-cell fitness the fit moves together: the default population and the CTL019-era one
#: of the UPenn cohorts (heavily pretreated R/R CLL both; the fitted targets come from the latter).
FITTED_POPULATIONS = (DEFAULT_POPULATION, CTL019_ERA_POPULATION)


def candidate(median: float, spread: float) -> dict:
    """The fitted presets (by name) with T-cell fitness ``median`` and log-sd ``spread``."""
    out = {}
    for name in FITTED_POPULATIONS:
        base = UNCALIBRATED_POPULATIONS[name]
        out[name] = replace(base, tcell_fitness=replace(base.tcell_fitness, median=median, spread=spread))
    return out


def objective_terms(table) -> list[tuple[str, float]]:
    """(target id, z) of each fitted row of a validation table."""
    terms = []
    for row in table.itertuples(index=False):
        if row.simulated is None or not np.isfinite(row.simulated):
            terms.append((row.id, 10.0))  # not estimable: a large penalty keeps the search away
            continue
        centre = (row.target_low + row.target_high) / 2
        target_se = (row.target_high - row.target_low) / 4  # a 95% interval spans about 4 se
        sim_se = (row.simulated_high - row.simulated_low) / 4
        terms.append((row.id, (row.simulated - centre) / math.hypot(target_se, sim_se)))
    return terms


def calibrate(targets: dict[str, Target], max_evaluations: int = 40,
              progress: Callable[[int, float], None] | None = None, patients: int = FIT_PATIENTS) -> dict:
    """Fit the T-cell fitness of :data:`FITTED_POPULATIONS` (from the default population's prior); return the
    parameter set (not yet saved). Blind targets
    (:func:`cartsim.calibration.load_blind_targets`) are refused: they check the model and are never fitted."""
    refuse_blind(targets)
    start = UNCALIBRATED_POPULATIONS[DEFAULT_POPULATION].tcell_fitness
    evaluations = []

    def unpack(theta: np.ndarray) -> tuple[float, float]:
        # Unconstrained search coordinates: log median (clipped to the parameter range), logit of the spread
        # within SPREAD_BOUNDS.
        median = min(max(float(np.exp(theta[0])), start.low), start.high)
        low, high = SPREAD_BOUNDS
        return median, low + (high - low) * float(expit(theta[1]))

    def objective(theta: np.ndarray) -> float:
        median, spread = unpack(theta)
        table = compare(targets, candidate(median, spread), ids=FIT_TARGETS, days=FIT_DAYS, patients=patients)
        value = float(sum(z * z for _, z in objective_terms(table)))
        evaluations.append((median, spread, value))
        if progress:
            progress(len(evaluations), value)
        return value

    low, high = SPREAD_BOUNDS
    x0 = np.array([np.log(start.median), logit((start.spread - low) / (high - low))])
    result = minimize(objective, x0=x0, method="Nelder-Mead",
                      options={"maxfev": max_evaluations, "xatol": 0.02, "fatol": 0.05})
    median, spread = unpack(result.x)
    return {
        "format": PARAMETER_SET_FORMAT,
        "version": dt.date.today().isoformat(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "method": "scipy Nelder-Mead on log(median), logit(spread within SPREAD_BOUNDS); sum of squared z "
                  "over the fitted targets",
        "targets": list(FIT_TARGETS),
        "cohorts": {"days": FIT_DAYS, "patients_per_arm": patients},
        "objective": float(result.fun),
        "evaluations": len(evaluations),
        "start": {"median": start.median, "spread": start.spread},
        "parameters": {},  # the fit moves population marginals only; model parameters keep their defaults
        "populations": {name: {"tcell_fitness": {"median": median, "spread": spread}} for name in FITTED_POPULATIONS},
    }


def write_parameter_set(parameter_set: dict, path: Path) -> Path:
    """Write ``parameter_set`` to ``path`` atomically (a reader never sees half a file)."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(parameter_set, indent=2) + "\n")
    partial.replace(path)
    return path
