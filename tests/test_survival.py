"""Survival after progression (issue 16, item 5): from iwCLL progression the CLL death hazard is that of an
exponential post-progression survival (next-line therapy) with median post_progression_median_survival;
before progression it rises with the burden and saturates. The draws stay one threshold per cause per patient."""

import numpy as np
import pytest

from cartsim._batch import build_batch
from cartsim.clinical import CAUSES, Care, run_clinical
from cartsim.clinical._survival import death_thresholds, disease_hazard, first_death, hazards
from cartsim.io import Scenario
from cartsim.model import N_OBSERVABLES, Obs, Param, default_parameters

DAYS_PER_MONTH = 365.25 / 12
CLL = CAUSES.index("CLL")
#: Every cause of death but CLL switched off, so that a patient's survival is its CLL survival.
ONLY_CLL = {"infection_death_rate": 0.0, "background_mortality_at_70": 0.0,
            "crs_grade4_death_rate": 0.0, "icans_grade4_death_rate": 0.0}
FOLLOW_UP_DAYS = 1096


def _params(n: int, **values) -> np.ndarray:
    p = np.tile(default_parameters(), (n, 1))
    for name, value in values.items():
        p[:, Param[name]] = value
    return p


def test_after_progression_the_cll_hazard_is_the_post_progression_one_whatever_the_burden():
    burden = np.array([1e6, 1e10, 1e12, 1e13])
    p = _params(4, post_progression_median_survival=18.0)
    after = disease_hazard(burden, np.ones(4, bool), p)
    np.testing.assert_allclose(after, np.log(2) / (18.0 * DAYS_PER_MONTH), rtol=1e-12)


def test_before_progression_the_cll_hazard_saturates_in_the_burden_and_ignores_the_post_progression_median():
    half = 1e12
    burden = np.array([0.0, 1e10, half, 1e13, 1e15])
    low = disease_hazard(burden, np.zeros(5, bool), _params(5, post_progression_median_survival=3.0,
                                                            disease_death_burden=half))
    high = disease_hazard(burden, np.zeros(5, bool), _params(5, post_progression_median_survival=120.0,
                                                             disease_death_burden=half))
    np.testing.assert_array_equal(low, high)
    maximum = default_parameters()[Param.disease_death_rate] / 365.25
    assert low[0] == 0.0 and np.all(np.diff(low) > 0) and np.all(low < maximum)
    np.testing.assert_allclose(low[2], maximum / 2, rtol=1e-12)  # half the maximum at the half-saturation burden
    assert low[-1] > 0.99 * maximum


def test_median_post_progression_survival_of_a_synthetic_cohort_matches_the_parameter():
    """The clock's draw, visit by visit: a burden-driven CLL hazard until a patient's progression (an assessment
    day of its own), the post-progression one after it. Among those alive at progression, survival from it is
    exponential with the set median: half die by the median, three quarters by twice the median."""
    n, median_months, week = 20000, 24.0, 7.0
    rng = np.random.default_rng(5)
    progression_day = week * rng.integers(1, 53, size=n)
    thresholds = death_thresholds(np.arange(n, dtype=np.uint64) + 1000)
    p = _params(n, post_progression_median_survival=median_months, **ONLY_CLL)
    obs = np.zeros((n, N_OBSERVABLES))
    obs[:, Obs["tumor_cells"]] = 2e12
    obs[:, Obs["neutrophils_per_ul"]] = obs[:, Obs["normal_b_per_ul"]] = 1e4  # no infection factors
    cumulative, death_day = np.zeros_like(thresholds), np.full(n, np.inf)
    zero = np.zeros(n, np.int8)
    for day in np.arange(week, 25 * 365.25, week):
        progressed = progression_day <= day - week  # found at an earlier visit
        increment = hazards(obs, zero, zero, p, np.full(n, 70.0), progressed) * week
        cause, fraction = first_death(cumulative, increment, thresholds)
        struck = (cause != -1) & np.isinf(death_day)
        assert np.all(cause[struck] == CLL)
        death_day[struck] = day - week * (1.0 - fraction[struck])
    alive = death_day > progression_day
    assert 0.5 * n < alive.sum() < n  # some died before progressing, most did not
    months = (death_day[alive] - progression_day[alive]) / DAYS_PER_MONTH
    # The sample median of an exponential has a relative standard error of 1 / (ln 2 sqrt(n)), about 1.1% here.
    assert abs(np.median(months) / median_months - 1) < 4 / (np.log(2) * np.sqrt(alive.sum()))
    assert abs(np.mean(months <= 2 * median_months) - 0.75) < 0.015


def _non_responder(seed: int, **parameters) -> Scenario:
    """Few unfit T cells: no response, iwCLL progression within months; only CLL kills, and only after
    progression (no hazard before it), so survival from progression is the post-progression survival alone."""
    return Scenario.validated({"name": f"non-responder {seed}", "patient": {"tcell_fitness": 0.2},
                               "parameters": {**ONLY_CLL, "disease_death_rate": 0.0, **parameters},
                               "simulation": {"days": FOLLOW_UP_DAYS, "seed": seed}})


def _responder(**parameters) -> Scenario:
    """The default patient and product: complete response, no progression; every cause of death on."""
    return Scenario.validated({"name": "responder", "parameters": parameters,
                               "simulation": {"days": FOLLOW_UP_DAYS, "seed": 12345}})


def _cohort(median_months: float) -> list[Scenario]:
    changed = {"post_progression_median_survival": median_months}
    return [_non_responder(1, **changed), _responder(**changed), _non_responder(2, **changed),
            _non_responder(3, **changed)]


def _run(scenarios):
    return run_clinical(build_batch(scenarios), Care.of(scenarios)).endpoints


@pytest.fixture(scope="module")
def short_and_long():
    return _run(_cohort(3.0)), _run(_cohort(6.0))


def test_through_the_clock_survival_from_progression_scales_with_the_median(short_and_long):
    """Each non-responder keeps its one CLL threshold E, so it dies E / hazard after its progression: doubling
    the median doubles its survival from progression exactly, and leaves its progression where it was."""
    short, long = short_and_long
    progressors = [0, 2, 3]
    for e in (short, long):
        assert e["progressed"][progressors].all() and e["died"][progressors].all()
        assert np.all(e["death_cause"][progressors] == CLL)
    np.testing.assert_array_equal(short["pfs_days"][progressors], long["pfs_days"][progressors])
    after_short = short["os_days"][progressors] - short["pfs_days"][progressors]
    after_long = long["os_days"][progressors] - long["pfs_days"][progressors]
    assert np.all(after_short > 0)
    np.testing.assert_allclose(after_long, 2 * after_short, rtol=1e-9)


def test_a_patient_who_never_progresses_does_not_feel_the_post_progression_hazard(short_and_long):
    short, long = short_and_long
    assert not short["progressed"][1]
    for name, values in short.items():
        np.testing.assert_array_equal(values[1], long[name][1], err_msg=name)


def test_survival_after_progression_is_the_same_alone_and_in_any_batch(short_and_long):
    short, _ = short_and_long
    scenarios = _cohort(3.0)
    pair = _run(scenarios[2:])
    for i, scenario in enumerate(scenarios):
        alone = _run([scenario])
        for name, values in short.items():
            np.testing.assert_array_equal(alone[name], values[i:i + 1], err_msg=name, strict=True)
            if i >= 2:
                np.testing.assert_array_equal(pair[name][i - 2:i - 1], values[i:i + 1], err_msg=name, strict=True)
