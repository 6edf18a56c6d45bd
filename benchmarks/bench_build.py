"""Cost of building a trial arm before integration: the patient table and the arm's treatment as arrays
(:func:`cartsim.trial.arm_batch`, what trials run) against one validated Scenario per patient stacked by
:func:`cartsim._batch.build_batch` (the per-patient form, what trials ran before), measured in the same run.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_build.py              # 1000 patients
    PYTHONPATH=src .venv/bin/python benchmarks/bench_build.py --n 10000

Both give the same batch bit for bit (tests/test_trial.py); only the time differs.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from cartsim._batch import build_batch
from cartsim.patient import sample_population
from cartsim.trial import arm_batch, load_trial

TRIAL = Path(__file__).resolve().parents[1] / "scenarios" / "trials" / "cd28_vs_41bb.yaml"


def _best(f, repeats: int) -> float:
    """The fastest of ``repeats`` calls (s): the least disturbed by other work on the machine."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="patients (default 1000)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls of each (default 5)")
    args = parser.parse_args(argv)

    trial = load_trial(TRIAL)
    arm = trial.arms[0]
    patients = sample_population(trial.population, args.n, trial.seed)
    arrays = _best(lambda: arm_batch(arm, patients), args.repeats)
    scenarios = _best(lambda: build_batch([trial.scenario(arm, row) for row in patients.itertuples(index=False)]),
                      args.repeats)
    print(f"{args.n} patients of arm '{arm.name}': build time (lower is better)")
    print(f"  patient table + arm (arrays):    {arrays * 1e3:8.1f} ms")
    print(f"  one Scenario per patient:        {scenarios * 1e3:8.1f} ms")
    print(f"  ratio per-patient / arrays:      {scenarios / arrays:8.1f}x")


if __name__ == "__main__":
    main()
