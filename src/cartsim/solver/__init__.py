"""Batched stiff integration of a right-hand side: ``y[n_patients, n_states]`` over time.

The solver names no model: :func:`make_integrator` takes the right-hand side (a numba-compiled
``derivatives(y, p, dydt, birth, loss)``, see :func:`._specialise.derivatives`), optionally its
analytic :class:`SparseJacobian`, and its state scales, and returns an :class:`Integrator` compiled
for them, as diffrax's ``diffeqsolve`` takes its vector field as an ``ODETerm``.

>>> from cartsim.solver import make_integrator, SolverOptions
>>> integrator = make_integrator(derivatives, n_params=2, atol=atol, typical=typical)   # doctest: +SKIP
>>> solution = integrator.integrate(y0, params, days, doses=doses, seeds=seeds)        # doctest: +SKIP
>>> solution.values.shape                                                              # doctest: +SKIP
(n_patients, len(days), n_states)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Callable, Sequence

import numpy as np

from . import _integrate, _rodas
from ._integrate import MAX_STEPS_REACHED, NON_FINITE, STEP_SIZE_TOO_SMALL, SUCCESS, sync_size
from ._sparse_lu import SparseLU, analyse
from ._specialise import specialise

__all__ = ["Doses", "Integrator", "Result", "Solution", "SolverOptions", "SparseJacobian", "make_integrator"]


class Result(IntEnum):
    """Outcome of one patient's integration; a failed patient is reported, the batch goes on."""

    successful = SUCCESS
    max_steps_reached = MAX_STEPS_REACHED
    step_size_too_small = STEP_SIZE_TOO_SMALL
    non_finite = NON_FINITE

    @property
    def message(self) -> str:
        return {
            Result.successful: "integration reached the last output time",
            Result.max_steps_reached: "the step budget ran out: increase SolverOptions.max_steps",
            Result.step_size_too_small: "the step size underflowed: the model is too stiff or discontinuous here",
            Result.non_finite: "the model produced NaN or infinity",
        }[self]


@dataclass(frozen=True, kw_only=True)
class SolverOptions:
    """Tolerances and stochastic-layer settings, validated at construction.

    ``rtol`` is relative; absolute tolerances are the integrator's (for the in-vivo model, its state
    table: 1e-5 cells for populations) times ``atol_scale``. The stochastic layer
    takes over cell populations below ``threshold`` cells. ``sparse_lu`` factorises the iteration
    matrix over the analytic Jacobian's fixed pattern (:mod:`._sparse_lu`; a step whose pivots fail its
    guard, and a right-hand side without an analytic Jacobian, are factorised densely). It is off by
    default because, for the in-vivo model, it was measured slower per step than the dense LU with
    partial pivoting (whose elimination already skips zeros and runs on the active states alone).
    """

    rtol: float = 1e-6
    atol_scale: float = 1.0
    stochastic: bool = True
    threshold: float = 1e4
    sync_fraction: float = 0.25
    sync_min_days: float = 0.5
    sync_max_days: float = 91.0
    max_steps: int = 200_000
    initial_step_days: float = 1e-3
    sparse_lu: bool = False

    def __post_init__(self):
        # Check tolerances
        if not 1e-14 <= self.rtol <= 1e-1:
            raise ValueError(f"SolverOptions.rtol must be within [1e-14, 0.1]; got {self.rtol!r}.")
        if not self.atol_scale > 0:
            raise ValueError(f"SolverOptions.atol_scale must be > 0; got {self.atol_scale!r}.")
        # Check the stochastic layer
        if not self.threshold >= 1:
            raise ValueError(f"SolverOptions.threshold must be >= 1 cell; got {self.threshold!r}.")
        if not 0 < self.sync_min_days <= self.sync_max_days:
            raise ValueError("SolverOptions needs 0 < sync_min_days <= sync_max_days; "
                             f"got {self.sync_min_days!r} and {self.sync_max_days!r}.")
        if not self.sync_fraction >= 0:
            raise ValueError(f"SolverOptions.sync_fraction must be >= 0; got {self.sync_fraction!r}.")
        if not (np.isfinite(self.initial_step_days) and self.initial_step_days > 0):
            raise ValueError(f"SolverOptions.initial_step_days must be > 0; got {self.initial_step_days!r}.")
        if not self.max_steps >= 1:
            raise ValueError(f"SolverOptions.max_steps must be >= 1; got {self.max_steps!r}.")


@dataclass(frozen=True)
class Doses:
    """Per-patient bolus doses: at ``times[i, k]`` add ``amounts[i, k]`` to state ``states[i, k]``.

    Only the first ``counts[i]`` entries of row ``i`` are used; they are sorted by time. State indices
    are checked against the model by :meth:`Integrator.integrate`.
    """

    times: np.ndarray
    states: np.ndarray
    amounts: np.ndarray
    counts: np.ndarray

    def take(self, rows) -> "Doses":
        """The doses of the patients ``rows`` (indices or a mask)."""
        return Doses(self.times[rows], self.states[rows], self.amounts[rows], self.counts[rows])

    @classmethod
    def from_lists(cls, per_patient: Sequence[Sequence[tuple[float, int, float]]]) -> "Doses":
        """Build from one list of ``(day, state_index, amount)`` per patient."""
        n = len(per_patient)
        width = max([len(d) for d in per_patient] + [1])
        times = np.full((n, width), np.inf)
        states = np.zeros((n, width), dtype=np.int64)
        amounts = np.zeros((n, width))
        for i, doses in enumerate(per_patient):
            for k, dose in enumerate(doses):
                times[i, k], states[i, k], amounts[i, k] = dose
        given = np.arange(width) < np.array([len(d) for d in per_patient], dtype=np.int64)[:, None]
        return cls.from_slots(times, states, amounts, given)

    @classmethod
    def from_slots(cls, times: np.ndarray, states: np.ndarray, amounts: np.ndarray,
                   given: np.ndarray) -> "Doses":
        """Build from slots ``[patient, slot]`` of which the ``given`` ones are doses: each patient's doses
        move to the front, sorted by time (stably, so doses of one time keep their slot order)."""
        given = np.asarray(given, dtype=bool)
        bad_day = given & ~np.isfinite(times)
        if bad_day.any():
            raise ValueError(f"dose day must be a finite number; got {times[bad_day][0]!r}.")
        bad_state = given & ~(states >= 0)
        if bad_state.any():
            raise ValueError(f"dose state index must be >= 0; got {states[bad_state][0]!r}.")
        bad_amount = given & ~(np.isfinite(amounts) & (amounts >= 0))
        if bad_amount.any():
            raise ValueError(f"dose amount must be a finite number >= 0; got {amounts[bad_amount][0]!r}.")
        # One empty slot more, so that a batch without any dose still has rows of width 1.
        pad = lambda a, value: np.pad(a, ((0, 0), (0, 1)), constant_values=value)  # noqa: E731
        times, states, amounts, given = pad(times, np.inf), pad(states, 0), pad(amounts, 0.0), pad(given, False)
        order = np.argsort(np.where(given, times, np.inf), axis=1, kind="stable")
        counts = given.sum(axis=1).astype(np.int64)
        width = max(int(counts.max(initial=0)), 1)
        used = np.arange(width) < counts[:, None]
        take = lambda a: np.take_along_axis(a, order, axis=1)[:, :width]  # noqa: E731
        return cls(np.where(used, take(times), np.inf), np.where(used, take(states), 0).astype(np.int64),
                   np.where(used, take(amounts), 0.0), counts)

    @classmethod
    def none(cls, n_patients: int) -> "Doses":
        return cls.from_lists([[] for _ in range(n_patients)])


@dataclass(frozen=True)
class Solution:
    """Dense output ``values[patient, time, state]`` at ``times`` (days) for ``state_indices``."""

    times: np.ndarray
    values: np.ndarray
    state_indices: np.ndarray
    result: np.ndarray = field(repr=False)
    steps: np.ndarray = field(repr=False)
    next_steps: np.ndarray = field(repr=False)  # step size (days) each patient would take next
    sync_state: np.ndarray | None = field(default=None, repr=False)  # open stochastic intervals, if carried

    @property
    def successful(self) -> np.ndarray:
        return self.result == Result.successful


def _check_doses(doses: Doses, starts: np.ndarray, n_states: int) -> None:
    """One row per patient, none before the patient's start, each into one of the ``n_states`` states."""
    n = starts.size
    if doses.times.shape[0] != n:
        raise ValueError(f"doses must have one row per patient ({n}); got {doses.times.shape[0]}.")
    given = np.arange(doses.times.shape[1]) < doses.counts[:, None]
    first = np.where(given, doses.times, np.inf).min(axis=1)
    early = np.nonzero(first < starts)[0]
    if early.size:
        i = early[0]
        raise ValueError(f"patient {i}: a dose at day {first[i]} comes before its start t0={starts[i]}.")
    if np.any(given & ((doses.states < 0) | (doses.states >= n_states))):
        raise ValueError(f"dose state indices must be within [0, {n_states}).")


@dataclass(frozen=True, eq=False)
class SparseJacobian:
    """A right-hand side's analytic Jacobian: the numba function ``entries(y, p, values)`` fills
    ``values[k] = d dydt[rows[k]] / d y[cols[k]]``, the non-zero entries in a fixed pattern."""

    entries: Callable
    rows: np.ndarray
    cols: np.ndarray


#: The symbolic factorisation the compiled integrator is handed when it factorises densely (it goes unused).
_NO_PATTERN = analyse(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), 1)


@functools.cache
def _compiled(derivatives: Callable, jacobian: SparseJacobian | None) -> Callable:
    """The batch integrator specialised for ``derivatives`` (and its Jacobian), made (and loaded from numba's
    cache) once."""
    parts = None if jacobian is None else (jacobian.entries, jacobian.rows, jacobian.cols)
    return specialise(derivatives, (_rodas, _integrate), parts)["integrate_batch"]


@dataclass(frozen=True, eq=False)
class Integrator:
    """The batched RODAS5 integrator of one right-hand side, with its state scales; see :func:`make_integrator`."""

    derivatives: Callable
    n_params: int
    n_cells: int
    atol: np.ndarray = field(repr=False)
    typical: np.ndarray = field(repr=False)
    _batch: Callable = field(repr=False)
    sparse_lu: SparseLU | None = field(default=None, repr=False)  # of the analytic Jacobian's pattern

    @property
    def n_states(self) -> int:
        return self.atol.size

    @property
    def sync_size(self) -> int:
        """Length of one patient's saved stochastic interval (see :meth:`integrate`)."""
        return sync_size(self.n_cells)

    def integrate(self, y0: np.ndarray, params: np.ndarray, times: np.ndarray, *, doses: Doses | None = None,
                  seeds: np.ndarray | None = None, t0: float | np.ndarray | None = None,
                  options: SolverOptions = SolverOptions(), state_indices: Sequence[int] | None = None,
                  dtype=np.float64, initial_steps: np.ndarray | None = None,
                  sync_state: np.ndarray | None = None) -> Solution:
        """Integrate a batch of patients and return the dense output at ``times``.

        ``y0[n, n_states]`` is each patient's state at its start ``t0`` (a number or one per
        patient; default ``times[0]``); output times before a patient's start show that state.
        ``params[n, n_params]`` are the parameters and ``seeds[n]`` fix each patient's stochastic
        draws (default: patient index). Doses at the start are given before the output at that time.
        ``initial_steps[n]`` (days) replace ``options.initial_step_days`` per patient, e.g. with
        ``next_steps`` of the solution a continuation follows on from. ``sync_state[n, sync_size]``
        carries open stochastic intervals across calls: pass ``new_sync_state(n)`` to the first call
        and each solution's ``sync_state`` to the next (without it, an interval still open at the last
        output time is closed there).
        """
        y0 = np.ascontiguousarray(y0, dtype=np.float64)
        params = np.ascontiguousarray(params, dtype=np.float64)
        times = np.ascontiguousarray(times, dtype=np.float64)
        n = y0.shape[0] if y0.ndim == 2 else -1
        # Check states and parameters
        if y0.ndim != 2 or y0.shape[1] != self.n_states:
            raise ValueError(f"y0 must have shape (n_patients, {self.n_states}); got {y0.shape}.")
        if not (np.all(np.isfinite(y0)) and np.all(y0 >= 0)):
            raise ValueError("y0 must be finite and >= 0 (cells, concentrations and fractions).")
        if params.shape != (n, self.n_params):
            raise ValueError(f"params must have shape ({n}, {self.n_params}); got {params.shape}.")
        if not np.all(np.isfinite(params)):
            raise ValueError("params must be finite.")
        # Check times
        if times.ndim != 1 or times.size == 0 or not np.all(np.isfinite(times)) or np.any(np.diff(times) <= 0):
            raise ValueError("times must be a non-empty, finite, strictly increasing 1-D array.")
        starts = np.broadcast_to(np.asarray(times[0] if t0 is None else t0, dtype=np.float64), (n,)).copy()
        if not np.all(np.isfinite(starts)) or np.any(starts > times[-1]):
            raise ValueError(f"t0 must be finite and not after the last output time ({times[-1]}).")
        # Check doses, seeds and outputs
        doses = Doses.none(n) if doses is None else doses
        _check_doses(doses, starts, self.n_states)
        seeds = np.arange(n, dtype=np.uint64) if seeds is None else np.asarray(seeds, dtype=np.uint64)
        if seeds.shape != (n,):
            raise ValueError(f"seeds must have shape ({n},); got {seeds.shape}.")
        out_states = np.arange(self.n_states) if state_indices is None else np.asarray(state_indices, dtype=np.int64)
        if out_states.ndim != 1 or np.any(out_states < 0) or np.any(out_states >= self.n_states):
            raise ValueError(f"state_indices must be indices within [0, {self.n_states}).")

        if initial_steps is None:
            h = np.full(n, options.initial_step_days)
        else:
            h = np.array(initial_steps, dtype=np.float64)
            if h.shape != (n,) or not np.all(np.isfinite(h) & (h > 0)):
                raise ValueError(f"initial_steps must be {n} finite step sizes > 0 (days).")
        carry = sync_state is not None
        sync = self.new_sync_state(n) if sync_state is None else np.array(sync_state, dtype=np.float64)
        if sync.shape != (n, self.sync_size):
            raise ValueError(f"sync_state must have shape ({n}, {self.sync_size}); got {sync.shape}.")
        out = np.zeros((n, times.size, out_states.size), dtype=dtype)
        result = np.zeros(n, dtype=np.int64)
        steps = np.zeros(n, dtype=np.int64)
        on_pattern = options.sparse_lu and self.sparse_lu is not None
        lu = self.sparse_lu if on_pattern else _NO_PATTERN  # (the integrator's room for the factors is its size)
        self._batch(y0, params, seeds, starts, times, out, out_states, doses.times, doses.states,
                    doses.amounts, doses.counts, options.rtol, self.atol * options.atol_scale, self.typical,
                    self.n_cells, options.stochastic, options.threshold, options.sync_fraction,
                    options.sync_min_days, options.sync_max_days, options.max_steps, h, result, steps, sync, carry,
                    on_pattern, lu.tables, lu.n_slots)
        return Solution(times, out, out_states, result, steps, h, sync if carry else None)

    def new_sync_state(self, n: int) -> np.ndarray:
        """Stochastic-interval state for ``n`` patients with no interval open (see :meth:`integrate`)."""
        return np.full((n, self.sync_size), np.inf)


def make_integrator(derivatives: Callable, *, n_params: int, atol: Sequence[float], typical: Sequence[float],
                    n_cells: int = 0, jacobian: SparseJacobian | None = None) -> Integrator:
    """An :class:`Integrator` of ``dy/dt = derivatives(y, p)``, compiled for this right-hand side.

    ``derivatives(y, p, dydt, birth, loss)`` is a numba ``@njit`` function (see
    :func:`cartsim.solver._specialise.derivatives` for its protocol) of ``len(atol)`` states and
    ``n_params`` parameters. ``atol`` are the absolute tolerances of the states (in their units) and
    ``typical`` their magnitudes, which scale the finite-difference Jacobian used when no analytic
    ``jacobian`` is given. The stochastic layer may take the first ``n_cells`` states (cell counts),
    with the birth and loss rates the right-hand side reports for them. The compiled code is made once
    per right-hand side and kept in numba's on-disk cache.
    """
    if not hasattr(derivatives, "py_func"):
        raise TypeError(f"derivatives must be a numba @njit function; got {derivatives!r}.")
    atol = np.array(atol, dtype=np.float64)
    typical = np.array(typical, dtype=np.float64)
    if atol.ndim != 1 or atol.size == 0 or not np.all(np.isfinite(atol) & (atol > 0)):
        raise ValueError("atol must be a non-empty 1-D array of finite tolerances > 0, one per state.")
    if typical.shape != atol.shape or not np.all(np.isfinite(typical) & (typical > 0)):
        raise ValueError(f"typical must hold {atol.size} finite magnitudes > 0, one per state.")
    if not 0 <= n_cells <= atol.size:
        raise ValueError(f"n_cells must be within [0, {atol.size}]; got {n_cells!r}.")
    if not n_params >= 0:
        raise ValueError(f"n_params must be >= 0; got {n_params!r}.")
    if jacobian is not None:
        if not hasattr(jacobian.entries, "py_func"):
            raise TypeError(f"jacobian.entries must be a numba @njit function; got {jacobian.entries!r}.")
        rows, cols = np.asarray(jacobian.rows), np.asarray(jacobian.cols)
        if rows.shape != cols.shape or rows.ndim != 1 or np.any((rows < 0) | (rows >= atol.size)) \
                or np.any((cols < 0) | (cols >= atol.size)):
            raise ValueError(f"jacobian.rows and jacobian.cols must be equal-length state indices within "
                             f"[0, {atol.size}).")
        lu = analyse(rows, cols, atol.size)  # the symbolic factorisation, once
    else:
        lu = None
    return Integrator(derivatives, n_params, n_cells, atol, typical, _compiled(derivatives, jacobian), lu)
