"""A random virtual CLL population and a scipy ``solve_ivp`` reference of the same equations.

Shared by ``tests/test_accuracy.py`` and ``benchmarks/bench_engine.py``.
The reference calls the model kernel (compiled, or its plain-Python
``py_func``) for one patient and applies the same bolus doses as the
engine by integrating piecewise between dose times.
"""

from __future__ import annotations

import types
from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

from cartsim._batch import Batch, build_batch
from cartsim.io import Scenario
from cartsim.model import N_CELL_STATES, STATE_TABLE, State, derivatives

#: Cell populations whose accuracy is checked: the stochastic-eligible ones plus host T cells and neutrophils.
CELL_POPULATIONS = np.array(list(range(N_CELL_STATES)) + [int(State.host_t_cells), int(State.neutrophils)])

ENGINE_ATOL = np.array([s.atol for s in STATE_TABLE])  #: the engine's absolute tolerances


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(10.0 ** rng.uniform(np.log10(low), np.log10(high)))


def random_scenario(rng: np.random.Generator, index: int = 0) -> Scenario:
    """One realistic relapsed/refractory CLL patient and product, drawn from ``rng``.

    Tumour burden per site is log-uniform over ~1e10-1e12 cells; blood is kept
    within the range where the trafficking-equilibrium egress rates stay inside
    their parameter bounds (egress <= 2/day). About a third of the patients get
    tocilizumab and a fifth a corticosteroid in the first two weeks (never on
    an accuracy checkpoint day).
    """
    marrow = _log_uniform(rng, 1e10, 1e12)
    node = _log_uniform(rng, 1e10, 1e12)
    blood = _log_uniform(rng, 1e10, min(1e12, 19.0 * marrow, 6.5 * node))
    schedule = []
    if rng.random() < 0.35:
        schedule.append({"drug": "tocilizumab", "day": float(rng.choice([2.5, 4.0, 5.5, 8.5, 10.0])),
                         "dose": float(rng.uniform(400.0, 800.0))})
    if rng.random() < 0.2:
        schedule.append({"drug": "corticosteroid", "day": float(rng.choice([3.0, 5.0, 6.0, 9.0])),
                         "dose": float(rng.uniform(10.0, 40.0))})
    return Scenario.model_validate({
        "name": f"virtual-{index}",
        "patient": {
            "tumor": {"blood_cells": blood, "marrow_cells": marrow, "node_cells": node,
                      "antigen_negative_fraction": float(rng.uniform(0.0, 1e-3))},
            "tcell_fitness": float(rng.uniform(0.3, 2.0)),
            "cytokine_propensity": _log_uniform(rng, 0.3, 3.0),
            "normal_b_cells": _log_uniform(rng, 5e8, 2e10),
        },
        "product": {
            "dose_cells": _log_uniform(rng, 1e7, 1e9),
            "cd4_fraction": float(rng.uniform(0.2, 0.8)),
            "memory_fraction": float(rng.uniform(0.05, 0.6)),
            "senescent_fraction": float(rng.uniform(0.0, 0.2)),
            "costimulation": str(rng.choice(["4-1BB", "CD28"])),
            "target": str(rng.choice(["CD19", "ROR1"], p=[0.8, 0.2])),
        },
        "schedule": schedule,
        "simulation": {"seed": index},
    })


def random_population(n: int, seed: int = 20240601) -> list[Scenario]:
    """``n`` random patients from a seeded numpy Generator (reproducible)."""
    rng = np.random.default_rng(seed)
    return [random_scenario(rng, i) for i in range(n)]


def random_batch(n: int, seed: int = 20240601) -> Batch:
    return build_batch(random_population(n, seed))


def sub_batch(batch: Batch, rows) -> Batch:
    """The patients ``rows`` (a slice or index array) of ``batch``, as a batch of their own."""
    return batch.take(np.arange(batch.y0.shape[0])[rows])


def patient_start(batch: Batch, i: int) -> float:
    """Patient ``i``'s start day (``Batch.t0`` is one number or one per patient)."""
    return float(batch.t0[i] if np.ndim(batch.t0) else batch.t0)


def first_day(batch: Batch) -> float:
    """The first whole day at or before every patient's start: where daily output begins."""
    return float(np.floor(np.min(batch.t0)))


def patient_doses(batch: Batch, i: int) -> list[tuple[float, int, float]]:
    """Patient ``i``'s doses as sorted ``(day, state, amount)`` tuples, as the engine sees them."""
    k = int(batch.doses.counts[i])
    return [(float(t), int(s), float(a)) for t, s, a in
            zip(batch.doses.times[i, :k], batch.doses.states[i, :k], batch.doses.amounts[i, :k])]


def plain_python(function):
    """A compiled kernel function as plain Python that calls its helpers as plain Python too (the kernel is
    split into compiled mechanisms; ``py_func`` alone would still call them compiled): the model as a
    modeller writing it for scipy would have it."""
    namespace = dict(function.py_func.__globals__)
    for name, value in list(namespace.items()):
        if hasattr(value, "py_func") and value.py_func.__module__ == function.py_func.__module__:
            namespace[name] = types.FunctionType(value.py_func.__code__, namespace, name)
    return types.FunctionType(function.py_func.__code__, namespace, function.py_func.__name__)


@dataclass
class ReferenceRHS:
    """``fun(t, y)`` for solve_ivp: the model kernel for one patient, compiled or plain Python."""

    params: np.ndarray
    compiled: bool = True

    def __post_init__(self):
        self.params = np.ascontiguousarray(self.params, dtype=np.float64)
        self._kernel = derivatives if self.compiled else plain_python(derivatives)
        self._birth = np.empty(N_CELL_STATES)
        self._loss = np.empty(N_CELL_STATES)

    def __call__(self, t, y):
        dy = np.empty_like(y)
        self._kernel(y, self.params, dy, self._birth, self._loss)
        return dy


@dataclass
class ReferenceSolution:
    values: np.ndarray  # [len(times), n_states]
    nfev: int
    success: bool
    message: str


def solve_scipy(y0, params, doses, t0, times, *, method="Radau", rtol=1e-10, atol=None,
                compiled=True) -> ReferenceSolution:
    """Integrate one patient with scipy, applying ``doses`` (``(day, state, amount)``) as boluses.

    Like the engine, doses at ``t0`` are given first, an output at a dose time is
    the state after the dose, and outputs before ``t0`` show the untreated ``y0``.
    ``atol`` defaults to the engine's absolute tolerances. The implicit methods
    form their Jacobian by scipy's own finite differences of ``fun``.
    """
    times = np.asarray(times, dtype=np.float64)
    rhs = ReferenceRHS(params, compiled=compiled)
    options = {"rtol": rtol, "atol": ENGINE_ATOL if atol is None else atol}
    y = np.array(y0, dtype=np.float64)
    t = float(t0)
    t_end = float(times[-1])
    out = np.full((times.size, y.size), np.nan)
    out[times < t] = y
    pending = sorted(doses, key=lambda d: d[0])
    nfev = 0
    while True:
        while pending and pending[0][0] <= t:
            _, state, amount = pending.pop(0)
            y[state] += amount
        if t >= t_end:
            out[times == t_end] = y
            return ReferenceSolution(out, nfev, True, "ok")
        stop = min(pending[0][0], t_end) if pending else t_end
        inside = (times >= t) & (times < stop)
        out[inside & (times == t)] = y
        # Also evaluate at the segment end: the state the next doses are added to.
        t_eval = np.append(times[inside & (times > t)], stop)
        sol = solve_ivp(rhs, (t, stop), y, method=method, t_eval=t_eval, **options)
        nfev += sol.nfev
        if not sol.success:
            return ReferenceSolution(out, nfev, False, f"segment from day {t}: {sol.message}")
        out[inside & (times > t)] = sol.y[:, :-1].T
        y = sol.y[:, -1].copy()
        t = stop
