"""Result files of one simulated patient: summary.json, trajectories.parquet, visits.parquet,
overview.png and timeline.png."""

from __future__ import annotations

import json
import math
import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .._simulate import SimulationResult

SUMMARY = "summary.json"
TRAJECTORIES = "trajectories.parquet"
OVERVIEW = "overview.png"
VISITS = "visits.parquet"
TIMELINE = "timeline.png"


def json_value(value):
    """A JSON-ready Python value: numpy scalars unwrapped, NaN and infinities (not reached) as None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def json_records(table) -> list[dict]:
    """The rows of a DataFrame as JSON-ready dicts (numpy scalars unwrapped, NaN as None)."""
    return [{key: json_value(value) for key, value in row.items()} for row in table.to_dict("records")]


def _write_summary(result: SimulationResult, path: Path) -> None:
    # Imported here: cartsim/__init__ imports this package before it defines __version__.
    from .. import __version__

    record = {**result.summary, "scenario": result.scenario.model_dump(mode="json"), "cartsim_version": __version__}
    # Strict JSON (no NaN/Infinity) so any consumer, not just Python, can read the endpoints.
    path.write_text(json.dumps(record, indent=2, allow_nan=False) + "\n")


def _write_trajectories(result: SimulationResult, path: Path) -> None:
    result.to_frame().astype("float64").to_parquet(path, engine="pyarrow", index=False)


def write_outputs(result: SimulationResult, out_dir: str | Path, figures: bool = True) -> Path:
    """Write the result files into ``out_dir`` and return it; ``figures=False`` leaves out the two PNG
    figures (the slow part: the web app draws its charts itself and makes them only for a report).

    Everything is first written to a hidden sibling folder, then moved in with
    renames, so a failure part-way never leaves a half-written ``out_dir``.
    Other files already in ``out_dir`` are left alone.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # Not tempfile.mkdtemp: its 0700 mode would stick to out_dir after the rename.
    staging = out_dir.parent / f".{out_dir.name}.{uuid.uuid4().hex}.partial"
    staging.mkdir()
    try:
        _write_summary(result, staging / SUMMARY)
        _write_trajectories(result, staging / TRAJECTORIES)
        result.visits.astype("float64").to_parquet(staging / VISITS, engine="pyarrow", index=False)
        if figures:
            result.plot(staging / OVERVIEW)
            result.plot_timeline(staging / TIMELINE)
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
