"""The most work one scenario can ask for (README "Limits"): every schema ceiling at once, against the default
patient measured in the same run.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_ceiling.py

The ceiling patient has a 100-year follow-up, the most visits the schema admits (20,000) and 10,000 scheduled
ibrutinib doses; it runs until it dies (its age and CLL end it before 100 years).
"""

from __future__ import annotations

import resource
import sys
import time

import cartsim
from cartsim.io import Scenario
from cartsim.io._scenario import MAX_FOLLOW_UP_DAYS, MAX_SCHEDULED_DOSES, MAX_VISITS

_COURSE = {"drug": "ibrutinib", "day": -28, "dose": 420, "every_days": 1, "until_day": 2000 - 28 - 1}
CEILING = {
    "simulation": {"days": MAX_FOLLOW_UP_DAYS},
    "clinical": {"visits": [{"until_day": 30, "every_hours": 1},
                            {"until_day": MAX_FOLLOW_UP_DAYS, "every_hours": 24 * MAX_FOLLOW_UP_DAYS / 19_000},
                            {"every_hours": 720}]},
    "schedule": [_COURSE] * (MAX_SCHEDULED_DOSES // 2000),
}


def _seconds(scenario: Scenario) -> float:
    start = time.perf_counter()
    cartsim.simulate(scenario)
    return time.perf_counter() - start


def main() -> None:
    ceiling = Scenario.validated(CEILING)
    visits = ceiling.clinical.visit_count(ceiling.simulation.days)
    assert visits <= MAX_VISITS
    _seconds(Scenario())  # numba compilation, not timed
    default, worst = _seconds(Scenario()), _seconds(ceiling)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0)
    print(f"default patient (10 years): {default:.2f} s")
    print(f"ceiling patient ({visits} visits, {MAX_SCHEDULED_DOSES} doses, {MAX_FOLLOW_UP_DAYS} days): {worst:.2f} s "
          f"= {worst / default:.0f} x the default; peak memory {peak:.0f} MiB")


if __name__ == "__main__":
    main()
