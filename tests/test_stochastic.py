"""The random layer: draws against their analytic laws, and extinction through the whole engine.

Linear birth-death process with per-capita birth b and death d from n0 cells
(Kendall 1948), r = b - d, g = exp(r t):
  P(extinct by t | n0 = 1) = alpha = d (g - 1) / (b g - d)    (b t / (1 + b t) when b == d)
  mean = n0 g,   variance = n0 (b + d) / (b - d) g (g - 1)   (2 n0 b t when b == d)
Every test draws from fixed seeds, so it passes or fails the same way every run;
tolerances are 5 standard errors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from numba import njit
from scipy import stats

from cartsim._batch import build_batch
from cartsim.io import Scenario
from cartsim.model import State
from cartsim._engine import integrate
from cartsim.solver import SolverOptions
from cartsim.solver._random import binomial, birth_death, new_stream, round_stochastically, uniform

N_DRAWS = 20_000
BD_DRAWS = 200_000  # birth-death: tight enough to see a 0.1% bias in the mean
Z = 5.0


@njit(cache=False)
def _birth_death_draws(n0, b, d, dt, seed, n):
    state = new_stream(seed)
    out = np.empty(n)
    for k in range(n):
        out[k] = birth_death(n0, b, d, dt, state)
    return out


@njit(cache=False)
def _binomial_draws(trials, prob, seed, n):
    state = new_stream(seed)
    out = np.empty(n)
    for k in range(n):
        out[k] = binomial(trials, prob, state)
    return out


@njit(cache=False)
def _round_draws(x, seed, n):
    state = new_stream(seed)
    out = np.empty(n)
    for k in range(n):
        out[k] = round_stochastically(x, state)
    return out


@njit(cache=False)
def _uniform_draws(seed, n):
    state = new_stream(seed)
    out = np.empty(n)
    for k in range(n):
        out[k] = uniform(state)
    return out


def kendall(n0, b, d, t):
    """(extinction probability, mean, variance) of the linear birth-death process."""
    r = b - d
    if b == d:
        alpha = b * t / (1.0 + b * t)
        return alpha ** n0, n0, 2.0 * n0 * b * t
    g = math.exp(r * t)
    alpha = d * (g - 1.0) / (b * g - d)
    return alpha ** n0, n0 * g, n0 * (b + d) / (b - d) * g * (g - 1.0)


def _assert_mean_and_variance(x, mean, variance):
    n = x.size
    se_mean = math.sqrt(variance / n)
    assert abs(x.mean() - mean) <= Z * se_mean + 1e-12, (x.mean(), mean, se_mean)
    # Standard error of the sample variance from the sample's fourth central moment.
    m4 = np.mean((x - x.mean()) ** 4)
    se_var = math.sqrt(max(m4 - variance ** 2, 0.0) / n + 2.0 * variance ** 2 / (n * (n - 1)))
    assert abs(x.var(ddof=1) - variance) <= Z * se_var + 1e-12, (x.var(ddof=1), variance, se_var)


CASES = [
    # (n0, birth, death, dt): exact-sampling and normal-approximation regimes
    pytest.param(1, 0.5, 0.8, 1.0, id="one-cell-declining"),
    pytest.param(1, 0.8, 0.5, 2.0, id="one-cell-growing"),
    pytest.param(1, 0.7, 0.7, 1.5, id="one-cell-critical"),
    pytest.param(1, 0.0, 0.3, 2.0, id="one-cell-pure-death"),
    pytest.param(1, 0.4, 0.0, 2.0, id="one-cell-pure-birth"),
    pytest.param(5, 0.05, 0.2, 7.0, id="five-cells-slow"),
    pytest.param(20, 1.0, 1.2, 0.5, id="twenty-cells-fast"),
    pytest.param(10, 0.3, 0.3, 3.0, id="ten-cells-critical"),
    pytest.param(200, 0.05, 0.15, 10.0, id="hundreds-declining"),
    pytest.param(3, 0.0, 1.0, 0.7, id="pure-death-three"),
    pytest.param(50, 0.5, 0.0, 1.0, id="pure-birth-fifty"),
    pytest.param(5000, 0.02, 0.01, 28.0, id="thousands-normal-regime"),
    # Many surviving cells but few expected divisions: one day of the engine's daily sync.
    pytest.param(50, 0.04, 0.05, 1.0, id="fifty-cells-one-day"),
    pytest.param(100, 0.3, 0.1, 0.2, id="hundred-cells-short-step"),
]


@pytest.mark.parametrize("n0,b,d,dt", CASES)
def test_birth_death_matches_kendall_extinction_mean_and_variance(n0, b, d, dt):
    seed = 1000 + n0 + int(1000 * b) + int(100 * d)
    x = _birth_death_draws(float(n0), b, d, dt, seed, BD_DRAWS)
    extinct, mean, variance = kendall(n0, b, d, dt)
    assert np.all(x >= 0.0) and np.all(x == np.floor(x)), "counts are non-negative integers"
    observed = np.mean(x == 0.0)
    se = math.sqrt(max(extinct * (1 - extinct), 1.0 / BD_DRAWS) / BD_DRAWS)
    assert abs(observed - extinct) <= Z * se, (observed, extinct)
    _assert_mean_and_variance(x, mean, variance)
    if d == 0.0:
        assert x.min() >= n0, "pure birth never loses cells"
    if b == 0.0:
        assert x.max() <= n0, "pure death never gains cells"


def test_birth_death_one_cell_has_the_kendall_distribution():
    """n0 = 1: P(0) = alpha, P(k) = (1 - alpha)(1 - beta) beta^(k-1) with beta = b (g - 1) / (b g - d)."""
    b, d, dt = 0.6, 0.4, 2.0
    x = _birth_death_draws(1.0, b, d, dt, 77, N_DRAWS)
    g = math.exp((b - d) * dt)
    alpha = d * (g - 1) / (b * g - d)
    beta = b * (g - 1) / (b * g - d)
    k = np.arange(0, 8)
    pmf = np.where(k == 0, alpha, (1 - alpha) * (1 - beta) * beta ** np.maximum(k - 1, 0))
    expected = np.append(pmf, 1 - pmf.sum()) * N_DRAWS
    observed = np.append([np.sum(x == v) for v in k], np.sum(x >= 8))
    assert stats.chisquare(observed, expected).pvalue > 1e-4


def test_birth_death_edge_cases():
    state = new_stream(5)
    assert birth_death(0.0, 1.0, 1.0, 1.0, state) == 0.0
    assert birth_death(7.0, 0.0, 0.0, 3.0, state) == 7.0
    assert birth_death(7.0, 0.3, 0.2, 0.0, state) == 7.0
    # A huge population in the normal regime stays close to its mean.
    x = birth_death(1e9, 0.1, 0.05, 1.0, state)
    assert abs(x / (1e9 * math.exp(0.05)) - 1.0) < 1e-3


@pytest.mark.parametrize("trials,prob", [(10, 0.3), (1, 0.5), (40, 0.9), (1000, 0.001), (5000, 0.2),
                                         (200, 0.75), (3, 1.0), (8, 0.0)])
def test_binomial_mean_and_variance(trials, prob):
    x = _binomial_draws(float(trials), prob, 31 + trials, N_DRAWS)
    assert np.all((x >= 0) & (x <= trials) & (x == np.floor(x)))
    mean, variance = trials * prob, trials * prob * (1 - prob)
    if variance == 0.0:
        assert np.all(x == mean)
        return
    _assert_mean_and_variance(x, mean, variance)


def test_binomial_small_case_has_the_binomial_distribution():
    x = _binomial_draws(6.0, 0.35, 4, N_DRAWS)
    k = np.arange(7)
    observed = np.array([np.sum(x == v) for v in k])
    assert stats.chisquare(observed, stats.binom.pmf(k, 6, 0.35) * N_DRAWS).pvalue > 1e-4


@pytest.mark.parametrize("x", [0.0, 0.25, 0.5, 3.7, 1234.999, 42.0])
def test_round_stochastically_is_unbiased_and_rounds_to_a_neighbour(x):
    draws = _round_draws(x, 11, N_DRAWS)
    assert np.all((draws == math.floor(x)) | (draws == math.ceil(x)))
    frac = x - math.floor(x)
    se = math.sqrt(max(frac * (1 - frac), 1.0 / N_DRAWS) / N_DRAWS)
    assert abs(draws.mean() - x) <= Z * se


def test_uniform_is_in_the_open_unit_interval_and_uniform():
    u = _uniform_draws(123, 100_000)
    assert np.all((u > 0.0) & (u < 1.0))
    assert stats.kstest(u, "uniform").pvalue > 1e-4
    # Consecutive draws are uncorrelated.
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < Z / math.sqrt(u.size)


def test_streams_are_reproducible_and_seed_specific():
    a = _uniform_draws(9, 1000)
    assert np.array_equal(a, _uniform_draws(9, 1000))
    assert not np.any(a == _uniform_draws(10, 1000))
    assert not np.array_equal(a, _uniform_draws(2**40 + 9, 1000))


# ---- extinction through the engine ------------------------------------------------------------

N0, BIRTH, DEATH, HORIZON = 200, 0.04, 0.05, 400.0


def _extinction_batch(n_patients: int):
    """Zero CAR-T, CLL in blood only with no homing, no escape: a pure birth-death process."""
    scenario = Scenario(
        patient={"tumor": {"blood_cells": float(N0), "marrow_cells": 0.0, "node_cells": 0.0}, "normal_b_cells": 0.0},
        product={"dose_cells": 0.0, "vein_to_vein_days": 0.0}, lymphodepletion={"regimen": "none"},
        parameters={"cll_birth_blood": BIRTH, "cll_death": DEATH, "cll_homing_marrow": 0.0,
                    "cll_homing_node": 0.0, "antigen_escape_rate": 0.0})
    return build_batch([scenario] * n_patients, seeds=np.arange(n_patients) + 2024)


DAILY_SYNC = SolverOptions(sync_fraction=0.0, sync_min_days=1.0, sync_max_days=1.0)


@pytest.fixture(scope="module")
def extinction_runs():
    n = 2000
    batch = _extinction_batch(n)
    times = np.array([0.0, 100.0, 200.0, 300.0, HORIZON])
    runs = {}
    for name, options in (("default", SolverOptions()), ("daily_sync", DAILY_SYNC),
                          ("deterministic", SolverOptions(stochastic=False, rtol=1e-8))):
        runs[name] = integrate(batch.y0, batch.params, times, doses=batch.doses, seeds=batch.seeds,
                               t0=batch.t0, options=options, state_indices=[State.cll_pos_blood])
        assert runs[name].successful.all()
    return times, runs


def test_engine_extinction_with_daily_sync_matches_kendall(extinction_runs):
    """Synchronising every day, each output time is a sync time: the count there is the birth-death
    process's (constant rates compose exactly), so extinction and mean follow Kendall."""
    times, runs = extinction_runs
    values = runs["daily_sync"].values[:, :, 0]
    n = values.shape[0]
    assert np.all(values == np.floor(values)), "at sync times small populations are whole cells"
    for k, t in enumerate(times):
        expected, mean, variance = kendall(N0, BIRTH, DEATH, t)
        extinct = np.mean(values[:, k] == 0.0)
        se = math.sqrt(max(expected * (1 - expected), 1.0 / n) / n)
        assert abs(extinct - expected) <= Z * se, (t, extinct, expected)
        assert abs(values[:, k].mean() - mean) <= Z * math.sqrt(variance / n) + 1e-9, (t, values[:, k].mean(), mean)


def test_engine_extinction_with_default_sync_is_bracketed_by_kendall(extinction_runs):
    """Default options: an output falls inside a sync interval (at most sync_max_days long), so the
    extinct share lies between Kendall's at the interval start and at the output time; the mean
    follows n0 exp(r t) at any time."""
    times, runs = extinction_runs
    values = runs["default"].values[:, :, 0]
    n = values.shape[0]
    longest = SolverOptions().sync_max_days
    for k, t in enumerate(times):
        low = kendall(N0, BIRTH, DEATH, max(t - longest, 0.0))[0]
        high, mean, variance = kendall(N0, BIRTH, DEATH, t)
        extinct = np.mean(values[:, k] == 0.0)
        se = math.sqrt(max(high * (1 - high), 1.0 / n) / n)
        assert low - Z * se <= extinct <= high + Z * se, (t, extinct, low, high)
        assert abs(values[:, k].mean() - mean) <= Z * math.sqrt(variance / n) + 1e-9, (t, values[:, k].mean(), mean)
    # Extinct stays extinct (nothing flows into blood here).
    for k in range(1, times.size - 1):
        gone = values[:, k] == 0.0
        assert np.all(values[gone, k + 1:] == 0.0)


def test_deterministic_mode_never_reaches_exact_zero(extinction_runs):
    times, runs = extinction_runs
    values = runs["deterministic"].values[:, :, 0]
    assert np.all(values > 0.0)
    np.testing.assert_allclose(values[0], N0 * np.exp((BIRTH - DEATH) * times), rtol=1e-4)


def _small_burden_batch():
    scenario = Scenario.validated({"patient": {"tumor": {"blood_cells": 3e3, "marrow_cells": 3e3, "node_cells": 3e3}},
                                   "protocol": "none"})
    return build_batch([scenario])


def test_open_intervals_carry_across_calls():
    """The clinical clock stops at visits; with sync_state the stochastic interval open at a stop is
    saved and resumed, and with the stochastic layer off, two carried calls equal one call."""
    from cartsim._engine import new_sync_state

    batch = _small_burden_batch()
    common = dict(doses=batch.doses, seeds=batch.seeds, initial_steps=None)
    first = integrate(batch.y0, batch.params, np.array([10.0]), t0=batch.t0, sync_state=new_sync_state(1),
                      **common)
    started, next_sync = first.sync_state[0, -2:]
    assert started < 10.0 < next_sync < np.inf  # an interval is open and was saved
    deterministic = SolverOptions(stochastic=False)
    whole = integrate(batch.y0, batch.params, np.array([10.0, 40.0]), t0=batch.t0, options=deterministic, **common)
    half = integrate(batch.y0, batch.params, np.array([10.0]), t0=batch.t0, options=deterministic,
                     sync_state=new_sync_state(1), **common)
    rest = integrate(half.values[:, -1, :], batch.params, np.array([40.0]), t0=10.0, options=deterministic,
                     doses=None, seeds=batch.seeds, initial_steps=half.next_steps, sync_state=half.sync_state)
    np.testing.assert_allclose(rest.values[0, -1], whole.values[0, -1], rtol=1e-4, atol=1e-3)
    with pytest.raises(ValueError, match="sync_state"):
        integrate(batch.y0, batch.params, np.array([10.0]), t0=batch.t0, sync_state=np.zeros((1, 3)), **common)
