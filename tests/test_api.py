"""The public API: what ``cartsim`` exports, what importing it costs, and the parameter-set files that
``cartsim calibrate`` writes and ``--parameters`` reads."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

import cartsim
from cartsim.cli import app
from cartsim.patient import DEFAULT_POPULATION
from cartsim.patient._population import CALIBRATED_FILE, PARAMETER_SET_FORMAT, ParameterSetError

runner = CliRunner()
#: What neither ``import cartsim`` nor the command line's module may import: the web app, Dask, plotting.
HEAVY = ("fastapi", "dask", "distributed", "matplotlib", "plotly")


def test_every_public_name_resolves():
    for name in cartsim.__all__:
        assert getattr(cartsim, name) is not None, name
    assert {"simulate", "simulate_batch", "run_trial", "validate", "export_sbml", "STATE_TABLE",
            "PARAMETER_TABLE", "DRUG_TABLE", "OBSERVABLE_TABLE"} <= set(cartsim.__all__)
    with pytest.raises(AttributeError):
        cartsim.no_such_name  # noqa: B018


@pytest.mark.parametrize("module", ["cartsim", "cartsim.cli"])
def test_import_is_light(module):
    # A fresh interpreter: this one has imported everything already.
    code = f"import sys, {module}; print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]", f"import {module} loads {loaded.strip()}"


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"cartsim {cartsim.__version__}"


def test_simulate_batch_gives_endpoint_arrays():
    scenarios = [cartsim.Scenario.validated({"name": f"p{i}", "simulation": {"days": 10, "seed": i}})
                 for i in range(2)]
    outcome = cartsim.simulate_batch(scenarios)
    assert len(outcome.status) == 2 and all(len(v) == 2 for v in outcome.endpoints.values())


def _parameter_set(tmp_path, **content):
    path = tmp_path / "set.json"
    path.write_text(json.dumps({"format": PARAMETER_SET_FORMAT, "version": "test", **content}))
    return path


def test_the_shipped_parameter_set_loads():
    parameter_set = cartsim.load_parameter_set(CALIBRATED_FILE)
    assert DEFAULT_POPULATION in parameter_set["populations"] and parameter_set["parameters"] == {}


@pytest.mark.parametrize("content, problem", [
    ({"parameters": {"no_such": 1.0}}, "unknown model parameter"),
    ({"parameters": {"tcell_fitness": 100.0}}, "tcell_fitness"),
    ({"populations": {"nowhere": {}}}, "unknown population"),
    ({"populations": {DEFAULT_POPULATION: {"tcell_fitness": {"median": 0.2, "low": 0}}}}, "only 'median'"),
    ({"populations": {DEFAULT_POPULATION: {"tcell_fitness": {"median": 99.0}}}}, "outside"),
])
def test_bad_parameter_sets_are_refused(tmp_path, content, problem):
    with pytest.raises(ParameterSetError, match=problem):
        cartsim.load_parameter_set(_parameter_set(tmp_path, **content))


def test_a_file_without_the_format_is_refused(tmp_path):
    (tmp_path / "other.json").write_text('{"version": "x"}')
    with pytest.raises(ParameterSetError, match="not a parameter set"):
        cartsim.load_parameter_set(tmp_path / "other.json")


def test_scenario_parameters_may_name_a_parameter_set(tmp_path):
    path = _parameter_set(tmp_path, parameters={"senescence_rate": 0.05})
    scenario = cartsim.Scenario.validated({"parameters": str(path)})
    assert scenario.parameters == {"senescence_rate": 0.05}


def test_simulate_parameters_option_applies_the_set_beneath_the_scenario(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(cartsim, "simulate", lambda scenario: seen.append(scenario) or 1 / 0)
    scenario = tmp_path / "s.yaml"
    scenario.write_text("parameters: {senescence_rate: 0.2}\nsimulation: {days: 5}\n")
    path = _parameter_set(tmp_path, parameters={"senescence_rate": 0.05, "rest_senescence_fraction": 0.2})
    runner.invoke(app, ["simulate", str(scenario), "--out", str(tmp_path / "out"), "--parameters", str(path)])
    assert seen[0].parameters == {"senescence_rate": 0.2, "rest_senescence_fraction": 0.2}


def test_a_bad_parameters_file_is_one_line(tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text("simulation: {days: 5}\n")
    (tmp_path / "bad.json").write_text("{")
    result = runner.invoke(app, ["simulate", str(scenario), "--out", str(tmp_path / "out"),
                                 "--parameters", str(tmp_path / "bad.json")])
    assert result.exit_code == 2 and result.stderr.startswith("parameter set ")


def test_a_trial_runs_on_a_population_calibration(tmp_path):
    path = _parameter_set(tmp_path, populations={DEFAULT_POPULATION: {"tcell_fitness": {"median": 0.5}}})
    trial = tmp_path / "t.yaml"
    trial.write_text("arms: [{name: a}]\nfollow_up_days: 30\n")
    result = runner.invoke(app, ["trial", str(trial), "--out", str(tmp_path / "out"), "--n", "2",
                                 "--parameters", str(path)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "out" / "trial.json").read_text())
    assert manifest["trial"]["parameters"] == str(path)

def test_python_dash_m_cartsim_is_the_command_line():
    result = subprocess.run([sys.executable, "-m", "cartsim", "--version"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == f"cartsim {cartsim.__version__}"
