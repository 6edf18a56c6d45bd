"""The tocilizumab-timing trade-off: severe CRS against complete remission, arm by arm."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

_MARKERS = ("o", "s")


def _errors(table: pd.DataFrame, column: str) -> np.ndarray:
    """Asymmetric error bars (below, above) from the ``<column>_ci`` intervals."""
    low = np.array([ci[0] for ci in table[f"{column}_ci"]])
    high = np.array([ci[1] for ci in table[f"{column}_ci"]])
    return np.vstack([table[column] - low, high - table[column]])


def plot_toci_tradeoff(table: pd.DataFrame, path: str | Path) -> Path:
    """Write the study's figure: (a) grade >= 3 CRS vs CR rate per arm with 95% intervals, one
    marker per killing assumption; (b) median CAR-T peak per arm. ``table`` is
    :func:`cartsim.studies.run_toci_timing`'s result."""
    path = Path(path)
    fig = Figure(figsize=(13, 5.5), layout="constrained")
    FigureCanvasAgg(fig)
    tradeoff, peaks = fig.subplots(1, 2, width_ratios=(1.3, 1))
    arms = list(dict.fromkeys(table["arm"]))
    colours = {arm: f"C{i}" for i, arm in enumerate(arms)}
    assumptions = list(dict.fromkeys(table["assumption"]))
    width = 0.8 / len(assumptions)
    for j, assumption in enumerate(assumptions):
        rows = table[table["assumption"] == assumption]
        for (_, row), xerr, yerr in zip(rows.iterrows(), _errors(rows, "crs_grade3plus_rate").T,
                                        _errors(rows, "cr_rate").T):
            tradeoff.errorbar(row["crs_grade3plus_rate"], row["cr_rate"], xerr=xerr[:, None], yerr=yerr[:, None],
                              marker=_MARKERS[j % 2], color=colours[row["arm"]], capsize=3, linestyle="none",
                              label=f"{row['arm']} ({assumption})")
        x = np.array([arms.index(a) for a in rows["arm"]]) + (j - (len(assumptions) - 1) / 2) * width
        peaks.bar(x, rows["car_t_peak_median"], width=width, label=assumption,
                  color=[colours[a] for a in rows["arm"]], alpha=1.0 if j == 0 else 0.5,
                  hatch=None if j == 0 else "//")
    tradeoff.set(xlabel="grade >= 3 CRS (ASTCT), fraction of patients", ylabel="complete remission (CR/CRi)",
                 title="(a) Severe CRS against complete remission (95% CI)")
    tradeoff.grid(True, alpha=0.3)
    tradeoff.legend(fontsize="x-small", ncol=2, loc="best")
    peaks.set_xticks(range(len(arms)), arms, rotation=20, ha="right")
    peaks.set(yscale="log", ylabel="median CAR-T peak (cells)", title="(b) CAR-T expansion by arm")
    peaks.legend(fontsize="small", title="solid / hatched")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path
