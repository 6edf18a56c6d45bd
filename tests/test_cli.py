"""`cartsim simulate` and `cartsim demo`: result files, bad scenarios, all-or-nothing writes."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import cartsim
from cartsim.cli import app
from cartsim.io import write_outputs
from cartsim.model import STATE_NAMES

DAYS = 60
ENDPOINTS = [
    "car_t_peak_cells", "car_t_peak_day", "tumor_cells_day0", "tumor_cells_day28", "tumor_cells_day365",
    "tumor_cells_day3650", "tumor_extinct", "cd4_fraction_car_t_day3650", "senescent_fraction_car_t_day28",
    "b_cell_aplasia_days", "il6_peak_pg_ml", "il6_peak_day",
]
OUTPUTS = {"summary.json", "trajectories.parquet", "visits.parquet", "overview.png", "timeline.png"}

runner = CliRunner()


def _scenario_file(folder, text=f"name: short\nsimulation: {{days: {DAYS}}}\n"):
    path = folder / "scenario.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("simulate")
    out = folder / "out"
    result = runner.invoke(app, ["simulate", str(_scenario_file(folder)), "--out", str(out)])
    return result, out


def test_simulate_writes_the_three_files(simulated):
    result, out = simulated
    assert result.exit_code == 0, result.output
    assert {path.name for path in out.iterdir()} == OUTPUTS
    assert str(out.resolve()) in result.stdout.replace("\n", "")


def test_summary_json_has_the_named_endpoints(simulated):
    _, out = simulated
    summary = json.loads((out / "summary.json").read_text())
    assert set(ENDPOINTS) <= set(summary)
    assert summary["scenario"]["name"] == "short"
    assert summary["scenario"]["simulation"]["days"] == DAYS
    assert summary["cartsim_version"] == cartsim.__version__
    assert summary["car_t_peak_cells"] > 0
    assert summary["tumor_cells_day365"] is None  # beyond the 60 days simulated


def test_trajectories_are_daily_and_hold_every_state(simulated):
    _, out = simulated
    frame = pd.read_parquet(out / "trajectories.parquet")
    assert {"day", *STATE_NAMES} <= set(frame.columns)
    assert (frame.dtypes == np.float64).all()
    assert np.all(np.diff(frame["day"]) == 1.0)
    assert frame["day"].iloc[-1] == DAYS


def test_overview_is_a_png(simulated):
    _, out = simulated
    assert (out / "overview.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("product: {dose_cells: -1}\n", "product.dose_cells"),
        ("schedule: [{drug: aspirin, day: 1, dose: 100}]\n", "schedule.0.drug"),
        ("parameters: {no_such_rate: 1.0}\n", "no_such_rate"),
        ("parameters: {proliferation_cd4: 99}\n", "proliferation_cd4"),
        ("- a\n- list\n", "expected a mapping"),
        ("product: {dose_cells: [1,\n", "not valid YAML"),
    ],
)
def test_bad_scenario_exits_2_and_writes_nothing(tmp_path, text, named):
    out = tmp_path / "out"
    result = runner.invoke(app, ["simulate", str(_scenario_file(tmp_path, text)), "--out", str(out)])
    assert result.exit_code == 2
    assert named in result.stderr
    assert not out.exists()


def test_missing_scenario_file_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["simulate", str(tmp_path / "absent.yaml"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert not (tmp_path / "out").exists()


def test_failed_simulation_exits_1_and_writes_nothing(tmp_path, monkeypatch):
    def fail(scenario):
        raise cartsim.SimulationError("step size underflow")

    monkeypatch.setattr(cartsim, "simulate", fail)
    out = tmp_path / "out"
    result = runner.invoke(app, ["simulate", str(_scenario_file(tmp_path)), "--out", str(out)])
    assert result.exit_code == 1
    assert "step size underflow" in result.stderr
    assert not out.exists()


@pytest.fixture(scope="module")
def short_result():
    return cartsim.simulate(cartsim.Scenario.validated({"simulation": {"days": 5}}))


def test_write_failure_leaves_no_trace(tmp_path, monkeypatch, short_result):
    def broken_plot(self, path):
        raise OSError("disk full")

    monkeypatch.setattr(cartsim.SimulationResult, "plot", broken_plot)
    with pytest.raises(OSError, match="disk full"):
        write_outputs(short_result, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_rewrite_replaces_only_result_files(tmp_path, short_result):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    (out / "summary.json").write_text("stale")
    write_outputs(short_result, out)
    assert {path.name for path in out.iterdir()} == OUTPUTS | {"notes.txt"}
    assert (out / "notes.txt").read_text() == "keep me"
    assert json.loads((out / "summary.json").read_text())["scenario"]["simulation"]["days"] == 5
    assert [path.name for path in tmp_path.iterdir()] == ["out"]


def test_demo_runs_every_scenario_in_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "scenarios").mkdir()
    for name in ("first", "second"):
        (tmp_path / "scenarios" / f"{name}.yaml").write_text(f"name: {name}\nsimulation: {{days: 10}}\n")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["demo", "--out", "demo"])
    assert result.exit_code == 0, result.output
    for name in ("first", "second"):
        assert {path.name for path in (tmp_path / "demo" / name).iterdir()} == OUTPUTS | {"report.html"}


def test_demo_without_scenarios_runs_the_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert {path.name for path in (tmp_path / "out" / "demo" / "default").iterdir()} == OUTPUTS | {"report.html"}


@pytest.mark.parametrize("command", [[], ["simulate"], ["demo"], ["serve"]])
def test_help(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.stdout


def test_parameters_lists_units_defaults_and_sources():
    from cartsim.model import PARAMETERS

    result = runner.invoke(app, ["parameters", "kill_half"])
    assert result.exit_code == 0
    assert "kill_half_saturation" in result.stdout
    assert "cells" in result.stdout
    assert f"{PARAMETERS['kill_half_saturation'].default:g}" in result.stdout
    assert "max_kill_rate" not in result.stdout
