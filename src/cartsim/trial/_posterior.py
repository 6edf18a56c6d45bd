"""A trial over a calibration's posterior ensemble: endpoints with prediction intervals.

``K`` draws are taken evenly through the ensemble (``cartsim calibrate --out DIR``: posterior.parquet and the
free parameters of calibration.json). Draw ``k`` runs the whole trial with its parameter set (populations and
free model parameters) on its own patients (seed + k), so the spread of an endpoint over the draws is what a
trial of this size could show given what the targets leave unknown: parameter and sampling uncertainty
together. Within a draw every arm treats the same patients, so the difference between two arms, draw by draw,
has its own interval over the same draws. The usual summary (over the draws' patients pooled, with sampling
intervals) is kept beside it.

Layout: ``draws/draw-<k>/`` (each a trial folder with its ``parameter_set.json``), ``summary.json`` with
``<endpoint>_prediction_interval`` per arm, ``differences`` and ``posterior``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ._analysis import arm_endpoints
from ._outputs import SUMMARY, write_trial_outputs
from ._run import run_trial
from ._spec import Trial

#: Endpoints of arm_endpoints that are not values with a prediction interval.
_NOT_ENDPOINTS = ("n", "solver_failures")
#: Posterior draws a trial may run over (the CLI's ``--draws``, which types them out, and the web's
#: ``draws``): two at least, for an interval. [A] The default, 20, is a cost choice: a 95% interval's ends then
#: interpolate the two lowest and the two highest draws, so they move with the seed; more draws steady them.
DEFAULT_DRAWS, MIN_DRAWS, MAX_DRAWS = 20, 2, 1000
#: The name of the package's own posterior (``cartsim.calibration.SHIPPED_POSTERIOR``), given as ``folder``.
SHIPPED = "shipped"


def _posterior_folder(folder: str | Path) -> Path:
    from ..calibration import SHIPPED_POSTERIOR

    return SHIPPED_POSTERIOR if str(folder) == SHIPPED else Path(folder)


def _posterior_name(folder: str | Path) -> str:
    """How a summary names the posterior it ran over: ``shipped`` for the package's (no install path in the
    files a web run offers), else the folder."""
    from ..calibration import SHIPPED_POSTERIOR

    return SHIPPED if _posterior_folder(folder).resolve() == SHIPPED_POSTERIOR.resolve() else str(folder)


def draw_parameter_sets(folder: str | Path, draws: int) -> list[dict]:
    """``draws`` parameter sets evenly through the ensemble of a calibration folder (or :data:`SHIPPED`)."""
    from ..calibration import CALIBRATION, CalibrationError, load_posterior, parameter_set_of

    shown_as, folder = _posterior_name(folder), _posterior_folder(folder)
    frame = load_posterior(folder)
    try:
        calibration = json.loads((Path(folder) / CALIBRATION).read_text())
    except (OSError, ValueError) as exc:
        raise CalibrationError(f"{Path(folder) / CALIBRATION} cannot be read ({exc})") from None
    rows = np.unique(np.linspace(0, len(frame) - 1, draws).round().astype(int))
    names = [c for c in frame.columns if c not in ("log_posterior", "weight")]
    sets = []
    for k, row in enumerate(rows):
        draw = {name: float(frame[name].iloc[row]) for name in names}
        parameter_set = parameter_set_of(draw, calibration["parameter_set"]["targets"], calibration["free"], {
            "version": f"{calibration['parameter_set']['version']}-draw{k}",
            "method": f"draw {row} of the posterior ensemble in {shown_as}"})
        sets.append(parameter_set)
    return sets


def _interval(values: list) -> list | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    return [float(np.quantile(values, 0.025)), float(np.quantile(values, 0.975))]


def run_posterior_trial(trial: Trial, folder: str | Path, out: str | Path, draws: int = DEFAULT_DRAWS,
                        n: int | None = None, progress: Callable[[int, int], None] | None = None,
                        **options) -> tuple[pd.DataFrame, dict]:
    """Run ``trial`` over ``draws`` draws of the posterior in ``folder`` (or :data:`SHIPPED`) into ``out``;
    return every draw's patients (with their ``draw``) and summary.json. ``progress(done, total)`` counts
    chunks over all draws (every draw has as many); ``options`` go to :func:`run_trial` (``resume`` finishes
    every draw)."""
    out = Path(out)
    sets = draw_parameter_sets(folder, draws)
    per_draw, frames = [], []
    for k, parameter_set in enumerate(sets):
        where = out / "draws" / f"draw-{k:03d}"
        where.mkdir(parents=True, exist_ok=True)
        path = where / "parameter_set.json"
        path.write_text(json.dumps(parameter_set, indent=2) + "\n")
        design = Trial.model_validate({**trial.model_dump(), "parameters": str(path.resolve()),
                                       "seed": (trial.seed + k) % 2**63})  # any valid seed, any draw
        overall = None if progress is None else (
            lambda done, total, k=k: progress(k * total + done, len(sets) * total))
        patients = run_trial(design, where, n=n, progress=overall, **options)
        per_draw.append(arm_endpoints(patients))
        frames.append(patients.assign(draw=k))
    pooled = pd.concat(frames, ignore_index=True)
    summary = write_trial_outputs(pooled, trial, out)
    for arm, entry in summary["arms"].items():
        for name, value in list(entry.items()):
            if name in _NOT_ENDPOINTS or name.endswith("_ci") or isinstance(value, list):
                continue
            entry[f"{name}_prediction_interval"] = _interval([d[arm][name] for d in per_draw])
    arms = list(summary["arms"])
    differences = {}
    for arm in arms[1:]:
        entry = {}
        for name, value in summary["arms"][arm].items():
            if name in _NOT_ENDPOINTS or name.endswith(("_ci", "_prediction_interval")) or isinstance(value, list):
                continue
            deltas = [d[arm][name] - d[arms[0]][name] for d in per_draw
                      if d[arm][name] is not None and d[arms[0]][name] is not None]
            entry[name] = {"median": float(np.median(deltas)) if deltas else None,
                           "prediction_interval": _interval(deltas)}
        differences[f"{arm} - {arms[0]}"] = entry
    summary["differences"] = differences
    summary["posterior"] = {"folder": _posterior_name(folder), "draws": len(sets),
                            "patients_per_draw": per_draw[0][arms[0]]["n"],
                            "what": "each draw: the trial with that parameter set on its own patients (seed + draw); "
                                    "prediction intervals: 2.5-97.5% over the draws (parameter and sampling "
                                    "uncertainty); differences: arm minus the first arm, draw by draw"}
    partial = out / f"{SUMMARY}.partial"
    partial.write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n")
    os.replace(partial, out / SUMMARY)
    return pooled, summary
