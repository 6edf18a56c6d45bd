"""One patient (a batch of one) through the engine and the clinical clock: ``cartsim.simulate(scenario)``,
and the result's files (:meth:`SimulationResult.write`)."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ._batch import build_batch
from ._readouts import derived_readouts, summarise
from .clinical import Care, clinical_summary, run_clinical
from ._version import __version__
from .io import Scenario, load_scenario
from .model import OBSERVABLES, STATE_NAMES
from .solver import Result

#: The files :meth:`SimulationResult.write` writes.
SUMMARY = "summary.json"
TRAJECTORIES = "trajectories.parquet"
VISITS = "visits.parquet"
OVERVIEW = "overview.png"
TIMELINE = "timeline.png"


class SimulationError(RuntimeError):
    """The engine could not integrate the patient (the message says why)."""


@dataclass(frozen=True)
class SimulationResult:
    """Daily trajectories, clinical visits, events and named endpoints of one simulated patient.

    ``days`` run from apheresis (or an earlier first dose) to the end of follow-up or death;
    ``values[day, state]`` are the model states (see ``cartsim.model.STATE_TABLE``);
    ``visits`` has one row per clinical visit (observables and ASTCT grades); ``events`` lists
    (day, event, grade, action) records: toxicities, interventions, response assessments, death.
    """

    scenario: Scenario
    days: np.ndarray
    values: np.ndarray
    summary: dict
    visits: pd.DataFrame = field(repr=False)
    events: list[dict] = field(repr=False)
    params: np.ndarray | None = field(default=None, repr=False)  # the patient's parameters (None: the table's)

    def to_frame(self) -> pd.DataFrame:
        """One row per day: every state plus the derived readouts."""
        frame = pd.DataFrame(self.values, columns=list(STATE_NAMES))
        for name, series in derived_readouts(self.values, self.params).items():
            frame[name] = series
        frame.insert(0, "day", self.days)
        return frame

    def plot(self, path: str | Path) -> Path:
        """Write the overview figure (CAR-T by phenotype, tumour by compartment, B cells, IL-6)."""
        from .report import plot_overview  # on use: matplotlib is slow to import and most runs draw nothing

        return plot_overview(self.to_frame(), Path(path), title=self.scenario.name)

    def plot_timeline(self, path: str | Path) -> Path:
        """Write the clinical timeline (CRS/ICANS grades, fever, IL-6, interventions)."""
        from .report import plot_timeline

        return plot_timeline(self.visits, self.events, Path(path), title=self.scenario.name)

    def write(self, out_dir: str | Path, figures: bool = True) -> Path:
        """Write summary.json, trajectories.parquet, visits.parquet and, unless ``figures=False``, the
        overview and timeline figures into ``out_dir``; return it. ``figures=False`` leaves out the slow
        part (the web app draws its charts itself and makes the figures only for a report).

        Everything is first written to a hidden sibling folder, then moved in with renames, so a failure
        part-way never leaves a half-written ``out_dir``. Other files already in ``out_dir`` are left alone.
        """
        out_dir = Path(out_dir)
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        # Not tempfile.mkdtemp: its 0700 mode would stick to out_dir after the rename.
        staging = out_dir.parent / f".{out_dir.name}.{uuid.uuid4().hex}.partial"
        staging.mkdir()
        try:
            record = {**self.summary, "scenario": self.scenario.model_dump(mode="json"),
                      "cartsim_version": __version__}
            # Strict JSON (no NaN/Infinity) so any consumer, not just Python, can read the endpoints.
            (staging / SUMMARY).write_text(json.dumps(record, indent=2, allow_nan=False) + "\n")
            self.to_frame().astype("float64").to_parquet(staging / TRAJECTORIES, engine="pyarrow", index=False)
            self.visits.astype("float64").to_parquet(staging / VISITS, engine="pyarrow", index=False)
            if figures:
                self.plot(staging / OVERVIEW)
                self.plot_timeline(staging / TIMELINE)
            if out_dir.is_dir() and not any(out_dir.iterdir()):
                out_dir.rmdir()
            if out_dir.exists():
                for path in staging.iterdir():
                    os.replace(path, out_dir / path.name)
            else:
                staging.rename(out_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return out_dir


def simulate(scenario: Scenario | str | Path) -> SimulationResult:
    """Simulate one patient; ``scenario`` is a :class:`~cartsim.io.Scenario` or a YAML path."""
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    batch = build_batch([scenario])
    days = np.arange(np.floor(batch.t0[0]), scenario.simulation.days + 1, dtype=np.float64)
    outcome = run_clinical(batch, Care.of([scenario]), record_days=days, record_events=True)
    status = Result(int(outcome.status[0]))
    if status != Result.successful:
        raise SimulationError(f"scenario '{scenario.name}': {status.message}")
    clinical = clinical_summary(outcome, 0)
    lived = days <= clinical["os_days"]
    days, values = days[lived], outcome.record.states[0, lived]
    record = outcome.record
    visits = pd.DataFrame(record.observables[:, 0, :], columns=list(OBSERVABLES))
    visits.insert(0, "day", record.days)
    visits["crs_grade"] = record.crs[:, 0]
    visits["icans_grade"] = record.icans[:, 0]
    visits = visits[visits["day"] <= clinical["os_days"]].reset_index(drop=True)
    split = len(scenario.product.infusion.days) > 1
    infused = float(batch.products.dose_cells[0] * batch.products.infused[0]) if split else None
    summary = {**summarise(days, values, batch.params[0], infused), **clinical, **batch.products[0].summary()}
    return SimulationResult(scenario, days, values, summary, visits, outcome.events[0], batch.params[0])
