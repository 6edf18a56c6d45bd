"""One step of RODAS5, a stiffly accurate, L-stable Rosenbrock method of order 5 with an embedded order-4 error estimate.

Coefficients of Di Marzo (1993, "Rodas5(4)", University of Geneva) in the
``(A, C, M, E)`` form of Hairer & Wanner's RODAS (as tabulated by
OrdinaryDiffEq.jl's Rodas5Tableau): stage i solves
``(I / (GAMMA h) - J) k_i = f(y + sum_j A_ij k_j) + sum_j C_ij k_j / h``,
``y_new = y + sum_i M_i k_i`` and the error estimate is ``sum_i E_i k_i``. The
Jacobian comes from the right-hand side's analytic entries when it has them
(:func:`sparse_jacobian`), else from forward differences of the right-hand side
(:func:`finite_difference_jacobian`). The iteration matrix is factorised once per step: over the
analytic Jacobian's fixed pattern by :mod:`._sparse_lu` where its guard allows, else densely with
partial pivoting (:func:`factorise`). Both Jacobians, and :func:`step`, call the right-hand side, so
they are templates, compiled per right-hand side (see :mod:`._specialise`, which binds ``jacobian`` to
one of them).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import _sparse_lu
from ._specialise import derivatives, jacobian_entries, template

N_STAGES = 8
GAMMA = 0.19
_A_SIXTH_ROW = (-14.09640773051259, 6.925207756232704, -41.47510893210728, 2.343771018586405,
                24.13215229196062)
_A_FLAT = ((2.0,
            3.040894194418781, 1.041747909077569,
            2.576417536461461, 1.62208306077664, -0.9089668560264532,
            2.760842080225597, 1.446624659844071, -0.3036980084553738, 0.2877498600325443)
           + _A_SIXTH_ROW + _A_SIXTH_ROW + (1.0,) + _A_SIXTH_ROW + (1.0, 1.0))
_C_FLAT = (-10.31323885133993,
           -21.04823117650003, -7.234992135176716,
           32.22751541853323, -4.943732386540191, 19.44922031041879,
           -20.69865579590063, -8.816374604402768, 1.260436877740897, -0.7495647613787146,
           -46.22004352711257, -17.49534862857472, -289.6389582892057, 93.60855400400906, 318.3822534212147,
           34.20013733472935, -14.1553540271769, 57.823356409884, 25.83362985412365, 1.408950972071624,
           -6.551835421242162,
           42.57076742291101, -13.80770672017997, 93.98938432427124, 18.77919633714503, -31.5835918722337,
           -6.685968952921985, -5.810979938412932)
M = np.array(_A_SIXTH_ROW + (1.0, 1.0, 1.0))
E = np.array((0.0,) * 7 + (1.0,))
ERROR_ORDER = 5.0


def _lower(flat):
    out = np.zeros((N_STAGES, N_STAGES))
    idx = 0
    for i in range(1, N_STAGES):
        for j in range(i):
            out[i, j] = flat[idx]
            idx += 1
    return out


A = _lower(_A_FLAT)
C = _lower(_C_FLAT)
_SQRT_EPS = np.sqrt(np.finfo(np.float64).eps)


@template
def finite_difference_jacobian(y, f, p, typical, active, m, jac, values, ytmp, ftmp, birth, loss):
    """Forward-difference Jacobian of the active states: ``jac[a, b] = d f_active[a] / d y_active[b]``
    (``values`` is unused: there is no pattern)."""
    n = y.shape[0]
    for i in range(n):
        ytmp[i] = y[i]
    for b in range(m):
        j = active[b]
        delta = _SQRT_EPS * max(abs(y[j]), typical[j])
        ytmp[j] = y[j] + delta
        derivatives(ytmp, p, ftmp, birth, loss)
        ytmp[j] = y[j]
        inv = 1.0 / delta
        for a in range(m):
            i = active[a]
            jac[a, b] = (ftmp[i] - f[i]) * inv


@template
def sparse_jacobian(y, f, p, typical, active, m, jac, values, ytmp, ftmp, birth, loss):
    """The analytic Jacobian: the right-hand side's non-zero entries in ``values`` (one evaluation of every
    entry, instead of one right-hand side per active state); :func:`scatter` makes ``jac`` of them when the
    dense LU needs it."""
    jacobian_entries(y, p, values)


@njit(cache=True)
def scatter(values, rows, cols, active, m, jac):
    """The dense Jacobian of the active states, ``jac[a, b]``, from the entries ``values`` at ``(rows, cols)``."""
    slot = np.full(jac.shape[0], -1, dtype=np.int64)  # jac: room for every state
    for a in range(m):
        slot[active[a]] = a
        for b in range(m):
            jac[a, b] = 0.0
    for k in range(values.shape[0]):
        a = slot[rows[k]]
        b = slot[cols[k]]
        if a >= 0 and b >= 0:
            jac[a, b] = values[k]


@njit(cache=True)
def factorise(jac, n, h, lu, pivots, cols):
    """LU factorisation with partial pivoting of the leading n x n block (the active states) of
    ``I / (GAMMA h) - J``; False if singular.

    The Jacobian is sparse (about a quarter of its entries are non-zero), so
    each elimination row only visits the non-zero columns of the pivot row.
    """
    diag = 1.0 / (GAMMA * h)
    for i in range(n):
        for j in range(n):
            lu[i, j] = -jac[i, j]
        lu[i, i] += diag
    for k in range(n):
        best = k
        big = abs(lu[k, k])
        for i in range(k + 1, n):
            if abs(lu[i, k]) > big:
                big = abs(lu[i, k])
                best = i
        if big == 0.0:
            return False
        pivots[k] = best
        if best != k:
            for j in range(n):
                tmp = lu[k, j]
                lu[k, j] = lu[best, j]
                lu[best, j] = tmp
        n_cols = 0
        for j in range(k + 1, n):
            if lu[k, j] != 0.0:
                cols[n_cols] = j
                n_cols += 1
        inv = 1.0 / lu[k, k]
        for i in range(k + 1, n):
            if lu[i, k] != 0.0:
                factor = lu[i, k] * inv
                lu[i, k] = factor
                for c in range(n_cols):
                    j = cols[c]
                    lu[i, j] -= factor * lu[k, j]
    return True


@njit(cache=True)
def compress(lu, n, lower_ptr, lower_idx, upper_ptr, upper_idx):
    """Record the non-zero off-diagonal entries of each row of the factors, for fast solves."""
    nl = 0
    nu = 0
    for i in range(n):
        lower_ptr[i] = nl
        upper_ptr[i] = nu
        for j in range(i):
            if lu[i, j] != 0.0:
                lower_idx[nl] = j
                nl += 1
        for j in range(i + 1, n):
            if lu[i, j] != 0.0:
                upper_idx[nu] = j
                nu += 1
    lower_ptr[n] = nl
    upper_ptr[n] = nu


@njit(cache=True)
def solve(lu, n, pivots, b, lower_ptr, lower_idx, upper_ptr, upper_idx):
    """Solve in place ``(LU) x = b`` (first n entries) with the factors from :func:`factorise` and :func:`compress`."""
    for k in range(n):
        pk = pivots[k]
        if pk != k:
            tmp = b[k]
            b[k] = b[pk]
            b[pk] = tmp
    for i in range(n):
        acc = b[i]
        for c in range(lower_ptr[i], lower_ptr[i + 1]):
            j = lower_idx[c]
            acc -= lu[i, j] * b[j]
        b[i] = acc
    for i in range(n - 1, -1, -1):
        acc = b[i]
        for c in range(upper_ptr[i], upper_ptr[i + 1]):
            j = upper_idx[c]
            acc -= lu[i, j] * b[j]
        b[i] = acc / lu[i, i]


@template
def step(y, f, p, h, active, m, on_pattern, dense, sparse, stages, ynew, err, ytmp, reduced, birth, loss):
    """Stages of one RODAS5 step of size ``h`` from ``y`` (with ``f = f(y)``); fills ``ynew`` and ``err``.

    The linear algebra runs on the ``m`` active states ``active[:m]``; the others are absent
    (zero, with zero derivative) and their increments are exactly zero. With ``on_pattern`` the
    factors are ``sparse`` = (values, tables, restricted tables, work) of :func:`._sparse_lu.factorise` and
    ``reduced`` is indexed by state; else they are ``dense`` = (lu, pivots, lower_ptr, lower_idx, upper_ptr,
    upper_idx) of :func:`factorise` and :func:`compress`, and ``reduced`` is indexed by active state.
    """
    n = y.shape[0]
    for s in range(N_STAGES):
        if s == 0:
            for i in range(n):
                ytmp[i] = f[i]
        else:
            for i in range(n):
                acc = y[i]
                for j in range(s):
                    acc += A[s, j] * stages[j, i]
                ynew[i] = acc
            derivatives(ynew, p, ytmp, birth, loss)
        for a in range(m):
            i = active[a]
            acc = ytmp[i]
            for j in range(s):
                acc += C[s, j] / h * stages[j, i]
            reduced[i if on_pattern else a] = acc
        if on_pattern:
            _sparse_lu.solve(sparse[0], sparse[1], sparse[2], reduced, sparse[3])
        else:
            solve(dense[0], m, dense[1], reduced, dense[2], dense[3], dense[4], dense[5])
        for i in range(n):
            stages[s, i] = 0.0
        for a in range(m):
            stages[s, active[a]] = reduced[active[a] if on_pattern else a]
    for i in range(n):
        acc = y[i]
        e = 0.0
        for s in range(N_STAGES):
            acc += M[s] * stages[s, i]
            e += E[s] * stages[s, i]
        ynew[i] = acc
        err[i] = e
