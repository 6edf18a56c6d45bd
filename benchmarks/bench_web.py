"""The web app's speed: a one-patient run through a live ``cartsim serve`` against ``cartsim.simulate`` of the
same patient in this process, and the server's answer time while a trial occupies a worker against idle;
all measured in the same run, with the memory of the server and its workers.

    .venv/bin/python benchmarks/bench_web.py                # 10 patients of 10 years, a 2 x 1000 trial
    .venv/bin/python benchmarks/bench_web.py --repeats 20 --days 365

The patient round trip is what the page waits for: POST the scenario, follow the run to its end, GET the
result (summary, events and the four Plotly figures). Both sides are warm (the server's workers warm up at
start; this process runs the patient once before timing).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import cartsim  # noqa: E402
from web_server import LiveServer  # noqa: E402

TRIAL = {"name": "load", "patients_per_arm": 1000, "follow_up_days": 3650,
         "arms": [{"name": "4-1BB"}, {"name": "CD28", "product": {"costimulation": "CD28"}}]}


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _children(pid: int) -> dict[str, int]:
    """The server's child processes by name: its model workers and multiprocessing's resource tracker."""
    named = {}
    for k, child in enumerate(Path(f"/proc/{pid}/task/{pid}/children").read_text().split()):
        command = Path(f"/proc/{child}/cmdline").read_bytes()
        named["resource tracker" if b"resource_tracker" in command else f"worker {k}"] = int(child)
    return named


def _patient_round_trip(server: LiveServer, scenario: dict) -> tuple[float, int]:
    start = time.perf_counter()
    run_id = server.client.post("/api/runs/patient", json=scenario).json()["id"]
    server.wait(run_id)
    response = server.client.get(f"/api/runs/{run_id}")
    return time.perf_counter() - start, len(response.content)


def _answer_times(server: LiveServer, n: int) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        server.client.get("/api/health")
        times.append(time.perf_counter() - start)
    return times


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=10, help="patient runs timed each way (default 10)")
    parser.add_argument("--days", type=int, default=3650, help="patient follow-up (default 3650)")
    args = parser.parse_args(argv)
    scenario = {"name": "bench", "simulation": {"days": args.days}}

    with tempfile.TemporaryDirectory() as tmp:
        server = LiveServer(Path(tmp))
        try:
            cartsim.simulate(cartsim.Scenario.validated(scenario))  # warm this process too
            direct, web, sizes = [], [], []
            for _ in range(args.repeats):
                start = time.perf_counter()
                cartsim.simulate(cartsim.Scenario.validated(scenario))
                direct.append(time.perf_counter() - start)
                seconds, size = _patient_round_trip(server, scenario)
                web.append(seconds)
                sizes.append(size)
            idle = _answer_times(server, 200)
            trial_id = server.client.post("/api/runs/trial", json=TRIAL).json()["id"]
            busy = _answer_times(server, 200)
            during_trial, _ = _patient_round_trip(server, scenario)
            memory = {"server": _rss_mib(server.process.pid),
                      **{name: _rss_mib(pid) for name, pid in _children(server.process.pid).items()}}
            server.client.delete(f"/api/runs/{trial_id}")
        finally:
            server.stop()

    d, w = statistics.median(direct), statistics.median(web)
    print(f"one patient, {args.days} days, median of {args.repeats} (seconds; lower is better)")
    print(f"  cartsim.simulate in this process {d:8.3f}")
    print(f"  web round trip (POST, follow, GET) {w:6.3f}   web / direct {w / d:5.2f}   "
          f"response {statistics.median(sizes) / 1e6:.2f} MB")
    print(f"  web round trip while a 2 x 1000 trial runs {during_trial:6.3f}   / direct {during_trial / d:5.2f}")
    i, b = statistics.median(idle), statistics.median(busy)
    p95 = lambda xs: sorted(xs)[int(0.95 * len(xs))]  # noqa: E731
    print(f"GET /api/health, 200 requests: idle median {1e3 * i:.2f} ms (p95 {1e3 * p95(idle):.2f}), during the trial "
          f"{1e3 * b:.2f} ms (p95 {1e3 * p95(busy):.2f}); busy / idle {b / i:.2f}")
    print("resident memory (MiB): " + ", ".join(f"{name} {mib:.0f}" for name, mib in memory.items()))


if __name__ == "__main__":
    main()
