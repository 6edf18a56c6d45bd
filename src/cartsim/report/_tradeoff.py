"""The tocilizumab-timing trade-off: severe toxicity against response, arm by arm, per assumption."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

_TOXICITY = {"crs_grade3plus_rate": "CRS grade >= 3", "icans_grade3plus_rate": "ICANS grade >= 3"}
_EFFICACY = {"response_day28_rate": "response (CR/CRi/PR) at day 28", "cr_rate": "best response CR/CRi",
             "umrd4_blood_rate": "uMRD4 in blood at day 90"}
_MARKERS = ("o", "s", "^")


def _dots(ax, table: pd.DataFrame, columns: dict[str, str], arms: list[str], assumptions: list[str]) -> None:
    """Each rate with its 95% interval: arms along x, one colour per rate, one marker per assumption."""
    slots = len(columns) * len(assumptions)
    for c, (column, label) in enumerate(columns.items()):
        for a, assumption in enumerate(assumptions):
            rows = table[table["assumption"] == assumption].set_index("arm").loc[arms]
            offset = ((c * len(assumptions) + a) - (slots - 1) / 2) * 0.8 / slots
            low, high = rows[f"{column}_ci_low"], rows[f"{column}_ci_high"]
            ax.errorbar(np.arange(len(arms)) + offset, rows[column], yerr=[rows[column] - low, high - rows[column]],
                        color=f"C{c}", marker=_MARKERS[a % len(_MARKERS)], linestyle="none", capsize=3,
                        markerfacecolor="white" if a else f"C{c}", label=f"{label} ({assumption})")
    ax.set_xticks(range(len(arms)), arms, rotation=15, ha="right")
    ax.set_ylim(bottom=0)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize="x-small")


def plot_toci_tradeoff(table: pd.DataFrame, path: str | Path) -> Path:
    """Write the study's figure from :func:`cartsim.studies.run_toci_timing`'s ``table``: (a) severe CRS
    and ICANS, (b) response depth, (c) median CAR-T peak, per tocilizumab arm and killing assumption
    (filled markers: first assumption; open: second)."""
    path = Path(path)
    arms = list(dict.fromkeys(table["arm"]))
    assumptions = list(dict.fromkeys(table["assumption"]))
    fig = Figure(figsize=(16, 5.5), layout="constrained")
    FigureCanvasAgg(fig)
    toxicity, efficacy, peaks = fig.subplots(1, 3, width_ratios=(1, 1.2, 0.8))
    _dots(toxicity, table, _TOXICITY, arms, assumptions)
    toxicity.set(ylabel="fraction of patients (95% CI)", title="(a) Severe toxicity (ASTCT)")
    _dots(efficacy, table, _EFFICACY, arms, assumptions)
    efficacy.set(ylabel="fraction of patients (95% CI)", title="(b) Response (iwCLL 2018)")
    width = 0.8 / len(assumptions)
    for a, assumption in enumerate(assumptions):
        rows = table[table["assumption"] == assumption].set_index("arm").loc[arms]
        peaks.bar(np.arange(len(arms)) + (a - (len(assumptions) - 1) / 2) * width, rows["car_t_peak_median"],
                  width=width, color="grey", alpha=1.0 - 0.5 * a, label=assumption)
    peaks.set_xticks(range(len(arms)), arms, rotation=15, ha="right")
    peaks.set(ylabel="median CAR-T peak (cells)", title="(c) CAR-T expansion")
    peaks.legend(fontsize="x-small")
    fig.suptitle(f"Tocilizumab timing: the same {int(table['n'].iloc[0])} virtual patients in every arm")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path
