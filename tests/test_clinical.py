"""The clinical layer shows published behaviour (issue 4): CRS and its treatment, response, survival."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import cartsim
from cartsim._batch import build_batch
from cartsim.cli import app
from cartsim.clinical import CAUSES, RESPONSES, Care, assessment_days, run_clinical, visit_days
from cartsim.clinical._survival import death_thresholds, first_death
from cartsim.io import Scenario, ScenarioError

DAYS = 120
TOCILIZUMAB_AT_GRADE_2 = [{"when": "crs_grade >= 2", "give": "tocilizumab", "dose_mg_per_kg": 8,
                           "max_dose_mg": 800}]
DEXAMETHASONE_FROM_DAY_0 = [{"when": "day >= 0", "give": "corticosteroid", "dose_mg": 10,
                             "repeat_after_hours": 6, "max_doses": 40}]


def _scenario(protocol="none", days=DAYS, **changes):
    data = {"name": "test", "protocol": protocol, "simulation": {"days": days, "seed": 7}}
    for key, value in changes.items():
        data[key] = {**data.get(key, {}), **value}
    return Scenario.validated(data)


def _after(result, day, column, window=3.0):
    visits = result.visits
    return visits.loc[(visits["day"] > day) & (visits["day"] <= day + window), column]


#: A CRS-susceptible patient (upper tail of the populations' cytokine propensity), whose untreated storm reaches
#: vasopressor-dependent grade 3: the one for whom tocilizumab at grade 2 matters.
SUSCEPTIBLE = {"cytokine_propensity": 3.0}


@pytest.fixture(scope="module")
def untreated():
    return cartsim.simulate(_scenario(patient=SUSCEPTIBLE))


@pytest.fixture(scope="module")
def tocilizumab():
    return cartsim.simulate(_scenario(TOCILIZUMAB_AT_GRADE_2, patient=SUSCEPTIBLE))


def test_tocilizumab_raises_free_il6_while_fever_and_vasopressor_need_fall(untreated, tocilizumab):
    """Lee 2019 / Santurio 2025 PLOS Comput Biol: blocking IL-6R stops receptor-mediated clearance, so free serum
    IL-6 rises, while the IL-6 signal, fever and capillary leak fall."""
    given = [e["day"] for e in tocilizumab.events if e["event"] == "tocilizumab"]
    assert len(given) == 1
    day = given[0]
    assert _after(tocilizumab, day, "il6_pg_ml").max() > 2 * _after(untreated, day, "il6_pg_ml").max()
    assert _after(tocilizumab, day, "il6_signal_pg_ml").max() < 0.5 * _after(untreated, day, "il6_signal_pg_ml").max()
    assert _after(tocilizumab, day, "temperature_c").mean() < _after(untreated, day, "temperature_c").mean() - 0.5
    assert _after(tocilizumab, day, "hypotension", 7).sum() < _after(untreated, day, "hypotension", 7).sum()
    assert tocilizumab.summary["crs_max_grade"] < untreated.summary["crs_max_grade"]


def test_tocilizumab_does_not_slow_car_t_expansion(untreated, tocilizumab):
    """tocilizumab_no_effect_expansion: IL-6 blockade leaves the CAR-T peak essentially unchanged."""
    ratio = tocilizumab.summary["car_t_peak_cells"] / untreated.summary["car_t_peak_cells"]
    assert 0.8 < ratio < 1.25


def test_steroids_lower_the_car_t_peak():
    """Corticosteroids suppress CAR-T proliferation (less than cytokines; [A] dexamethasone Emax effect). Shown where
    antigen, not the physiological CAR-T ceiling, limits the expansion (a low burden, 3e10 cells)."""
    low = {"tumor": {"blood_cells": 6e9, "marrow_cells": 9e9, "node_cells": 1.2e10}}
    untreated = cartsim.simulate(_scenario(patient=low)).summary
    steroids = cartsim.simulate(_scenario(DEXAMETHASONE_FROM_DAY_0, patient=low)).summary
    assert steroids["car_t_peak_cells"] < 0.8 * untreated["car_t_peak_cells"]
    assert steroids["corticosteroid_doses"] == 40
    assert steroids["il6_peak_pg_ml"] < untreated["il6_peak_pg_ml"]


def _run(scenarios, **kwargs):
    return run_clinical(build_batch(scenarios), Care.of(scenarios), **kwargs).endpoints


def test_higher_tumor_burden_gives_more_severe_crs():
    """Teachey 2016 / Hay 2017: CRS severity grows with disease burden."""
    scenarios = [_scenario(patient={"tumor": {"blood_cells": f * 2e11, "marrow_cells": f * 3e11,
                                              "node_cells": f * 4e11}}) for f in (0.01, 0.1, 1.0)]
    e = _run(scenarios)
    grades = e["crs_max_grade"]
    assert np.all(np.diff(grades) >= 0) and grades[-1] > grades[0]
    assert np.all(np.diff(e["il6_peak_pg_ml"]) > 0)


def test_cd28_gives_earlier_crs_than_41bb():
    """Kymriah vs Yescarta (Kawalekar 2016 Immunity): CD28 products expand faster, so CRS starts earlier."""
    e = _run([_scenario(product={"costimulation": c}) for c in ("CD28", "4-1BB")])
    assert e["crs_onset_day"][0] < e["crs_onset_day"][1]


def test_responder_reaches_cr_and_undetectable_mrd_nonresponder_progresses(untreated):
    s = untreated.summary
    assert s["best_response"] == "CR"
    assert s["umrd4_blood_day90"] and s["umrd4_marrow_day90"]
    nonresponder = cartsim.simulate(_scenario(days=400, patient={"tcell_fitness": 0.2}))
    n = nonresponder.summary
    assert n["best_response"] in ("SD", "PD")
    assert not n["umrd4_blood_day90"]
    assert n["progressed"] and n["pfs_days"] < 400


def test_summary_and_events(tocilizumab):
    s = tocilizumab.summary
    for key in ("crs_max_grade", "crs_onset_day", "icans_max_grade", "best_response", "umrd4_blood_day90",
                "pfs_days", "os_days", "death_cause", "events"):
        assert key in s
    json.dumps(s, allow_nan=False)
    kinds = {e["event"] for e in s["events"]}
    assert {"CRS", "tocilizumab", "response"} <= kinds
    dose = next(e for e in s["events"] if e["event"] == "tocilizumab")
    assert dose["grade"] >= 2 and dose["action"].startswith("560 mg")  # 8 mg/kg x 70 kg
    assert s["os_days"] == DAYS and s["death_cause"] is None


def test_untreated_severe_crs_can_kill():
    """Grade 5 CRS: a susceptible patient with no treatment and a high grade-4 death hazard dies of CRS."""
    e = _run([_scenario(patient={"cytokine_propensity": 8.0},
                        parameters={"crs_grade4_death_rate": 2.0, "icans_grade4_death_rate": 0.0})])
    assert e["died"][0] and CAUSES[e["death_cause"][0]] == "CRS"
    assert e["crs_max_grade"][0] == 5 and e["os_days"][0] < 30
    assert e["pfs_days"][0] == e["os_days"][0]


def test_results_do_not_depend_on_batch_position():
    scenarios = [_scenario(patient={"tcell_fitness": f, "cytokine_propensity": c}, simulation={"seed": s})
                 for f, c, s in ((1.0, 1.0, 1), (0.2, 1.0, 2), (0.6, 3.0, 3))]
    forward = _run(scenarios)
    backward = _run(scenarios[::-1])
    alone = _run(scenarios[2:])
    for key, values in forward.items():
        np.testing.assert_array_equal(values, backward[key][::-1], err_msg=key)
        np.testing.assert_array_equal(values[2:], alone[key], err_msg=key)


def test_competing_risks_split_deaths_by_hazard():
    """With constant hazards h1, h2 the share of deaths from cause 1 is h1 / (h1 + h2)."""
    n = 20000
    thresholds = death_thresholds(np.arange(n, dtype=np.uint64))
    cumulative = np.zeros_like(thresholds)
    increment = np.zeros_like(thresholds)
    increment[:, 0], increment[:, 2] = 0.3, 0.1
    causes = np.full(n, -1)
    for _ in range(200):
        cause, _ = first_death(cumulative, increment, thresholds)
        causes = np.where((causes < 0) & (cause >= 0), cause, causes)
    assert np.all(causes >= 0)
    assert abs(np.mean(causes == 0) - 0.75) < 0.015
    assert set(np.unique(causes)) == {0, 2}


def test_visit_schedule_and_assessments():
    days = visit_days(Scenario().clinical.visits, 365.0)
    early = days[days < 30]
    np.testing.assert_allclose(np.diff(early), 0.25)
    assert set(np.arange(30, 91)) <= set(days)
    assert days[-1] == 365.0
    np.testing.assert_array_equal(assessment_days(365.0), [28, 90, 181, 273, 364])
    assert set(assessment_days(365.0)) <= set(days)


def test_bad_protocol_is_rejected_with_the_field_named():
    with pytest.raises(ScenarioError, match=r"protocol\.0\.give"):
        Scenario.validated({"protocol": [{"when": "crs_grade >= 2", "give": "aspirin", "dose_mg": 100}]})
    with pytest.raises(ScenarioError, match=r"protocol\.0\.when"):
        Scenario.validated({"protocol": [{"when": "crs_grade >> 2", "give": "tocilizumab", "dose_mg": 100}]})
    with pytest.raises(ScenarioError, match=r"protocol\.0\.dose_mg"):
        Scenario.validated({"protocol": [{"when": "fever", "give": "tocilizumab", "dose_mg": -5}]})


def test_toci_timing_study_command(tmp_path):
    out = tmp_path / "toci"
    result = CliRunner().invoke(app, ["study", "toci-timing", "--n", "3", "--days", "90", "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = json.loads((out / "toci_timing.json").read_text())
    assert len(table) == 10
    assert {row["arm"] for row in table} >= {"no tocilizumab", "prophylactic (day 0)", "at CRS grade 2"}
    none = [r for r in table if r["arm"] == "no tocilizumab"]
    assert all(r["tocilizumab_doses_mean"] == 0 for r in none)
    # Every infused patient gets it (one may die while the product is made, or not get a product).
    assert all(r["tocilizumab_doses_mean"] > 0 for r in table if r["arm"] == "prophylactic (day 0)")
    assert (out / "toci_timing.png").stat().st_size > 10_000
    assert set(RESPONSES) == {"CR", "CRi", "PR", "SD", "PD"}


def test_a_course_of_doses_expands_and_counts():
    from cartsim.io._scenario import DrugDose

    course = DrugDose(drug="ibrutinib", day=-2, dose=420, every_days=1, until_day=2)
    assert course.days == (-2, -1, 0, 1, 2)
    result = cartsim.simulate(Scenario.validated(
        {"protocol": "none", "schedule": [course.model_dump()], "simulation": {"days": 30}}))
    assert result.summary["ibrutinib_doses"] == 5
    with pytest.raises(ScenarioError, match="until_day"):
        Scenario.validated({"schedule": [{"drug": "ibrutinib", "day": 5, "dose": 420, "every_days": 1,
                                          "until_day": 1}]})
    with pytest.raises(ScenarioError, match="every_days and until_day"):
        Scenario.validated({"schedule": [{"drug": "ibrutinib", "day": 5, "dose": 420, "every_days": 1}]})


def test_crs_severity_is_graded_by_cytokine_propensity():
    """The same patient and product, untreated, at rising CRS susceptibility: IL-6 and the CRS grade grow with it
    through at least three grades (a distribution across patients, not all-or-none)."""
    propensities = (0.1, 1.0, 3.0, 10.0)
    e = _run([_scenario(patient={"cytokine_propensity": c}, parameters={"crs_grade4_death_rate": 0.0})
              for c in propensities])
    grades = e["crs_max_grade"]
    assert np.all(np.diff(grades) >= 0) and grades[0] < grades[-1]
    assert len(set(grades.tolist())) >= 3
    assert np.all(np.diff(e["il6_peak_pg_ml"]) > 0)
