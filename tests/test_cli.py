"""`cartsim simulate` and `cartsim demo`: result files, bad scenarios, all-or-nothing writes."""

import json
import os

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


# --- errors: one line, never a traceback ---------------------------------------------------------


def _no_traceback(result):
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def _plain(text):
    """Text of a rich error panel, its border and line breaks taken out."""
    return " ".join(text.translate(str.maketrans("│╭╮╰╯─", "      ")).split())


def _simulate_in(folder):
    return runner.invoke(app, ["simulate", str(_scenario_file(folder)), "--out", str(folder / "out")])


def _raising(exc):
    def fail(*args, **kwargs):
        raise exc

    return fail


def test_internal_error_is_one_line_naming_its_log(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(cartsim, "simulate", _raising(RuntimeError("kaboom\nat step 7")))
    result = _simulate_in(tmp_path)
    assert result.exit_code == 70
    _no_traceback(result)
    [line] = result.stderr.splitlines()
    assert line.startswith("internal error: RuntimeError: kaboom; details in ")
    log = tmp_path / line.rsplit(" ", 1)[1]
    assert log.parent == tmp_path and log.name.startswith("cartsim-error-")
    details = log.read_text()
    assert "Traceback (most recent call last)" in details and "RuntimeError: kaboom\nat step 7" in details
    assert not (tmp_path / "out").exists()


def test_internal_error_without_a_log_folder_shows_the_details(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "absent"))
    monkeypatch.setattr(cartsim, "simulate", _raising(RuntimeError("kaboom")))
    result = _simulate_in(tmp_path)
    assert result.exit_code == 70
    assert result.stderr.splitlines()[-1] == "internal error: RuntimeError: kaboom; details in the traceback above"


def test_interrupt_exits_130_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(cartsim, "simulate", _raising(KeyboardInterrupt()))
    result = _simulate_in(tmp_path)
    assert result.exit_code == 130
    _no_traceback(result)
    assert result.stderr.strip() == "interrupted"


def test_validation_error_names_the_field(tmp_path, monkeypatch):
    def invalid(scenario):
        return cartsim.Scenario.model_validate({"product": {"dose_cells": -1}})

    monkeypatch.setattr(cartsim, "simulate", invalid)
    result = _simulate_in(tmp_path)
    assert result.exit_code == 2
    _no_traceback(result)
    assert "product.dose_cells" in result.stderr and "-1" in result.stderr


@pytest.fixture()
def a_file(tmp_path):
    path = tmp_path / "a_file"
    path.write_text("not a folder")
    return path


def _trial_file(folder):
    path = folder / "trial.yaml"
    path.write_text("name: small\npatients_per_arm: 2\nfollow_up_days: 30\n"
                    "arms: [{name: a, product: {costimulation: CD28}}, {name: b}]\n")
    return path


@pytest.mark.parametrize("command", [
    lambda folder, out: ["simulate", str(_scenario_file(folder)), "--out", out],
    lambda folder, out: ["trial", str(_trial_file(folder)), "--out", out],
    lambda folder, out: ["lab", "restim", "--rounds", "1", "--out", out],
    lambda folder, out: ["validate", "--out", out],
    lambda folder, out: ["sensitivity", "--out", out],
    lambda folder, out: ["study", "toci-timing", "--out", out],
], ids=["simulate", "trial", "lab", "validate", "sensitivity", "study"])
def test_out_that_is_a_file_is_refused_before_any_work(tmp_path, a_file, command):
    result = runner.invoke(app, command(tmp_path, str(a_file)))
    assert result.exit_code == 2
    _no_traceback(result)
    message = _plain(result.stderr)
    assert "Invalid value for '--out'" in message and "is a file" in message


@pytest.mark.parametrize("command", [
    lambda folder, out: ["simulate", str(_scenario_file(folder, "simulation: {days: 5}\n")), "--out", out],
    lambda folder, out: ["trial", str(_trial_file(folder)), "--out", out],
    lambda folder, out: ["lab", "restim", "--rounds", "1", "--out", out],
], ids=["simulate", "trial", "lab"])
def test_out_inside_a_file_is_one_line_naming_the_path(tmp_path, a_file, command):
    result = runner.invoke(app, command(tmp_path, str(a_file / "out")))
    assert result.exit_code == 2
    _no_traceback(result)
    [line] = result.stderr.strip().splitlines()
    assert str(a_file) in line and ("Not a directory" in line or "File exists" in line)


def test_report_out_that_cannot_be_written(simulated, a_file):
    _, out = simulated
    result = runner.invoke(app, ["report", str(out), "--out", str(a_file / "report.html")])
    assert result.exit_code == 2
    _no_traceback(result)
    assert str(a_file / "report.html") in result.stderr


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_out_folder(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    result = runner.invoke(app, ["lab", "restim", "--rounds", "1", "--out", str(locked / "out")])
    assert result.exit_code == 2
    _no_traceback(result)
    assert "Permission denied" in result.stderr and str(locked) in result.stderr


def test_permission_denied_names_the_path(tmp_path, monkeypatch):
    import errno

    import cartsim.cli

    denied = PermissionError(errno.EACCES, "Permission denied", "/srv/results/summary.json")
    monkeypatch.setattr(cartsim, "write_outputs", _raising(denied))
    scenario = _scenario_file(tmp_path, "simulation: {days: 5}\n")
    result = runner.invoke(app, ["simulate", str(scenario), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    _no_traceback(result)
    assert result.stderr.strip() == "Permission denied: /srv/results/summary.json"


def test_serve_help_lists_the_body_time_limits():
    result = runner.invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--body-seconds", "--parse-seconds"):
        assert option in result.stdout


def test_serve_passes_the_time_limits_to_the_app(monkeypatch):
    import uvicorn

    import cartsim.web

    made = {}
    monkeypatch.setattr(cartsim.web, "create_app", lambda limits, data_dir: made.setdefault("limits", limits))
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    result = runner.invoke(app, ["serve", "--body-seconds", "30", "--parse-seconds", "2.5"])
    assert result.exit_code == 0, result.output
    assert (made["limits"].body_seconds, made["limits"].parse_seconds) == (30.0, 2.5)


@pytest.mark.parametrize("option", ["--body-seconds", "--parse-seconds"])
def test_serve_time_limits_are_bounded(option):
    result = runner.invoke(app, ["serve", option, "0"])
    assert result.exit_code == 2
    assert option in _plain(result.stderr)
