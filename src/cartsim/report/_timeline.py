"""The one-patient clinical timeline: CRS and ICANS grades, fever, IL-6, and every intervention."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ._axes import log_y

#: Colour of each drug's interventions (matplotlib names), in every timeline figure.
DRUG_COLOURS = {"tocilizumab": "tab:blue", "corticosteroid": "tab:orange", "anakinra": "tab:green",
                "ibrutinib": "tab:brown", "switch_drug": "black"}
_MIN_WINDOW_DAYS = 30


def acute_window(visits: pd.DataFrame, events: list[dict]) -> float:
    """Show the acute phase: until two weeks after the last graded toxicity or intervention."""
    toxic = visits.loc[(visits["crs_grade"] > 0) | (visits["icans_grade"] > 0), "day"]
    treated = [e["day"] for e in events if e["event"] in DRUG_COLOURS]
    last = max([0.0, *toxic.tolist(), *treated])
    return max(_MIN_WINDOW_DAYS, last + 14)


def plot_timeline(visits: pd.DataFrame, events: list[dict], path: str | Path, title: str = "") -> Path:
    """Write the timeline of ``visits`` (``SimulationResult.visits``) and its ``events``; returns ``path``."""
    path = Path(path)
    end = acute_window(visits, events)
    visits = visits[(visits["day"] >= 0) & (visits["day"] <= end)]
    fig = Figure(figsize=(11, 8), layout="constrained")
    FigureCanvasAgg(fig)
    grades, fever, il6 = fig.subplots(3, 1, sharex=True, height_ratios=(1.2, 1, 1))

    grades.step(visits["day"], visits["crs_grade"], where="post", label="CRS grade", color="tab:red")
    grades.step(visits["day"], visits["icans_grade"], where="post", label="ICANS grade", color="tab:purple",
                linestyle="--")
    grades.set(ylim=(-0.2, 5.4), yticks=range(6), ylabel="ASTCT grade", title="(a) CRS and ICANS (ASTCT 2019)")

    fever.plot(visits["day"], visits["temperature_c"], color="tab:red")
    fever.axhline(38.0, color="grey", linestyle=":", label="fever (38.0 °C)")
    fever.set(ylabel="temperature (°C)", title="(b) Temperature")

    il6.plot(visits["day"], visits["il6_pg_ml"], color="tab:red", label="free IL-6")
    il6.plot(visits["day"], np.maximum(visits["il6_signal_pg_ml"], 1e-2), color="tab:red", linestyle="--",
             label="IL-6 signalling (not blocked by tocilizumab)")
    il6.set(ylabel="pg/mL", xlabel="days after infusion", title="(c) IL-6")
    log_y(il6, "no IL-6 measured")

    drawn = set()
    for event in events:
        colour = DRUG_COLOURS.get(event["event"])
        if colour is None or event["day"] > end:
            continue
        label = event["event"] if event["event"] not in drawn else None
        drawn.add(event["event"])
        for ax in (grades, fever, il6):
            ax.axvline(event["day"], color=colour, alpha=0.6, linewidth=1.2, label=label if ax is grades else None)
    deaths = [e for e in events if e["event"] == "death"]
    for death in deaths:
        grades.axvline(death["day"], color="black", linewidth=2.5, label=f"death ({death['action']})")
    for ax in (grades, fever, il6):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small", loc="upper right")
    il6.set_xlim(0, end)
    if title:
        fig.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path
