"""Warm worker processes that run the model for the web app: one run at a time each, stoppable.

The server never runs the model in its own process, so its event loop stays
free while a trial runs. A run that passes its time limit, or is cancelled,
ends with its process: the process is killed (the only way to stop compiled
code part-way) and a fresh one takes its place. Whatever the run had already
written stays valid, since every writer in cartsim renames finished files
into place.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import time
from pathlib import Path
from typing import Callable

# Spawned, not forked: the engine's OpenMP threads make fork() unsafe (as in cartsim.trial).
_CONTEXT = multiprocessing.get_context("spawn")
#: Seconds between checks for a message, a cancellation or the deadline.
_POLL_S = 0.05


class RunStopped(Exception):
    """The run was cancelled or passed its time limit; its worker was replaced."""


class RunFailed(RuntimeError):
    """The run raised an error (the message says which), or its worker died."""


def _serve(conn, threads: int) -> None:
    """A worker's life: warm up, say so, then run one task after another until the pipe closes."""
    import signal

    import numba

    # Ctrl+C in the server's terminal reaches the workers too; the server ends them itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    numba.set_num_threads(threads)
    from ._tasks import TASKS, warm_up

    warm_up()
    conn.send(("ready",))
    while True:
        try:
            kind, request, directory = conn.recv()
        except EOFError:
            return
        try:
            result = TASKS[kind](request, Path(directory), lambda done, total: conn.send(("progress", done, total)))
        except Exception as exc:  # the run's own error, reported to its caller; the worker goes on
            conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        else:
            conn.send(("done", result))


class _Worker:
    def __init__(self, threads: int):
        self.conn, child = _CONTEXT.Pipe()
        self.process = _CONTEXT.Process(target=_serve, args=(child, threads), daemon=True, name="cartsim-worker")
        self.process.start()
        child.close()
        self.ready = False

    def kill(self) -> None:
        self.process.kill()
        self.process.join()
        self.conn.close()


class WorkerPool:
    """``size`` worker processes with ``threads`` engine threads each (default: the cores shared out)."""

    def __init__(self, size: int, threads: int | None = None):
        if size < 1:
            raise ValueError(f"a worker pool needs at least 1 worker; got {size}")
        self.size = size
        self._threads = threads or max(1, (os.cpu_count() or 1) // size)
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False
        for _ in range(size):
            self._idle.put(self._spawn())

    def _spawn(self) -> _Worker:
        worker = _Worker(self._threads)
        with self._lock:
            self._all.add(worker)
        return worker

    def _replace(self, worker: _Worker) -> _Worker:
        worker.kill()
        with self._lock:
            self._all.discard(worker)
            if self._closed:  # shutting down: runs still driven end here, with no fresh worker
                return worker
        return self._spawn()

    @property
    def busy(self) -> int:
        return self.size - self._idle.qsize()

    def _take(self, stop: threading.Event) -> _Worker:
        while True:
            if stop.is_set():
                raise RunStopped("cancelled before it started")
            try:
                return self._idle.get(timeout=_POLL_S)
            except queue.Empty:
                continue

    def run(self, kind: str, request: dict, directory: Path, *, limit_s: float, stop: threading.Event,
            on_start: Callable[[], None] = lambda: None,
            on_progress: Callable[[int, int], None] = lambda done, total: None) -> dict:
        """Run task ``kind`` on the next free worker (blocking; call it from a thread).

        Waits for a free, warm worker (``stop`` cancels the wait), then allows the task ``limit_s``
        seconds. Returns the task's result; raises :class:`RunStopped` or :class:`RunFailed`.
        """
        worker = self._take(stop)
        try:
            while not worker.ready:  # a fresh worker is still importing and compiling
                if stop.is_set():
                    raise RunStopped("cancelled before it started")
                if worker.conn.poll(_POLL_S):
                    worker.ready = worker.conn.recv() == ("ready",)
            on_start()
            worker.conn.send((kind, request, str(directory)))
            deadline = time.monotonic() + limit_s
            while True:
                if stop.is_set():
                    raise RunStopped("cancelled")
                if time.monotonic() > deadline:
                    raise RunStopped(f"stopped at the server's run-time limit of {limit_s:g} s")
                if not worker.conn.poll(_POLL_S):
                    continue
                message = worker.conn.recv()
                if message[0] == "progress":
                    on_progress(*message[1:])
                elif message[0] == "done":
                    return message[1]
                else:
                    raise RunFailed(message[1])
        except RunStopped:
            worker = self._replace(worker)
            raise
        except (EOFError, OSError):
            worker = self._replace(worker)
            raise RunFailed("the worker process died (out of memory?); a fresh one has taken its place") from None
        finally:
            self._idle.put(worker)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._all)
            self._all.clear()
        for worker in workers:
            worker.kill()
