"""A sparse LU of the Rosenbrock iteration matrix ``I / (GAMMA h) - J`` over the analytic Jacobian's pattern.

Symbolic once (:func:`analyse`, in Python, when the integrator is made): the pivot order, chosen
greedily by the smallest Markowitz count ``(r - 1)(c - 1)`` on the pattern plus the diagonal
(Markowitz 1957; Duff, Erisman & Reid, "Direct Methods for Sparse Matrices", ch. 7), the fill-in
that order makes, and the elimination written out as tables of storage slots. Numeric per step
(:func:`factorise`, :func:`solve`): the elimination runs down those tables with no search and no
pivoting, touching only entries that can be non-zero.

Without pivoting the order must suit the values, which change every step. The guard looks at each
pivot ``u_pp = a_pp - sum_q l_pq u_qp`` as elimination leaves it: where it keeps less than
``PIVOT_TOLERANCE`` of the magnitudes that formed it, ``|a_pp| + sum_q |l_pq u_qp|`` (cancellation: the
pivot has lost digits), or where the original ``a_pp``, which carries the ``1 / (GAMMA h)``, is less than
that fraction of them (swamping: the elimination has all but overwritten it), the factorisation stops
and the caller factorises that step densely with partial pivoting instead. Unlike a pivot's size
relative to its row or column, these ratios do not change when a state's unit does (cells against
ng/mL: the model's rows and columns differ by ten orders of magnitude, and such a test fails at almost
every step while the fixed order's solutions are accurate).

States that are frozen (see ``_integrate._active_states``) keep only their diagonal: their rows and
columns stay exactly zero through the elimination, so the active states' factors and solutions are
those of the active states' own matrix, as the dense LU has them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

#: Smallest fraction of the magnitudes that form a pivot that the pivot and the original diagonal must keep
#: ([A]: a pivot's relative rounding error is then at most about 1e3 ulps; along the model's trajectories
#: the guard fires only at steps of 100 days or more, on under 1% of the states).
PIVOT_TOLERANCE = 1e-3


@dataclass(frozen=True, eq=False)
class SparseLU:
    """The symbolic factorisation of ``I / (GAMMA h) - J`` for one Jacobian pattern; see :func:`analyse`.

    ``tables`` hold, as int64 arrays (positions count pivots in elimination order, slots index the
    factor's storage of ``n_slots`` values): ``order`` (position -> state), ``entry_rows``,
    ``entry_cols`` and ``entry_slots`` (each Jacobian entry's state row, column and slot),
    ``diagonal`` (position -> slot of its pivot), ``lower_ptr``, ``lower_slots``, ``lower_rows``
    (per position, its column's entries below the pivot and their positions), ``upper_ptr``,
    ``upper_slots``, ``upper_cols`` (its row's entries right of the pivot), ``update_ptr``,
    ``update_targets``, ``update_upper`` (per entry of ``lower_slots``, each ``target -= lower * upper``
    that its multiplier makes), and ``pivot_ptr``, ``pivot_lower``,
    ``pivot_upper`` (per position p, the pairs ``l_pq``, ``u_qp`` whose products formed its pivot).
    """

    n_states: int
    n_slots: int
    tables: tuple

    @property
    def order(self) -> np.ndarray:
        return self.tables[0]


def _markowitz_order(pattern: np.ndarray) -> tuple[list[int], np.ndarray]:
    """Greedy minimum-Markowitz pivot order of a square boolean ``pattern`` (diagonal included), ties to the
    lowest state, and the pattern with the fill-in that order makes."""
    filled = pattern.copy()
    remaining = np.ones(pattern.shape[0], dtype=bool)
    order = []
    while remaining.any():
        rest = filled & remaining[:, None] & remaining[None, :]
        counts = (rest.sum(axis=1) - 1) * (rest.sum(axis=0) - 1)
        pivot = int(np.flatnonzero(remaining)[np.argmin(counts[remaining])])
        order.append(pivot)
        remaining[pivot] = False
        rows = np.flatnonzero(rest[:, pivot] & remaining)
        cols = np.flatnonzero(rest[pivot] & remaining)
        filled[np.ix_(rows, cols)] = True
    return order, filled


def analyse(rows, cols, n_states: int) -> SparseLU:
    """The symbolic factorisation for Jacobian entries at ``(rows[k], cols[k])`` of ``n_states`` states."""
    rows = np.array(rows, dtype=np.int64)  # copies: the tables are handed to compiled code as they are
    cols = np.array(cols, dtype=np.int64)
    pattern = np.eye(n_states, dtype=bool)
    pattern[rows, cols] = True
    order, filled = _markowitz_order(pattern)
    position = np.empty(n_states, dtype=np.int64)
    position[order] = np.arange(n_states)
    permuted = filled[np.ix_(order, order)]
    slot = np.full((n_states, n_states), -1, dtype=np.int64)
    slot[permuted] = np.arange(int(permuted.sum()))  # row by row, in elimination order
    lower = [np.flatnonzero(permuted[p + 1:, p]) + p + 1 for p in range(n_states)]
    upper = [np.flatnonzero(permuted[p, p + 1:]) + p + 1 for p in range(n_states)]
    updates = [[(slot[i, j], slot[p, j]) for j in upper[p]] for p in range(n_states) for i in lower[p]]
    flat = [u for step in updates for u in step]
    formed = [[(slot[p, q], slot[q, p]) for q in range(p) if permuted[p, q] and permuted[q, p]]
              for p in range(n_states)]
    flat_formed = [u for pairs in formed for u in pairs]

    def pointers(lists):
        return np.cumsum([0] + [len(x) for x in lists]).astype(np.int64)

    def column(values, k):
        return np.array([v[k] for v in values], dtype=np.int64)

    tables = (np.asarray(order, dtype=np.int64), rows, cols, slot[position[rows], position[cols]],
              slot[np.arange(n_states), np.arange(n_states)],
              pointers(lower), np.concatenate([slot[lo, p] for p, lo in enumerate(lower)]).astype(np.int64),
              np.concatenate(lower).astype(np.int64),
              pointers(upper), np.concatenate([slot[p, up] for p, up in enumerate(upper)]).astype(np.int64),
              np.concatenate(upper).astype(np.int64),
              pointers(updates), column(flat, 0), column(flat, 1),
              pointers(formed), column(flat_formed, 0), column(flat_formed, 1))
    return SparseLU(n_states, int(permuted.sum()), tables)


@njit(cache=True)
def restricted_tables(t):
    """Room for :func:`restrict`'s tables of the tables ``t``: the number of active positions, the positions, then
    the lower, update and upper tables as in ``t``."""
    return (np.zeros(1, dtype=np.int64), np.empty_like(t[0]), np.empty_like(t[5]),
            np.empty_like(t[6]), np.empty_like(t[7]), np.empty(t[11].size, dtype=np.int64),
            np.empty_like(t[12]), np.empty_like(t[13]), np.empty_like(t[8]), np.empty_like(t[9]), np.empty_like(t[10]))


@njit(cache=True)
def restrict(frozen, tables, restricted):
    """Fill ``restricted`` (see :func:`restricted_tables`) with the elimination and solve tables of the states not
    ``frozen``: the active states' own matrix, whose pattern holds until the frozen states change (a frozen
    state's row and column are zero, and skipping them skips only products with zero)."""
    (order, _, _, _, _, lower_ptr, lower_slots, lower_rows, upper_ptr, upper_slots, upper_cols,
     update_ptr, update_targets, update_upper, _, _, _) = tables
    (size, positions, r_lower_ptr, r_lower_slots, r_lower_rows, r_update_ptr, r_update_targets, r_update_upper,
     r_upper_ptr, r_upper_slots, r_upper_cols) = restricted
    k = n_lower = n_update = n_upper = 0
    r_lower_ptr[0] = r_update_ptr[0] = r_upper_ptr[0] = 0
    for p in range(order.shape[0]):
        if frozen[order[p]]:
            continue
        positions[k] = p
        for e in range(lower_ptr[p], lower_ptr[p + 1]):
            if frozen[order[lower_rows[e]]]:
                continue
            r_lower_slots[n_lower] = lower_slots[e]
            r_lower_rows[n_lower] = lower_rows[e]
            for u in range(update_ptr[e], update_ptr[e + 1]):
                # The updates of a multiplier follow its pivot row's entries, one to one.
                if not frozen[order[upper_cols[upper_ptr[p] + u - update_ptr[e]]]]:
                    r_update_targets[n_update] = update_targets[u]
                    r_update_upper[n_update] = update_upper[u]
                    n_update += 1
            n_lower += 1
            r_update_ptr[n_lower] = n_update
        for e in range(upper_ptr[p], upper_ptr[p + 1]):
            if not frozen[order[upper_cols[e]]]:
                r_upper_slots[n_upper] = upper_slots[e]
                r_upper_cols[n_upper] = upper_cols[e]
                n_upper += 1
        k += 1
        r_lower_ptr[k] = n_lower
        r_upper_ptr[k] = n_upper
    size[0] = k


@njit(cache=True)
def factorise(values, frozen, diag, tables, restricted, lu, original):
    """Factorise ``diag * I - J`` (``J`` from the Jacobian's entries ``values``) of the active states into ``lu``
    over the fixed pattern, with the tables :func:`restrict` made for these frozen states; False where a pivot
    fails the guard (then factorise densely). ``original`` is work space of one value per state."""
    order, entry_rows, entry_cols, entry_slots, diagonal = tables[0], tables[1], tables[2], tables[3], tables[4]
    pivot_ptr, pivot_lower, pivot_upper = tables[14], tables[15], tables[16]
    size, positions, lower_ptr, lower_slots, _, update_ptr, update_targets, update_upper = restricted[:8]
    for s in range(lu.shape[0]):
        lu[s] = 0.0
    for k in range(values.shape[0]):
        if not (frozen[entry_rows[k]] or frozen[entry_cols[k]]):
            lu[entry_slots[k]] = -values[k]
    for k in range(size[0]):
        p = positions[k]
        lu[diagonal[p]] += diag
        original[p] = abs(lu[diagonal[p]])
    for k in range(size[0]):
        p = positions[k]
        pivot = lu[diagonal[p]]
        # What formed the pivot (a product with a frozen state's zero row or column adds nothing).
        formed = original[p]
        for e in range(pivot_ptr[p], pivot_ptr[p + 1]):
            formed += abs(lu[pivot_lower[e]] * lu[pivot_upper[e]])
        if not min(abs(pivot), original[p]) > PIVOT_TOLERANCE * formed:  # also a zero or NaN pivot
            return False
        inv = 1.0 / pivot
        for e in range(lower_ptr[k], lower_ptr[k + 1]):
            multiplier = lu[lower_slots[e]] * inv
            lu[lower_slots[e]] = multiplier
            for u in range(update_ptr[e], update_ptr[e + 1]):
                lu[update_targets[u]] -= multiplier * lu[update_upper[u]]
    return True


@njit(cache=True)
def solve(lu, tables, restricted, b, x):
    """Solve in place ``(LU) z = b`` for the active states (``b`` indexed by state; frozen states' entries are
    left alone) with the factors from :func:`factorise`; ``x`` is work space of one value per state."""
    order, diagonal = tables[0], tables[4]
    size, positions, lower_ptr, lower_slots, lower_rows = restricted[:5]
    upper_ptr, upper_slots, upper_cols = restricted[8], restricted[9], restricted[10]
    n = size[0]
    for k in range(n):
        p = positions[k]
        x[p] = b[order[p]]
    for k in range(n):
        xp = x[positions[k]]
        for e in range(lower_ptr[k], lower_ptr[k + 1]):
            x[lower_rows[e]] -= lu[lower_slots[e]] * xp
    for k in range(n - 1, -1, -1):
        p = positions[k]
        acc = x[p]
        for e in range(upper_ptr[k], upper_ptr[k + 1]):
            acc -= lu[upper_slots[e]] * x[upper_cols[e]]
        x[p] = acc / lu[diagonal[p]]
    for k in range(n):
        p = positions[k]
        b[order[p]] = x[p]
