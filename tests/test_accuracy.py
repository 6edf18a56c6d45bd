"""Accuracy of the engine against a tight scipy Radau reference of the same equations.

50 random patients (``scipy_reference.random_population``: tumour burden
1e10-1e12 per site, T-cell fitness, cytokine propensity, dose 1e7-1e9,
CD4 and memory fractions, co-stimulation, target, antigen-negative fraction,
some tocilizumab/corticosteroid doses), 3,650 days, deterministic mode.
The reference integrates the compiled kernel of each patient with
``solve_ivp(method="Radau", rtol=1e-10)`` and absolute tolerances a million
times below the engine's, piecewise between dose times with the same
boluses. Every cell population above 100 cells in the reference must agree to
a relative error below 1e-3 at days 7, 28, 365 and 3650, with the engine at
its default rtol (1e-6) and asked for daily output as users do (its
checkpoints are dense-output values). Below 100 cells the stochastic layer takes a population in a
default run (it does below 1e4), and the effectors' burst counts (divisions per effector, regularised by one
cell) make the last digits of a population of a few cells the engine's absolute tolerance's.

The patients are split in groups so that pytest-xdist (``-n 2``) can share
them across cores.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy_reference import (CELL_POPULATIONS, ENGINE_ATOL, first_day, patient_doses, patient_start, random_batch,
                             solve_scipy, sub_batch)

from cartsim.model import STATE_NAMES
from cartsim._engine import integrate
from cartsim.solver import Result, SolverOptions

N_PATIENTS = 50
N_GROUPS = 5
SEED = 20240601
CHECK_DAYS = np.array([7.0, 28.0, 365.0, 3650.0])
MAX_RELATIVE_ERROR = 1e-3
#: The engine's default rtol (1e-6) meets MAX_RELATIVE_ERROR here: the worst errors are on populations of a few
#: hundred cells, where the engine's absolute tolerance (1e-5 cells) dominates; above 1e3 cells they are ~5e-5.
ENGINE_OPTIONS = SolverOptions(stochastic=False)
REFERENCE_RTOL = 1e-10
REFERENCE_ATOL = ENGINE_ATOL * 1e-6


@pytest.fixture(scope="module")
def population():
    return random_batch(N_PATIENTS, SEED)


def relative_errors(engine: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """|engine - reference| / reference where the reference is above 100 cells, else 0."""
    counted = reference > 100.0
    return np.where(counted, np.abs(engine - reference) / np.where(counted, reference, 1.0), 0.0)


@pytest.mark.parametrize("group", range(N_GROUPS))
def test_engine_matches_radau_reference(population, group):
    patients = np.arange(group, N_PATIENTS, N_GROUPS)
    days = np.arange(first_day(population), CHECK_DAYS[-1] + 1.0)
    rows = np.searchsorted(days, CHECK_DAYS)
    group_batch = sub_batch(population, patients)
    solution = integrate(group_batch.y0, group_batch.params, days, doses=group_batch.doses, seeds=group_batch.seeds,
                         t0=group_batch.t0, options=ENGINE_OPTIONS)
    engine_failures = {int(i): Result(int(r)).message for i, r in zip(patients, solution.result) if r != 0}
    assert not engine_failures, f"engine failed for patients {engine_failures}"

    problems = []
    for k, i in enumerate(patients):
        ref = solve_scipy(population.y0[i], population.params[i], patient_doses(population, i),
                          patient_start(population, i), CHECK_DAYS, method="Radau", rtol=REFERENCE_RTOL,
                          atol=REFERENCE_ATOL)
        if not ref.success:
            problems.append(f"patient {i}: the Radau reference failed ({ref.message})")
            continue
        engine = solution.values[k][np.ix_(rows, CELL_POPULATIONS)]
        reference = ref.values[:, CELL_POPULATIONS]
        errors = relative_errors(engine, reference)
        for d, s in zip(*np.nonzero(errors >= MAX_RELATIVE_ERROR)):
            problems.append(f"patient {i} day {CHECK_DAYS[d]:g} {STATE_NAMES[CELL_POPULATIONS[s]]}: "
                            f"engine {engine[d, s]:.6g} reference {reference[d, s]:.6g} "
                            f"relative error {errors[d, s]:.2e}")
    assert not problems, "\n".join(problems)
