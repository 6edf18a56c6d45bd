"""One self-contained HTML report of any output directory: a simulation, a trial, a study, a lab assay.

Everything is inside the one file (figures as base64 PNG, tables as HTML, CSS
inline), so it opens offline and can be mailed or archived as it is. What the
directory holds decides what the report shows:

* a **simulation** (``summary.json`` with ``scenario``): the product and key endpoints, the clinical events,
  the overview and timeline figures;
* a **trial** (``trial.json``): endpoints per arm with 95% intervals, hazard ratios, the responder analysis,
  Kaplan-Meier and forest figures;
* anything else (a study, a lab assay, a validation): its JSON scalars, every CSV table and every figure.
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path

import pandas as pd

REPORT = "report.html"
#: Rows shown of a CSV table; a longer table is cut with a note (the CSV stays next to the report).
MAX_TABLE_ROWS = 200

#: Key endpoints of a single-patient summary, in reading order, with their labels.
KEY_ENDPOINTS = {
    "manufacturing_failed": "manufacturing failed",
    "vein_to_vein_days": "vein-to-vein (days)",
    "product_dose_cells": "CAR+ cells infused",
    "product_memory_fraction": "product memory-like share",
    "car_t_peak_cells": "CAR-T peak (cells)",
    "car_t_peak_day": "CAR-T peak day",
    "car_t_expansion_fold": "CAR-T expansion (fold)",
    "tumor_cells_day0": "CLL cells, day 0",
    "tumor_cells_day28": "CLL cells, day 28",
    "tumor_cells_day365": "CLL cells, day 365",
    "tumor_extinct": "CLL extinct at end",
    "b_cell_aplasia_days": "B-cell aplasia (days)",
    "il6_peak_pg_ml": "IL-6 peak (pg/mL)",
    "crp_peak_mg_l": "CRP peak (mg/L)",
    "crs_max_grade": "CRS max grade (ASTCT)",
    "crs_onset_day": "CRS onset day",
    "icans_max_grade": "ICANS max grade (ASTCT)",
    "tocilizumab_doses": "tocilizumab doses",
    "corticosteroid_doses": "dexamethasone doses",
    "best_response": "best response (iwCLL)",
    "umrd4_blood_day90": "uMRD4 blood, day 90",
    "pfs_days": "PFS (days)",
    "os_days": "OS (days)",
    "death_cause": "death cause",
}

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
.note { color: #666; font-size: 0.9em; }
"""


class ReportError(ValueError):
    """The directory holds no cartsim output that a report can show."""


def shown(value) -> str:
    """A value as a person reads it: 3 significant digits, yes/no, a dash for missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return f"{value:.3g}"
    return str(value)


def _table(rows: list[tuple], header: tuple[str, ...]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(shown(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _figure(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<figure><img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}"></figure>'


def _frame(title: str, frame: pd.DataFrame, source: str) -> str:
    note = ""
    if len(frame) > MAX_TABLE_ROWS:
        note = f'<p class="note">First {MAX_TABLE_ROWS} of {len(frame)} rows; all are in {html.escape(source)}.</p>'
        frame = frame.head(MAX_TABLE_ROWS)
    rows = list(frame.itertuples(index=False, name=None))
    return f"<h2>{html.escape(title)}</h2>" + _table(rows, tuple(map(str, frame.columns))) + note


def _csv(path: Path) -> str:
    return _frame(path.name, pd.read_csv(path), path.name)


def _figures(directory: Path) -> str:
    pictures = sorted(directory.glob("*.png"))
    return ("<h2>Figures</h2>" + "".join(_figure(p) for p in pictures)) if pictures else ""


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
        parts.append("<h2>Clinical events</h2>" + _table([(e.get("day"), e.get("event"), e.get("grade"), e.get("action"))
                                                          for e in events], ("day", "event", "grade", "action")))
    return f"Patient: {name}", "".join(parts)


def _trial(directory: Path, summary: dict) -> tuple[str, str]:
    arms = summary.get("arms", {})
    rates = [key for key in next(iter(arms.values()), {}) if key.endswith("_rate")]
    rows = []
    for arm, entry in arms.items():
        row = [arm, entry.get("n")]
        for key in rates:
            low, high = entry.get(f"{key}_ci", [None, None])
            row.append(f"{shown(entry.get(key))} ({shown(low)}–{shown(high)})")
        row += [entry.get("median_pfs_months"), entry.get("median_os_months"), entry.get("pfs_12m"),
                entry.get("os_12m")]
        rows.append(tuple(row))
    header = ("arm", "n", *[key.removesuffix("_rate") for key in rates], "median PFS (mo)", "median OS (mo)",
              "PFS 12 mo", "OS 12 mo")
    parts = [f"<p>Population {html.escape(str(summary.get('population')))}, follow-up "
             f"{shown(summary.get('follow_up_days'))} days, seed {shown(summary.get('seed'))}.</p>",
             "<h2>Endpoints per arm (95% intervals)</h2>" + _table(rows, header)]
    ratios = summary.get("hazard_ratios") or {}
    if ratios:
        parts.append("<h2>Hazard ratios (Cox)</h2>" + _table(
            [(pair, e.get("pfs_hr"), *e.get("pfs_hr_ci", [None, None]), e.get("os_hr"), *e.get("os_hr_ci", [None, None]))
             for pair, e in ratios.items()], ("comparison", "PFS HR", "low", "high", "OS HR", "low", "high")))
    return f"Trial: {summary.get('trial', directory.name)}", "".join(parts)


def _generic(directory: Path, summary) -> tuple[str, str]:
    parts = []
    if isinstance(summary, dict):
        scalars = [(key, value) for key, value in summary.items() if not isinstance(value, (dict, list))]
        if scalars:
            parts.append("<h2>Summary</h2>" + _table(scalars, ("key", "value")))
        # A list of records (validate's targets, say) is a table of its own.
        parts += [_frame(key, pd.DataFrame(value), f"the JSON's {key!r}") for key, value in summary.items()
                  if isinstance(value, list) and value and all(isinstance(v, dict) for v in value)]
    parts += [_csv(path) for path in sorted(directory.glob("*.csv"))]
    return directory.name, "".join(parts)


def write_report(directory: str | Path, out: str | Path | None = None) -> Path:
    """Write one self-contained HTML report of ``directory`` (to ``out``, default ``directory/report.html``)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ReportError(f"{directory}: not a directory of cartsim outputs")
    summary_path = next(iter(sorted(directory.glob("*.json"))), None)
    trial_file, simulation_file = directory / "trial.json", directory / "summary.json"
    if trial_file.exists() and simulation_file.exists():
        title, body = _trial(directory, json.loads(simulation_file.read_text()))
        body += "".join(_csv(p) for p in sorted(directory.glob("*.csv")))
    elif simulation_file.exists() and "scenario" in (summary := json.loads(simulation_file.read_text())):
        title, body = _simulation(directory, summary)
    elif summary_path or any(directory.glob("*.csv")) or any(directory.glob("*.png")):
        title, body = _generic(directory, json.loads(summary_path.read_text()) if summary_path else None)
    else:
        raise ReportError(f"{directory}: no cartsim outputs (summary.json, trial.json, *.csv or *.png) to report")
    from .. import __version__

    page = (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}{_figures(directory)}"
            f'<p class="note">cartsim {html.escape(__version__)}; written from {html.escape(str(directory))}.</p>'
            "</body></html>\n")
    path = Path(out) if out is not None else directory / REPORT
    path.write_text(page, encoding="utf-8")
    return path
