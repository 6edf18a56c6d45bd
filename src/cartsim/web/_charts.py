"""Interactive Plotly charts of the web app, as JSON-ready figure dictionaries (``Plotly.newPlot(div, fig)``).

They show what the report's matplotlib figures show, from the same result
objects: one patient's CAR-T by phenotype, tumour by compartment, B cells,
and the cytokine storm with its grades and interventions; a trial's
Kaplan-Meier curves; the lab assays' readouts.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from matplotlib.colors import to_hex, to_rgba
from plotly.subplots import make_subplots

from .._readouts import B_CELL_APLASIA_PER_UL, CAR_T_BY_LINEAGE, CAR_T_BY_PHENOTYPE, CLL_BY_COMPARTMENT
from ..lab import MouseResult
from ..lab._outputs import group_survival, median_burden
from ..report import DRUG_COLOURS, acute_window
from ..stats import analysed, arm_names, km_median, km_of

_LAYOUT = dict(template="plotly_white", margin=dict(l=60, r=20, t=50, b=45), hovermode="x unified",
               legend=dict(orientation="h", y=-0.18))
_DAYS = "days after infusion"
#: The figures' colours: matplotlib's, so a chart and the report's figure of the same thing match.
_PALETTE = [to_hex(f"C{k}") for k in range(10)]
#: Cells below this are drawn as gone (a log axis would otherwise run down to the solver's tolerance).
_GONE_CELLS = 0.1


def _json(fig: go.Figure) -> dict:
    return json.loads(fig.to_json())  # numpy arrays become lists, NaN becomes null


def _lines(frame: pd.DataFrame, columns: dict[str, str], title: str, ytitle: str, floor: float) -> go.Figure:
    """Log-scale lines of ``columns`` over days; values below ``floor`` (a population that is gone) are left out."""
    fig = go.Figure([go.Scatter(x=frame["day"], y=frame[column].where(frame[column] >= floor), name=label,
                                mode="lines") for column, label in columns.items()])
    fig.update_layout(title=title, xaxis_title=_DAYS, yaxis_title=ytitle, yaxis_type="log",
                      yaxis_exponentformat="power", **_LAYOUT)
    return fig


def _storm(visits: pd.DataFrame, events: list[dict]) -> go.Figure:
    """IL-6 over the grades of CRS and ICANS, with each intervention where and when it was given."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=(0.55, 0.45))
    fig.add_trace(go.Scatter(x=visits["day"], y=visits["il6_pg_ml"], name="free IL-6 (pg/mL)", mode="lines",
                             line_color="#d62728"), row=1, col=1)
    fig.add_trace(go.Scatter(x=visits["day"], y=np.maximum(visits["il6_signal_pg_ml"], 1e-2),
                             name="IL-6 signalling (pg/mL)", mode="lines", line=dict(color="#d62728", dash="dash")),
                  row=1, col=1)
    fig.add_trace(go.Scatter(x=visits["day"], y=visits["crs_grade"], name="CRS grade", line_shape="hv",
                             line_color="#d62728"), row=2, col=1)
    fig.add_trace(go.Scatter(x=visits["day"], y=visits["icans_grade"], name="ICANS grade", line_shape="hv",
                             line=dict(color="#9467bd", dash="dash")), row=2, col=1)
    for drug, colour in DRUG_COLOURS.items():
        given = [e for e in events if e["event"] == drug]
        if given:
            fig.add_trace(go.Scatter(x=[e["day"] for e in given], y=[e["grade"] or 0 for e in given], mode="markers",
                                     name=drug, text=[e["action"] for e in given], hoverinfo="x+text",
                                     marker=dict(color=to_hex(colour), size=11, symbol="triangle-up")),
                          row=2, col=1)
    for death in (e for e in events if e["event"] == "death"):
        fig.add_vline(x=death["day"], line=dict(color="black", width=3), annotation_text=f"death ({death['action']})")
    fig.update_yaxes(type="log", title_text="IL-6 (pg/mL)", row=1, col=1)
    fig.update_yaxes(title_text="ASTCT grade", range=[-0.2, 5.4], dtick=1, row=2, col=1)
    fig.update_xaxes(range=[-7, acute_window(visits, events)])
    fig.update_xaxes(title_text=_DAYS, row=2, col=1)
    fig.update_layout(title="Cytokine storm: IL-6, CRS and ICANS grades, interventions", **_LAYOUT)
    return fig


def patient_figures(frame: pd.DataFrame, visits: pd.DataFrame, events: list[dict]) -> dict[str, dict]:
    """The four charts of one patient from ``SimulationResult.to_frame()``, ``.visits`` and ``.events``."""
    b_cells = _lines(frame, {"normal_b_blood_per_ul": "normal B cells"}, "Normal B cells in blood", "cells/µL",
                     floor=1e-3)
    b_cells.add_hline(y=B_CELL_APLASIA_PER_UL, line=dict(color="grey", dash="dot"), annotation_text="aplasia")
    return {name: _json(fig) for name, fig in {
        "car_t": _lines(frame, {"car_t_total": "all CAR-T", **CAR_T_BY_PHENOTYPE, **CAR_T_BY_LINEAGE},
                        "CAR-T cells by phenotype", "cells (whole body)", floor=_GONE_CELLS),
        "tumor": _lines(frame, {"tumor_total": "all CLL", **CLL_BY_COMPARTMENT},
                        "CLL cells by compartment", "cells", floor=_GONE_CELLS),
        "b_cells": b_cells,
        "storm": _storm(visits, events),
    }.items()}


def _km_traces(fig: go.Figure, kmf, name: str, colour: str) -> None:
    times = kmf.survival_function_.index.to_numpy(float)
    band = kmf.confidence_interval_.to_numpy(float)
    red, green, blue, _ = (round(255 * c) for c in to_rgba(colour))
    for k, bound in enumerate((band[:, 1], band[:, 0])):  # the upper bound first, the lower one fills to it
        fig.add_trace(go.Scatter(x=times, y=bound, mode="lines", line_shape="hv", line_width=0, showlegend=False,
                                 hoverinfo="skip", fill="tonexty" if k else None,
                                 fillcolor=f"rgba({red},{green},{blue},0.2)", legendgroup=name))
    fig.add_trace(go.Scatter(x=times, y=kmf.survival_function_.iloc[:, 0], name=name, mode="lines", line_shape="hv",
                             line_color=colour, legendgroup=name))


#: The rates compared across arms in the trial's bar chart, with their labels.
_ARM_RATES = {"orr": "ORR", "cr_rate": "CR", "umrd4_blood_rate": "uMRD4 blood, day 90",
              "crs_grade3plus_rate": "CRS grade ≥ 3", "icans_grade3plus_rate": "ICANS grade ≥ 3"}


def _rates(arms: dict[str, dict]) -> go.Figure:
    """Response and toxicity rates per arm with their 95% Wilson intervals (``arm_endpoints``)."""
    fig = go.Figure()
    for k, (arm, entry) in enumerate(arms.items()):
        rates = [100 * (entry[key] or 0) for key in _ARM_RATES]
        low, high = zip(*(entry[f"{key}_ci"] for key in _ARM_RATES))
        fig.add_trace(go.Bar(x=list(_ARM_RATES.values()), y=rates, name=f"{arm} (n={entry['n']})",
                             marker_color=_PALETTE[k % len(_PALETTE)],
                             error_y={"type": "data", "symmetric": False,
                                      "array": [100 * (h or 0) - r for h, r in zip(high, rates)],
                                      "arrayminus": [r - 100 * (lo or 0) for lo, r in zip(low, rates)]}))
    fig.update_layout(title="Response and toxicity per arm (95% intervals)", yaxis_title="% of patients",
                      barmode="group", **{**_LAYOUT, "hovermode": "closest"})
    return fig


def trial_figures(patients: pd.DataFrame, arms: dict[str, dict]) -> dict[str, dict]:
    """Rates per arm with their intervals (``arms``: ``arm_endpoints(patients)``), and Kaplan-Meier curves of
    PFS and OS per arm (95% pointwise bands, months), solver failures left out."""
    frame = analysed(patients)
    figures = {"rates": _json(_rates(arms))}
    for endpoint, title in (("pfs", "Progression-free survival"), ("os", "Overall survival")):
        fig = go.Figure()
        for k, arm in enumerate(arm_names(patients)):
            rows = frame[frame["arm"].astype(str) == arm]
            if rows.empty:
                continue
            kmf = km_of(rows, endpoint)
            median, _ = km_median(kmf)
            label = f"{arm} (n={len(rows)}, median {'not reached' if median is None else f'{median:.1f} mo'})"
            _km_traces(fig, kmf, label, _PALETTE[k % len(_PALETTE)])
        fig.update_layout(title=title, xaxis_title="months after infusion", yaxis_title="surviving",
                          yaxis_range=[0, 1.02], **_LAYOUT)
        figures[f"km_{endpoint}"] = _json(fig)
    return figures


def restim_figures(table: pd.DataFrame) -> dict[str, dict]:
    """Per round and domain: specific killing (end of round and first 24 h), fold expansion, senescent share."""
    fig = make_subplots(rows=1, cols=3, subplot_titles=("specific killing (%)", "fold expansion over the round",
                                                        "senescent share at round end (%)"))
    for k, (domain, rows) in enumerate(table.groupby("costimulation", sort=False)):
        colour = _PALETTE[k]
        for column, label, dash in (("killing", "end of round", "solid"), ("killing_24h", "first 24 h", "dash")):
            fig.add_trace(go.Scatter(x=rows["round"], y=100 * rows[column], name=f"{domain}, {label}",
                                     line=dict(color=colour, dash=dash)), row=1, col=1)
        fig.add_trace(go.Scatter(x=rows["round"], y=rows["fold_expansion"], name=f"{domain}, fold",
                                 line_color=colour), row=1, col=2)
        fig.add_trace(go.Scatter(x=rows["round"], y=100 * rows["senescent_fraction"], name=f"{domain}, senescent",
                                 line_color=colour), row=1, col=3)
    fig.update_xaxes(title_text="stimulation round", dtick=1)
    fig.update_yaxes(type="log", row=1, col=2)
    fig.update_layout(title="Repeated stimulation in vitro", **{**_LAYOUT, "hovermode": "closest",
                                                                 "margin": dict(_LAYOUT["margin"], t=90)})
    return {"restim": _json(fig)}


def mouse_figures(result: MouseResult) -> dict[str, dict]:
    """A column per domain: median tumour burden of each k group over time, and its Kaplan-Meier survival."""
    domains = list(dict.fromkeys(result.groups["costimulation"]))
    fig = make_subplots(rows=2, cols=len(domains), shared_yaxes=True, vertical_spacing=0.12,
                        subplot_titles=[f"{d}: median tumour" for d in domains] + [f"{d}: survival" for d in domains])
    for column, domain in enumerate(domains, start=1):
        ks = result.groups.loc[result.groups["costimulation"] == domain, "stimulations"]
        for c, k in enumerate(ks):
            colour, name = _PALETTE[c % len(_PALETTE)], f"{domain}, k = {k}"
            median = median_burden(result, domain, k)
            fig.add_trace(go.Scatter(x=median.index, y=median.to_numpy(), name=name, line_color=colour,
                                     legendgroup=name), row=1, col=column)
            km = group_survival(result, domain, k)
            fig.add_trace(go.Scatter(x=km.survival_function_.index, y=km.survival_function_.iloc[:, 0], name=name,
                                     line_shape="hv", line_color=colour, legendgroup=name, showlegend=False),
                          row=2, col=column)
    fig.update_yaxes(type="log", title_text="CLL cells per mouse", row=1, col=1)
    fig.update_yaxes(range=[0, 1.05], title_text="surviving", row=2, col=1)
    fig.update_xaxes(title_text="days after CAR-T", row=2)
    fig.update_layout(title="NSG mouse xenograft: CAR-T harvested after k stimulations", height=650,
                      **{**_LAYOUT, "hovermode": "closest", "margin": dict(_LAYOUT["margin"], t=90)})
    return {"mouse": _json(fig)}
