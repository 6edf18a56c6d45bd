"""`cartsim report DIR`: one self-contained HTML file for simulation, trial and other output folders."""

from __future__ import annotations

import json
import re

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


@pytest.fixture(scope="module")
def simulation_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("patient")
    spec = out / "patient.yaml"
    spec.write_text("name: report-patient\ndescription: a short run\nproduct: {preset: liso-cel}\n"
                    "simulation: {days: 60, seed: 2}\n")
    result = CliRunner().invoke(app, ["simulate", str(spec), "--out", str(out / "run")])
    assert result.exit_code == 0, result.output
    return out / "run"


def test_simulation_report_embeds_figures_endpoints_and_events(simulation_dir):
    page = _report(simulation_dir)
    assert "Patient: report-patient" in page and "a short run" in page
    assert page.count('src="data:image/png;base64,') == 2  # overview and timeline
    for label in ("CAR+ cells infused", "vein-to-vein (days)", "CRS max grade (ASTCT)", "best response (iwCLL)"):
        assert label in page
    assert "Clinical events" in page


def test_trial_report_shows_every_arm_with_intervals(tmp_path):
    spec = tmp_path / "trial.yaml"
    spec.write_text("name: tiny\npatients_per_arm: 8\nfollow_up_days: 60\nseed: 1\narms:\n"
                    "  - {name: liso, product: {preset: liso-cel}}\n  - {name: dual, product: {preset: cd19-ror1-dual}}\n")
    out = tmp_path / "run"
    assert CliRunner().invoke(app, ["trial", str(spec), "--out", str(out)]).exit_code == 0
    page = _report(out)
    assert "Trial: tiny" in page
    assert re.search(r"<td>liso</td><td>8</td>", page) and re.search(r"<td>dual</td><td>8</td>", page)
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
