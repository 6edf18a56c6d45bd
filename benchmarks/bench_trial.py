"""Throughput of a virtual trial with the clinical layer over 10 years, at two sizes, with peak memory and the
extrapolated time for 1,000,000 patients on this machine.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_trial.py                     # 250 and 1000 patients per arm
    PYTHONPATH=src .venv/bin/python benchmarks/bench_trial.py --sizes 500 2000 --workers 2

Runs scenarios/trials/cd28_vs_41bb.yaml (two arms, standard protocol, 3650 days) through ``run_trial`` into a
temporary folder: population sampling, scenario building, the clinical clock, Parquet streaming. Both sizes run
in the same process after a warm-up, so their ratio shows whether throughput holds as N grows; peak memory is
the process's resident high-water mark after each size. The analysis (KM, Cox, responder model) is timed apart.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from cartsim.trial import load_trial, run_trial, write_trial_outputs

TRIAL = Path(__file__).resolve().parents[1] / "scenarios" / "trials" / "cd28_vs_41bb.yaml"
MILLION = 1_000_000


def _rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[250, 1000], help="patients per arm (two sizes)")
    parser.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    parser.add_argument("--chunk-size", type=int, default=250, help="patients per chunk (default 250)")
    args = parser.parse_args(argv)
    trial = load_trial(TRIAL)
    arms = len(trial.arms)
    with tempfile.TemporaryDirectory() as folder:
        run_trial(trial, Path(folder, "warm-up"), n=4, chunk_size=4)
        print(f"{TRIAL.name}: {arms} arms, {trial.follow_up_days} days, workers={args.workers}, "
              f"chunk={args.chunk_size}")
        print(f"{'patients':>9} {'seconds':>8} {'patients/s':>11} {'peak RSS MiB':>13} {'analysis s':>11}")
        rates = []
        for size in args.sizes:
            out = Path(folder, f"n{size}")
            start = time.perf_counter()
            patients = run_trial(trial, out, n=size, chunk_size=args.chunk_size, workers=args.workers)
            seconds = time.perf_counter() - start
            start = time.perf_counter()
            write_trial_outputs(patients, trial, out)
            analysis = time.perf_counter() - start
            rates.append(size * arms / seconds)
            print(f"{size * arms:>9} {seconds:>8.1f} {rates[-1]:>11.1f} {_rss_mib():>13.0f} {analysis:>11.1f}")
    print(f"throughput ratio (larger / smaller size): {rates[1] / rates[0]:.2f}")
    hours = MILLION / rates[1] / 3600
    print(f"extrapolated: 1,000,000 patients x {trial.follow_up_days} days in {hours:.1f} h on this machine "
          f"({MILLION / rates[1] / 60:.0f} min; aim 15 min)")


if __name__ == "__main__":
    main()
