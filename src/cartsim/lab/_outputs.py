"""Files of the lab assays: tables (CSV, JSON, Parquet) and figures, one writer per assay.

The figures follow the published readouts: per-round killing, expansion and
senescent share by co-stimulatory domain (the in-vitro model of Kay/Kenderian ASH 2022), and per
group tumour burden and Kaplan-Meier survival (its mouse model).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..io import json_records
from ._mouse import MouseResult
from ._restim import RestimResult


def write_restim(result: RestimResult, out: Path) -> list[Path]:
    """``restim.csv``, ``restim.json`` and ``restim.png`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    result.table.to_csv(out / "restim.csv", index=False)
    (out / "restim.json").write_text(json.dumps(json_records(result.table), indent=2))
    return [out / "restim.csv", out / "restim.json", plot_restim(result.table, out / "restim.png")]


def plot_restim(table: pd.DataFrame, path: Path) -> Path:
    """Three panels by round, one line per domain: killing (solid: by the end of the round, dashed: in its
    first 24 h), fold expansion over the round, senescent share of the CAR-T at its end."""
    fig = Figure(figsize=(13, 4), layout="constrained")
    FigureCanvasAgg(fig)
    killing, fold, senescent = fig.subplots(1, 3)
    for c, (domain, rows) in enumerate(table.groupby("costimulation", sort=False)):
        colour = f"C{c}"
        killing.plot(rows["round"], 100 * rows["killing"], "o-", color=colour, label=f"{domain}, end of round")
        killing.plot(rows["round"], 100 * rows["killing_24h"], "o--", color=colour, label=f"{domain}, first 24 h")
        fold.plot(rows["round"], rows["fold_expansion"], "o-", color=colour, label=domain)
        senescent.plot(rows["round"], 100 * rows["senescent_fraction"], "o-", color=colour, label=domain)
    killing.set(title="specific killing of the round's targets", ylabel="% killed", ylim=(0, 102))
    fold.set(title="CAR-T fold expansion over the round", ylabel="fold", yscale="log")
    senescent.set(title="senescent share of CAR-T at round end", ylabel="% senescent", ylim=(0, 100))
    for ax in (killing, fold, senescent):
        ax.set_xlabel("stimulation round")
        ax.set_xticks(sorted(table["round"].unique()))
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    fig.savefig(path, dpi=150)
    return path


def write_mouse(result: MouseResult, out: Path) -> list[Path]:
    """``mouse.csv`` / ``mouse.json`` (per group), ``mouse_survival.csv`` (per mouse),
    ``mouse_tumor.parquet`` (burden over time per mouse) and ``mouse.png`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    result.groups.to_csv(out / "mouse.csv", index=False)
    (out / "mouse.json").write_text(json.dumps(json_records(result.groups), indent=2))
    result.survival.to_csv(out / "mouse_survival.csv", index=False)
    result.tumour.to_parquet(out / "mouse_tumor.parquet", index=False)
    return [out / "mouse.csv", out / "mouse.json", out / "mouse_survival.csv", out / "mouse_tumor.parquet",
            plot_mouse(result, out / "mouse.png")]


def median_burden(result: MouseResult, costimulation: str, stimulations: int) -> pd.Series:
    """Median tumour burden of one group by day, a dead mouse counted at the lethal burden."""
    tumour = result.tumour
    mice = tumour[(tumour["costimulation"] == costimulation) & (tumour["stimulations"] == stimulations)]
    shown = np.where(mice["alive"], mice["tumour_cells"], result.xenograft.lethal_burden)
    return pd.Series(shown, index=mice["day"]).groupby(level=0).median()


def group_survival(result: MouseResult, costimulation: str, stimulations: int):
    """Kaplan-Meier fit (lifelines) of one group's survival to the humane endpoint."""
    from lifelines import KaplanMeierFitter

    survival = result.survival
    fates = survival[(survival["costimulation"] == costimulation) & (survival["stimulations"] == stimulations)]
    return KaplanMeierFitter().fit(fates["survival_days"], fates["died"])


def plot_mouse(result: MouseResult, path: Path) -> Path:
    """A column per domain: median tumour burden of each k group over time (dead mice counted at the
    lethal burden), and its Kaplan-Meier survival."""
    domains = list(dict.fromkeys(result.groups["costimulation"]))
    fig = Figure(figsize=(6 * len(domains), 8), layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.array(fig.subplots(2, len(domains), sharey="row", squeeze=False))
    lethal = result.xenograft.lethal_burden
    for column, domain in enumerate(domains):
        burden_ax, km_ax = axes[:, column]
        for c, k in enumerate(result.groups.loc[result.groups["costimulation"] == domain, "stimulations"]):
            colour = f"C{c}"
            median = median_burden(result, domain, k)
            burden_ax.plot(median.index, median.to_numpy(), color=colour, label=f"k = {k}")
            km = group_survival(result, domain, k)
            km_ax.step(km.survival_function_.index, km.survival_function_.iloc[:, 0], where="post", color=colour,
                       label=f"k = {k}")
        burden_ax.axhline(lethal, color="grey", linestyle=":", linewidth=1, label="lethal burden")
        burden_ax.set(title=f"{domain} CAR-T after k stimulations: median tumour", yscale="log",
                      ylabel="CLL cells per mouse", xlabel="days after CAR-T")
        km_ax.set(title=f"{domain}: survival (humane endpoint)", ylim=(0, 1.05), ylabel="surviving",
                  xlabel="days after CAR-T", xlim=(0, result.days))
        for ax in (burden_ax, km_ax):
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize="small")
    fig.savefig(path, dpi=150)
    return path
