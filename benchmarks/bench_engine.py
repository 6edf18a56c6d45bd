"""Throughput of cartsim's batched engine against scipy ``solve_ivp`` and libRoadRunner on the same equations.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_engine.py            # 1000 patients x 3650 days
    PYTHONPATH=src .venv/bin/python benchmarks/bench_engine.py --n 200 --scipy-n 5 --scipy-method BDF
    PYTHONPATH=src .venv/bin/python benchmarks/bench_engine.py --roadrunner-n 10 --trial-n 500

(a) cartsim: one ``integrate`` call per chunk of patients on one core (the engine is serial: a trial
    uses the cores through worker processes), daily output of every state in float32,
    stochastic layer on (the default) and, timed separately, off; and the same engine with the
    finite-difference Jacobian in place of the one generated from the kernel (what it had before), and
    with the sparse LU over the generated Jacobian's pattern (``SolverOptions(sparse_lu=True)``) in place
    of the dense one, timed alternately with the default.
    Flops per accepted step are estimated from the operations of the kernel's trace, of the
    generated Jacobian and of the LU factors at the states the patients pass through, against the
    measured rate of one core's dense matrix product (numpy BLAS, one thread) as its practical peak.
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

(d) A full trial patient: ``--trial-n`` patients per arm of the two-arm 10-year trial through
    ``run_trial`` (clinical clock, protocol, Parquet) on one worker process per core, as ``cartsim
    trial`` runs it (``bench_trial.py`` has the sizes, worker counts and Dask), and the wall time of
    10^6 patients x 10 years extrapolated from it.

All use the same random virtual population as ``tests/test_accuracy.py``
(``tests/scipy_reference.py``). Numba compilation is warmed up before timing.
"""

from __future__ import annotations

import argparse
import ast
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # the peak is one core's, as the engine runs on one
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_trial import TRIAL, extrapolation, trial_rate, warm_up  # noqa: E402
from scipy_reference import (ENGINE_ATOL, first_day, patient_doses, patient_start, random_batch,  # noqa: E402
                             solve_scipy, sub_batch)

from cartsim._compiled_cache import generated_dir  # noqa: E402
from cartsim._engine import MODEL_INTEGRATOR, integrate  # noqa: E402
from cartsim._jacobian import MODULE, model_jacobian  # noqa: E402
from cartsim.model import N_CELL_STATES, N_PARAMS, State, derivatives  # noqa: E402
from cartsim.solver import SolverOptions, make_integrator  # noqa: E402
from cartsim.solver._rodas import N_STAGES, factorise  # noqa: E402

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
    parser.add_argument("--trial-n", type=int, default=250, help="trial patients per arm (default 250; 0: none)")
    return parser.parse_args(argv)


def run_engine(batch, days, rtol, chunk, stochastic, integrate=integrate, sparse_lu=False):
    """Integrate the batch chunk by chunk; returns (seconds, steps, failures, output bytes of one chunk).

    Each chunk's daily float32 output is reduced to a per-patient summary (the
    last-day tumour burden) and dropped, so memory is bounded by one chunk.
    """
    options = SolverOptions(rtol=rtol, stochastic=stochastic, sparse_lu=sparse_lu)
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


def peak_gflops() -> float:
    """One core's rate on a dense matrix product (numpy BLAS, one thread): the practical peak, best of 3."""
    a = np.random.default_rng(0).random((1500, 1500))
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - start)
    return 2.0 * a.shape[0] ** 3 / best / 1e9


def _operations(tree: ast.AST) -> int:
    """Arithmetic operations of straight-line code: +, -, *, /, powers, calls, comparisons."""
    return sum(isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Call, ast.Compare)) for node in ast.walk(tree))


def _count_ops(expressions) -> int:
    """Operations of sympy ``expressions`` with common subexpressions once, as compiled code computes them."""
    import sympy

    temporaries, reduced = sympy.cse(list(expressions), order="none")
    return sum(int(sympy.count_ops(e)) for _, e in temporaries) + sum(int(sympy.count_ops(e)) for e in reduced)


def _jacobian_operations(intermediates) -> int:
    """Operations of the generated Jacobian: its common subexpressions and entries as written, and the kernel's
    intermediates it recomputes (written out in full there; counted with their common parts once)."""
    function = ast.parse((generated_dir() / f"{MODULE}.py").read_text()).body[-1]
    written = [node for node in function.body if isinstance(node, ast.Assign)
               and (isinstance(node.targets[0], ast.Subscript) or node.targets[0].id.startswith("_t"))]
    return sum(_operations(node.value) for node in written) + _count_ops(e for _, e in intermediates)


def flops_per_step(batch, horizon, rtol, stochastic, steps_early, steps_total):
    """Estimated flops of one accepted step: 9 right-hand sides (7 stages, the accepted state, the frozen-state
    check), one generated Jacobian, one LU factorisation of the active states, 8 triangular solves and the stage
    sums, at the states of the first 60 days (every 6 h) and of the years after (every 10 days), weighted by
    the steps taken in each."""
    from cartsim.interop import symbolic_model

    _, _, intermediates, rhs = symbolic_model()
    rhs_flops = _count_ops([e for _, e in intermediates] + list(rhs))
    jacobian_flops = _jacobian_operations(intermediates)
    jacobian = model_jacobian()
    per_phase = []
    for days in (np.arange(first_day(batch), 60.0, 0.25), np.arange(60.0, horizon, 10.0)):
        sol = integrate(batch.y0, batch.params, days, doses=batch.doses, seeds=batch.seeds, t0=batch.t0,
                        options=SolverOptions(rtol=rtol, stochastic=stochastic))
        flops = []
        for y, p in zip(sol.values.reshape(-1, batch.y0.shape[1]), np.repeat(batch.params, days.size, axis=0)):
            flops.append(_linear_algebra_flops(y, p, jacobian) + 9 * rhs_flops + jacobian_flops)
        per_phase.append(float(np.mean(flops)))
    early = steps_early / steps_total
    return early * per_phase[0] + (1.0 - early) * per_phase[1], rhs_flops, jacobian_flops


def _linear_algebra_flops(y, p, jacobian) -> float:
    """LU of the active states' ``I / (gamma h) - J`` (fill as the solver's pivoting makes it), 8 solves, and
    the stage sums over all states."""
    n = y.size
    values = np.empty(jacobian.rows.size)
    jacobian.entries(y, p, values)
    dense = np.zeros((n, n))
    dense[jacobian.rows, jacobian.cols] = values
    dy = np.empty(n)
    derivatives(y, p, dy, np.empty(N_CELL_STATES), np.empty(N_CELL_STATES))
    active = np.nonzero(~((y == 0.0) & (dy == 0.0)))[0]
    m = active.size
    jac = np.ascontiguousarray(dense[np.ix_(active, active)])
    lu = np.empty((m, m))
    factorise(jac, m, 1.0, lu, np.empty(m, dtype=np.int64), np.empty(m, dtype=np.int64))
    nonzero = lu != 0.0
    lower = np.tril(nonzero, -1)
    upper = np.triu(nonzero, 1)
    factor = float(np.sum(lower.sum(axis=0) * (1 + 2 * upper.sum(axis=1))))
    solve = 2.0 * (lower.sum() + upper.sum()) + m
    stages = sum(2 * s * (n + m) for s in range(N_STAGES)) + 4 * N_STAGES * n
    return factor + N_STAGES * solve + stages


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
    # The same engine with the finite-difference Jacobian it had before the generated one, and the flops.
    finite = make_integrator(derivatives, n_params=N_PARAMS, n_cells=N_CELL_STATES, atol=MODEL_INTEGRATOR.atol,
                             typical=MODEL_INTEGRATOR.typical)
    finite.integrate(warm.y0, warm.params, np.arange(-5.0, 11.0), doses=warm.doses, seeds=warm.seeds, t0=warm.t0,
                     dtype=np.float32)
    # Alternating, best of two each (this machine is shared), both without tracemalloc.
    runs = {"generated": [], "finite": [], "sparse": []}
    for _ in range(2):
        runs["generated"].append(run_engine(batch, days, args.rtol, args.chunk, True))
        runs["finite"].append(run_engine(batch, days, args.rtol, args.chunk, True, finite.integrate))
        runs["sparse"].append(run_engine(batch, days, args.rtol, args.chunk, True, sparse_lu=True))
    secs_gen = min(run[0] for run in runs["generated"])
    secs_fd = min(run[0] for run in runs["finite"])
    secs_sparse = min(run[0] for run in runs["sparse"])
    steps_gen, steps_sparse = runs["generated"][0][1].sum(), runs["sparse"][0][1].sum()
    _, steps_fd, failed_fd, _ = runs["finite"][0]
    secs_early, steps_early, _, _ = run_engine(batch, days[days <= 60.0], args.rtol, args.chunk, True)
    flops, rhs_flops, jacobian_flops = flops_per_step(sub_batch(batch, slice(0, min(args.n, 20))), args.days,
                                                      args.rtol, True, steps_early.sum(), steps_sto.sum())
    gflops = flops * steps_sto.sum() / secs_sto / 1e9
    peak = peak_gflops()
    print(f"cartsim stochastic   : {args.n} patients in {secs_sto:.2f} s; mean steps/patient "
          f"{steps_sto.mean():.0f} (max {steps_sto.max()}); failures {failed_sto}")
    print(f"cartsim deterministic: {args.n} patients in {secs_det:.2f} s; mean steps/patient "
          f"{steps_det.mean():.0f} (max {steps_det.max()}); failures {failed_det}")
    print(f"cartsim finite-difference Jacobian (stochastic): {args.n} patients in {secs_fd:.2f} s; mean "
          f"steps/patient {steps_fd.mean():.0f}; failures {failed_fd}")

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

    # (d) a full trial patient: in this (warm) process, and on one worker process per core as `cartsim trial`
    # runs it (their start-up, a few seconds each, included).
    cores = os.cpu_count() or 1
    trial_rates = None
    if args.trial_n > 0:
        from cartsim.trial import load_trial

        trial = load_trial(TRIAL)
        with tempfile.TemporaryDirectory() as folder:
            warm_up(trial, Path(folder))
            trial_rates = [trial_rate(trial, Path(folder), args.trial_n, workers=w)[0] for w in (1, cores)]
        trial_days = trial.follow_up_days

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
    print(f"{'finite differences':<{width}}: {args.n / secs_fd:9.1f} patients/s with the finite-difference "
          f"Jacobian, {args.n / secs_gen:.1f} with the generated one (alternating, best of 2): ratio "
          f"{secs_fd / secs_gen:.2f}x (steps {steps_fd.mean():.0f} vs {steps_sto.mean():.0f} per patient)")
    print(f"{'sparse LU':<{width}}: {1e6 * secs_sparse / steps_sparse:.2f} us per step with the sparse LU, "
          f"{1e6 * secs_gen / steps_gen:.2f} with the dense one (the default; alternating, best of 2): ratio "
          f"dense/sparse time per step {secs_gen / steps_gen / (secs_sparse / steps_sparse):.2f}x")
    print(f"{'mean steps':<{width}}: {steps_sto.mean():.0f} per patient stochastic, "
          f"{steps_det.mean():.0f} deterministic")
    print(f"{'flops per step':<{width}}: about {flops:,.0f} (right-hand side {rhs_flops:,}, generated Jacobian "
          f"{jacobian_flops:,}, the rest LU and stages): {gflops:.2f} GFLOP/s = {100 * gflops / peak:.1f}% of one "
          f"core's measured {peak:.1f} GFLOP/s (dense matrix product)")
    if trial_rates is not None:
        one, many = trial_rates
        print(f"{'trial patient':<{width}}: {one:9.1f} patients/s on one warm process ({1e3 / one:.1f} ms/patient, "
              f"{trial_days} days, clinical layer), {many:.1f} on {cores} worker processes ({many / one:.2f}x)")
        print(f"{'extrapolated':<{width}}: {extrapolation(max(many, cores * one), trial_days)}, at "
              f"{'the measured rate' if many >= cores * one else f'{cores} x the warm one-process rate'}")
    print(f"{'peak RSS':<{width}}: {rss_engine:.0f} MiB after the engine runs, {_rss_mib():.0f} MiB at the end")
    print(f"{'tracemalloc peak':<{width}}: {traced_peak / _MIB:.1f} MiB during the stochastic engine run "
          f"(one chunk's float32 output = {chunk_bytes / _MIB:.1f} MiB)")
    print("=" * 100)


if __name__ == "__main__":
    main()
