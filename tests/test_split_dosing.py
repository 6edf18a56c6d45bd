"""Split (fractionated) CAR-T dosing (issue 16, item 8): ``product.infusion`` gives the released product in
fractions on successive days, as CTL019 was given in CLL (10%, 30%, 60% over three days: Porter 2011 NEJM)
and adult ALL (Frey 2020 JCO). The default is one infusion of the whole product on day 0."""

from pathlib import Path

import numpy as np
import pytest

import cartsim
from cartsim._batch import build_batch
from cartsim.io import Infusion, Scenario, ScenarioError, load_scenario
from cartsim.model import CAR_T_STATES, STATE_TABLE
from cartsim.patient import sample_population
from cartsim.trial import Trial, arm_batch

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
PORTER = {"days": [0, 1, 2], "fractions": [0.1, 0.3, 0.6]}


def _car_t_doses(batch, patient=0) -> dict[float, dict[str, float]]:
    """The CAR-T cells each infusion day gives, by state name."""
    doses = batch.doses
    n = doses.counts[patient]
    given: dict[float, dict[str, float]] = {}
    for day, state, amount in zip(doses.times[patient, :n], doses.states[patient, :n], doses.amounts[patient, :n]):
        if state in CAR_T_STATES:
            given.setdefault(float(day), {})[STATE_TABLE[state].name] = float(amount)
    return given


def test_the_default_is_one_infusion_of_the_whole_product_on_day_0():
    assert Scenario().product.infusion == Infusion(days=(0.0,), fractions=(1.0,))
    batch = build_batch([Scenario()])
    given = _car_t_doses(batch)
    assert list(given) == [0.0]
    assert sum(given[0.0].values()) == pytest.approx(batch.products.dose_cells[0], rel=1e-12)
    explicit = build_batch([Scenario.validated({"product": {"infusion": {"days": [0], "fractions": [1]}}})])
    for field in ("times", "states", "amounts", "counts"):
        assert np.array_equal(getattr(explicit.doses, field), getattr(batch.doses, field))


def test_a_split_dose_gives_each_fraction_on_its_day_and_adds_up_to_the_released_dose():
    single = build_batch([Scenario()])
    split = build_batch([Scenario.validated({"product": {"infusion": PORTER}})])
    assert split.products.dose_cells[0] == single.products.dose_cells[0]  # the same product is released
    given, whole = _car_t_doses(split), _car_t_doses(single)[0.0]
    assert sorted(given) == [0.0, 1.0, 2.0]
    total = sum(sum(cells.values()) for cells in given.values())
    assert total == pytest.approx(split.products.dose_cells[0], rel=1e-12)
    for day, fraction in zip(PORTER["days"], PORTER["fractions"]):
        # Each fraction is that share of every lineage and phenotype of the product.
        assert given[float(day)].keys() == whole.keys()
        for state, cells in whole.items():
            assert given[float(day)][state] == pytest.approx(fraction * cells, rel=1e-12)


def test_the_fractions_reach_the_patient_on_their_days():
    scenario = Scenario.validated({"product": {"infusion": PORTER}, "simulation": {"days": 30}})
    result = cartsim.simulate(scenario)
    frame = result.to_frame().set_index("day")
    dose = result.summary["product_dose_cells"]
    # A record day shows the state after that day's doses: day 0 holds the first 10% only.
    assert frame.loc[-1, "car_t_total"] == 0.0
    assert frame.loc[0, "car_t_total"] == pytest.approx(0.1 * dose, rel=1e-9)
    assert frame.loc[2, "car_t_total"] > 0.4 * dose  # day 1's 30% is in, and day 2's 60% too
    # The expansion fold is over the whole dose, not over day 0's 10%.
    assert result.summary["car_t_expansion_fold"] == pytest.approx(result.summary["car_t_peak_cells"] / dose)


@pytest.mark.parametrize("infusion, named, expected", [
    ({"days": [0, 1, 2], "fractions": [0.1, 0.3, 0.5]}, "product.infusion.fractions", "add up to 1"),
    ({"days": [0, 1], "fractions": [1.1, -0.1]}, "product.infusion.fractions.0", "less than or equal to 1"),
    ({"days": [0, 1], "fractions": [0.0, 1.0]}, "product.infusion.fractions.0", "greater than 0"),
    ({"days": [0, 1], "fractions": [0.5, float("nan")]}, "product.infusion.fractions.1", "less than or equal to 1"),
    ({"days": [0, 2, 1], "fractions": [0.1, 0.3, 0.6]}, "product.infusion.days", "must not decrease"),
    ({"days": [-1, 0], "fractions": [0.5, 0.5]}, "product.infusion.days.0", "greater than or equal to 0"),
    ({"days": [0, 1], "fractions": [0.1, 0.3, 0.6]}, "product.infusion", "one day per fraction"),
    ({"days": list(range(11)), "fractions": [1 / 11] * 11}, "product.infusion.days", "at most 10"),
    ({"days": [], "fractions": []}, "product.infusion.days", "at least 1"),
    ({"days": [0, "x"], "fractions": [0.5, 0.5]}, "product.infusion.days.1", "valid number"),
    ({"day": [0]}, "product.infusion.day", "Extra inputs"),
])
def test_a_malformed_schedule_is_refused_naming_the_field(infusion, named, expected):
    with pytest.raises(ScenarioError) as error:
        Scenario.validated({"product": {"infusion": infusion}})
    message = str(error.value)
    assert named in message and expected in message


def test_fractions_that_add_up_to_one_within_rounding_are_accepted():
    thirds = Scenario.validated({"product": {"infusion": {"days": [0, 0, 1], "fractions": [1 / 3] * 3}}})
    assert len(thirds.product.infusion.fractions) == 3


def test_a_fraction_after_the_end_of_follow_up_is_refused():
    with pytest.raises(ScenarioError, match=r"product.infusion.days .*after the end of follow-up"):
        Scenario.validated({"product": {"infusion": {"days": [0, 40], "fractions": [0.5, 0.5]}},
                            "simulation": {"days": 30}})


def test_a_trial_arm_can_split_its_dose():
    trial = Trial.validated({"name": "split", "patients_per_arm": 2, "follow_up_days": 60,
                             "arms": [{"name": "single"}, {"name": "split", "product": {"infusion": PORTER}}]})
    patients = sample_population(trial.population, 2, trial.seed)
    single, split = (arm_batch(arm, patients) for arm in trial.arms)
    for patient in range(2):
        assert list(_car_t_doses(single, patient)) == [0.0]
        given = _car_t_doses(split, patient)
        assert sorted(given) == [0.0, 1.0, 2.0]
        total = sum(sum(cells.values()) for cells in given.values())
        assert total == pytest.approx(split.products.dose_cells[patient], rel=1e-12)
    with pytest.raises(ScenarioError, match=r"arms.0.product.infusion.fractions"):
        Trial.validated({"name": "bad", "arms": [{"name": "a", "product": {"infusion": {"days": [0, 1],
                                                                                        "fractions": [0.5, 0.6]}}}]})


def test_the_shipped_split_dose_scenario_is_porter_like():
    scenario = load_scenario(SCENARIOS / "split_dose.yaml")
    assert scenario.product.infusion.days == (0.0, 1.0, 2.0)
    assert scenario.product.infusion.fractions == (0.1, 0.3, 0.6)
    assert scenario.product.costimulation == "4-1BB" and scenario.product.target == "CD19"
