"""The efficacy-gap waterfall: CR in CLL, each factor's Shapley step, CR with the other disease's traits."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def plot_waterfall(attribution: pd.DataFrame, path: str | Path) -> Path:
    """One waterfall per comparison of :func:`cartsim.studies.run_efficacy_gap`'s ``attribution``: the CR rate in
    CLL, each factor's Shapley step with its 95% bootstrap interval, the CR rate with every factor swapped."""
    path = Path(path)
    comparisons = list(dict.fromkeys(attribution["comparison"]))
    fig = Figure(figsize=(6.5 * len(comparisons), 4.8), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(comparisons), squeeze=False)[0]
    for ax, comparison in zip(axes, comparisons):
        rows = attribution[(attribution["comparison"] == comparison) & (attribution["factor"] != "whole gap")]
        level = 100 * rows["cr_cll"].iloc[0]
        ax.bar(0, level, color="0.6")
        for k, row in enumerate(rows.itertuples(index=False), start=1):
            step = 100 * row.cr_points
            ax.bar(k, step, bottom=level, color="tab:green" if step >= 0 else "tab:red",
                   yerr=[[100 * (row.cr_points - row.low)], [100 * (row.high - row.cr_points)]], capsize=3)
            level += step
        ax.bar(len(rows) + 1, level, color="0.3")
        ax.set_xticks(range(len(rows) + 2), ["CLL", *rows["factor"], comparison.split(" vs ")[1]], rotation=45,
                      ha="right", fontsize=8)
        ax.set_ylabel("CR/CRi rate (%)")
        ax.set_title(f"{comparison}: Shapley attribution of the CR gap")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path
