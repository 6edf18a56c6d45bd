"""Running a virtual trial: chunks of patients, streamed to Parquet, resumable, on local processes or Dask.

A chunk is (arm, first patient, count). Its result, one row of covariates and
endpoints per patient, depends only on the trial and those patients, never on
the chunk size, the worker or the backend: patients are sampled by index,
every random draw comes from the patient's own seed, and the batched engine
integrates each patient independently. Each finished chunk is written to its
own Parquet file by an atomic rename, so a killed run loses at most the chunks
in flight, and ``resume`` computes only the missing ones.

Layout of the output folder::

    trial.json                       the validated trial, n, chunk size (checked on resume)
    patients/arm-<k>/chunk-<first>.parquet
"""

from __future__ import annotations

import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd

from .._batch import build_batch
from ..clinical import run_clinical
from ..patient import sample_population
from ._spec import Arm, Trial

MANIFEST = "trial.json"
PATIENTS = "patients"


class TrialError(RuntimeError):
    """The trial cannot run as asked (the message says why and what to do)."""


@dataclass(frozen=True)
class Chunk:
    arm: int
    first: int
    count: int

    def path(self, out: Path) -> Path:
        return out / PATIENTS / f"arm-{self.arm}" / f"chunk-{self.first:09d}.parquet"


def run_chunk(trial_json: str, chunk: Chunk) -> pd.DataFrame:
    """Simulate one chunk: the population's patients ``first .. first+count-1`` in arm ``chunk.arm``."""
    trial = Trial.model_validate_json(trial_json)
    patients = sample_population(trial.population, chunk.count, trial.seed, start=chunk.first)
    return simulate_patients(trial, trial.arms[chunk.arm], patients)[0]


def simulate_patients(trial: Trial, arm: Arm, patients: pd.DataFrame,
                      record_days: np.ndarray | None = None) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Treat ``patients`` (rows of a population frame) in ``arm``: one row per patient (covariates, the
    product, the clinical endpoints) and, with ``record_days``, the states ``[patient, day, state]``."""
    scenarios = [trial.scenario(arm, row) for row in patients.itertuples(index=False)]
    batch = build_batch(scenarios)
    outcome = run_clinical(batch, scenarios, record_days=record_days)
    products = pd.DataFrame([made.summary() for made in batch.products], index=patients.index)
    frame = pd.concat([patients.assign(arm=arm.name), products], axis=1)
    for name, values in outcome.endpoints.items():
        frame[name] = values
    return frame, (None if record_days is None else outcome.record.states)


def chunks(trial: Trial, n: int, chunk_size: int) -> list[Chunk]:
    return [Chunk(arm, first, min(chunk_size, n - first))
            for arm in range(len(trial.arms)) for first in range(0, n, chunk_size)]


def _write(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    frame.to_parquet(partial, engine="pyarrow", index=False)
    os.replace(partial, path)


def _prepare(trial: Trial, out: Path, n: int, chunk_size: int, resume: bool) -> None:
    """Write the manifest, or on resume check that it describes the same run."""
    manifest = {"trial": json.loads(trial.model_dump_json()), "n": n, "chunk_size": chunk_size}
    path = out / MANIFEST
    if path.exists():
        if not resume:
            raise TrialError(f"{out} already holds a trial; pass --resume to finish it, or choose another --out")
        if json.loads(path.read_text()) != manifest:
            raise TrialError(f"{out} holds a different trial (trial file, --n or --chunk-size differ); "
                             "resume needs the same ones, or choose another --out")
        return
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=2) + "\n")


def _set_threads(threads: int) -> None:
    import numba

    numba.set_num_threads(threads)


def _local(trial_json: str, todo: list[Chunk], workers: int) -> Iterator[tuple[Chunk, pd.DataFrame]]:
    if workers == 1:
        for chunk in todo:
            yield chunk, run_chunk(trial_json, chunk)
        return
    # Each process gets its share of the cores for the engine's threads. Spawned, not forked: the
    # engine's OpenMP threads make fork() unsafe.
    threads = max(1, (os.cpu_count() or 1) // workers)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_set_threads,
                             initargs=(threads,)) as pool:
        futures = {pool.submit(run_chunk, trial_json, chunk): chunk for chunk in todo}
        for future in as_completed(futures):
            yield futures[future], future.result()


def _dask(trial_json: str, todo: list[Chunk], scheduler: str) -> Iterator[tuple[Chunk, pd.DataFrame]]:
    from distributed import Client, as_completed as dask_completed

    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise TrialError(f"could not reach the Dask scheduler at {scheduler!r} ({exc}); "
                         "start one (dask scheduler) or run locally with --workers") from None
    with client:
        futures = {client.submit(run_chunk, trial_json, chunk, pure=False): chunk for chunk in todo}
        for future in dask_completed(futures):
            yield futures[future], future.result()


def run_trial(trial: Trial, out: str | Path, *, n: int | None = None, chunk_size: int = 250,
              workers: int = 1, scheduler: str | None = None, resume: bool = False,
              progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """Simulate ``n`` patients per arm (default: the trial's) into ``out`` and return every patient's row.

    ``workers`` local processes, or the Dask cluster at ``scheduler``; ``progress(done, total)`` is called
    as chunks finish.
    """
    out = Path(out)
    n = trial.patients_per_arm if n is None else n
    if n < 1 or chunk_size < 1 or workers < 1:
        raise TrialError(f"n, chunk_size and workers must be >= 1; got {n}, {chunk_size}, {workers}")
    _prepare(trial, out, n, chunk_size, resume)
    every = chunks(trial, n, chunk_size)
    todo = [chunk for chunk in every if not chunk.path(out).exists()]
    done = len(every) - len(todo)
    if progress is not None:
        progress(done, len(every))
    trial_json = trial.model_dump_json()
    results = _dask(trial_json, todo, scheduler) if scheduler else _local(trial_json, todo, workers)
    for chunk, frame in results:
        _write(frame, chunk.path(out))
        done += 1
        if progress is not None:
            progress(done, len(every))
    return read_patients(out, trial)


def read_patients(out: str | Path, trial: Trial) -> pd.DataFrame:
    """Every patient row of a finished run, ordered by arm then patient."""
    files = sorted(Path(out, PATIENTS).glob("arm-*/chunk-*.parquet"))
    frame = pd.concat([pd.read_parquet(path) for path in files], ignore_index=True)
    order = {arm.name: k for k, arm in enumerate(trial.arms)}
    frame = frame.sort_values(["arm", "patient"], key=lambda c: c.map(order) if c.name == "arm" else c)
    return frame.reset_index(drop=True).astype({"seed": np.uint64})
