"""JSON-ready values for result files, and :func:`write_outputs` for callers of ``cartsim.io``.

The result files of one patient are written beside the result type: :meth:`cartsim.SimulationResult.write`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the result type imports this package (the scenario), not the other way
    from .._simulate import SimulationResult


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


def write_outputs(result: SimulationResult, out_dir: str | Path, figures: bool = True) -> Path:
    """``result.write(out_dir, figures)``: see :meth:`cartsim.SimulationResult.write`."""
    return result.write(out_dir, figures)
