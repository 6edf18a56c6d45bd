"""One step of RODAS4, a stiffly accurate, L-stable Rosenbrock method of order 4 with an embedded order-3 error estimate.

Coefficients from Hairer & Wanner, *Solving Ordinary Differential Equations
II* (1996), in the ``(A, C, M, E)`` form used by KPP (Sandu et al. 1997,
Atmos Environ 31:3459). The Jacobian is formed by forward differences of the
model kernel and factorised once per step.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..model._kernel import derivatives

N_STAGES = 6
GAMMA = 0.25
_A_FLAT = (1.544, 0.9466785280815826, 0.2557011698983284, 3.314825187068521, 2.896124015972201,
           0.9986419139977817, 1.221224509226641, 6.019134481288629, 12.53708332932087,
           -0.687886036105895, 1.221224509226641, 6.019134481288629, 12.53708332932087,
           -0.687886036105895, 1.0)
_C_FLAT = (-5.6688, -2.430093356833875, -0.2063599157091915, -0.1073529058151375, -9.594562251023355,
           -20.47028614809616, 7.496443313967647, -10.24680431464352, -33.99990352819905,
           11.7089089320616, 8.083246795921522, -7.981132988064893, -31.52159432874371,
           16.31930543123136, -6.058818238834054)
M = np.array([1.221224509226641, 6.019134481288629, 12.53708332932087, -0.687886036105895, 1.0, 1.0])
E = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
ERROR_ORDER = 4.0


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


@njit(cache=True)
def jacobian(y, f, p, typical, jac, ytmp, ftmp, birth, loss):
    """Forward-difference Jacobian ``jac[i, j] = d f_i / d y_j`` at ``y`` where ``f = f(y)``."""
    n = y.shape[0]
    for i in range(n):
        ytmp[i] = y[i]
    for j in range(n):
        delta = _SQRT_EPS * max(abs(y[j]), typical[j])
        ytmp[j] = y[j] + delta
        derivatives(ytmp, p, ftmp, birth, loss)
        ytmp[j] = y[j]
        inv = 1.0 / delta
        for i in range(n):
            jac[i, j] = (ftmp[i] - f[i]) * inv


@njit(cache=True)
def factorise(jac, h, lu, pivots):
    """LU factorisation with partial pivoting of ``I / (GAMMA h) - J``; False if singular."""
    n = jac.shape[0]
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
        inv = 1.0 / lu[k, k]
        for i in range(k + 1, n):
            factor = lu[i, k] * inv
            if factor != 0.0:
                lu[i, k] = factor
                for j in range(k + 1, n):
                    lu[i, j] -= factor * lu[k, j]
            else:
                lu[i, k] = 0.0
    return True


@njit(cache=True)
def solve(lu, pivots, b):
    """Solve in place ``(LU) x = b`` with the factors from :func:`factorise`."""
    n = lu.shape[0]
    for k in range(n):
        pk = pivots[k]
        if pk != k:
            tmp = b[k]
            b[k] = b[pk]
            b[pk] = tmp
    for i in range(n):
        acc = b[i]
        for j in range(i):
            acc -= lu[i, j] * b[j]
        b[i] = acc
    for i in range(n - 1, -1, -1):
        acc = b[i]
        for j in range(i + 1, n):
            acc -= lu[i, j] * b[j]
        b[i] = acc / lu[i, i]


@njit(cache=True)
def step(y, f, p, h, lu, pivots, stages, ynew, err, ytmp, birth, loss):
    """Stages of one RODAS4 step of size ``h`` from ``y`` (with ``f = f(y)``); fills ``ynew`` and ``err``."""
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
            for i in range(n):
                acc = ytmp[i]
                for j in range(s):
                    acc += C[s, j] / h * stages[j, i]
                ytmp[i] = acc
        solve(lu, pivots, ytmp)
        for i in range(n):
            stages[s, i] = ytmp[i]
    for i in range(n):
        acc = y[i]
        e = 0.0
        for s in range(N_STAGES):
            acc += M[s] * stages[s, i]
            e += E[s] * stages[s, i]
        ynew[i] = acc
        err[i] = e
