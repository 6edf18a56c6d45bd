"""What a worker process does for each kind of web run: the calls the CLI makes, the files it writes
into the run's folder, and the JSON the page draws.

Each task takes the validated request (as JSON data), the run's folder and a
``progress(done, total)`` callback, and returns a JSON-ready dictionary.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pandas as pd

import cartsim
from cartsim._simulate import OVERVIEW, SUMMARY, TIMELINE, TRAJECTORIES, VISITS
from cartsim.io import Scenario, json_records, to_yaml
from cartsim.lab import MouseSettings, RestimSettings, run_mouse, run_restim
from cartsim.lab._outputs import write_mouse, write_restim
from cartsim.report import plot_overview, plot_timeline, write_report
from cartsim.trial import SHIPPED, run_posterior_trial, run_trial, write_trial_outputs

from ._charts import mouse_figures, patient_figures, restim_figures, trial_figures
from ._requests import TrialRun

Progress = Callable[[int, int], None]
PATIENTS = "patients.parquet"
#: Chunks per arm of a web trial: enough progress updates to watch (results do not depend on it).
_CHUNKS_PER_ARM = 10


def warm_up() -> None:
    """Load the compiled engine (numba's on-disk cache, or compile it once) before the first request."""
    cartsim.simulate(Scenario(name="warm-up", simulation={"days": 30}))


def patient(request: dict, out: Path, progress: Progress) -> dict:
    scenario = Scenario.model_validate(request)
    result = cartsim.simulate(scenario)
    result.write(out, figures=False)
    (out / "scenario.yaml").write_text(to_yaml(scenario))
    summary = json.loads((out / SUMMARY).read_text())
    progress(1, 1)
    return {"summary": {key: value for key, value in summary.items() if key not in ("events", "scenario")},
            "events": summary["events"], "figures": patient_figures(result.to_frame(), result.visits, result.events)}


def trial(request: dict, out: Path, progress: Progress) -> dict:
    """A trial, once or over draws of the shipped posterior (as ``cartsim trial [--posterior shipped]``); run
    again in the same folder, it finishes from the chunks already written."""
    run = TrialRun.model_validate(request)
    design = run.trial
    # The run's own folder: empty on a first run, holding the stopped run's chunks on a resumed one.
    options = dict(chunk_size=max(1, -(-design.patients_per_arm // _CHUNKS_PER_ARM)), resume=any(out.iterdir()),
                   progress=progress)
    if run.draws is None:
        patients = run_trial(design, out, **options)
        summary = write_trial_outputs(patients, design, out)
    else:
        patients, summary = run_posterior_trial(design, SHIPPED, out, draws=run.draws, **options)
    patients.to_parquet(out / PATIENTS, index=False)
    (out / "trial.yaml").write_text(to_yaml(design))
    return {"summary": summary, "figures": trial_figures(patients, summary["arms"])}


def restim(request: dict, out: Path, progress: Progress) -> dict:
    s = RestimSettings.model_validate(request)
    result = run_restim(s.costimulations, s.rounds, s.every_days, s.effector_target_ratio, s.cells, s.seed,
                        progress=lambda r: progress(r, s.rounds))
    write_restim(result, out)
    return {"table": json_records(result.table), "figures": restim_figures(result.table)}


def mouse(request: dict, out: Path, progress: Progress) -> dict:
    s = MouseSettings.model_validate(request)
    groups = len(s.costimulations) * len(s.stimulations)
    done = iter(range(1, groups + 1))
    result = run_mouse(None, s.costimulations, s.stimulations, s.mice, s.days, s.seed,
                       progress=lambda label: progress(next(done), groups))
    write_mouse(result, out)
    return {"table": json_records(result.groups), "figures": mouse_figures(result)}


def report(request: dict, out: Path, progress: Progress) -> dict:
    """The self-contained HTML report of a finished run (a patient's figures are drawn now, once)."""
    if request["kind"] == "patient" and not (out / OVERVIEW).exists():
        summary = json.loads((out / SUMMARY).read_text())
        title = summary["scenario"]["name"]
        plot_overview(pd.read_parquet(out / TRAJECTORIES), out / OVERVIEW, title=title)
        plot_timeline(pd.read_parquet(out / VISITS), summary["events"], out / TIMELINE, title=title)
    return {"report": write_report(out).name}


TASKS: dict[str, Callable[[dict, Path, Progress], dict]] = {
    "patient": patient, "trial": trial, "restim": restim, "mouse": mouse, "report": report,
}
