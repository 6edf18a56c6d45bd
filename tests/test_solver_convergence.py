"""The solver against a problem with a known solution: a stiff linear system ``y' = A y``.

The right-hand side is a small numba function handed to :func:`cartsim.solver.make_integrator`,
which is also the proof that the solver works for any right-hand side, not only the model's
(diffrax's ``test_ode_order`` is the anchor: a measured convergence slope against the exact solution).
"""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from cartsim.solver import Doses, Result, SolverOptions, make_integrator

#: ``A = V diag(RATES) V^-1``: modes -1 and -3 per day and a stiff one at -1000 per day (stiffness
#: ratio 1000), mixed into every state by ``V``.
V = np.array([[1.0, 1.0, 0.0],
              [0.0, 1.0, 1.0],
              [1.0, 0.0, 1.0]])
RATES = np.array([-1.0, -3.0, -1000.0])
A = V @ np.diag(RATES) @ np.linalg.inv(V)
#: The slow modes only: a stiff transient at the start would be resolved by the first step alone,
#: and its error would not shrink as the step's fifth power until steps are far below 1/1000 day.
Y0 = V[:, 0] + V[:, 1]
T_END = 2.0
ORDER = 5  # RODAS5


@njit(cache=True)
def linear(y, p, dydt, birth, loss):
    """``dy/dt = A y`` with the 3 x 3 matrix ``A`` row by row in ``p``; no cell populations."""
    for i in range(3):
        acc = 0.0
        for j in range(3):
            acc += p[3 * i + j] * y[j]
        dydt[i] = acc


#: Forward differences of a linear right-hand side are exact for any step, so a large typical magnitude
#: (it sets the difference step) only takes the rounding out of the Jacobian, which would otherwise
#: put a floor of about 1e-9 under the error.
TYPICAL = [1e4] * 3


@pytest.fixture(scope="module")
def integrator():
    return make_integrator(linear, n_params=9, atol=[1e-12] * 3, typical=TYPICAL)


def exact(t: float) -> np.ndarray:
    return V[:, 0] * np.exp(RATES[0] * t) + V[:, 1] * np.exp(RATES[1] * t)


def error(solution) -> float:
    """The largest error at ``T_END``, relative to the largest state there."""
    expected = exact(T_END)
    return float(np.max(np.abs(solution.values[0, -1] - expected)) / np.max(np.abs(expected)))


def solve(integrator, options: SolverOptions, doses: Doses | None = None):
    solution = integrator.integrate(Y0[None], A.reshape(1, 9), np.array([0.0, T_END]), doses=doses,
                                    options=options)
    assert solution.result[0] == Result.successful
    return solution


def fixed_step_error(n_steps: int) -> float:
    """Global error at ``T_END`` after ``n_steps`` equal steps.

    The integrator is adaptive only, but it lands exactly on every dose time: empty doses on a
    grid, with tolerances so loose that the controller always proposes a longer step, make
    every step exactly one grid interval.
    """
    h = T_END / n_steps
    grid = [(k * h, 0, 0.0) for k in range(1, n_steps)]
    loose = make_integrator(linear, n_params=9, atol=[1e6] * 3, typical=TYPICAL)
    solution = solve(loose, SolverOptions(rtol=0.1, stochastic=False, initial_step_days=h), Doses.from_lists([grid]))
    assert solution.steps[0] == n_steps
    return error(solution)


def test_fixed_step_error_falls_with_the_fifth_power_of_the_step():
    steps = np.array([16, 32, 64, 128])
    errors = np.array([fixed_step_error(n) for n in steps])
    slopes = -np.diff(np.log(errors)) / np.diff(np.log(steps))
    assert np.all((ORDER - 0.5 <= slopes) & (slopes <= ORDER + 0.7)), (errors, slopes)


def test_adaptive_error_follows_the_tolerance(integrator):
    """Work-precision: the error tracks ``rtol`` (slope 1 on log-log) and the step count grows as
    ``rtol ** (-1 / ORDER)`` (the controller's exponent for the order-4 embedded estimate)."""
    tolerances = 10.0 ** -np.arange(3, 10, 2)
    errors, steps = [], []
    for rtol in tolerances:
        solution = solve(integrator, SolverOptions(rtol=rtol, stochastic=False))
        errors.append(error(solution))
        steps.append(solution.steps[0])
    error_slope = np.polyfit(np.log(tolerances), np.log(errors), 1)[0]
    step_slope = np.polyfit(np.log(tolerances), np.log(steps), 1)[0]
    assert np.all(np.array(errors) < 100 * tolerances), errors
    assert 0.7 <= error_slope <= 1.3, (errors, error_slope)
    assert -1 / ORDER - 0.08 <= step_slope <= -1 / ORDER + 0.08, (steps, step_slope)


def test_dense_output_matches_the_exact_solution(integrator):
    times = np.linspace(0.0, T_END, 41)
    solution = integrator.integrate(Y0[None], A.reshape(1, 9), times, options=SolverOptions(rtol=1e-10))
    expected = np.array([exact(t) for t in times])
    np.testing.assert_allclose(solution.values[0], expected, rtol=1e-6, atol=1e-9)


def test_the_integrator_is_compiled_once_per_right_hand_side(integrator):
    again = make_integrator(linear, n_params=9, atol=[1e-8] * 3, typical=[2.0] * 3)
    assert again._batch is integrator._batch


@pytest.mark.parametrize("arguments,match", [
    (dict(atol=[1e-6] * 3, typical=[1.0] * 2), "typical"),
    (dict(atol=[0.0] * 3, typical=[1.0] * 3), "atol"),
    (dict(atol=[1e-6] * 3, typical=[1.0] * 3, n_cells=4), "n_cells"),
    (dict(atol=[1e-6] * 3, typical=[1.0] * 3, n_params=-1), "n_params"),
])
def test_make_integrator_rejects_bad_scales(arguments, match):
    with pytest.raises(ValueError, match=match):
        make_integrator(linear, **{"n_params": 9, **arguments})


def test_make_integrator_needs_a_compiled_right_hand_side():
    with pytest.raises(TypeError, match="njit"):
        make_integrator(linear.py_func, n_params=9, atol=[1e-6] * 3, typical=TYPICAL)
