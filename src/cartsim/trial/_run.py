"""Running a virtual trial: chunks of patients, streamed to Parquet, resumable, on local processes or Dask.

A chunk is (arm, first patient, count). Its result, one row of covariates and
endpoints per patient, depends only on the trial and those patients, never on
the chunk size, the worker or the backend: patients are sampled by index,
every random draw comes from the patient's own seed, and the batched engine
integrates each patient independently. Each finished chunk is written to its
own Parquet file by an atomic rename (from a temporary name unique to the
writer), so a killed run loses at most the chunks in flight, and ``resume``
computes only the missing ones. Resume also checks every chunk file already
there (a readable Parquet file, the chunk's row count, its arm's name, patient
ids ``first .. first+count-1``) and recomputes the ones that fail, with a
:class:`TrialWarning` saying how many.

One run at a time writes a folder: the run holds an OS lock (``fcntl.flock``) on
``.cartsim-trial.lock`` there while it runs, released when it ends or its process
dies, so a second run is refused with a :class:`TrialError` and a killed run's
lock never blocks a later one. Only the driver writes (local workers and Dask
workers return frames), so the lock covers every backend.

Layout of the output folder::

    trial.json                       the validated trial, n, chunk size (checked on resume)
    patients/arm-<k>/chunk-<first>.parquet
"""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import secrets
import warnings
from contextlib import contextmanager
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Mapping

import numpy as np
import pandas as pd

import pyarrow.parquet as pq

from .._batch import Batch, build_patients
from .._readouts import KINETICS_DAYS, car_t_copies_per_ug, car_t_kinetics
from ..clinical import run_clinical
from ..patient import sample_population
from ._spec import Arm, Trial

MANIFEST = "trial.json"
PATIENTS = "patients"
LOCK = ".cartsim-trial.lock"


class TrialError(RuntimeError):
    """The trial cannot run as asked (the message says why and what to do)."""


class TrialWarning(UserWarning):
    """Something in the output folder was repaired (e.g. damaged chunk files recomputed on resume)."""


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
    patients = sample_population(trial.sampled_population(), chunk.count, trial.seed, start=chunk.first)
    return simulate_patients(trial, trial.arms[chunk.arm], patients)[0]


def simulate_patients(trial: Trial, arm: Arm, patients: pd.DataFrame,
                      record_days: np.ndarray | None = None,
                      parameters: Mapping[str, np.ndarray] | None = None) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Treat ``patients`` (rows of a population frame) in ``arm``: one row per patient (covariates, the
    product, the clinical endpoints, the CAR-T cellular kinetics of :func:`kinetics_of`) and, with
    ``record_days``, the states ``[patient, day, state]``. ``parameters``: model parameter values per
    patient (name -> one value per row), on top of the arm's own overrides."""
    batch = arm_batch(arm, patients, parameters)
    # The kinetics need the daily states of the first months; recording them does not change the
    # integration (days between the solver's steps are interpolated).
    daily = np.arange(0.0, min(KINETICS_DAYS, trial.follow_up_days) + 1.0)
    asked = np.empty(0) if record_days is None else np.asarray(record_days, dtype=np.float64)
    days = np.union1d(asked, daily)
    outcome = run_clinical(batch, trial.care(arm), record_days=days)
    products = pd.DataFrame(batch.products.summary(), index=patients.index)
    frame = pd.concat([patients.assign(arm=arm.name), products], axis=1)
    for name, values in outcome.endpoints.items():
        frame[name] = values
    states = outcome.record.states
    kinetics = kinetics_of(daily, states[:, np.searchsorted(days, daily)], batch.params,
                           outcome.endpoints["os_days"])
    for name, values in kinetics.items():
        frame[name] = values
    return frame, (None if record_days is None else states[:, np.searchsorted(days, asked)])


def kinetics_of(days: np.ndarray, states: np.ndarray, params: np.ndarray, os_days: np.ndarray) -> dict:
    """Each patient's CAR-T cellular kinetics (:func:`cartsim._readouts.car_t_kinetics` of qPCR copies/ug)
    from its daily ``states[patient, day]`` under ``params[patient]``; no sample after death (``os_days``)."""
    copies = car_t_copies_per_ug(states, params[:, None, :])
    copies[days[None, :] > os_days[:, None]] = np.nan
    return car_t_kinetics(days, copies)


def arm_batch(arm: Arm, patients: pd.DataFrame, parameters: Mapping[str, np.ndarray] | None = None) -> Batch:
    """The batch of ``patients`` (rows of a population frame, each with its own seed) treated in ``arm``
    (with ``parameters``: each patient's own model parameter values on top of the arm's)."""
    treatments = arm
    if parameters:
        treatments = [arm.model_copy(update={"parameters": {**arm.parameters, **{name: float(values[i])
                                                            for name, values in parameters.items()}}})
                      for i in range(len(patients))]
    return build_patients(patients, treatments, patients["seed"].to_numpy(np.uint64))


def chunks(trial: Trial, n: int, chunk_size: int) -> list[Chunk]:
    return [Chunk(arm, first, min(chunk_size, n - first))
            for arm in range(len(trial.arms)) for first in range(0, n, chunk_size)]


def _partial(path: Path) -> Path:
    """A temporary name next to ``path``, unique to this writer (pid and a random token)."""
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.partial")


def _write(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = _partial(path)
    try:
        frame.to_parquet(partial, engine="pyarrow", index=False)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _write_text(text: str, path: Path) -> None:
    partial = _partial(path)
    try:
        partial.write_text(text)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


@contextmanager
def folder_lock(out: str | Path) -> Iterator[None]:
    """Hold the OS lock of the output folder ``out`` (created if missing) for the ``with`` block; a
    TrialError if another run holds it. The lock lives with the open file, so a killed run releases it."""
    import fcntl

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / LOCK
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            try:
                holder = path.read_text().strip() or "unknown"
            except OSError:
                holder = "unknown"
            raise TrialError(f"{out} is being written by another run (pid {holder}); wait for it or choose "
                             "another --out") from None
        # The holder before us may have removed the file between our open and our lock: then we locked
        # a file nobody else can see, so start again on the one at the path.
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        path.unlink(missing_ok=True)  # while still locked, so no one else can hold this file
        os.close(fd)


def _manifest(trial: Trial, n: int, chunk_size: int) -> dict:
    return {"trial": json.loads(trial.model_dump_json()), "n": n, "chunk_size": chunk_size}


def _check_arms(trial: Trial) -> None:
    """Refuse a trial whose arms do not make valid scenarios, before anything is written."""
    patient = next(sample_population(trial.sampled_population(), 1, trial.seed).itertuples(index=False))
    for arm in trial.arms:
        try:
            trial.scenario(arm, patient)
        except ValueError as exc:  # pydantic's ValidationError and ScenarioError are ValueErrors
            raise TrialError(f"arm '{arm.name}' does not make a valid scenario: {exc}") from None


def _prepare(trial: Trial, out: Path, n: int, chunk_size: int, resume: bool) -> None:
    """Write the manifest, or on resume check that it describes the same run. Called with the folder
    locked; a manifest without any chunk file (a run that failed before its first chunk) is replaced."""
    manifest = _manifest(trial, n, chunk_size)
    path = out / MANIFEST
    if path.exists() and any(Path(out, PATIENTS).glob("arm-*/chunk-*.parquet")):
        if not resume:
            raise TrialError(f"{out} already holds a trial; pass --resume to finish it, or choose another --out")
        try:
            written = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise TrialError(f"{path} cannot be read ({exc}); choose another --out") from None
        if written != manifest:
            raise TrialError(f"{out} holds a different trial (trial file, --n or --chunk-size differ); "
                             "resume needs the same ones, or choose another --out")
        return
    _write_text(json.dumps(manifest, indent=2) + "\n", path)


def _clean_partials(out: Path) -> None:
    """Remove temporary files that killed writers left behind (none can be live: the folder is locked)."""
    for path in Path(out, PATIENTS).glob("arm-*/*.partial"):
        path.unlink(missing_ok=True)


def _chunk_problem(trial: Trial, chunk: Chunk, path: Path) -> str | None:
    """Why the file of ``chunk`` is not that chunk's result, or None if it is."""
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... for damaged files
        return f"unreadable ({type(exc).__name__}: {exc})"
    if table.num_rows != chunk.count:
        return f"{table.num_rows} rows instead of {chunk.count}"
    if "arm" not in table.column_names or "patient" not in table.column_names:
        return "no 'arm' or 'patient' column"
    name = trial.arms[chunk.arm].name
    arms = set(table.column("arm").to_pylist())
    if arms != {name}:
        return f"arm {sorted(map(str, arms))} instead of '{name}'"
    patients = np.asarray(table.column("patient").to_numpy(zero_copy_only=False))
    if not np.array_equal(patients, np.arange(chunk.first, chunk.first + chunk.count)):
        return f"patients are not {chunk.first}..{chunk.first + chunk.count - 1}"
    return None


def _check_chunks(trial: Trial, out: Path, every: list[Chunk]) -> list[Chunk]:
    """The chunks to compute: missing ones, and existing files that fail the check (removed, then reported
    with a TrialWarning)."""
    todo, bad = [], []
    for chunk in every:
        path = chunk.path(out)
        if not path.exists():
            todo.append(chunk)
            continue
        problem = _chunk_problem(trial, chunk, path)
        if problem is not None:
            bad.append(f"{path.relative_to(out)}: {problem}")
            path.unlink()
            todo.append(chunk)
    if bad:
        shown = "; ".join(bad[:5]) + (f"; and {len(bad) - 5} more" if len(bad) > 5 else "")
        warnings.warn(f"{len(bad)} chunk file(s) in {out} were damaged or not this trial's and are recomputed: "
                      f"{shown}", TrialWarning, stacklevel=3)
    return todo


def map_chunks(function: Callable, payload: str, todo: list, workers: int = 1,
               scheduler: str | None = None) -> Iterator[tuple[object, pd.DataFrame]]:
    """``(chunk, function(payload, chunk))`` for each chunk of ``todo``, as they finish: on ``workers`` local
    processes, or on the Dask cluster at ``scheduler``. ``function`` must be importable (a module-level
    function) and ``payload`` a string (a validated spec as JSON), so any worker can run it."""
    return _dask(function, payload, todo, scheduler) if scheduler else _local(function, payload, todo, workers)


def _local(function: Callable, payload: str, todo: list, workers: int) -> Iterator[tuple[object, pd.DataFrame]]:
    # The engine is serial (see cartsim.solver._integrate), so one process per core keeps the cores busy; a
    # process more than there are chunks would only pay its start-up.
    workers = min(workers, len(todo))
    if workers <= 1:
        for chunk in todo:
            yield chunk, function(payload, chunk)
        return
    # Spawned, not forked: the driver's library threads (pyarrow, BLAS) make fork() unsafe.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(function, payload, chunk): chunk for chunk in todo}
        for future in as_completed(futures):
            yield futures[future], future.result()


def _dask(function: Callable, payload: str, todo: list, scheduler: str) -> Iterator[tuple[object, pd.DataFrame]]:
    from distributed import Client, as_completed as dask_completed

    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise TrialError(f"could not reach the Dask scheduler at {scheduler!r} ({exc}); "
                         "start one (dask scheduler) or run locally with --workers") from None
    with client:
        futures = {client.submit(function, payload, chunk, pure=False): chunk for chunk in todo}
        for future in dask_completed(futures):
            yield futures[future], future.result()


def run_trial(trial: Trial, out: str | Path, *, n: int | None = None, chunk_size: int = 250,
              workers: int = 1, scheduler: str | None = None, resume: bool = False,
              progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """Simulate ``n`` patients per arm (default: the trial's) into ``out`` and return every patient's row.

    ``workers`` local processes (``cartsim trial`` passes one per core), or the Dask cluster at ``scheduler``; ``progress(done, total)`` is called
    as chunks finish. With ``resume``, chunk files already in ``out`` are checked and the damaged ones
    recomputed (a :class:`TrialWarning` says how many). A folder another run is writing is refused.
    """
    out = Path(out)
    n = trial.patients_per_arm if n is None else n
    if n < 1 or chunk_size < 1 or workers < 1:
        raise TrialError(f"n, chunk_size and workers must be >= 1; got {n}, {chunk_size}, {workers}")
    _check_arms(trial)
    with folder_lock(out):
        _prepare(trial, out, n, chunk_size, resume)
        _clean_partials(out)
        every = chunks(trial, n, chunk_size)
        todo = _check_chunks(trial, out, every)
        done = len(every) - len(todo)
        if progress is not None:
            progress(done, len(every))
        trial_json = trial.model_dump_json()
        results = map_chunks(run_chunk, trial_json, todo, workers, scheduler)
        for chunk, frame in results:
            _write(frame, chunk.path(out))
            done += 1
            if progress is not None:
                progress(done, len(every))
        return read_patients(out, trial)


def read_patients(out: str | Path, trial: Trial, columns: list[str] | None = None) -> pd.DataFrame:
    """Every patient row of a finished run (only ``columns``, default all), ordered by arm then patient: the
    chunk files the run's manifest (``trial.json``: n and chunk size) names, nothing else in the folder.

    Streamed: the chunk files are read one at a time in manifest order (which is arm then patient: each
    chunk holds its patients in order), each copied into one array per column sized for the whole run.
    Not a frame per file concatenated (at 10^6 patients half a minute and twice the memory), nor one Arrow
    table of every file converted to pandas (the table, its thousands of small buffers and the frame at
    once: 2 GB).
    """
    out = Path(out)
    try:
        manifest = json.loads((out / MANIFEST).read_text())
        every = chunks(trial, int(manifest["n"]), int(manifest["chunk_size"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TrialError(f"{out / MANIFEST} cannot be read ({exc}); is {out} a trial's output folder?") from None
    for chunk in every:
        if not chunk.path(out).exists():
            raise TrialError(f"{chunk.path(out)} is missing; run again with --resume to compute it")
    total = sum(chunk.count for chunk in every)
    arrays: dict[str, np.ndarray] = {}
    start = 0
    for chunk in every:
        part = _read_chunk(chunk, out, columns)
        if arrays and list(part.columns) != list(arrays):
            raise TrialError(f"{chunk.path(out)} has other columns than the chunks before it; run again with "
                             "--resume to recompute it")
        for name in part.columns:
            values = part[name].to_numpy()
            column = arrays.get(name)
            if column is None:
                column = arrays[name] = np.empty(total, dtype=values.dtype)
            elif (wider := np.result_type(column.dtype, values.dtype)) != column.dtype:
                # e.g. a chunk with missing values (integers read as floats): widen as a concatenation would
                column = arrays[name] = column.astype(wider)
            column[start:start + chunk.count] = values
        start += chunk.count
    frame = pd.DataFrame(arrays, copy=False)  # one block per column: no consolidating copy of the whole run
    return frame.astype({"seed": np.uint64}) if "seed" in frame and frame["seed"].dtype != np.uint64 else frame


def _read_chunk(chunk: Chunk, out: Path, columns: list[str] | None) -> pd.DataFrame:
    """The rows of one chunk file; a TrialError naming the file if it cannot be read or has other rows."""
    path = chunk.path(out)
    try:
        # Single-threaded: a chunk is a few hundred rows, threads would cost more than they save.
        with pq.ParquetFile(path) as file:
            part = file.read(columns=columns, use_threads=False).to_pandas(use_threads=False)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... for damaged files
        raise TrialError(f"{path} cannot be read ({type(exc).__name__}: {exc}); run again with --resume "
                         "to recompute it") from None
    if len(part) != chunk.count:
        raise TrialError(f"{path} holds {len(part)} rows instead of {chunk.count}; run again with --resume "
                         "to recompute it")
    return part
