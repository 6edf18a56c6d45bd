"""The Jacobian generated from the kernel's symbolic trace: it is the derivative of the kernel, entry by entry,
and the solver given it integrates as the finite-difference solver does."""

from __future__ import annotations

import numpy as np
import pytest
from scipy_reference import first_day, random_batch

from cartsim._engine import MODEL_INTEGRATOR, integrate
from cartsim._jacobian import generate_source, model_jacobian
from cartsim.model import N_CELL_STATES, N_PARAMS, N_STATES, STATE_TABLE, derivatives
from cartsim.solver import SolverOptions, make_integrator

TYPICAL = np.array([s.typical for s in STATE_TABLE])
ATOL = np.array([s.atol for s in STATE_TABLE])


@pytest.fixture(scope="module")
def states():
    """States and parameters along the trajectories of random patients (daily over the first 60 days: the
    expansion, CRS, the drugs; monthly for ten years: remission, relapse, extinction), then every state
    non-zero at once (log-uniform around its typical size), where no entry vanishes."""
    batch = random_batch(6, seed=7)
    days = np.concatenate([np.arange(first_day(batch), 60.0), np.arange(60.0, 3650.0, 30.0)])
    solution = integrate(batch.y0, batch.params, days, doses=batch.doses, seeds=batch.seeds, t0=batch.t0)
    rng = np.random.default_rng(11)
    everywhere = TYPICAL * 10.0 ** rng.uniform(-3.0, 1.0, size=(30, N_STATES))
    ys = np.concatenate([solution.values.reshape(-1, N_STATES)[::7], everywhere])
    ps = np.concatenate([np.repeat(batch.params, days.size, axis=0)[::7], batch.params[rng.integers(0, 6, 30)]])
    return ys, ps


def _f(y, p):
    dy = np.empty(N_STATES)
    derivatives(y, p, dy, np.empty(N_CELL_STATES), np.empty(N_CELL_STATES))
    return dy


def _dense(y, p):
    jacobian = model_jacobian()
    values = np.empty(jacobian.rows.size)
    jacobian.entries(y, p, values)
    dense = np.zeros((N_STATES, N_STATES))
    dense[jacobian.rows, jacobian.cols] = values
    return dense


#: Difference steps: relative to the state or its typical size (small rounding error), or down to the
#: absolute tolerance for states near zero (small truncation error where terms in ``x / (x + 1 cell)``
#: bend within a cell). An entry is right if it matches either.
STEPS = (lambda y: 1e-7 * np.maximum(np.abs(y), TYPICAL), lambda y: 1e-6 * np.maximum(np.abs(y), ATOL))


def _differences(y, p, steps):
    """Central differences of the kernel with ``steps`` (one-sided from above for a state at zero: states
    are never negative), second order both, and their rounding error."""
    out = np.empty((N_STATES, N_STATES))
    # A few ulps of each rate's terms (about 10/day x the state, or the rate itself) over the step.
    rounding = 1e-13 * np.outer(np.maximum(np.maximum(np.abs(y), TYPICAL), np.abs(_f(y, p))), 1.0 / steps)
    for j, h in enumerate(steps):
        up, up2, down = y.copy(), y.copy(), y.copy()
        up[j] += h
        up2[j] += 2.0 * h
        down[j] -= h
        if y[j] - h > 0.0:
            out[:, j] = (_f(up, p) - _f(down, p)) / (2.0 * h)
        else:
            out[:, j] = (-3.0 * _f(y, p) + 4.0 * _f(up, p) - _f(up2, p)) / (2.0 * h)
    return out, rounding


def test_jacobian_matches_differences_of_the_kernel(states):
    ys, ps = states
    checked = 0
    for y, p in zip(ys, ps):
        analytic = _dense(y, p)
        matched = np.zeros((N_STATES, N_STATES), dtype=bool)
        for steps in STEPS:
            numeric, rounding = _differences(y, p, steps(y))
            matched |= np.abs(analytic - numeric) <= 1e-3 * np.abs(numeric) + rounding
        wrong = np.argwhere(~matched)
        assert wrong.size == 0, f"d f[i] / d y[j] differs at (i, j) = {wrong[:5].tolist()}"
        checked += 1
    assert checked >= 100


def test_pattern_holds_every_entry_the_kernel_has(states):
    """No derivative of the kernel lies outside the generated pattern (which the solver's LU relies on)."""
    ys, ps = states
    jacobian = model_jacobian()
    outside = np.ones((N_STATES, N_STATES), dtype=bool)
    outside[jacobian.rows, jacobian.cols] = False
    for y, p in zip(ys[::2], ps[::2]):
        numeric, rounding = _differences(y, p, STEPS[0](y))
        assert np.all(np.abs(numeric[outside]) <= rounding[outside])


def test_analytic_and_finite_difference_solvers_agree(states):
    """The same patients through the solver with the generated Jacobian and with finite differences, to
    the tolerance both integrate at (the Jacobian changes the steps, not the solution)."""
    batch = random_batch(4, seed=3)
    days = np.arange(first_day(batch), 366.0)
    finite = make_integrator(derivatives, n_params=N_PARAMS, n_cells=N_CELL_STATES, atol=MODEL_INTEGRATOR.atol,
                             typical=MODEL_INTEGRATOR.typical)
    options = SolverOptions(stochastic=False, rtol=1e-8)
    a = integrate(batch.y0, batch.params, days, doses=batch.doses, t0=batch.t0, options=options)
    b = finite.integrate(batch.y0, batch.params, days, doses=batch.doses, t0=batch.t0, options=options)
    assert a.successful.all() and b.successful.all()
    floor = 100.0 * MODEL_INTEGRATOR.atol
    close = np.abs(a.values - b.values) <= 1e-4 * np.abs(b.values) + floor
    assert close.mean() > 0.999, f"{(~close).sum()} of {close.size} outputs differ"


def test_generated_module_is_the_current_kernels():
    """What the solver loads is what the generator makes of the kernel now (no hand-kept copy)."""
    from cartsim._compiled_cache import generated_dir

    assert (generated_dir() / "model_jacobian.py").read_text() == generate_source()
