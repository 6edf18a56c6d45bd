"""Cost of the clinical clock: the same patients with visits, grading, protocol and response, against the
bare engine integrating them in one call, measured in the same run.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_clinical.py                 # 400 patients, 1 and 10 years
    PYTHONPATH=src .venv/bin/python benchmarks/bench_clinical.py --n 1000 --days 3650

The patients are the toci-timing study's cohort (the default population) under the standard protocol. The bare engine gets the same
initial states, parameters, scheduled doses and seeds, but no visits (so no protocol doses either: it is the
floor the clock's overhead is measured against). Numba compilation is warmed up before timing.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np

from cartsim._batch import build_batch
from cartsim.clinical import Care, run_clinical, visit_days
from cartsim.io import Scenario
from cartsim._engine import integrate
from cartsim.studies._toci_timing import cohort


def _rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0)


def _time(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=400, help="patients (default 400)")
    parser.add_argument("--days", type=int, nargs="+", default=[365, 3650], help="follow-up(s) (default 365 3650)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the cohort")
    args = parser.parse_args(argv)

    warm = [Scenario.validated({**p, "protocol": "standard"}) for p in cohort(2, args.seed, 60)]
    run_clinical(build_batch(warm), Care.of(warm))
    print(f"{args.n} patients, standard protocol; patients/s (higher is better)")
    print(f"{'follow-up':>10} {'clinical clock':>15} {'bare engine':>12} {'clock / engine time':>20} {'visits':>7}")
    for days in args.days:
        scenarios = [Scenario.validated({**p, "protocol": "standard"}) for p in cohort(args.n, args.seed, days)]
        batch = build_batch(scenarios)
        outcome = {}
        clock = _time(lambda: outcome.setdefault("o", run_clinical(batch, Care.of(scenarios))))
        engine = _time(lambda: integrate(batch.y0, batch.params, np.array([float(days)]), doses=batch.doses,
                                         seeds=batch.seeds, t0=batch.t0))
        visits = visit_days(scenarios[0].clinical.visits, float(days)).size
        failed = int(outcome["o"].endpoints["solver_failed"].sum())
        print(f"{days:>8} d {args.n / clock:>15.0f} {args.n / engine:>12.0f} {clock / engine:>20.2f} {visits:>7}"
              + (f"  ({failed} solver failures)" if failed else ""))
    print(f"peak resident memory {_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
