"""`cartsim calibrate --out DIR`: screening, the plausible-patient pool, the posterior ensemble and its checks.

Writes into DIR (never into the package):

* ``posterior.parquet``: the ensemble, one row per draw (every candidate's value, the fixed ones constant,
  ``log_posterior``, ``weight``);
* ``calibration.json``: per target category the published value and interval, the model's and the posterior
  predictive's median and 95% interval, the likelihood term; the effective sample sizes; screening, the free
  parameters with their identifiability, the fixed ones and why; the held-out coverage; run time;
* ``parameter_set.json``: the population parameters at their posterior median given the model table's values
  (``--parameters``; committed over ``cartsim/patient/calibrated.json`` it becomes the package default);
* ``vpc.png`` (visual predictive check) and ``calibration.md`` (the report);
* ``pool.parquet``: the simulated pool (outcomes per regimen), so a later look needs no simulation.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from .._version import __version__
from ..patient import PARAMETER_SET_FORMAT
from ._inference import (correlations, covered, identifiability, log_likelihood, predictive, sample_posterior,
                         screen, unidentified)
from ._pool import simulate_pool
from ._problem import PROBLEMS, population_parameter_of
from ._targets import load_targets

POSTERIOR = "posterior.parquet"
CALIBRATION = "calibration.json"
PARAMETER_SET = "parameter_set.json"
#: The shipped default posterior (package data), from which ``cartsim/patient/calibrated.json`` is derived.
SHIPPED_POSTERIOR = Path(__file__).with_name("posterior")




@dataclass(frozen=True)
class Settings:
    """The sizes of one calibration (the defaults take about ten minutes on two cores)."""

    problem: str = "default"
    pool_size: int = 4096          # plausible-patient pool per population
    trajectories: int = 4          # Morris trajectories of the screening
    screening_patients: int = 32   # patients per regimen at each screening point
    walkers: int = 24
    steps: int = 1200
    burn: int = 400
    thin: int = 8
    seed: int = 0


def parameter_set_of(theta: dict[str, float], targets: list[str], free, provenance: dict) -> dict:
    """The parameter set of ``theta`` (a posterior median or draw): populations (median/spread of each fitted
    characteristic for every preset it moves) and the ``free`` table parameters; ``provenance`` on top."""
    populations: dict[str, dict] = {}
    parameters = {}
    for name, value in theta.items():
        population = population_parameter_of(name)
        if population is not None:
            for preset in population.presets:
                populations.setdefault(preset, {}).setdefault(population.characteristic, {})[population.what] = value
        elif name in free:
            parameters[name] = value
    return {
        "format": PARAMETER_SET_FORMAT,
        "version": dt.date.today().isoformat(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "method": ("posterior median of an emcee ensemble on a weighted plausible-patient pool, model table "
                   "parameters at their table values (cartsim calibrate)"),
        "targets": targets,
        "parameters": parameters,
        "populations": populations,
        **provenance,
    }


def calibrate(out: str | Path, settings: Settings = Settings(), targets_path: str | Path | None = None,
              workers: int = 1, scheduler: str | None = None,
              progress: Callable[[str, int, int], None] | None = None, reuse: str | Path | None = None) -> dict:
    """Run the calibration of ``settings.problem`` and write its outputs into ``out``; return calibration.json.
    ``reuse``: an earlier calibration folder of the same model and problem, whose screening and simulated pool
    are taken as they are (only the inference runs again)."""
    started = time.monotonic()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    problem = PROBLEMS[settings.problem]
    targets = load_targets(targets_path)
    problem.check(targets)
    step = (lambda stage: (lambda done, total: progress(stage, done, total))) if progress else (lambda stage: None)

    if reuse is None:
        screening = screen(settings.problem, settings.trajectories, settings.screening_patients, workers,
                           scheduler, step("screening (SALib Morris)"))
        screened = time.monotonic()
        pool = simulate_pool({"problem": settings.problem, "pool_size": settings.pool_size,
                              "free": screening.chosen}, workers, scheduler, progress=step("plausible-patient pool"))
    else:
        screening, pool, earlier_seconds = reused(reuse, problem, settings)
        screened = time.monotonic()
    simulated = time.monotonic()
    candidates = {c.name: c for c in problem.candidates}
    fixed = {name: c.value for name, c in candidates.items() if name not in screening.chosen}
    reasons = dict(screening.reasons)
    free = [candidates[name] for name in screening.chosen]
    chain = dict(walkers=settings.walkers, steps=settings.steps, burn=settings.burn, thin=settings.thin,
                 seed=settings.seed)
    passes = []
    evaluations = 0
    while True:
        posterior = sample_posterior(pool, free, fixed, progress=step(f"posterior (emcee), pass {len(passes) + 1}"),
                                     **chain)
        evaluations += posterior.evaluations
        entries = identifiability(posterior)
        why = unidentified(posterior, entries)  # a ridge first, then look again without it
        passes.append({"free": entries, "correlations": correlations(posterior)})
        if len(why) == len(free):  # nothing identified: keep the best-narrowed parameter free
            keep = min(free, key=lambda c: entries[c.name]["posterior_to_prior_variance"]).name
            why = {name: reason for name, reason in why.items() if name != keep}
        passes[-1]["fixed_after"] = why
        if not why:
            break
        for name, reason in why.items():
            reasons[name] = f"{reason}: fixed at its sourced value {candidates[name].value:g}"
            fixed[name] = candidates[name].value
        free = [c for c in free if c.name not in why]
    sampled = time.monotonic()
    fitted, ess = predictive(pool, posterior, problem.terms, settings.seed)
    held_out, _ = predictive(pool, posterior, problem.held_out, settings.seed)
    hits = [covered(row) for row in held_out]
    seconds = {"screening": screened - started, "pool": simulated - screened, "posterior": sampled - simulated}
    if reuse is not None:  # the screening and pool were the earlier run's work: its times
        seconds.update({k: v for k, v in earlier_seconds.items() if k in ("screening", "pool")})
    seconds["total"] = seconds["screening"] + seconds["pool"] + (time.monotonic() - simulated)
    known = [h for h in hits if h is not None]
    summary = {
        "cartsim_version": __version__,
        "problem": settings.problem,
        "settings": settings.__dict__,
        "method": ("Morris screening (SALib) on small common-random-number cohorts; a Sobol plausible-patient pool "
                   "(scipy.stats.qmc) simulated once per regimen, implausible patients dropped, importance "
                   "weights to each candidate population; emcee ensemble over the free parameters with the "
                   "binomial/multinomial/band likelihood of the fitted targets"),
        "regimens": [{"name": r.name, "cohort": r.cohort, "arm": r.arm, "population": r.population,
                      "days": r.days} for r in problem.regimens],
        "pool": {"size_per_population": settings.pool_size, "dropped_by_rule": pool.dropped(),
                 "plausible": {name: int(keep.sum()) for name, keep in pool.plausible.items()}},
        "effective_sample_size": ess,
        "screening": {"threshold_standard_errors": problem.screening_threshold, "chosen": screening.chosen,
                      "reasons": screening.reasons, "mu_star": screening.table.to_dict(orient="records")},
        "reused_screening_and_pool_from": None if reuse is None else Path(reuse).name,
        "free": identifiability(posterior) if free else {},
        "passes": passes,
        "correlations": correlations(posterior) if free else {},
        "fixed": {name: {"value": value, "why": reasons.get(name, "not a candidate")} for name, value in fixed.items()},
        "acceptance_fraction": posterior.acceptance,
        "evaluations": evaluations,
        "log_likelihood_at_median": float(sum(row["log_likelihood"] or 0.0 for row in fitted)),
        "targets": fitted,
        "held_out": {"targets": held_out, "covered": int(sum(known)), "compared": len(known),
                     "rule": "a count: the published share inside the posterior predictive 95% interval of a "
                             "study of its size; a band: the predictive median inside the band",
                     "coverage": (sum(known) / len(known)) if known else None},
        "seconds": seconds,
        "workers": workers, "scheduler": scheduler,
    }
    parameter_set = _default_parameter_set(pool, posterior, candidates, settings, summary, step)
    summary["parameter_set"] = parameter_set
    _write(out, posterior.frame(), pool, summary, parameter_set)
    return summary


def _default_parameter_set(pool, posterior, candidates: dict, settings: Settings, summary: dict, step) -> dict:
    """The parameter set the rest of cartsim runs with: population parameters only, at their posterior median
    given the model table's own values. With free table parameters that is a second, conditional ensemble
    (table parameters at their sourced values): the shipped set then matches the table every run uses, and the
    table parameters' posterior medians are reported for the table (``table_parameters_suggested``)."""
    table = [c for c in posterior.free if c.kind == "table"]
    median = posterior.median()
    if table:
        population = [c for c in posterior.free if c.kind == "population"]
        given = {**posterior.fixed, **{c.name: c.value for c in table}}
        chain = dict(walkers=settings.walkers, steps=max(settings.steps // 3, 60), burn=max(settings.steps // 9, 20),
                     thin=max(1, settings.thin // 3), seed=settings.seed)
        conditional = sample_posterior(pool, population, given, progress=step("posterior given the table values"),
                                       **chain) if population else None
        median = conditional.median() if conditional else given
        summary["table_parameters_suggested"] = {
            c.name: {"posterior_median": summary["free"][c.name]["median"], "interval": summary["free"][c.name]["interval"],
                     "table_default": c.value} for c in table}
        summary["evaluations"] += conditional.evaluations if conditional else 0
    population_values = {c.name: median[c.name] for c in posterior.free if c.kind == "population"}
    summary["parameter_set_given"] = ("the model table's values (free table parameters at their sourced values)"
                                      if table else "the posterior median of every free parameter")
    return parameter_set_of(population_values, [t.target for t in pool.problem.terms], (), {
        "cohorts": {"pool_size": settings.pool_size, "regimens": [r.name for r in pool.problem.regimens]},
        "objective": -log_likelihood(pool, median)[0], "evaluations": summary["evaluations"]})


def reused(folder: str | Path, problem, settings: Settings):
    """The screening, pool and run times of an earlier calibration folder (``calibrate --reuse``)."""
    from ._inference import Screening
    from ._pool import pool_of
    from ._targets import CalibrationError

    folder = Path(folder)
    try:
        earlier = json.loads((folder / CALIBRATION).read_text())
        frame = pd.read_parquet(folder / "pool.parquet")
        chosen, reasons = earlier["screening"]["chosen"], earlier["screening"]["reasons"]
        size = earlier["pool"]["size_per_population"]
    except (OSError, ValueError, KeyError) as exc:
        raise CalibrationError(f"{folder} is not a calibration folder to reuse ({exc})") from None
    regimens = {r["name"] for r in earlier.get("regimens", ())}
    if (earlier["problem"] != settings.problem or earlier["cartsim_version"] != __version__
            or regimens != {r.name for r in problem.regimens}):
        raise CalibrationError(f"{folder} holds another problem, its regimens or cartsim version; calibrate "
                               "without --reuse")
    outcomes = {name: rows.drop(columns=["regimen", "plausible"]).reset_index(drop=True)
                for name, rows in frame.groupby("regimen")}
    screening = Screening(pd.DataFrame(earlier["screening"]["mu_star"]), chosen, reasons)
    return screening, pool_of(problem.shrunk(size).restricted(chosen), outcomes), earlier["seconds"]


def _write(out: Path, frame: pd.DataFrame, pool, summary: dict, parameter_set: dict) -> None:
    from ._report import plot_vpc, report_markdown

    frame.to_parquet(out / POSTERIOR, index=False)
    pd.concat([f.assign(regimen=name, plausible=pool.plausible[name]) for name, f in pool.outcomes.items()],
              ignore_index=True).to_parquet(out / "pool.parquet", index=False)
    for name, content in ((CALIBRATION, summary), (PARAMETER_SET, parameter_set)):
        partial = out / f"{name}.partial"
        partial.write_text(json.dumps(content, indent=2, allow_nan=False, default=_plain) + "\n")
        os.replace(partial, out / name)
    plot_vpc(summary, out / "vpc.png")
    (out / "calibration.md").write_text(report_markdown(summary))


def _plain(value):
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    raise TypeError(f"not JSON: {value!r}")


def load_posterior(folder: str | Path) -> pd.DataFrame:
    """The ensemble of a calibration folder (``posterior.parquet``); a CalibrationError if it is not one."""
    from ._targets import CalibrationError

    path = Path(folder) / POSTERIOR
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise CalibrationError(f"{path} cannot be read ({exc}); is {folder} a cartsim calibrate --out folder?") from None
    if "weight" not in frame or len(frame) == 0:
        raise CalibrationError(f"{path} is not a posterior ensemble (needs rows and a 'weight' column)")
    return frame
