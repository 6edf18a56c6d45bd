"""Analysis of a large trial: reading the chunk files, the Cox hazard ratios, the Kaplan-Meier endpoints and
the whole write_trial_outputs, at N patients made by replicating the rows of a small real run, with each
step's peak memory; the reading and the Cox fit are also timed the old way (a frame per file concatenated,
lifelines' CoxPHFitter) in the same run.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_analysis.py                 # 10^6 patients
    PYTHONPATH=src .venv/bin/python benchmarks/bench_analysis.py --n 100000 --no-old

Each step runs in its own process, so its peak resident memory (the high-water mark) is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from cartsim.trial import load_trial, run_trial
from cartsim.trial._run import MANIFEST, chunks, read_patients

TRIAL = Path(__file__).resolve().parents[1] / "scenarios" / "trials" / "cd28_vs_41bb.yaml"
CHUNK = 250


def _old_read(out: Path, trial) -> pd.DataFrame:
    """read_patients before issue 19: one frame per chunk file, concatenated, then sorted."""
    manifest = json.loads((out / MANIFEST).read_text())
    every = chunks(trial, manifest["n"], manifest["chunk_size"])
    frame = pd.concat([pd.read_parquet(chunk.path(out)) for chunk in every], ignore_index=True)
    order = {arm.name: k for k, arm in enumerate(trial.arms)}
    frame = frame.sort_values(["arm", "patient"], key=lambda c: c.map(order) if c.name == "arm" else c)
    return frame.reset_index(drop=True).astype({"seed": np.uint64})


def _old_hazard_ratios(patients: pd.DataFrame) -> list[float]:
    """The hazard ratios as fitted before issue 19: lifelines' CoxPHFitter on a frame per endpoint."""
    from lifelines import CoxPHFitter

    from cartsim.stats import analysed, survival_months

    frame = analysed(patients)
    arm = (frame["arm"].astype(str) == str(frame["arm"].iloc[-1])).to_numpy(float)
    return [float(CoxPHFitter().fit(pd.DataFrame({"months": survival_months(frame, e), "arm": arm,
                                                   "event": frame[f"{e}_event"].to_numpy(bool)}),
                                    "months", "event").hazard_ratios_["arm"]) for e in ("pfs", "os")]


def _step(name: str, out: Path) -> dict:
    from cartsim.trial import arm_endpoints, hazard_ratios, write_trial_outputs

    trial = load_trial(TRIAL)
    read = _old_read if name == "old read" else read_patients
    start = time.perf_counter()
    patients = read(out, trial)
    seconds, value = time.perf_counter() - start, len(patients)
    if name.endswith("cox") or name in ("km", "all"):
        start = time.perf_counter()
        if name == "old cox":
            value = _old_hazard_ratios(patients)
        elif name == "cox":
            value = [entry[f"{e}_hr"] for entry in hazard_ratios(patients).values() for e in ("pfs", "os")]
        elif name == "km":
            value = {arm: entry["median_os_months"] for arm, entry in arm_endpoints(patients).items()}
        else:
            value = write_trial_outputs(patients, trial, out)["hazard_ratios"]
        seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {"seconds": seconds, "peak_mib": peak, "value": value}


def _replicate(out: Path, n: int) -> None:
    """Fill ``out`` with a run of ``n`` patients per arm: a real 60-patient run's rows repeated."""
    trial = load_trial(TRIAL)
    small = run_trial(trial, out / "small", n=60)
    (out / MANIFEST).write_text(json.dumps({"n": n, "chunk_size": CHUNK}))
    for chunk in chunks(trial, n, CHUNK):
        rows = small[small["arm"] == trial.arms[chunk.arm].name]
        frame = rows.iloc[np.arange(chunk.count) % len(rows)].assign(
            patient=np.arange(chunk.first, chunk.first + chunk.count))
        chunk.path(out).parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(chunk.path(out), index=False)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="patients in all (default 10^6)")
    parser.add_argument("--no-old", action="store_true", help="skip the old reading and Cox fit")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step:
        print(json.dumps(_step(args.step, Path(args.out))))
        return
    arms = len(load_trial(TRIAL).arms)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        _replicate(Path(folder), args.n // arms)
        print(f"{args.n} patients in {len(list(Path(folder).rglob('chunk-*.parquet')))} chunk files "
              f"(written in {time.perf_counter() - start:.0f} s)")
        steps = ["read", "cox", "km", "all"] + ([] if args.no_old else ["old read", "old cox"])
        results = {}
        for step in steps:
            line = subprocess.run([sys.executable, __file__, "--step", step, "--out", folder], check=True,
                                  capture_output=True, text=True).stdout.strip().splitlines()[-1]
            results[step] = json.loads(line)
            r = results[step]
            print(f"{step:>9}: {r['seconds']:7.2f} s  peak {r['peak_mib']:6.0f} MiB  {r['value']}")
    if not args.no_old:
        for step in ("read", "cox"):
            print(f"{step}: old / new time {results['old ' + step]['seconds'] / results[step]['seconds']:.1f}x")


if __name__ == "__main__":
    main()
