"""Throughput of a virtual trial with the clinical layer over 10 years, at two sizes, on one process and on one
process per core (the default of ``cartsim trial``), with peak memory and the extrapolated time for 1,000,000
patients on this machine.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_trial.py                     # 250 and 1000 patients per arm
    PYTHONPATH=src .venv/bin/python benchmarks/bench_trial.py --sizes 100 400 --workers 1 2 --dask

Runs scenarios/trials/cd28_vs_41bb.yaml (two arms, standard protocol, 3650 days) through ``run_trial`` into a
temporary folder: population sampling, scenario building, the clinical clock, Parquet streaming. Every size and
worker count runs in the same process after a warm-up, so their ratios show whether throughput holds as N grows
and what the cores add; peak memory is the process's resident high-water mark (the driver; worker processes
are their own). The analysis (KM, Cox, responder model) is timed apart. With ``--dask``, the larger size also
runs on a local Dask cluster of one single-threaded worker process per core, started before timing; its
workers are long-lived, so every chunk after a worker's first finds the engine compiled and loaded.
"""

from __future__ import annotations

import argparse
import os
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


def trial_rate(trial, folder: Path, size: int, *, workers: int = 1, chunk_size: int = 250,
               scheduler: str | None = None, analyse: bool = False) -> tuple[float, float]:
    """(patients per second of ``run_trial`` with ``size`` patients per arm, seconds of the analysis or 0)."""
    out = Path(folder, f"n{size}-w{workers}-{'dask' if scheduler else 'local'}")
    start = time.perf_counter()
    patients = run_trial(trial, out, n=size, chunk_size=chunk_size, workers=workers, scheduler=scheduler)
    rate = size * len(trial.arms) / (time.perf_counter() - start)
    analysis = 0.0
    if analyse:
        start = time.perf_counter()
        write_trial_outputs(patients, trial, out)
        analysis = time.perf_counter() - start
    return rate, analysis


def warm_up(trial, folder: Path) -> None:
    """Compile (or load) the engine in this process, not timed."""
    run_trial(trial, Path(folder, "warm-up"), n=4, chunk_size=4)


def extrapolation(rate: float, days: int) -> str:
    return (f"1,000,000 patients x {days} days with the clinical layer in {MILLION / rate / 3600:.2f} h "
            f"({MILLION / rate / 60:.0f} min; aim 15 min)")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[250, 1000], help="patients per arm (two sizes)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, os.cpu_count() or 1],
                        help="local worker processes to compare (default 1 and one per core)")
    parser.add_argument("--chunk-size", type=int, default=250, help="patients per chunk (default 250)")
    parser.add_argument("--dask", action="store_true", help="also run the larger size on a local Dask cluster")
    args = parser.parse_args(argv)
    trial = load_trial(TRIAL)
    arms = len(trial.arms)
    with tempfile.TemporaryDirectory() as folder:
        warm_up(trial, Path(folder))
        print(f"{TRIAL.name}: {arms} arms, {trial.follow_up_days} days, chunk={args.chunk_size}")
        print(f"{'patients':>9} {'workers':>8} {'patients/s':>11} {'peak RSS MiB':>13} {'analysis s':>11}")
        rates: dict[tuple[int, int], float] = {}
        for size in args.sizes:
            for workers in args.workers:
                rate, analysis = trial_rate(trial, Path(folder), size, workers=workers,
                                            chunk_size=args.chunk_size, analyse=workers == args.workers[0])
                rates[size, workers] = rate
                print(f"{size * arms:>9} {workers:>8} {rate:>11.1f} {_rss_mib():>13.0f} {analysis:>11.1f}")
        small, large = args.sizes
        for workers in args.workers:
            print(f"throughput ratio (larger / smaller size), {workers} worker(s): "
                  f"{rates[large, workers] / rates[small, workers]:.2f}")
        for workers in args.workers[1:]:
            print(f"throughput ratio ({workers} / {args.workers[0]} worker(s)), {large * arms} patients: "
                  f"{rates[large, workers] / rates[large, args.workers[0]]:.2f}")
        best = max(rates[large, w] for w in args.workers)
        if args.dask:
            best = max(best, _dask_rate(trial, Path(folder), large, args.chunk_size, max(args.workers)))
    print("extrapolated: " + extrapolation(best, trial.follow_up_days))


def _dask_rate(trial, folder: Path, size: int, chunk_size: int, workers: int) -> float:
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.run(_warm_worker, str(TRIAL))  # each worker compiles or loads the engine once, before timing
        rate, _ = trial_rate(trial, folder, size, chunk_size=chunk_size, scheduler=cluster.scheduler_address)
    print(f"{size * len(trial.arms):>9} {'dask ' + str(workers):>8} {rate:>11.1f}")
    return rate


def _warm_worker(path: str) -> None:
    from cartsim.trial._run import Chunk, run_chunk

    run_chunk(load_trial(path).model_dump_json(), Chunk(0, 0, 2))


if __name__ == "__main__":
    main()
