"""The web app's runs: each one a folder the server chose, a state the page can follow, and a result.

A run is driven by a thread of the server that waits on a model worker
(:class:`~cartsim.web._workers.WorkerPool`); the event loop only reads the
run's state. Run ids are random; a client names a run only by its id, and a
file only from the fixed list of its kind, so no client text ever becomes a
path.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ._requests import ServerLimits
from ._workers import RunFailed, RunStopped, WorkerPool

TERMINAL = ("done", "failed", "cancelled")

#: The files a client may download of each kind of run (CSV files are made from their Parquet twin).
FILES: dict[str, tuple[str, ...]] = {
    "patient": ("summary.json", "trajectories.parquet", "trajectories.csv", "visits.parquet", "visits.csv",
                "scenario.yaml", "report.html"),
    "trial": ("summary.json", "patients.parquet", "patients.csv", "trial.yaml", "responders.csv", "report.html"),
    "restim": ("restim.csv", "restim.json", "report.html"),
    "mouse": ("mouse.csv", "mouse.json", "mouse_survival.csv", "mouse_tumor.parquet", "report.html"),
}


class RunBusy(RuntimeError):
    """The server already has as many runs queued or running as it takes."""


@dataclass(eq=False)
class Run:
    id: str
    kind: str
    request: dict
    directory: Path
    state: str = "queued"
    done: int = 0
    total: int = 0
    message: str = ""
    result: dict | None = field(default=None, repr=False)
    version: int = 0  # bumped on every change, so a listener knows when to send an update
    stop: threading.Event = field(default_factory=threading.Event, repr=False)
    started: float = field(default_factory=time.time)

    def _set(self, **changes) -> None:
        for name, value in changes.items():
            setattr(self, name, value)
        self.version += 1

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL

    def available(self, name: str) -> bool:
        """Whether file ``name`` of the run's kind can be downloaded now (written, or made on request)."""
        path = self.directory / name
        return self.state == "done" and name in FILES[self.kind] and (
            name == "report.html" or path.exists() or (path.suffix == ".csv" and path.with_suffix(".parquet").exists()))

    def status(self) -> dict:
        return {"id": self.id, "kind": self.kind, "state": self.state, "done": self.done, "total": self.total,
                "message": self.message, "files": [name for name in FILES[self.kind] if self.available(name)]}


class Runs:
    """Every run of one server, in folders under ``root``, on ``pool``."""

    def __init__(self, pool: WorkerPool, root: Path, limits: ServerLimits):
        self.pool, self.root, self.limits = pool, root, limits
        self._runs: dict[str, Run] = {}
        self._lock = threading.Lock()
        self._reports = threading.Lock()

    def get(self, run_id: str) -> Run | None:
        with self._lock:
            return self._runs.get(run_id)

    def _active(self) -> int:
        return sum(not run.finished for run in self._runs.values())

    @property
    def active(self) -> int:
        with self._lock:
            return self._active()

    def _check_room(self) -> None:
        if self._active() >= self.limits.active_runs:
            raise RunBusy(f"the server is running {self.limits.active_runs} runs already; try again when one "
                          "has finished")

    def submit(self, kind: str, request: dict) -> Run:
        with self._lock:
            self._check_room()
            run_id = uuid.uuid4().hex
            run = Run(run_id, kind, request, self.root / run_id)
            self._runs[run_id] = run
            self._evict()
        run.directory.mkdir(parents=True)
        threading.Thread(target=self._drive, args=(run,), daemon=True, name=f"run-{run_id[:8]}").start()
        return run

    def resume(self, run: Run) -> None:
        """Start a stopped trial again in its folder: it finishes from the chunks it had written."""
        with self._lock:
            self._check_room()
            run._set(state="queued", message="", stop=threading.Event())
        threading.Thread(target=self._drive, args=(run,), daemon=True, name=f"run-{run.id[:8]}").start()

    def _evict(self) -> None:
        finished = sorted((r for r in self._runs.values() if r.finished), key=lambda r: r.started)
        for run in finished[:max(0, len(finished) - self.limits.kept_runs)]:
            del self._runs[run.id]
            shutil.rmtree(run.directory, ignore_errors=True)

    def _drive(self, run: Run) -> None:
        try:
            result = self.pool.run(run.kind, run.request, run.directory, limit_s=self.limits.run_seconds,
                                   stop=run.stop, on_start=lambda: run._set(state="running"),
                                   on_progress=lambda done, total: run._set(done=done, total=total))
        except RunStopped as exc:
            run._set(state="cancelled" if run.stop.is_set() else "failed", message=str(exc))
        except RunFailed as exc:
            run._set(state="failed", message=str(exc))
        except Exception as exc:  # a run always ends, whatever went wrong in driving it
            run._set(state="failed", message=f"the server could not drive the run: {type(exc).__name__}: {exc}")
        else:
            run._set(state="done", result=result, done=max(run.done, 1), total=max(run.total, 1))

    def cancel(self, run: Run) -> None:
        run.stop.set()

    def report(self, run: Run) -> Path:
        """The run's HTML report, made on first request (blocking; call it from a thread)."""
        path = run.directory / "report.html"
        with self._reports:  # two requests for one report make it once
            if not path.exists():
                self.pool.run("report", {"kind": run.kind}, run.directory, limit_s=self.limits.run_seconds,
                              stop=threading.Event())
        return path
