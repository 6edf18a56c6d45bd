"""Ordinary outcomes of the model are results, not crashes (issue 14): a death before infusion, trial arms
refused by field before anything runs."""

import json

import pytest

import cartsim
from cartsim.io import Scenario, ScenarioError, write_outputs
from cartsim.trial import Trial

#: The default patient of seed 33 dies of CLL while the product is made (about 2% of seeds).
DIES_BEFORE_INFUSION = {"simulation": {"seed": 33, "days": 30}}


def test_death_before_infusion_is_a_result_with_no_post_infusion_endpoints(tmp_path):
    result = cartsim.simulate(Scenario.validated(DIES_BEFORE_INFUSION))
    s = result.summary
    assert s["died"] and s["os_days"] < 0
    assert s["car_t_peak_cells"] is None and s["car_t_peak_day"] is None and s["il6_peak_pg_ml"] is None
    assert s["tumor_cells_day0"] is None and s["best_response"] is None
    write_outputs(result, tmp_path)
    assert json.loads((tmp_path / "summary.json").read_text())["car_t_peak_day"] is None
    assert {"summary.json", "trajectories.parquet", "visits.parquet"} <= {p.name for p in tmp_path.iterdir()}


ARM = {"name": "a"}


@pytest.mark.parametrize("trial, named", [
    ({"arms": [{"name": "a", "lymphodepletion": {"days": [float("nan")]}}]}, "arms.0.lymphodepletion.days.0"),
    ({"follow_up_days": 60, "arms": [{"name": "a", "schedule": [{"drug": "ibrutinib", "day": 0, "dose": 420,
                                                                 "every_days": 1, "until_day": 365}]}]},
     "follow_up_days (arm 'a')"),
    ({"clinical": {"visits": [{"every_hours": 1}]}, "arms": [ARM]}, "clinical.visits"),
    ({"patients_per_arm": "10", "arms": [ARM]}, "patients_per_arm"),
])
def test_bad_arms_are_refused_before_the_run(trial, named):
    with pytest.raises(ScenarioError) as error:
        Trial.validated(trial)
    assert named in str(error.value)


def test_each_bad_arm_is_one_error_without_a_spurious_one_for_the_list():
    with pytest.raises(ScenarioError) as error:
        Trial.validated({"arms": [{"name": "a", "product": {"dose_cells": -1}}, {"name": "b", "simulation": 3}]})
    message = str(error.value)
    assert "2 invalid field(s)" in message and "at least 1 item" not in message


def test_a_dose_a_hair_before_a_visit_is_given_at_the_visit():
    """A schedule day within the clock's tolerance before a visit (here just below day 0, the infusion) used
    to fall between two integration segments and stop the run with an internal error (found by the fuzzer)."""
    scenario = Scenario.validated({"schedule": [{"drug": "switch_drug", "day": -1e-300, "dose": 1}],
                                   "product": {"manufacturing": False, "vein_to_vein_days": 0},
                                   "simulation": {"days": 30}})
    assert cartsim.simulate(scenario).summary["switch_drug_doses"] == 1


def test_a_dose_below_one_cell_has_no_expansion_fold_and_writes_strict_json(tmp_path):
    """A weight-based dose of 5e-324 cells/kg infuses no whole cell: the fold over it is undefined, not
    infinite (summary.json is strict JSON; the fuzzer found the infinite fold stopping the run)."""
    scenario = Scenario.validated({"product": {"dose_cells_per_kg": 5e-324, "manufacturing": False},
                                   "simulation": {"days": 30}})
    result = cartsim.simulate(scenario)
    assert result.summary["car_t_expansion_fold"] is None
    write_outputs(result, tmp_path)
    assert json.loads((tmp_path / "summary.json").read_text())["car_t_expansion_fold"] is None
