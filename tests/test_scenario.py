"""Scenario validation: every bad value is reported by field, value and what was expected (README, "Scenario files")."""

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


# ---- issue 14: nonsense refused by field, work bounded ----------------------------------------------------------


@pytest.mark.parametrize("fields, named, expected", [
    ({"simulation": {"days": "30"}}, "simulation.days", "valid integer"),
    ({"simulation": {"stochastic": 1}}, "simulation.stochastic", "valid boolean"),
    ({"product": {"dose_cells": "1e8"}}, "product.dose_cells", "valid number"),
    ({"lymphodepletion": {"days": [float("nan")]}}, "lymphodepletion.days.0", "less than or equal to 0"),
    ({"lymphodepletion": {"days": [float("-inf")]}}, "lymphodepletion.days.0", "greater than or equal to -60"),
    ({"lymphodepletion": {"days": [-1e9]}}, "lymphodepletion.days.0", "greater than or equal to -60"),
    ({"lymphodepletion": {"days": [-5.0] * 11}}, "lymphodepletion.days", "at most 10"),
    ({"lymphodepletion": {"days": []}}, "lymphodepletion", "flu_cy needs at least one day"),
    ({"product": {"memory_fraction": 0.8, "senescent_fraction": 0.5}}, "product", "add up to at most 1"),
    ({"product": {"dose_cells": 1e8, "minimum_dose_cells": 2e8}}, "product", "must not exceed dose_cells"),
    ({"schedule": [{"drug": "tocilizumab", "day": 1e300, "dose": 560}]}, "schedule.0.day", "less than or equal"),
    ({"simulation": {"days": 30}, "schedule": [{"drug": "tocilizumab", "day": 40, "dose": 560}]},
     "schedule[0] (tocilizumab)", "after the end of follow-up (simulation.days = 30)"),
    ({"schedule": [{"drug": "ibrutinib", "day": -28, "dose": 420, "every_days": 0.25, "until_day": 400}] * 10},
     "schedule", "at most 10000"),
    ({"clinical": {"visits": [{"every_hours": 1}]}}, "clinical.visits", "at most 20000"),
])
def test_nonsense_is_refused_naming_the_field(fields, named, expected):
    with pytest.raises(ScenarioError) as error:
        Scenario.validated(fields)
    message = str(error.value)
    assert named in message and expected in message


def test_numbers_of_a_float_field_may_be_integers_and_lists_are_read_as_tuples():
    scenario = Scenario.validated({"product": {"dose_cells": 100000000}, "lymphodepletion": {"days": [-4, -3]}})
    assert scenario.product.dose_cells == 1e8 and scenario.lymphodepletion.days == (-4.0, -3.0)


def test_a_long_block_is_not_echoed_in_the_message():
    with pytest.raises(ScenarioError) as error:
        Scenario.validated({"schedule": [{"drug": "ibrutinib", "day": -28, "dose": 420, "every_days": 0.25,
                                          "until_day": 400}] * 10})
    assert len(str(error.value)) < 300


def test_derived_trafficking_of_a_valid_patient_is_accepted():
    """Bulky nodes next to a nearly empty blood need a fast homing at equilibrium with the measured egress: a
    valid patient, not an out-of-range parameter (it used to be refused with a traceback)."""
    import cartsim
    from cartsim._batch import build_batch
    from cartsim.model import Param

    scenario = Scenario.validated({"patient": {"tumor": {"blood_cells": 1e6, "node_cells": 1e12}},
                                   "simulation": {"days": 30}})
    assert build_batch([scenario]).params[0, Param.cll_homing_node] > PARAMETERS["cll_homing_node"].high
    assert cartsim.simulate(scenario).summary["car_t_peak_cells"] > 0
