"""`cartsim report DIR`: one self-contained HTML file for simulation, trial and other output folders."""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib
import pandas as pd
import pytest
from typer.testing import CliRunner

from cartsim.cli import app

matplotlib.use("Agg")

#: Anything the page would fetch: a src/href to another host, an @import, a url(...) outside a data URI.
EXTERNAL = re.compile(r"""(src|href)\s*=\s*["'](?!data:|#)|@import|url\((?!data:)""", re.IGNORECASE)


def _report(directory) -> str:
    result = CliRunner().invoke(app, ["report", str(directory)])
    assert result.exit_code == 0, result.output
    page = (directory / "report.html").read_text()
    assert not EXTERNAL.search(page), EXTERNAL.search(page).group(0)  # self-contained: no network needed
    return page


def _run(command: str, spec: str, directory: Path) -> Path:
    """``cartsim <command>`` (simulate, trial) of the YAML ``spec``, into ``directory/run``."""
    path = directory / f"{command}.yaml"
    path.write_text(spec)
    result = CliRunner().invoke(app, [command, str(path), "--out", str(directory / "run")])
    assert result.exit_code == 0, result.output
    return directory / "run"


@pytest.fixture(scope="module")
def simulation_dir(tmp_path_factory):
    return _run("simulate", "name: report-patient\ndescription: a short run\nproduct: {preset: liso-cel}\n"
                "simulation: {days: 60, seed: 2}\n", tmp_path_factory.mktemp("patient"))


@pytest.fixture(scope="module")
def trial_run(tmp_path_factory):
    """A small trial of two arms, its summary and its report (a seed past 1000: it is shown as it is)."""
    out = _run("trial", "name: tiny\npatients_per_arm: 8\nfollow_up_days: 60\nseed: 2026\narms:\n"
               "  - {name: liso, product: {preset: liso-cel}}\n  - {name: dual, product: {preset: cd19-ror1-dual}}\n",
               tmp_path_factory.mktemp("trial"))
    return json.loads((out / "summary.json").read_text()), _report(out)


def test_simulation_report_embeds_figures_endpoints_and_events(simulation_dir):
    page = _report(simulation_dir)
    assert "Patient: report-patient" in page and "a short run" in page
    assert page.count('src="data:image/png;base64,') == 2  # overview and timeline
    for label in ("CAR+ cells infused", "vein-to-vein (days)", "CRS max grade (ASTCT)", "best response (iwCLL)"):
        assert label in page
    assert "Clinical events" in page


def test_trial_report_shows_every_arm_with_intervals(trial_run):
    _, page = trial_run
    assert "Trial: tiny" in page
    assert "<th>liso</th><th>dual</th>" in page and "<td>patients analysed</td><td>8</td><td>8</td>" in page
    assert re.search(r"\d\.\d+ \(\d", page)  # a rate with its interval
    assert "Hazard ratios" in page and page.count("data:image/png;base64,") >= 2  # KM PFS and OS


def test_other_folders_show_their_tables_and_figures(tmp_path):
    import matplotlib.pyplot as plt

    pd.DataFrame({"round": [1, 2], "killing": [0.9, 0.5]}).to_csv(tmp_path / "assay.csv", index=False)
    (tmp_path / "assay.json").write_text('{"rounds": 2, "rows": [1, 2]}')
    fig, ax = plt.subplots()
    ax.plot([1, 2], [0.9, 0.5])
    fig.savefig(tmp_path / "assay.png")
    plt.close(fig)
    page = _report(tmp_path)
    assert "assay.csv" in page and "<td>0.9</td>" in page and "<td>rounds</td>" in page
    assert page.count("data:image/png;base64,") == 1


def test_a_validation_folder_shows_every_target(tmp_path):
    # validate writes its targets as a list of records in validation.json: the report tables them.
    targets = [{"target": "porter2015_cr", "published": 0.29, "simulated": 0.27, "within": True},
               {"target": "tmax_days", "published": 10.0, "simulated": 73.0, "within": False}]
    (tmp_path / "validation.json").write_text(json.dumps({"compared": 2, "agree": 1, "targets": targets}))
    page = _report(tmp_path)
    assert "<h2>targets</h2>" in page and "<td>porter2015_cr</td>" in page and "<td>no</td>" in page
    assert "<td>agree</td><td>1</td>" in page


def test_a_folder_without_outputs_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2 and "no cartsim outputs" in result.output
    result = CliRunner().invoke(app, ["report", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "not a directory" in result.output


def test_report_goes_where_asked(simulation_dir, tmp_path):
    target = tmp_path / "elsewhere.html"
    assert CliRunner().invoke(app, ["report", str(simulation_dir), "--out", str(target)]).exit_code == 0
    assert target.read_text().startswith("<!DOCTYPE html>")


# --- No CAR-T in the body, no tumour, death before infusion (issue 14, item 2) ---------------------------

_NO_CAR_T = {
    "zero dose": "product: {dose_cells: 0}\n",
    # T cells too few and too unfit to grow a product: manufacturing fails.
    "failed manufacture": "patient: {tcell_fitness: 0.05, t_cells_per_ul: 5, prior_lines: 12}\n",
    "zero tumour": "patient:\n  tumor: {blood_cells: 0, marrow_cells: 0, node_cells: 0}\n",
    "death before infusion": "",  # seed 33 dies during manufacturing
}


@pytest.mark.parametrize("case", list(_NO_CAR_T))
def test_a_patient_without_car_t_or_tumour_gets_figures_and_a_report(case, tmp_path):
    seed = 33 if case == "death before infusion" else 2
    run = _run("simulate", _NO_CAR_T[case] + f"simulation: {{days: 30, seed: {seed}}}\n", tmp_path)
    summary = json.loads((run / "summary.json").read_text())
    if case == "failed manufacture":
        assert summary["manufacturing_failed"] is True
    if case == "death before infusion":
        assert summary["died"] and summary["os_days"] < 0 and summary["car_t_peak_cells"] is None
    assert (run / "overview.png").stat().st_size and (run / "timeline.png").stat().st_size
    page = _report(run)
    assert page.count('src="data:image/png;base64,') == 2
    assert "<td>CAR-T peak (cells)</td>" in page


def test_the_web_report_of_a_patient_without_car_t_is_made(tmp_path):
    # The web run writes no figures; its report draws them on request (this was a 500).
    from cartsim.web._tasks import TASKS

    request = {"product": {"dose_cells": 0}, "simulation": {"days": 30, "seed": 2}}
    TASKS["patient"](request, tmp_path, lambda done, total: None)
    assert TASKS["report"]({"kind": "patient"}, tmp_path, lambda done, total: None) == {"report": "report.html"}
    assert (tmp_path / "report.html").read_text().count('src="data:image/png;base64,') == 2


def test_figures_cope_with_series_that_are_all_zero_or_empty(simulation_dir, tmp_path):
    from cartsim.report import plot_overview, plot_timeline

    frame = pd.read_parquet(simulation_dir / "trajectories.parquet")
    visits = pd.read_parquet(simulation_dir / "visits.parquet")
    zero = frame.copy()
    zero[[c for c in zero.columns if c != "day"]] = 0.0
    silent = visits.copy()
    silent[["il6_pg_ml", "il6_signal_pg_ml"]] = 0.0
    for name, (trajectories, assessed) in {"zero": (zero, silent), "empty": (frame.head(0), visits.head(0))}.items():
        assert plot_overview(trajectories, tmp_path / f"{name}_overview.png").stat().st_size
        assert plot_timeline(assessed, [], tmp_path / f"{name}_timeline.png").stat().st_size


def test_a_trial_without_car_t_gets_its_figures_and_report(tmp_path):
    run = _run("trial", "name: none\npatients_per_arm: 6\nfollow_up_days: 30\nseed: 1\narms:\n"
               "  - {name: zero, product: {dose_cells: 0}}\n  - {name: also, product: {dose_cells: 0}}\n", tmp_path)
    assert _report(run).count("data:image/png;base64,") >= 2  # KM PFS and OS


# --- Readable numbers, labels, all endpoints, wide tables, repeated events (issue 14, item 11) ----------


def test_numbers_show_integers_as_integers():
    import numpy as np

    from cartsim.report._format import shown

    for value in (2026, 3650.0, np.int64(2026), np.float64(365.0), 1234.5, 999_999.0):
        assert "e" not in shown(value) and "." not in shown(value)
    assert shown(0.0258) == "0.0258" and "e+" in shown(1.6e8)  # fractions and cell counts as before
    assert shown(-0.0) == "0" and shown(float("nan")) == "—" and shown(np.bool_(True)) == "yes"
    assert shown(float("inf")) == "inf"  # an open-ended band of a validation target


def test_trial_report_shows_every_endpoint_with_its_label(trial_run):
    from cartsim.report._format import LABELS, label

    summary, page = trial_run
    assert re.search(r"<td>ORR \(CR/CRi/PR\)</td><td>\d[.\d]* \(\d", page)  # ORR with its interval
    keys = {key for entry in summary["arms"].values() for key in entry if not key.endswith("_ci")}
    assert keys <= set(LABELS)  # every endpoint of an arm has a human label ...
    for key in keys:
        assert f"<td>{label(key)}</td>" in page  # ... shown instead of the raw key
        assert f"<td>{key}</td>" not in page and f"<th>{key}</th>" not in page


def test_trial_report_shows_integers_as_integers(trial_run):
    summary, page = trial_run
    text = re.sub(r"base64,[^\"]+", "", page)
    assert not re.search(r"\de\+0[0-5]\b", text)  # nothing below a million as a power of ten
    assert f"seed {summary['seed']}" in text and f"follow-up {summary['follow_up_days']} days" in text


def test_every_table_scrolls_sideways_rather_than_widening_the_page(trial_run):
    _, page = trial_run
    assert page.count("<table>") == page.count('<div class="scroll"><table>') > 0
    assert re.search(r"\.scroll \{[^}]*overflow-x: auto", page)


def test_repeated_consecutive_events_are_one_row(tmp_path):
    response_days = [28.0 + 9 * k for k in range(40)]
    events = [{"day": 6.0, "event": "tocilizumab", "grade": 2, "action": "8 mg/kg"},
              *({"day": day, "event": "response", "grade": None, "action": "CR"} for day in response_days),
              {"day": 400.0, "event": "response", "grade": None, "action": "PD"}]
    (tmp_path / "summary.json").write_text(json.dumps({"scenario": {"name": "responder"}, "events": events}))
    page = _report(tmp_path)
    rows = re.findall(r"<tr><td>[^<]*</td><td>response</td>.*?</tr>", page)
    assert len(rows) == 2  # the CR run and the progression
    first, last = (f"{day:.0f}" for day in (response_days[0], response_days[-1]))
    assert rows[0].startswith(f"<tr><td>{first}–{last}</td>")
    assert rows[0].endswith(f"<td>{len(response_days)}</td></tr>")  # how many times


def test_a_trial_report_with_a_fitted_responder_analysis(tmp_path):
    """Fitted, the summary holds the responder analysis as records (make demo's trial): the report shows
    responders.csv and does not read the records as a reason for not fitting."""
    import json

    from cartsim.report import write_report

    records = [{"factor": "tcell_fitness", "odds_ratio": 3.2}]
    (tmp_path / "trial.json").write_text("{}")
    (tmp_path / "summary.json").write_text(json.dumps({"arms": {}, "responder_analysis": records}))
    (tmp_path / "responders.csv").write_text("factor,odds_ratio\ntcell_fitness,3.2\n")
    page = write_report(tmp_path).read_text()
    assert "responders.csv" in page and "Not fitted" not in page


# --- The efficacy-gap study's section (issue 18) ---------------------------------------------------------

def _gap_results() -> dict:
    """A made-up efficacy-gap result whose answers are known: T-cell fitness carries most of the CLL vs B-ALL gap,
    burden most of the CLL vs LBCL one, and the memory-rich product has the highest CR rate."""
    rows = []
    for comparison, parts in (("CLL vs B-ALL", {"T-cell fitness": 0.35, "burden": 0.10, "growth": -0.05}),
                              ("CLL vs LBCL", {"T-cell fitness": 0.05, "burden": 0.15, "growth": 0.0})):
        gap = sum(parts.values())
        other = 0.2 + gap
        rows.append({"comparison": comparison, "factor": "whole gap", "cr_points": gap, "low": gap - 0.1,
                     "high": gap + 0.1, "cr_cll": 0.2, "cr_other": other})
        rows += [{"comparison": comparison, "factor": f, "cr_points": v, "low": v - 0.05, "high": v + 0.05,
                  "cr_cll": 0.2, "cr_other": other} for f, v in parts.items()]
    interventions = pd.DataFrame({"intervention": ["none (tisa-cel 1.6e8)", "ibrutinib before apheresis",
                                                   "memory-rich product"], "cr_rate": [0.2, 0.25, 0.4],
                                  "low": [0.1, 0.15, 0.3], "high": [0.3, 0.35, 0.5]})
    for disease, gap in (("B-ALL", 0.4), ("LBCL", 0.2)):
        interventions[f"share_of_{disease}_gap_closed"] = (interventions["cr_rate"] - 0.2) / gap
    return {"attribution": pd.DataFrame(rows), "interventions": interventions,
            "coalitions": pd.DataFrame({"comparison": ["CLL vs B-ALL"], "swapped": ["none"], "cr_rate": [0.2]})}


def test_the_efficacy_gap_report_shows_attribution_reasons_waterfall_and_the_best_intervention(tmp_path):
    from cartsim.studies import write_efficacy_gap

    write_efficacy_gap(_gap_results(), tmp_path)
    page = _report(tmp_path)
    assert "<h1>Study: Why CAR-T work less well in CLL" in page
    # Every factor with its interval, in percentage points.
    assert "<td>CLL vs B-ALL</td><td>T-cell fitness</td><td>+35.0</td><td>+30.0 to +40.0</td>" in page
    assert "<td>CLL vs LBCL</td><td>whole gap</td><td>+20.0</td><td>+10.0 to +30.0</td>" in page
    # The main reason per comparison is its largest share, and the best intervention is named.
    assert "CLL vs B-ALL: CR 20% vs 60%; the main reason in the model is <b>T-cell fitness</b>" in page
    assert "CLL vs LBCL: CR 20% vs 40%; the main reason in the model is <b>burden</b>" in page
    assert "closes most of the gap: <b>memory-rich product</b> (CR 40%)" in page
    assert "<th>share of B-ALL gap closed</th>" in page and "<td>50%</td><td>100%</td>" in page
    assert page.count('src="data:image/png;base64,') == 1  # the waterfall


def test_the_efficacy_gap_command_writes_its_report(tmp_path):
    out = tmp_path / "gap"
    result = CliRunner().invoke(app, ["study", "efficacy-gap", "--n", "1", "--days", "28", "--bootstrap", "5",
                                      "--intervention-patients", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = (out / "report.html").read_text()
    assert "Shapley attribution of the CR gap" in page and "closes most of the gap" in page
    assert not EXTERNAL.search(page)
