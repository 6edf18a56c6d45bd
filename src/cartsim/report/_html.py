"""One self-contained HTML report of any output directory: a simulation, a trial, a study, a lab assay.

Everything is inside the one file (figures as base64 PNG, tables as HTML, CSS
inline), so it opens offline and can be mailed or archived as it is. What the
directory holds decides what the report shows:

* a **simulation** (``summary.json`` with ``scenario``): the product and key endpoints, the clinical events,
  the overview and timeline figures;
* a **trial** (``trial.json``): endpoints per arm with 95% intervals, hazard ratios, the responder analysis,
  Kaplan-Meier and forest figures;
* the **efficacy-gap study** (``efficacy_gap.json``): the Shapley attribution of the CR gap with its intervals,
  the model's main reason per disease, the waterfall figure, the interventions and which closes most of the gap;
* anything else (a study, a lab assay, a validation): its JSON scalars, every CSV table and every figure.
"""

from __future__ import annotations

import base64
import html
import json
import re
from itertools import groupby
from pathlib import Path

import pandas as pd

from .._version import __version__
from ._format import KEY_ENDPOINTS, label, shown

# KEY_ENDPOINTS and shown are the CLI's and the web page's too.
__all__ = ["KEY_ENDPOINTS", "REPORT", "ReportError", "shown", "write_report"]

REPORT = "report.html"
#: Rows shown of a CSV table; a longer table is cut with a note (the CSV stays next to the report).
MAX_TABLE_ROWS = 200

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
.note { color: #666; font-size: 0.9em; }
.scroll { overflow-x: auto; max-width: 100%; }
"""


class ReportError(ValueError):
    """The directory holds no cartsim output that a report can show."""


def _table(rows: list[tuple], header: tuple[str, ...]) -> str:
    """An HTML table in a container that scrolls sideways when the table is wider than the page."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(shown(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f'<div class="scroll"><table><tr>{head}</tr>{body}</table></div>'


def _figure(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<figure><img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}"></figure>'


def _frame(title: str, frame: pd.DataFrame, source: str) -> str:
    note = ""
    if len(frame) > MAX_TABLE_ROWS:
        note = f'<p class="note">First {MAX_TABLE_ROWS} of {len(frame)} rows; all are in {html.escape(source)}.</p>'
        frame = frame.head(MAX_TABLE_ROWS)
    rows = list(frame.itertuples(index=False, name=None))
    return f"<h2>{html.escape(title)}</h2>" + _table(rows, tuple(label(str(c)) for c in frame.columns)) + note


def _csv(path: Path) -> str:
    return _frame(path.name, pd.read_csv(path), path.name)


def _figures(directory: Path) -> str:
    pictures = sorted(directory.glob("*.png"))
    return ("<h2>Figures</h2>" + "".join(_figure(p) for p in pictures)) if pictures else ""


def _sentence(markdown: str) -> str:
    """A sentence of a study's text as HTML: escaped, its **bold** kept."""
    return "<p>" + re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(markdown)) + "</p>"


def _simulation(directory: Path, summary: dict) -> tuple[str, str]:
    scenario = summary.get("scenario", {})
    name = scenario.get("name", directory.name) if isinstance(scenario, dict) else directory.name
    parts = []
    if isinstance(scenario, dict) and scenario.get("description"):
        parts.append(f"<p>{html.escape(scenario['description'])}</p>")
    parts.append("<h2>Key endpoints</h2>" + _table([(label, summary.get(key)) for key, label in KEY_ENDPOINTS.items()
                                                    if key in summary], ("endpoint", "value")))
    events = summary.get("events") or []
    if events:
        parts.append("<h2>Clinical events</h2>" + _table(_event_rows(events), ("day", "event", "grade", "action",
                                                                               "times")))
    return f"Patient: {name}", "".join(parts)


def _event_rows(events: list[dict]) -> list[tuple]:
    """One row per run of consecutive identical events: a response assessed the same at every visit, or a
    drug given dose after dose, is one row with its first and last day and how many times it happened."""
    rows = []
    for (event, grade, action), run in groupby(events, key=lambda e: (e.get("event"), e.get("grade"), e.get("action"))):
        days = [e.get("day") for e in run]
        span = shown(days[0]) if len(days) == 1 else f"{shown(days[0])}–{shown(days[-1])}"
        rows.append((span, event, grade, action, len(days)))
    return rows


def _with_interval(entry: dict, key: str) -> str:
    interval = entry.get(f"{key}_ci")
    value = shown(entry.get(key))
    text = f"{value} ({shown(interval[0])}–{shown(interval[1])})" if interval else value
    predicted = entry.get(f"{key}_prediction_interval")
    return f"{text}; prediction {shown(predicted[0])}–{shown(predicted[1])}" if predicted else text


def _by_column(entries: dict[str, dict], corner: str) -> str:
    """A table with one column per entry (an arm, a comparison) and one row per key of the entries, each
    value with its 95% interval where the entry has one (``<key>_ci``), and its prediction interval over
    posterior draws (``<key>_prediction_interval``): an endpoint added to the trial's summary shows up here
    without a change."""
    keys = dict.fromkeys(key for entry in entries.values() for key in entry
                         if not key.endswith(("_ci", "_prediction_interval")))
    rows = [(label(key), *(_with_interval(entry, key) for entry in entries.values())) for key in keys]
    return _table(rows, (corner, *entries))


def _trial(directory: Path, summary: dict) -> tuple[str, str]:
    parts = [f"<p>Population {html.escape(shown(summary.get('population')))}, follow-up "
             f"{shown(summary.get('follow_up_days'))} days, seed {shown(summary.get('seed'))}.</p>",
             "<h2>Endpoints per arm (95% intervals)</h2>" + _by_column(summary.get("arms", {}), "endpoint")]
    posterior = summary.get("posterior")
    if posterior:
        parts[1] = (f"<p>Over {posterior['draws']} posterior draws of {html.escape(str(posterior['folder']))}, "
                    f"{posterior['patients_per_draw']} patients per arm each: {html.escape(posterior['what'])}.</p>"
                    "<h2>Endpoints per arm (95% sampling intervals; 95% prediction intervals)</h2>"
                    + _by_column(summary.get("arms", {}), "endpoint"))
        differences = {pair: {key: d["median"] for key, d in entry.items()}
                       | {f"{key}_prediction_interval": d["prediction_interval"] for key, d in entry.items()}
                       for pair, entry in (summary.get("differences") or {}).items()}
        if differences:
            parts.append("<h2>Differences between arms, draw by draw (95% prediction intervals)</h2>"
                         + _by_column(differences, "difference"))
    ratios = summary.get("hazard_ratios") or {}
    if ratios:
        parts.append("<h2>Hazard ratios (Cox, 95% intervals)</h2>" + _by_column(ratios, "comparison"))
    # Fitted, the analysis is a list of records, shown from responders.csv below; not fitted, the reason.
    responders = summary.get("responder_analysis")
    not_fitted = responders.get("not_fitted") if isinstance(responders, dict) else None
    if not_fitted:
        parts.append(f'<h2>Responder analysis</h2><p class="note">Not fitted: {html.escape(not_fitted)}.</p>')
    return f"Trial: {summary.get('trial', directory.name)}", "".join(parts)


def _efficacy_gap(directory: Path, found: dict) -> tuple[str, str]:
    """The efficacy-gap study's section: attribution with intervals, main reasons, interventions (the waterfall
    is among the figures)."""
    from ..studies import (ATTRIBUTION_HEADER, GAP_ATTRIBUTION, attribution_rows, closes_most, intervention_rows,
                           main_reasons)

    attribution, interventions = (pd.read_csv(directory / name) for name in (GAP_ATTRIBUTION, "interventions.csv"))
    header, rows = intervention_rows(interventions)
    parts = [f"<p>{html.escape(found['description'])}</p>",
             "<h2>Shapley attribution of the CR gap (percentage points, 95% intervals)</h2>",
             _table(attribution_rows(attribution), ATTRIBUTION_HEADER), *map(_sentence, main_reasons(found)),
             "<h2>Interventions on the CLL patients</h2>", _table(rows, header),
             _sentence(closes_most(found)),
             '<p class="note">The CR rate of every counterfactual coalition is in coalitions.csv.</p>']
    return f"Study: {found['title']}", "".join(parts)


def _generic(directory: Path, summary) -> tuple[str, str]:
    parts = []
    if isinstance(summary, dict):
        scalars = [(label(key), value) for key, value in summary.items() if not isinstance(value, (dict, list))]
        if scalars:
            parts.append("<h2>Summary</h2>" + _table(scalars, ("key", "value")))
        # A list of records (validate's targets, say) is a table of its own.
        parts += [_frame(key, pd.DataFrame(value), f"the JSON's {key!r}") for key, value in summary.items()
                  if isinstance(value, list) and value and all(isinstance(v, dict) for v in value)]
    parts += [_csv(path) for path in sorted(directory.glob("*.csv"))]
    return directory.name, "".join(parts)


def _study(directory: Path) -> dict | None:
    """The conclusions of an efficacy-gap study folder (its ``efficacy_gap.json``), else None."""
    path = directory / "efficacy_gap.json"  # cartsim.studies.GAP_CONCLUSIONS (a slow import for every report)
    if not path.exists():
        return None
    found = json.loads(path.read_text())
    return found if isinstance(found, dict) and found.get("study") == "efficacy-gap" else None


def write_report(directory: str | Path, out: str | Path | None = None) -> Path:
    """Write one self-contained HTML report of ``directory`` (to ``out``, default ``directory/report.html``)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ReportError(f"{directory}: not a directory of cartsim outputs")
    summary_path = next(iter(sorted(directory.glob("*.json"))), None)
    trial_file, simulation_file = directory / "trial.json", directory / "summary.json"
    summary = json.loads(simulation_file.read_text()) if simulation_file.exists() else None
    study = _study(directory)
    if study is not None:
        title, body = _efficacy_gap(directory, study)
    elif simulation_file.exists() and (trial_file.exists() or "posterior" in summary):
        title, body = _trial(directory, summary)
        body += "".join(_csv(p) for p in sorted(directory.glob("*.csv")))
    elif simulation_file.exists() and "scenario" in summary:
        title, body = _simulation(directory, summary)
    elif summary_path or any(directory.glob("*.csv")) or any(directory.glob("*.png")):
        title, body = _generic(directory, json.loads(summary_path.read_text()) if summary_path else None)
    else:
        raise ReportError(f"{directory}: no cartsim outputs (summary.json, trial.json, *.csv or *.png) to report")
    page = (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}{_figures(directory)}"
            f'<p class="note">cartsim {html.escape(__version__)}; written from {html.escape(str(directory))}.</p>'
            "</body></html>\n")
    path = Path(out) if out is not None else directory / REPORT
    path.write_text(page, encoding="utf-8")
    return path
