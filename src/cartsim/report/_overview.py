"""The one-patient overview figure: CAR-T, tumour, B cells and cytokines after infusion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .._readouts import B_CELL_APLASIA_PER_UL, CAR_T_BY_LINEAGE, CAR_T_BY_PHENOTYPE, CLL_BY_COMPARTMENT
from ._axes import log_y

#: Values below this are drawn as gaps: extinct populations and pre-infusion zeros have no log.
LOG_FLOOR = 1e-1

_CAR_T_LINEAGES = {key: f"{label} total" for key, label in CAR_T_BY_LINEAGE.items()}


def _above_floor(series: pd.Series) -> np.ndarray:
    values = series.to_numpy(dtype=np.float64)
    return np.where(values >= LOG_FLOOR, values, np.nan)


def _draw(ax, frame: pd.DataFrame, columns: dict[str, str], **style) -> None:
    """Plot each column above the floor; one with nothing above it keeps its legend entry, marked "none"."""
    for column, label in columns.items():
        values = _above_floor(frame[column])
        ax.plot(frame["day"], values, label=label if np.isfinite(values).any() else f"{label}: none", **style)


_ACUTE_PHASE_DAYS = 30


def plot_overview(frame: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Write a 2x2 figure of ``frame`` (from ``SimulationResult.to_frame()``) from day 0 on; returns ``path``."""
    path = Path(path)
    frame = frame[frame["day"] >= 0]
    # A bare Figure on the Agg canvas: no pyplot state, no display, and the
    # user's own backend choice (e.g. in a notebook) is left alone.
    fig = Figure(figsize=(12, 8), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2, sharex=True)
    car_t, tumor, b_cells, cytokines = axes.flat

    _draw(car_t, frame, CAR_T_BY_PHENOTYPE)
    _draw(car_t, frame, _CAR_T_LINEAGES, linestyle="--", linewidth=1)
    car_t.set(title="(a) CAR-T cells by phenotype", ylabel="CAR-T cells (whole body)")

    _draw(tumor, frame, CLL_BY_COMPARTMENT)
    tumor.set(title="(b) CLL by compartment", ylabel="CLL cells")

    _draw(b_cells, frame, {"normal_b_blood_per_ul": "normal B cells"})
    b_cells.axhline(B_CELL_APLASIA_PER_UL, color="grey", linestyle=":",
                    label=f"aplasia threshold ({B_CELL_APLASIA_PER_UL:g}/µL)")
    b_cells.set(title="(c) Normal B cells in blood", ylabel="cells/µL")

    _draw(cytokines, frame, {"il6": "IL-6"}, color="tab:red")
    cytokines.set(title="(d) IL-6 and CRP", ylabel="IL-6 (pg/mL)")
    crp = cytokines.twinx()
    _draw(crp, frame, {"crp": "CRP"}, color="tab:purple", linestyle="--")
    crp.set(ylabel="CRP (mg/L)")
    log_y(crp)

    absent = {car_t: "CAR-T cells", tumor: "CLL cells", b_cells: "normal B cells", cytokines: "IL-6"}
    for ax in axes.flat:
        log_y(ax, f"no {absent[ax]} above {LOG_FLOOR:g}")
        # Linear over the first month (expansion, storm), logarithmic over the years of follow-up.
        ax.set_xscale("symlog", linthresh=_ACUTE_PHASE_DAYS, linscale=1.5)
        # At least the acute phase: a patient who died before infusion has no days after it to scale to.
        ax.set_xlim(0, max(ax.get_xlim()[1], _ACUTE_PHASE_DAYS))
        ax.grid(True, which="major", alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel(f"days after infusion (linear to day {_ACUTE_PHASE_DAYS}, then log)")
    for ax in (car_t, tumor, b_cells):
        ax.legend(fontsize="small")
    # One legend for both axes of the cytokine panel.
    lines = cytokines.get_lines() + crp.get_lines()
    cytokines.legend(lines, [line.get_label() for line in lines], fontsize="small")
    if title:
        fig.suptitle(title)

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path
