"""Batched adaptive integration with doses, dense output and the hybrid stochastic layer.

Every patient is integrated independently, one after another, with its own
adaptive RODAS5 step size. The batch loop is serial on purpose: the clinical
clock enters it once per visit, and a parallel region per entry spent more time
waking and spin-waiting threads than integrating; runs use the cores through
worker processes over chunks of patients instead (``cartsim trial --workers``). The integrator stops exactly at dose times to
add the dose to its state, and at synchronisation times of the stochastic
layer; output times in between are filled by cubic Hermite interpolation
(dense output), so daily output does not force daily steps.

Hybrid stochastic extinction (Kimmel 2021): when a cell population (one of the
first ``n_cells`` states) lies below ``threshold`` cells, it is made an
integer count and, over the next synchronisation interval, its own cells
follow an exact linear birth-death process with the per-capita rates of the
model frozen at the interval start, while inflow from other compartments
stays deterministic. The interval grows with time since infusion (the
dynamics slow down): ``clip(sync_fraction * t, sync_min, sync_max)`` days.

The functions that call the right-hand side are templates, compiled once per
right-hand side (see :mod:`._specialise`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from . import _random as rnd
from . import _sparse_lu
from ._rodas import ERROR_ORDER, GAMMA, N_STAGES, compress, factorise, scatter, step
from ._specialise import ANALYTIC_JACOBIAN, JACOBIAN_COLS, JACOBIAN_ROWS, derivatives, jacobian, template

SUCCESS = 0
MAX_STEPS_REACHED = 1
STEP_SIZE_TOO_SMALL = 2
NON_FINITE = 3

_INFLOW_RESOLUTION = 1e-4
_NEGLIGIBLE = 1e-100
_SAFETY = 0.9
_MIN_FACTOR = 0.2
_MAX_FACTOR = 6.0


@njit(cache=True)
def _write_output(out, row, y, out_states):
    for k in range(out_states.shape[0]):
        v = y[out_states[k]]
        out[row, k] = v if v > 0.0 else 0.0


@njit(cache=True)
def _write_interpolated(out, row, theta, h, y0, f0, y1, f1, out_states):
    t2 = theta * theta
    t3 = t2 * theta
    h00 = 2.0 * t3 - 3.0 * t2 + 1.0
    h10 = t3 - 2.0 * t2 + theta
    h01 = -2.0 * t3 + 3.0 * t2
    h11 = t3 - t2
    for k in range(out_states.shape[0]):
        i = out_states[k]
        v = h00 * y0[i] + h10 * h * f0[i] + h01 * y1[i] + h11 * h * f1[i]
        out[row, k] = v if v > 0.0 else 0.0


@njit(cache=True)
def _sync_interval(t, sync_fraction, sync_min, sync_max):
    return min(max(sync_fraction * t, sync_min), sync_max)


@template
def _start_sync(y, p, threshold, counts, birth0, loss0, birth, loss, ftmp, stream):
    """Make small populations integer counts and freeze their rates; True if any is small."""
    any_small = False
    for i in range(counts.shape[0]):
        if 0.0 < y[i] < threshold:
            y[i] = rnd.round_stochastically(y[i], stream)
            any_small = True
        counts[i] = y[i] if y[i] < threshold else -1.0
    if any_small:
        derivatives(y, p, ftmp, birth, loss)
        for i in range(counts.shape[0]):
            birth0[i] = birth[i]
            loss0[i] = loss[i]
    return any_small


@njit(cache=True)
def _finish_sync(y, dt, counts, birth0, loss0, stream):
    """Replace the deterministic fate of each small population's own cells by a birth-death draw."""
    for i in range(counts.shape[0]):
        n0 = counts[i]
        if n0 < 0.0:
            continue
        own = n0 * math.exp(min((birth0[i] - loss0[i]) * dt, 700.0))
        inflow = y[i] - own
        if inflow < _INFLOW_RESOLUTION * own:  # below the integrator's error: no real inflow
            inflow = 0.0
        y[i] = rnd.birth_death(n0, birth0[i], loss0[i], dt, stream) + inflow


def sync_size(n_cells: int) -> int:
    """Length of a saved synchronisation interval: counts, frozen birth and loss rates of the
    ``n_cells`` cell populations, then the interval's start and end (inf: none open)."""
    return 3 * n_cells + 2


# The interval's start and end, counted from the end of the layout (its length depends on n_cells).
_STARTED = -2
_NEXT_SYNC = -1


@njit(cache=True)
def _save_sync(sync, counts, birth0, loss0, started, next_sync):
    n = counts.shape[0]
    for i in range(n):
        sync[i] = counts[i]
        sync[n + i] = birth0[i]
        sync[2 * n + i] = loss0[i]
    sync[_STARTED] = started
    sync[_NEXT_SYNC] = next_sync


@njit(cache=True)
def _load_sync(sync, counts, birth0, loss0):
    n = counts.shape[0]
    for i in range(n):
        counts[i] = sync[i]
        birth0[i] = sync[n + i]
        loss0[i] = sync[2 * n + i]
    return sync[_STARTED], sync[_NEXT_SYNC]


@njit(cache=True)
def _apply_due_doses(y, t, dose, dose_times, dose_states, dose_amounts):
    """Give every dose due by ``t`` (doses a rounding error apart count as simultaneous)."""
    due = t + 1e-9 * max(1.0, abs(t))
    while dose < dose_times.shape[0] and dose_times[dose] <= due:
        y[dose_states[dose]] += dose_amounts[dose]
        dose += 1
    return dose


@template
def _active_states(y, f, p, typical, frozen, active, ytmp, ftmp, birth, loss):
    """Fill ``active`` with the states the step must solve for; return their number.

    A state is frozen when it is zero with zero derivative and stays so whatever the
    unfrozen states do (nothing can feed it while the frozen ones are zero), checked by
    moving every unfrozen state at once. A frozen state stays exactly zero through the
    step, so the linear algebra skips it, and rounding cannot seed cells that antigen
    would expand.
    """
    n = y.shape[0]
    for i in range(n):
        frozen[i] = y[i] == 0.0 and f[i] == 0.0
    changed = True
    while changed:
        changed = False
        for j in range(n):
            ytmp[j] = 0.0 if frozen[j] else y[j] * 1.01 + 1e-2 * typical[j]
        derivatives(ytmp, p, ftmp, birth, loss)
        for i in range(n):
            if frozen[i] and ftmp[i] != 0.0:
                frozen[i] = False
                changed = True
    m = 0
    for i in range(n):
        if not frozen[i]:
            active[m] = i
            m += 1
    return m


@njit(cache=True)
def _all_finite(x):
    for v in x:
        if not np.isfinite(v):
            return False
    return True


@template
def integrate_patient(y0, p, seed, t0, t_out, out, out_states, dose_times, dose_states, dose_amounts,
                      rtol, atol, typical, n_cells, stochastic, threshold, sync_fraction, sync_min, sync_max,
                      max_steps, h_init, sync, carry, on_pattern, lu_tables, lu_size):
    """Integrate one patient from ``t0``; fills ``out[len(t_out), len(out_states)]``.

    Returns (status, steps, h): ``h`` is the step the controller would take next, so that a
    continuation (the clinical clock integrates from visit to visit) need not find it again.
    Output times before ``t0`` show the initial (untreated) state. A stochastic synchronisation
    interval still open at the last output time is closed there, so the final state is a
    complete draw, unless ``carry``: then the open interval is saved in ``sync`` (see
    :func:`_save_sync`) and a continuation resumes it, so that stopping at a visit does not
    shorten the interval. With ``on_pattern`` (an analytic Jacobian), the iteration matrix is factorised
    over its pattern with ``lu_tables`` (:class:`._sparse_lu.SparseLU`, ``lu_size`` values) where the
    guard allows, densely where not.
    """
    n = y0.shape[0]
    y = y0.copy()
    f = np.empty(n)
    ynew = np.empty(n)
    fnew = np.empty(n)
    err = np.empty(n)
    ytmp = np.empty(n)
    ftmp = np.empty(n)
    jac = np.empty((n, n))
    values = np.empty(JACOBIAN_ROWS.shape[0])
    lu = np.empty((n, n))
    pivots = np.empty(n, dtype=np.int64)
    cols = np.empty(n, dtype=np.int64)
    dense = (lu, pivots, np.empty(n + 1, dtype=np.int64), np.empty(n * n, dtype=np.int64),
             np.empty(n + 1, dtype=np.int64), np.empty(n * n, dtype=np.int64))
    restricted = _sparse_lu.restricted_tables(lu_tables)
    restricted_to = np.zeros(n, dtype=np.bool_)  # the frozen states the restricted tables leave out
    sparse = (np.empty(lu_size), lu_tables, restricted, np.empty(n))
    active = np.empty(n, dtype=np.int64)
    frozen = np.empty(n, dtype=np.bool_)
    reduced = np.empty(n)
    stages = np.empty((N_STAGES, n))
    birth = np.empty(n_cells)
    loss = np.empty(n_cells)
    counts = np.empty(n_cells)
    birth0 = np.empty(n_cells)
    loss0 = np.empty(n_cells)
    stream = rnd.new_stream(seed)

    n_out = t_out.shape[0]
    t_end = t_out[n_out - 1]
    t = t0
    row = 0
    while row < n_out and t_out[row] < t:
        _write_output(out, row, y, out_states)
        row += 1
    dose = _apply_due_doses(y, t, 0, dose_times, dose_states, dose_amounts)
    next_sync = np.inf
    sync_started = t
    if carry and t < sync[_NEXT_SYNC] < np.inf:
        sync_started, next_sync = _load_sync(sync, counts, birth0, loss0)
    elif stochastic and _start_sync(y, p, threshold, counts, birth0, loss0, birth, loss, ftmp, stream):
        next_sync = t + _sync_interval(t, sync_fraction, sync_min, sync_max)
    while row < n_out and t_out[row] <= t:
        _write_output(out, row, y, out_states)
        row += 1
    derivatives(y, p, f, birth, loss)
    if not _all_finite(f):
        return NON_FINITE, 0, h_init

    h = h_init
    steps = 0
    need_jacobian = True
    have_dense = False
    restricted_ready = False
    m = n
    while t < t_end:
        if steps >= max_steps:
            return MAX_STEPS_REACHED, steps, h
        t_stop = t_end
        if dose < dose_times.shape[0] and dose_times[dose] < t_stop:
            t_stop = dose_times[dose]
        if next_sync < t_stop:
            t_stop = next_sync
        proposed = h
        hit = t + h >= t_stop - 1e-12 * max(1.0, abs(t_stop))
        if hit:
            h = t_stop - t
        if h < 1e-12 * max(1.0, abs(t)):
            return STEP_SIZE_TOO_SMALL, steps, h
        if need_jacobian:
            m = _active_states(y, f, p, typical, frozen, active, ytmp, ftmp, birth, loss)
            jacobian(y, f, p, typical, active, m, jac, values, ytmp, ftmp, birth, loss)
            need_jacobian = False
            have_dense = not ANALYTIC_JACOBIAN
            if on_pattern and not (restricted_ready and np.array_equal(frozen, restricted_to)):
                _sparse_lu.restrict(frozen, lu_tables, restricted)
                restricted_to[:] = frozen
                restricted_ready = True
        # The guard's fallback, and the factors without a pattern: dense, with partial pivoting.
        sparse_step = on_pattern and _sparse_lu.factorise(values, frozen, 1.0 / (GAMMA * h), lu_tables, restricted,
                                                          sparse[0], sparse[3])
        if not sparse_step:
            if not have_dense:
                scatter(values, JACOBIAN_ROWS, JACOBIAN_COLS, active, m, jac)
                have_dense = True
            if not factorise(jac, m, h, lu, pivots, cols):
                h *= 0.5
                continue
            compress(lu, m, dense[2], dense[3], dense[4], dense[5])
        step(y, f, p, h, active, m, sparse_step, dense, sparse, stages, ynew, err, ytmp, reduced, birth, loss)
        norm = 0.0
        finite = True
        for i in range(n):
            if not np.isfinite(ynew[i]):
                finite = False
                break
            scale = atol[i] + rtol * max(abs(y[i]), abs(ynew[i]))
            norm += (err[i] / scale) ** 2
        if not finite:
            h *= _MIN_FACTOR
            continue
        norm = math.sqrt(norm / n)
        factor = _SAFETY * norm ** (-1.0 / ERROR_ORDER) if norm > 0.0 else _MAX_FACTOR
        factor = min(_MAX_FACTOR, max(_MIN_FACTOR, factor))
        if norm > 1.0:
            h *= factor
            continue

        # ---- accepted --------------------------------------------------------------------------
        steps += 1
        for i in range(n):
            # Negative values are rounding; values 1e100 times below their absolute tolerance are too (a
            # decayed drug, a long-extinct clone: no rate in the horizon regrows them), and their products
            # are subnormal numbers that cost the arithmetic ~100x each. Zero, they freeze (see
            # _active_states) and leave the linear algebra.
            if ynew[i] < _NEGLIGIBLE * atol[i]:
                ynew[i] = 0.0
        derivatives(ynew, p, fnew, birth, loss)
        t_new = t_stop if hit else t + h
        while row < n_out and t_out[row] < t_new:
            _write_interpolated(out, row, (t_out[row] - t) / h, h, y, f, ynew, fnew, out_states)
            row += 1
        t = t_new
        for i in range(n):
            y[i] = ynew[i]
            f[i] = fnew[i]
        given = _apply_due_doses(y, t, dose, dose_times, dose_states, dose_amounts)
        changed = given > dose
        dose = given
        if next_sync <= t or (t >= t_end and next_sync < np.inf and not carry):
            _finish_sync(y, t - sync_started, counts, birth0, loss0, stream)
            next_sync = np.inf
            changed = True
        if stochastic and next_sync == np.inf:
            if _start_sync(y, p, threshold, counts, birth0, loss0, birth, loss, ftmp, stream):
                sync_started = t
                next_sync = t + _sync_interval(t, sync_fraction, sync_min, sync_max)
                changed = True
        if changed:
            derivatives(y, p, f, birth, loss)
            if not _all_finite(f):
                return NON_FINITE, steps, h
        while row < n_out and t_out[row] <= t:
            _write_output(out, row, y, out_states)
            row += 1
        need_jacobian = True
        # A step cut short to land on a stop says little about the step the dynamics allow.
        h = max(h * factor, proposed) if hit else h * factor
    if carry:
        _save_sync(sync, counts, birth0, loss0, sync_started, next_sync)
    return SUCCESS, steps, h


@template
def integrate_batch(y0, p, seeds, t0s, t_out, out, out_states, dose_times, dose_states, dose_amounts,
                    n_doses, rtol, atol, typical, n_cells, stochastic, threshold, sync_fraction, sync_min, sync_max,
                    max_steps, h_init, status, steps, sync, carry, on_pattern, lu_tables, lu_size):
    """Integrate every patient of the batch; per-patient results in ``out``, ``status``, ``steps``,
    and in ``h_init`` the step each would take next."""
    for i in range(y0.shape[0]):
        nd = n_doses[i]
        status[i], steps[i], h_init[i] = integrate_patient(
            y0[i], p[i], seeds[i], t0s[i], t_out, out[i], out_states, dose_times[i, :nd], dose_states[i, :nd],
            dose_amounts[i, :nd], rtol, atol, typical, n_cells, stochastic, threshold, sync_fraction, sync_min,
            sync_max, max_steps, h_init[i], sync[i], carry, on_pattern, lu_tables, lu_size)

