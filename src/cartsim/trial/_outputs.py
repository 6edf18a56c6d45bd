"""A finished trial's analysis: summary.json (endpoints per arm with 95% intervals, hazard ratios, CAR-T
cellular kinetics of responders and non-responders, responder analysis), Kaplan-Meier figures and the
responder forest plot."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from .._version import __version__
from ..report import plot_km, plot_responders
from ._analysis import arm_endpoints, hazard_ratios, kinetics_by_response, responder_analysis
from ._spec import Trial

SUMMARY = "summary.json"
RESPONDERS = "responders.csv"


def write_trial_outputs(patients: pd.DataFrame, trial: Trial, out: str | Path) -> dict:
    """Analyse ``patients`` (from :func:`run_trial`) and write the summary and figures into ``out``."""
    out = Path(out)
    summary = {"trial": trial.name, "population": trial.population, "follow_up_days": trial.follow_up_days,
               "seed": trial.seed, "arms": arm_endpoints(patients)}
    if len(trial.arms) > 1:
        summary["hazard_ratios"] = hazard_ratios(patients)
    kinetics = kinetics_by_response(patients)
    if kinetics is not None:
        summary["car_t_kinetics"] = kinetics
    try:
        responders = responder_analysis(patients)
    except ValueError as exc:  # too few responders or non-responders to fit: say so, keep the rest
        summary["responder_analysis"] = {"not_fitted": str(exc)}
    else:
        responders.to_csv(out / RESPONDERS, index=False)
        plot_responders(responders, out / "responders.png")
        summary["responder_analysis"] = responders.to_dict(orient="records")
    for endpoint in ("pfs", "os"):  # only the columns the curve needs: a copy of the table is 300 MB at 10^6
        plot_km(patients[["arm", "solver_failed", f"{endpoint}_days", f"{endpoint}_event"]], endpoint,
                out / f"km_{endpoint}.png")
    summary["cartsim_version"] = __version__
    partial = out / f"{SUMMARY}.partial"
    partial.write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n")
    os.replace(partial, out / SUMMARY)
    return summary
