"""Counter-based random numbers and birth-death sampling for the hybrid stochastic layer.

Each patient owns a SplitMix64 stream seeded from its own seed, so its draws
depend only on its seed and its own trajectory: never on the batch it sits in,
the chunk size or the thread that runs it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_NORMAL_APPROX_MEAN = 30.0  # above this many expected events a normal draw replaces exact sampling


@njit(cache=True, inline="always")
def _mix(z):
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def new_stream(seed):
    """A one-element state array for the stream of a patient with this seed."""
    state = np.empty(1, dtype=np.uint64)
    state[0] = _mix(np.uint64(seed) + _GOLDEN)
    return state


@njit(cache=True)
def uniform(state):
    """A uniform draw in the open interval (0, 1)."""
    state[0] += _GOLDEN
    return ((_mix(state[0]) >> np.uint64(11)) + 0.5) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def normal(state):
    """A standard normal draw (Box-Muller)."""
    return math.sqrt(-2.0 * math.log(uniform(state))) * math.cos(2.0 * math.pi * uniform(state))


@njit(cache=True)
def round_stochastically(x, state):
    """An integer count with expectation ``x`` (x >= 0): floor(x) plus a Bernoulli remainder."""
    whole = math.floor(x)
    return whole + (1.0 if uniform(state) < x - whole else 0.0)


@njit(cache=True)
def binomial(n, prob, state):
    """A Binomial(n, prob) draw; exact by inversion for small means, normal approximation above."""
    if n <= 0.0 or prob <= 0.0:
        return 0.0
    if prob >= 1.0:
        return n
    if prob > 0.5:
        return n - binomial(n, 1.0 - prob, state)
    mean = n * prob
    if mean > _NORMAL_APPROX_MEAN:
        draw = math.floor(mean + math.sqrt(mean * (1.0 - prob)) * normal(state) + 0.5)
        return min(max(draw, 0.0), n)
    u = uniform(state)
    pmf = math.exp(n * math.log1p(-prob))
    odds = prob / (1.0 - prob)
    k = 0.0
    cdf = pmf
    while u > cdf and k < n:
        pmf *= odds * (n - k) / (k + 1.0)
        k += 1.0
        cdf += pmf
    return k


@njit(cache=True)
def birth_death(n0, birth, death, dt, state):
    """Cells after ``dt`` days of a linear birth-death process started from ``n0`` cells.

    Exact for constant rates (Kendall 1948): each cell's lineage is extinct
    with probability ``alpha`` and otherwise geometric with parameter
    ``beta``; normal approximations replace exact draws only above 30
    expected events.
    """
    if n0 <= 0.0:
        return 0.0
    r = birth - death
    if abs(r * dt) < 1e-9:
        x = birth * dt
        alpha = x / (1.0 + x)
        one_minus_beta = 1.0 / (1.0 + x)
    else:
        growth = math.exp(min(r * dt, 700.0))
        denominator = birth * growth - death
        alpha = death * (growth - 1.0) / denominator
        one_minus_beta = r / denominator
    survivors = binomial(n0, 1.0 - alpha, state)
    if survivors == 0.0 or one_minus_beta >= 1.0:
        return survivors
    # Each surviving lineage has 1 + Geometric(beta) cells: the extra cells of all survivors
    # are negative binomial, drawn as a gamma-mixed Poisson (exact) or normal when large.
    odds = (1.0 - one_minus_beta) / one_minus_beta
    mean_extra = survivors * odds
    if mean_extra > _NORMAL_APPROX_MEAN:
        sd = math.sqrt(survivors * odds * (1.0 + odds))
        return survivors + max(0.0, math.floor(mean_extra + sd * normal(state) + 0.5))
    return survivors + poisson(gamma(survivors, state) * odds, state)


@njit(cache=True)
def gamma(shape, state):
    """A Gamma(shape, 1) draw for shape >= 1 (Marsaglia & Tsang 2000)."""
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        z = normal(state)
        v = 1.0 + c * z
        if v <= 0.0:
            continue
        v = v * v * v
        if math.log(uniform(state)) < 0.5 * z * z + d - d * v + d * math.log(v):
            return d * v


@njit(cache=True)
def poisson(mean, state):
    """A Poisson draw: inversion for small means, normal approximation above."""
    if mean > _NORMAL_APPROX_MEAN:
        return max(0.0, math.floor(mean + math.sqrt(mean) * normal(state) + 0.5))
    u = uniform(state)
    pmf = math.exp(-mean)
    cdf = pmf
    k = 0.0
    while u > cdf and pmf > 0.0:
        k += 1.0
        pmf *= mean / k
        cdf += pmf
    return k
