"""A real ``cartsim serve`` on a free loopback port, for the tests that need a live server."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2

#: Starting the server waits for its model workers too; the first start on a machine compiles the engine.
START_TIMEOUT_S = 600


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, tmp: Path, *args: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cartsim = Path(sys.executable).with_name("cartsim")
        self.log = tmp / "server.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen([str(cartsim), "serve", "--port", str(self.port),
                                             "--data-dir", str(tmp / "runs"), *args], stdout=log, stderr=log)
        self.client = httpx2.Client(base_url=self.url, timeout=60)
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"cartsim serve exited: {self.log.read_text()}")
            try:
                if self.client.get("/api/health").status_code == 200:
                    break
            except httpx2.TransportError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"cartsim serve did not answer in {START_TIMEOUT_S} s: {self.log.read_text()}")
        # The first patient waits for the workers to warm up; afterwards runs take their real time.
        self.wait(self.client.post("/api/runs/patient", json={"simulation": {"days": 30}}).json()["id"])

    def wait(self, run_id: str, timeout_s: float = START_TIMEOUT_S) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            run = self.client.get(f"/api/runs/{run_id}").json()
            if run["state"] in ("done", "failed", "cancelled"):
                return run
            time.sleep(0.1)
        raise TimeoutError(f"run {run_id} did not finish in {timeout_s} s")

    def stop(self) -> None:
        self.client.close()
        self.process.terminate()
        self.process.wait(timeout=30)
