"""Scenario validation: every bad value is reported by field, value and what was expected (DESIGN.md 9)."""

import pytest

from cartsim.io import Scenario, ScenarioError, load_scenario
from cartsim.model import PARAMETERS


def test_defaults_construct():
    scenario = Scenario()
    assert scenario.product.dose_cells > 0
    assert scenario.simulation.days == 3650
    assert Scenario.validated({}) == scenario


def test_negative_dose_names_field_value_and_bound():
    with pytest.raises(ScenarioError) as error:
        Scenario.validated({"product": {"dose_cells": -1}})
    message = str(error.value)
    assert "product.dose_cells" in message
    assert "-1" in message
    assert "greater than or equal to 0" in message


def test_every_problem_is_listed():
    with pytest.raises(ScenarioError) as error:
        Scenario.validated({"product": {"cd4_fraction": 2}, "simulation": {"days": 0}})
    message = str(error.value)
    assert "2 invalid field(s)" in message
    assert "product.cd4_fraction" in message
    assert "simulation.days" in message


def test_parameter_override_out_of_range_names_parameter_and_range():
    parameter = PARAMETERS["proliferation_cd4"]
    with pytest.raises(ScenarioError) as error:
        Scenario.validated({"parameters": {"proliferation_cd4": parameter.high * 10}})
    message = str(error.value)
    assert "proliferation_cd4" in message
    assert f"[{parameter.low:g}, {parameter.high:g}]" in message


def test_unknown_parameter_rejected():
    with pytest.raises(ScenarioError, match="unknown model parameter 'no_such_rate'"):
        Scenario.validated({"parameters": {"no_such_rate": 1.0}})


def test_unknown_costimulation_rejected():
    with pytest.raises(ScenarioError) as error:
        Scenario.validated({"product": {"costimulation": "OX40"}})
    message = str(error.value)
    assert "product.costimulation" in message
    assert "'OX40'" in message
    assert "4-1BB" in message and "CD28" in message


def test_unknown_drug_rejected():
    with pytest.raises(ScenarioError) as error:
        Scenario.validated({"schedule": [{"drug": "aspirin", "day": 3, "dose": 100}]})
    assert "schedule.0.drug" in str(error.value)
    assert "aspirin" in str(error.value)


def test_misspelt_field_rejected():
    with pytest.raises(ScenarioError, match="patient.tumour"):
        Scenario.validated({"patient": {"tumour": {}}})


def test_lymphodepletion_after_infusion_rejected():
    with pytest.raises(ScenarioError, match="lymphodepletion.days"):
        Scenario.validated({"lymphodepletion": {"days": [-2, 1]}})


@pytest.mark.parametrize(
    ("text", "expected"),
    [("- just\n- a list\n", "expected a mapping"), ("product: {dose_cells: [1,\n", "not valid YAML")],
)
def test_malformed_files_rejected(tmp_path, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=expected):
        load_scenario(path)


def test_missing_file_rejected(tmp_path):
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "absent.yaml")


def test_file_round_trip(tmp_path):
    path = tmp_path / "patient.yaml"
    path.write_text("name: p1\nproduct: {costimulation: CD28, dose_cells: 5.0e+7}\n"
                    "schedule: [{drug: tocilizumab, day: 4, dose: 560}]\n")
    scenario = load_scenario(path)
    assert scenario.name == "p1"
    assert scenario.product.costimulation == "CD28"
    assert scenario.schedule[0].drug == "tocilizumab"
