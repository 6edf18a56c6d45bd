"""Throughput of cartsim's batched engine against scipy ``solve_ivp`` and libRoadRunner on the same equations.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_engine.py            # 1000 patients x 3650 days
    PYTHONPATH=src .venv/bin/python benchmarks/bench_engine.py --n 200 --scipy-n 5 --scipy-method BDF
    PYTHONPATH=src .venv/bin/python benchmarks/bench_engine.py --roadrunner-n 10

(a) cartsim: one ``integrate`` call per chunk of patients on one core (the engine is serial: a trial
    uses the cores through worker processes), daily output of every state in float32,
    stochastic layer on (the default) and, timed separately, off.
(b) scipy: one ``solve_ivp`` per patient (LSODA by default) at the same
    rtol, the engine's absolute tolerances, daily ``t_eval`` and the same
    boluses (piecewise integration between dose times), with two right-hand
    sides: the plain-Python model function (``derivatives`` and its mechanisms as Python; what a
    modeller writing these equations for scipy would have) and the compiled
    kernel (a tougher baseline). Timed on a subset, converted to patients/s.

(c) libRoadRunner: the SBML export of each patient (``cartsim export-sbml``: rate rules traced from
    the kernel, doses as events), CVODE at the same rtol (absolute 1e-10), daily output, one patient
    at a time, over the first year (``--roadrunner-days``, the horizon the SBML tests verify; over ten
    years CVODE fails on most of these patients). Each patient's SBML differs (its parameters and dose
    events), so each is loaded (LLVM-compiled) anew; that load is timed separately and not counted.
    Its rate is compared with the deterministic engine over the same days, timed in the same run.

All use the same random virtual population as ``tests/test_accuracy.py``
(``tests/scipy_reference.py``). Numba compilation is warmed up before timing.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from scipy_reference import (ENGINE_ATOL, first_day, patient_doses, patient_start, random_batch,  # noqa: E402
                             solve_scipy, sub_batch)

from cartsim.model import State  # noqa: E402
from cartsim._engine import integrate  # noqa: E402
from cartsim.solver import SolverOptions  # noqa: E402

_MIB = 1024.0 * 1024.0


def _rss_mib() -> float:
    """Peak resident set size of this process so far (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (_MIB if sys.platform == "darwin" else 1024.0)


def _arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="patients for the cartsim engine (default 1000)")
    parser.add_argument("--chunk", type=int, default=250, help="patients per integrate() call (default 250)")
    parser.add_argument("--days", type=int, default=3650, help="follow-up after infusion (default 3650)")
    parser.add_argument("--rtol", type=float, default=1e-6, help="relative tolerance of both (default 1e-6)")
    parser.add_argument("--scipy-n", type=int, default=20, help="patients timed with scipy (default 20)")
    parser.add_argument("--scipy-method", default="LSODA", choices=["LSODA", "BDF", "Radau"],
                        help="solve_ivp method (default LSODA)")
    parser.add_argument("--roadrunner-n", type=int, default=10, help="patients timed with libRoadRunner (default 10)")
    parser.add_argument("--roadrunner-days", type=int, default=365, help="their follow-up (default 365)")
    parser.add_argument("--seed", type=int, default=20240601, help="seed of the virtual population")
    return parser.parse_args(argv)


def run_engine(batch, days, rtol, chunk, stochastic):
    """Integrate the batch chunk by chunk; returns (seconds, steps, failures, output bytes of one chunk).

    Each chunk's daily float32 output is reduced to a per-patient summary (the
    last-day tumour burden) and dropped, so memory is bounded by one chunk.
    """
    options = SolverOptions(rtol=rtol, stochastic=stochastic)
    n = batch.y0.shape[0]
    steps = np.zeros(n, dtype=np.int64)
    failed = 0
    final_tumour = np.zeros(n)
    tumour = [int(State[f"cll_{c}_{s}"]) for c in ("pos", "neg") for s in ("blood", "marrow", "node")]
    chunk_bytes = 0
    start = time.perf_counter()
    for lo in range(0, n, chunk):
        hi = min(lo + chunk, n)
        part = sub_batch(batch, slice(lo, hi))
        sol = integrate(part.y0, part.params, days, doses=part.doses, seeds=part.seeds, t0=part.t0,
                        options=options, dtype=np.float32)
        steps[lo:hi] = sol.steps
        failed += int(np.count_nonzero(~sol.successful))
        final_tumour[lo:hi] = sol.values[:, -1, tumour].sum(axis=1)
        chunk_bytes = max(chunk_bytes, sol.values.nbytes)
        del sol
    return time.perf_counter() - start, steps, failed, chunk_bytes


def run_scipy(batch, days, rtol, n, method, compiled):
    """One solve_ivp per patient; returns (seconds, mean nfev, failures)."""
    nfev = []
    failed = 0
    start = time.perf_counter()
    for i in range(n):
        ref = solve_scipy(batch.y0[i], batch.params[i], patient_doses(batch, i), patient_start(batch, i), days, method=method,
                          rtol=rtol, atol=ENGINE_ATOL, compiled=compiled)
        nfev.append(ref.nfev)
        failed += not ref.success
    return time.perf_counter() - start, float(np.mean(nfev)), failed


def run_roadrunner(batch, days, rtol, n):
    """libRoadRunner on each patient's SBML; returns (simulate seconds, load seconds, failures)."""
    import libsbml
    import roadrunner

    from cartsim.interop import sbml_document

    simulate = load = 0.0
    failed = 0
    for i in range(n):
        t = time.perf_counter()
        runner = roadrunner.RoadRunner(libsbml.writeSBMLToString(sbml_document(sub_batch(batch, slice(i, i + 1)))))
        load += time.perf_counter() - t
        runner.integrator.relative_tolerance = rtol
        runner.integrator.absolute_tolerance = 1e-10
        runner.integrator.maximum_num_steps = 100_000
        start = patient_start(batch, i)
        t = time.perf_counter()
        try:
            runner.simulate(times=[0.0, *(days[days > start] - start)])
        except RuntimeError:  # CVODE gave up (reported; its time is not counted)
            failed += 1
            continue
        simulate += time.perf_counter() - t
    return simulate, load, failed


def main(argv=None) -> None:
    args = _arguments(argv)
    n_scipy = min(args.scipy_n, args.n)

    t = time.perf_counter()
    batch = random_batch(args.n, args.seed)
    days = np.arange(first_day(batch), args.days + 1, dtype=np.float64)
    print(f"population: {args.n} random patients (seed {args.seed}) built in {time.perf_counter() - t:.1f} s; "
          f"{days.size} daily outputs from day {days[0]:g} to {days[-1]:g}, rtol {args.rtol:g}")

    # Warm-up: compile (or load from numba's cache) the engine for float32 output, and the compiled RHS.
    t = time.perf_counter()
    warm = random_batch(2, args.seed + 1)
    for stochastic in (True, False):
        integrate(warm.y0, warm.params, np.arange(-5.0, 11.0), doses=warm.doses, seeds=warm.seeds, t0=warm.t0,
                  options=SolverOptions(rtol=args.rtol, stochastic=stochastic), dtype=np.float32)
    solve_scipy(warm.y0[0], warm.params[0], patient_doses(warm, 0), patient_start(warm, 0), np.arange(-5.0, 2.0),
                method=args.scipy_method, rtol=args.rtol)
    print(f"warm-up (numba compile or cache load): {time.perf_counter() - t:.1f} s")

    # (a) cartsim, stochastic (timed with tracemalloc on: it only tracks the Python-level output arrays).
    tracemalloc.start()
    secs_sto, steps_sto, failed_sto, chunk_bytes = run_engine(batch, days, args.rtol, args.chunk, True)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_engine = _rss_mib()
    secs_det, steps_det, failed_det, _ = run_engine(batch, days, args.rtol, args.chunk, False)
    rate_sto = args.n / secs_sto
    rate_det = args.n / secs_det
    print(f"cartsim stochastic   : {args.n} patients in {secs_sto:.2f} s; mean steps/patient "
          f"{steps_sto.mean():.0f} (max {steps_sto.max()}); failures {failed_sto}")
    print(f"cartsim deterministic: {args.n} patients in {secs_det:.2f} s; mean steps/patient "
          f"{steps_det.mean():.0f} (max {steps_det.max()}); failures {failed_det}")

    # (b) scipy, same equations, same rtol, same daily output, on a subset.
    baselines = {}
    for compiled in (False, True):
        label = f"scipy {args.scipy_method} ({'compiled' if compiled else 'python'} RHS)"
        secs, nfev, failed = run_scipy(batch, days, args.rtol, n_scipy, args.scipy_method, compiled)
        baselines[label] = n_scipy / secs
        print(f"{label}: {n_scipy} patients in {secs:.2f} s; mean RHS evaluations/patient {nfev:.0f}; "
              f"failures {failed}")

    # (c) libRoadRunner on the exported SBML against the deterministic engine, over the first year.
    n_rr = min(args.roadrunner_n, args.n)
    year = days[days <= args.roadrunner_days]
    secs_rr, load_rr, failed_rr = run_roadrunner(batch, year, args.rtol, n_rr)
    secs_year, _, _, _ = run_engine(batch, year, args.rtol, args.chunk, False)
    rate_rr, rate_year = (n_rr - failed_rr) / secs_rr if secs_rr > 0 else 0.0, args.n / secs_year
    print(f"libRoadRunner (CVODE, SBML): {n_rr - failed_rr} of {n_rr} patients x {args.roadrunner_days} days in "
          f"{secs_rr:.2f} s ({rate_rr:.1f} patients/s; + {load_rr:.1f} s loading/compiling their SBML, not "
          f"counted); CVODE failed on {failed_rr}")
    print(f"cartsim (determ.) over the same {args.roadrunner_days} days: {rate_year:.1f} patients/s; "
          f"ratio cartsim/libRoadRunner " + (f"{rate_year / rate_rr:.1f}x" if rate_rr > 0 else
                                               "none (CVODE failed on every patient)"))

    width = max(len(k) for k in baselines) + 1
    print()
    print("=" * 100)
    print(f"{args.n} patients x {args.days} days, daily output of all {batch.y0.shape[1]} states, rtol {args.rtol:g}")
    print(f"{'cartsim engine':<{width}}: {rate_sto:9.1f} patients/s ({1e3 / rate_sto:8.2f} ms/patient, "
          f"one core, stochastic layer on, float32 output, chunks of {args.chunk})")
    print(f"{'cartsim (determ.)':<{width}}: {rate_det:9.1f} patients/s ({1e3 / rate_det:8.2f} ms/patient, "
          "one core, stochastic layer off)")
    for label, rate in baselines.items():
        print(f"{label:<{width}}: {rate:9.2f} patients/s ({1e3 / rate:8.1f} ms/patient, 1 thread); "
              f"ratio cartsim/{label.split()[0]} {rate_sto / rate:7.1f}x (deterministic {rate_det / rate:.1f}x)")
    print(f"{'mean steps':<{width}}: {steps_sto.mean():.0f} per patient stochastic, "
          f"{steps_det.mean():.0f} deterministic")
    print(f"{'peak RSS':<{width}}: {rss_engine:.0f} MiB after the engine runs, {_rss_mib():.0f} MiB at the end")
    print(f"{'tracemalloc peak':<{width}}: {traced_peak / _MIB:.1f} MiB during the stochastic engine run "
          f"(one chunk's float32 output = {chunk_bytes / _MIB:.1f} MiB)")
    print("=" * 100)


if __name__ == "__main__":
    main()
