"""cartsim.stats: Wilson intervals, bootstrap intervals and Kaplan-Meier medians."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from cartsim.stats import bootstrap_interval, cox_efron, kaplan_meier, km_median, wilson_interval

Z = float(norm.ppf(0.975))


# ---- Wilson --------------------------------------------------------------------------------------------------


def _wilson_by_roots(x: int, n: int, z: float = Z) -> tuple[float, float]:
    """The Wilson limits as the roots of (1 + z²/n) p² - (2x/n + z²/n) p + (x/n)² = 0 (score test inverted)."""
    phat = x / n
    roots = np.sort(np.roots([1 + z * z / n, -(2 * phat + z * z / n), phat * phat]).real)
    return float(roots[0]), float(roots[1])


@pytest.mark.parametrize(("x", "n", "published"), [
    # Newcombe, Stat Med 1998;17:857-872, table I, method 3 (score interval without continuity correction).
    (81, 263, (0.2553, 0.3662)), (15, 148, (0.0624, 0.1605)), (0, 20, (0.0, 0.1611)), (1, 29, (0.0061, 0.1718)),
])
def test_wilson_matches_published_values(x, n, published):
    assert wilson_interval(x, n) == pytest.approx(published, abs=6e-5)


@pytest.mark.parametrize(("x", "n"), [(0, 10), (5, 10), (10, 10), (3, 7), (999, 1000)])
def test_wilson_matches_the_score_test_roots(x, n):
    assert wilson_interval(x, n) == pytest.approx(_wilson_by_roots(x, n), abs=1e-9)


def test_wilson_known_values_at_the_edges_and_centre():
    z2 = Z**2
    assert wilson_interval(0, 10) == (0.0, pytest.approx(z2 / (10 + z2)))  # 0.2775
    assert wilson_interval(10, 10) == (pytest.approx(10 / (10 + z2)), 1.0)  # 0.7225
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


def test_wilson_is_the_hand_formula_with_the_exact_quantile():
    # The formula the trial analysis used before statsmodels did it (with z rounded to 1.959964, which moved
    # the limits by at most 4e-9).
    for n in (1, 7, 60, 263):
        for x in range(n + 1):
            p, z2 = x / n, Z * Z
            centre = (p + z2 / (2 * n)) / (1 + z2 / n)
            half = Z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
            expected = (0.0 if x == 0 else centre - half, 1.0 if x == n else centre + half)
            assert wilson_interval(x, n) == pytest.approx(expected, abs=1e-12)


# ---- bootstrap -----------------------------------------------------------------------------------------------


def test_bootstrap_of_the_median_brackets_it_and_is_reproducible():
    values = np.random.default_rng(1).lognormal(size=80)
    low, high = bootstrap_interval(np.median, values)
    assert low < np.median(values) < high
    assert bootstrap_interval(np.median, values) == (low, high)  # seeded
    assert bootstrap_interval(np.median, values, seed=2) != (low, high)


def test_bootstrap_narrows_with_more_data():
    rng = np.random.default_rng(3)
    small, large = rng.normal(size=30), rng.normal(size=3000)
    width = lambda values: np.subtract(*bootstrap_interval(np.mean, values)[::-1])  # noqa: E731
    assert width(large) < width(small) / 5


def test_bootstrap_of_two_samples_resamples_each():
    rng = np.random.default_rng(4)
    a, b = rng.normal(10.0, 1.0, 200), rng.normal(5.0, 1.0, 50)

    def ratio(x, y, axis=-1):
        return np.median(x, axis=axis) / np.median(y, axis=axis)

    low, high = bootstrap_interval(ratio, a, b)
    assert low < ratio(a, b) < high and 1.5 < low and high < 2.5


def test_bootstrap_of_a_single_value_is_that_value():
    assert bootstrap_interval(np.median, np.array([3.0])) == (3.0, 3.0)


# ---- Kaplan-Meier --------------------------------------------------------------------------------------------


def test_km_median_of_uncensored_times_is_the_middle_time():
    median, (low, high) = km_median(kaplan_meier(np.arange(1.0, 10.0), np.ones(9, bool)))
    assert median == 5.0
    assert low <= 5.0 <= high


def test_km_median_not_reached_is_none():
    # Most patients censored at the end: the curve never reaches 0.5.
    events = np.array([True, False, False, False, False, False])
    median, ci = km_median(kaplan_meier(np.array([1.0, 10, 10, 10, 10, 10]), events))
    assert median is None and ci[1] is None


def test_cox_efron_matches_lifelines_with_ties_and_two_covariates():
    import pandas as pd
    from lifelines import CoxPHFitter

    rng = np.random.default_rng(5)
    n = 400
    x = np.c_[rng.integers(0, 2, n), rng.normal(size=n)]
    durations = np.round(rng.exponential(np.exp(-0.7 * x[:, 0] + 0.3 * x[:, 1])) * 10)  # many ties
    events = rng.random(n) < 0.7
    beta, covariance = cox_efron(durations, events, x)
    fit = CoxPHFitter().fit(pd.DataFrame({"t": durations, "e": events, "a": x[:, 0], "b": x[:, 1]}), "t", "e")
    np.testing.assert_allclose(beta, fit.params_.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(np.sqrt(np.diag(covariance)), fit.standard_errors_.to_numpy(), rtol=1e-6)
