"""The sparse LU over the analytic Jacobian's fixed pattern: it solves the iteration matrix as the dense LU with
partial pivoting does, hands a step with a degraded pivot to the dense LU, and integrates as the dense solver."""

from __future__ import annotations

import numpy as np
import pytest
from scipy_reference import first_day, random_batch

from cartsim._engine import MODEL_INTEGRATOR, integrate
from cartsim.model import N_STATES
from cartsim.solver import SolverOptions
from cartsim.solver import _rodas, _sparse_lu

LU = MODEL_INTEGRATOR.sparse_lu
ROWS, COLS = LU.tables[1], LU.tables[2]


def _sparse_solve(values, frozen, h, b):
    """``(I / (GAMMA h) - J) x = b`` by the sparse LU; None where its guard hands the step to the dense LU."""
    restricted = _sparse_lu.restricted_tables(LU.tables)
    _sparse_lu.restrict(frozen, LU.tables, restricted)
    lu = np.empty(LU.n_slots)
    if not _sparse_lu.factorise(values, frozen, 1.0 / (_rodas.GAMMA * h), LU.tables, restricted, lu,
                                np.empty(N_STATES)):
        return None
    x = b.copy()
    _sparse_lu.solve(lu, LU.tables, restricted, x, np.empty(N_STATES))
    return x


def _dense_solve(values, frozen, h, b):
    """The same system by the solver's dense LU with partial pivoting, on the active states."""
    active = np.flatnonzero(~frozen)
    m = active.size
    jac = np.empty((N_STATES, N_STATES))
    _rodas.scatter(values, ROWS, COLS, np.concatenate([active, np.zeros(N_STATES - m, dtype=np.int64)]), m, jac)
    lu = np.empty((N_STATES, N_STATES))
    pivots = np.empty(N_STATES, dtype=np.int64)
    assert _rodas.factorise(jac, m, h, lu, pivots, np.empty(N_STATES, dtype=np.int64))
    compressed = (np.empty(N_STATES + 1, dtype=np.int64), np.empty(N_STATES ** 2, dtype=np.int64),
                  np.empty(N_STATES + 1, dtype=np.int64), np.empty(N_STATES ** 2, dtype=np.int64))
    _rodas.compress(lu, m, *compressed)
    reduced = b[active].copy()
    _rodas.solve(lu, m, pivots, reduced, *compressed)
    x = np.zeros(N_STATES)
    x[active] = reduced
    return x


@pytest.mark.parametrize("h", [1e-4, 1e-2, 1.0, 30.0])
def test_sparse_solve_equals_dense_solve_on_the_models_pattern(h):
    """Random Jacobians on the model's pattern (decay on the diagonal, as the model's loss rates), some states
    frozen: wherever the guard accepts the fixed order, the solutions agree to rounding."""
    rng = np.random.default_rng(int(1e4 * h))
    accepted = 0
    for _ in range(40):
        values = rng.standard_normal(ROWS.size) * 10.0 ** rng.uniform(-2.0, 2.0, ROWS.size)
        on_diagonal = ROWS == COLS
        values[on_diagonal] = -np.abs(values[on_diagonal]) * 10.0
        frozen = rng.random(N_STATES) < 0.3
        b = np.where(frozen, 0.0, rng.standard_normal(N_STATES))
        sparse = _sparse_solve(values, frozen, h, b)
        if sparse is None:
            continue
        accepted += 1
        dense = _dense_solve(values, frozen, h, b)
        assert np.all(sparse[frozen] == 0.0)
        assert np.max(np.abs(sparse - dense)) <= 1e-12 * np.max(np.abs(dense))
    # Not vacuous: most pass the guard, except at long steps, where a random -J is far from the model's and the
    # guard hands most of them to the dense LU.
    assert accepted >= (20 if h <= 1.0 else 3)


def _pivot_pair():
    """States ``(q, p)``, both Jacobian entries ``(p, q)`` and ``(q, p)`` in the pattern, ``q`` eliminated first."""
    position = np.empty(N_STATES, dtype=np.int64)
    position[LU.order] = np.arange(N_STATES)
    entries = set(zip(ROWS.tolist(), COLS.tolist()))
    return next((q, p) for p, q in entries if p != q and (q, p) in entries and position[q] < position[p])


def test_degraded_pivot_falls_back_to_the_dense_lu():
    """``q`` with a pivot of 1e-12 of its row and column: eliminating it first would swamp the pivot of ``p``
    (its 1 / (GAMMA h) lost under 1e12), so the guard refuses, and the dense LU, pivoting, solves it."""
    q, p = _pivot_pair()
    h = 1.0 / _rodas.GAMMA  # a diagonal of 1
    values = np.zeros(ROWS.size)
    values[(ROWS == q) & (COLS == q)] = 1.0 - 1e-12
    values[(ROWS == p) & (COLS == q)] = 1.0
    values[(ROWS == q) & (COLS == p)] = 1.0
    frozen = np.zeros(N_STATES, dtype=bool)
    b = np.ones(N_STATES)
    assert _sparse_solve(values, frozen, h, b) is None
    matrix = np.eye(N_STATES)
    matrix[q, q], matrix[p, q], matrix[q, p] = 1.0 - (1.0 - 1e-12), -1.0, -1.0
    assert np.allclose(_dense_solve(values, frozen, h, b), np.linalg.solve(matrix, b), rtol=1e-12, atol=0.0)
    # The same system with a well-formed pivot goes through the sparse LU.
    values[(ROWS == q) & (COLS == q)] = -1.0
    assert _sparse_solve(values, frozen, h, b) is not None


def test_sparse_and_dense_lu_integrate_alike():
    """The same patients with the sparse and the dense LU: the factors differ only by rounding, so the
    trajectories agree far within the tolerance they are integrated at, and every patient succeeds."""
    batch = random_batch(3, seed=5)
    days = np.arange(first_day(batch), 366.0)
    runs = [integrate(batch.y0, batch.params, days, doses=batch.doses, t0=batch.t0,
                      options=SolverOptions(stochastic=False, rtol=1e-8, sparse_lu=sparse)) for sparse in (True, False)]
    assert all(run.successful.all() for run in runs)
    close = np.abs(runs[0].values - runs[1].values) <= 1e-6 * np.abs(runs[1].values) + MODEL_INTEGRATOR.atol
    assert close.all(), f"{(~close).sum()} of {close.size} outputs differ"
