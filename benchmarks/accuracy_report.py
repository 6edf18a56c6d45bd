"""Worst relative errors of the engine against the Radau reference of ``tests/test_accuracy.py``.

    PYTHONPATH=src .venv/bin/python benchmarks/accuracy_report.py

Same 50 patients, days, tolerances and reference as the test, which only
asserts the 1e-3 bound; this prints how far below it the engine is.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from scipy_reference import CELL_POPULATIONS, first_day, patient_doses, patient_start, random_batch, solve_scipy  # noqa: E402
from test_accuracy import (CHECK_DAYS, ENGINE_OPTIONS, N_PATIENTS, REFERENCE_ATOL, REFERENCE_RTOL, SEED,  # noqa: E402
                           relative_errors)

from cartsim.model import STATE_NAMES  # noqa: E402
from cartsim._engine import integrate  # noqa: E402


def main() -> None:
    population = random_batch(N_PATIENTS, SEED)
    days = np.arange(first_day(population), CHECK_DAYS[-1] + 1.0)
    rows = np.searchsorted(days, CHECK_DAYS)
    solution = integrate(population.y0, population.params, days, doses=population.doses, seeds=population.seeds,
                         t0=population.t0, options=ENGINE_OPTIONS)
    worst, where, worst_large = 0.0, "", 0.0
    for i in range(N_PATIENTS):
        reference = solve_scipy(population.y0[i], population.params[i], patient_doses(population, i),
                                patient_start(population, i), CHECK_DAYS, method="Radau", rtol=REFERENCE_RTOL,
                                atol=REFERENCE_ATOL).values[:, CELL_POPULATIONS]
        errors = relative_errors(solution.values[i][np.ix_(rows, CELL_POPULATIONS)], reference)
        d, s = np.unravel_index(np.argmax(errors), errors.shape)
        if errors[d, s] > worst:
            worst = errors[d, s]
            where = (f"patient {i}, day {CHECK_DAYS[d]:g}, {STATE_NAMES[CELL_POPULATIONS[s]]} "
                     f"({reference[d, s]:.3g} cells)")
        worst_large = max(worst_large, np.where(reference > 1e3, errors, 0.0).max())
    print(f"engine rtol {ENGINE_OPTIONS.rtol:g}, {N_PATIENTS} patients, days {CHECK_DAYS.astype(int).tolist()}")
    print(f"worst relative error, populations > 1 cell  : {worst:.2e} at {where}")
    print(f"worst relative error, populations > 1e3 cells: {worst_large:.2e}")
    print(f"mean steps per patient: {solution.steps.mean():.0f}")


if __name__ == "__main__":
    main()
