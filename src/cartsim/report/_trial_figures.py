"""A virtual trial's figures: Kaplan-Meier curves per arm with numbers at risk, and the responder forest plot."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from ..stats import DAYS_PER_MONTH, analysed, arm_names, km_median, km_of, survival_months

_TITLES = {"pfs": "Progression-free survival", "os": "Overall survival"}
#: Candidate spacings of the month ticks (and of the at-risk table's columns).
_TICK_STEPS_MONTHS = (1, 2, 3, 6, 12, 24, 60)
_MAX_TICKS = 11


def _tick_step(last_month: float) -> int:
    for step in _TICK_STEPS_MONTHS:
        if last_month / step <= _MAX_TICKS - 1:
            return step
    return _TICK_STEPS_MONTHS[-1]


def _months(value: float | None) -> str:
    return "not reached" if value is None else f"{value:.1f} mo"


def plot_km(patients: pd.DataFrame, endpoint: Literal["pfs", "os"], path: str | Path) -> Path:
    """Write the Kaplan-Meier curve of ``endpoint`` per arm (95% pointwise bands, median in the legend,
    numbers at risk below), x in months, solver failures left out; returns ``path``."""
    if endpoint not in _TITLES:
        raise ValueError(f"endpoint must be 'pfs' or 'os'; got {endpoint!r}")
    path = Path(path)
    frame = analysed(patients)
    arms = [arm for arm in arm_names(patients) if (frame["arm"].astype(str) == arm).any()]
    fig = Figure(figsize=(9, 6 + 0.25 * len(arms)), layout="constrained")
    FigureCanvasAgg(fig)
    curve, table = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [5, 0.6 + 0.3 * len(arms)]})
    last = float(frame[f"{endpoint}_days"].max()) / DAYS_PER_MONTH if len(frame) else 1.0
    step = _tick_step(last)
    ticks = np.arange(0.0, last + 1e-9, step)
    colours = [f"C{k}" for k in range(len(arms))]
    for row, (arm, colour) in enumerate(zip(arms, colours)):
        rows = frame[frame["arm"].astype(str) == arm]
        kmf = km_of(rows, endpoint)
        median, _ = km_median(kmf)
        times = kmf.survival_function_.index.to_numpy(float)
        survival = kmf.survival_function_.iloc[:, 0].to_numpy(float)
        band = kmf.confidence_interval_.to_numpy(float)
        curve.step(times, survival, where="post", color=colour,
                   label=f"{arm} (n={len(rows)}, median {_months(median)})")
        curve.fill_between(times, band[:, 0], band[:, 1], step="post", color=colour, alpha=0.2, linewidth=0)
        durations = survival_months(rows, endpoint)
        y = len(arms) - 1 - row
        for t in ticks:
            table.text(t, y, str(int((durations >= t - 1e-9).sum())), ha="center", va="center",
                       fontsize="small", color=colour)
    curve.axhline(0.5, color="grey", linestyle=":", linewidth=1)
    curve.set(title=_TITLES[endpoint], ylabel="probability", ylim=(0, 1.02), xlim=(0, max(last, step) * 1.01))
    curve.grid(True, alpha=0.3)
    if arms:
        curve.legend(loc="lower left", fontsize="small")
    table.set_ylim(-0.6, len(arms) - 0.4)
    table.set_yticks(np.arange(len(arms))[::-1], arms, fontsize="small")
    table.tick_params(axis="y", length=0, pad=24)  # clear of the numbers centred on month 0
    for label, colour in zip(table.get_yticklabels(), colours):
        label.set_color(colour)
    table.set_xticks(ticks)
    table.set_xlabel("months after infusion")
    table.set_title("number at risk", fontsize="small", loc="left")
    for side in ("top", "right", "left"):
        table.spines[side].set_visible(False)
    curve.tick_params(labelbottom=False)
    fig.savefig(path, dpi=150)
    return path


def plot_responders(table: pd.DataFrame, path: str | Path) -> Path:
    """Write a forest plot of the responder analysis (odds ratios of complete response with 95% intervals,
    from :func:`cartsim.trial.responder_analysis`) on a log axis with a line at 1; returns ``path``."""
    path = Path(path)
    n = len(table)
    fig = Figure(figsize=(10, 1.5 + 0.45 * max(n, 1)), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    y = np.arange(n)[::-1]
    odds = table["odds_ratio"].to_numpy(float)
    low, high = table["ci_low"].to_numpy(float), table["ci_high"].to_numpy(float)
    ax.errorbar(odds, y, xerr=[odds - low, high - odds], fmt="s", color="black", ecolor="black",
                capsize=3, markersize=5)
    ax.axvline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    # Symmetric about 1 on the log axis (benefit and harm look alike), at least 0.5 to 2.
    finite = np.concatenate([low, high])
    finite = finite[np.isfinite(finite) & (finite > 0)]
    reach = max([np.log(2.0), *np.abs(np.log(finite))]) * 1.1
    ax.set_xlim(np.exp(-reach), np.exp(reach))
    # 1-2-5 ticks over a narrow range; whole decades, thinned to about eight labels, over a wide one.
    decades = 2.0 * reach / np.log(10.0)
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)) if decades <= 3 else LogLocator(numticks=9))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    units = table["unit"] if "unit" in table else [""] * n
    ax.set_yticks(y, [f"{term}\n{unit}" if unit else str(term) for term, unit in zip(table["term"], units)],
                  fontsize="small")
    ax.set_ylim(-0.7, n - 0.3)
    for k in range(n):
        ax.text(1.01, y[k], f"{odds[k]:.2f} ({low[k]:.2f}-{high[k]:.2f}), p={table['p_value'].iloc[k]:.2g}",
                transform=ax.get_yaxis_transform(), va="center", fontsize="small")
    counts = ""
    if n and {"n_responders", "n_nonresponders"} <= set(table.columns):
        counts = (f": {int(table['n_responders'].iloc[0])} complete responders vs "
                  f"{int(table['n_nonresponders'].iloc[0])} non-responders")
    ax.set(title=f"Complete response (CR/CRi) vs SD/PD{counts}",
           xlabel="odds ratio of complete response (95% CI, log scale)")
    ax.grid(True, axis="x", which="both", alpha=0.3)
    fig.savefig(path, dpi=150)
    return path
