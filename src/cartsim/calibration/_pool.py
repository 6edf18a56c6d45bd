"""The plausible-patient pool of a calibration: quasi-random virtual patients, each simulated once per regimen,
implausible ones dropped by physiological rules, then weighted to any candidate population (Allen 2016 CPT
Pharmacometrics Syst Pharmacol: plausible patients; Schmidt 2022 / Cheng 2022: prevalence weighting).

Design: per population, a scrambled Sobol sequence (scipy.stats.qmc) over the latent characteristics of
:data:`cartsim.patient.LATENT` and the free table parameters. A characteristic with a free population parameter
(its median or spread) is drawn log-uniformly over its marginal's whole range (the proposal), every other
characteristic from the population's copula given the rest; each free table parameter log-uniformly over its
prior. A candidate ``theta`` then weighs patient ``i`` by the density of its values under ``theta`` (the
population's marginal given the patient's other latents, the table parameter's narrow spread around the
candidate centre) over the proposal density: importance weights, so every candidate is evaluated on the same
simulated patients (common random numbers) without a new simulation. The effective sample size (Kish) says how
many patients a candidate really rests on.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
from scipy.stats import qmc
from scipy.special import ndtri

from .._seeds import mix_seeds
from ..patient import LATENT, UNCALIBRATED_POPULATIONS, Population, patients_from_latents
from ..trial import Trial, map_chunks, simulate_patients
from ._cohorts import within_follow_up
from ._problem import TABLE_SPREAD, FreeParameter, Problem, marginal_changes

#: The columns of a simulated pool patient kept for the statistics (the rest of a trial row is not needed).
OUTCOME_COLUMNS = ("patient", "best_response", "crs_max_grade", "crs_onset_day", "icans_max_grade",
                   "icans_onset_day", "car_t_peak_cells", "car_t_peak_day", "product_dose_cells",
                   "manufacturing_failed", "umrd4_blood_day90", "umrd4_marrow_day90", "solver_failed",
                   "response_day28", "response_month3", "mrd_negative_remission_day28",
                   "mrd_negative_remission_month3", "car_t_cmax_copies_per_ug", "car_t_tmax_days")


@dataclass(frozen=True)
class PlausibilityRule:
    """A physiological rule a plausible pool patient obeys (``keeps`` on its outcome rows), with its reason."""

    name: str
    keeps: Callable[[pd.DataFrame], np.ndarray]
    why: str


PLAUSIBILITY_RULES = (
    PlausibilityRule("integrated", lambda f: ~f["solver_failed"].astype(bool).to_numpy(),
                     "the solver integrated the patient (a failure is an artefact, not a patient)"),
    PlausibilityRule("no_storm_without_car_t", lambda f: ~(f["crs_onset_day"].to_numpy(float) < 0.0)
                     & ~(f["icans_onset_day"].to_numpy(float) < 0.0),
                     "no CRS or ICANS before any CAR-T cell is infused (an inflammatory loop that runs away "
                     "without CAR-T is not a patient: CRS follows infusion, Lee 2019 Biol Blood Marrow Transplant)"),
)


def _free_characteristics(problem: Problem, population: str) -> list[str]:
    """The characteristics of ``population`` that a free population parameter moves."""
    return sorted({c.characteristic for c in problem.candidates if c.applies_to(population)}, key=LATENT.index)


def _table(problem: Problem) -> list[FreeParameter]:
    return [c for c in problem.candidates if c.kind == "table"]


@dataclass
class PoolDesign:
    """One population's pool before simulation: the patients (a population frame), the free characteristics'
    conditional latent mean and covariance given the other latents, and each patient's table parameter values."""

    population: str
    patients: pd.DataFrame
    conditional_mean: np.ndarray  # [patient, free characteristic]
    conditional_cov: np.ndarray   # [free characteristic, free characteristic]
    table: dict[str, np.ndarray]


def design_pool(problem: Problem, population: str) -> PoolDesign:
    """The quasi-random pool of ``population`` (deterministic in the problem's seed and size)."""
    base: Population = UNCALIBRATED_POPULATIONS[population]
    free = _free_characteristics(problem, population)
    table = _table(problem)
    other = [name for name in LATENT if name not in free]
    n = problem.pool_size
    with warnings.catch_warnings():  # a pool size that is not a power of two keeps Sobol's balance only roughly
        warnings.simplefilter("ignore", UserWarning)
        u = qmc.Sobol(len(LATENT) + len(table), scramble=True, seed=problem.seed).random(n)
    u = np.clip(u, 1e-12, 1 - 1e-12)
    r = base.correlation_matrix()
    io, jf = [LATENT.index(x) for x in other], [LATENT.index(x) for x in free]
    r_oo, r_fo, r_ff = r[np.ix_(io, io)], r[np.ix_(jf, io)], r[np.ix_(jf, jf)]
    z_other = ndtri(u[:, :len(other)]) @ np.linalg.cholesky(r_oo).T
    z = {name: z_other[:, k] for k, name in enumerate(other)}
    regression = r_fo @ np.linalg.inv(r_oo)
    proposal = u[:, len(other):len(LATENT)]
    for k, name in enumerate(free):
        marginal = getattr(base, name)
        log_x = math.log(marginal.low) + proposal[:, k] * (math.log(marginal.high) - math.log(marginal.low))
        z[name] = (log_x - math.log(marginal.median)) / marginal.spread
    keys = mix_seeds(np.uint64(problem.seed) + np.arange(n, dtype=np.uint64), 7)
    patients = patients_from_latents(base, z, np.arange(n), keys >> np.uint64(1))
    values = {c.name: c.from_unit(u[:, len(LATENT) + k]) for k, c in enumerate(table)}
    return PoolDesign(population, patients, z_other @ regression.T, r_ff - regression @ r_fo.T, values)


def regimen_outcomes(problem: Problem, regimen_name: str, patients: pd.DataFrame,
                     parameters: dict[str, np.ndarray | float] | None = None) -> pd.DataFrame:
    """The outcome rows (:data:`OUTCOME_COLUMNS`) of ``patients`` (a population frame) treated in the regimen
    ``regimen_name``, with model ``parameters`` (per patient, or one value for all) on top of its arm's."""
    regimen = problem.regimen(regimen_name)
    arm = within_follow_up(regimen.arm_spec(), regimen.days)
    trial = Trial.validated({"name": regimen.name, "population": regimen.population,
                             "patients_per_arm": len(patients), "follow_up_days": regimen.days,
                             "seed": problem.seed, "arms": [arm]})
    per_patient = {k: np.broadcast_to(np.asarray(v, dtype=float), len(patients)) for k, v in (parameters or {}).items()}
    frame, _ = simulate_patients(trial, trial.arms[0], patients.reset_index(drop=True), parameters=per_patient)
    return frame[list(OUTCOME_COLUMNS)]


def _problem_of(spec: dict) -> Problem:
    from ._problem import PROBLEMS

    return PROBLEMS[spec["problem"]].shrunk(spec["pool_size"]).restricted(spec["free"])


def _pool_chunk(payload: str, chunk: tuple[str, int, int]) -> pd.DataFrame:
    """Simulate pool patients ``first .. first+count-1`` of the regimen ``chunk[0]`` (a worker's task)."""
    problem = _problem_of(json.loads(payload))
    regimen_name, first, count = chunk
    design = design_pool(problem, problem.regimen(regimen_name).population)
    rows = slice(first, first + count)
    return regimen_outcomes(problem, regimen_name, design.patients.iloc[rows],
                            {k: v[rows] for k, v in design.table.items()})


@dataclass
class Pool:
    """The simulated pools: per population its design; per regimen the outcome rows (pool order) and which
    patients are plausible."""

    problem: Problem
    designs: dict[str, PoolDesign]
    outcomes: dict[str, pd.DataFrame]
    plausible: dict[str, np.ndarray]

    def dropped(self) -> dict[str, dict[str, int]]:
        """Per regimen, the patients each plausibility rule drops."""
        return {name: {rule.name: int((~rule.keeps(frame)).sum()) for rule in PLAUSIBILITY_RULES}
                for name, frame in self.outcomes.items()}


def simulate_pool(spec: dict, workers: int = 1, scheduler: str | None = None, chunk_size: int = 256,
                  progress: Callable[[int, int], None] | None = None) -> Pool:
    """Simulate every pool patient of ``spec`` (``problem``: a name of :data:`PROBLEMS`, ``pool_size``: patients
    per population, ``free``: the free parameters) once in each regimen of its population (local processes or
    Dask)."""
    problem = _problem_of(spec)
    payload = json.dumps(spec)
    todo = [(r.name, first, min(chunk_size, problem.pool_size - first))
            for r in problem.regimens for first in range(0, problem.pool_size, chunk_size)]
    parts: dict[str, list] = {r.name: [] for r in problem.regimens}
    done = 0
    for chunk, frame in map_chunks(_pool_chunk, payload, todo, workers, scheduler):
        parts[chunk[0]].append((chunk[1], frame))
        done += 1
        if progress:
            progress(done, len(todo))
    outcomes = {name: pd.concat([f for _, f in sorted(p, key=lambda x: x[0])], ignore_index=True)
                for name, p in parts.items()}
    return pool_of(problem, outcomes)


def pool_of(problem: Problem, outcomes: dict[str, pd.DataFrame]) -> Pool:
    """The pool of simulated ``outcomes`` (regimen -> rows in pool order), plausibility applied: a patient is
    plausible when every rule keeps it in every regimen of its population."""
    designs = {p: design_pool(problem, p) for p in problem.populations()}
    plausible = {}
    for population in designs:
        keep = np.ones(problem.pool_size, bool)
        for regimen in problem.regimens:
            if regimen.population == population:
                for rule in PLAUSIBILITY_RULES:
                    keep &= rule.keeps(outcomes[regimen.name])
        plausible[population] = keep
    return Pool(problem, designs, outcomes, {r.name: plausible[r.population] for r in problem.regimens})


# ---- weights --------------------------------------------------------------------------------------------------

def log_weights(design: PoolDesign, problem: Problem, theta: dict[str, float]) -> np.ndarray:
    """Log importance weight of each pool patient under the candidate ``theta`` (every candidate's value by
    name), up to a constant: population density of the free characteristics given the other latents, and of the
    table parameters around their centres, over the (uniform in log) proposal."""
    base = UNCALIBRATED_POPULATIONS[design.population]
    free = _free_characteristics(problem, design.population)
    changes = marginal_changes(theta, design.population)
    if free:
        residual = np.empty((len(design.patients), len(free)))
        log_scale = 0.0
        for k, name in enumerate(free):
            marginal = getattr(base, name)
            median = changes.get(name, {}).get("median", marginal.median)
            spread = changes.get(name, {}).get("spread", marginal.spread)
            log_x = np.log(design.patients[name].to_numpy(float))
            residual[:, k] = (log_x - math.log(median)) / spread - design.conditional_mean[:, k]
            log_scale += math.log(spread)
        precision = np.linalg.inv(design.conditional_cov)
        out = -0.5 * np.einsum("ij,jk,ik->i", residual, precision, residual) - log_scale
    else:
        out = np.zeros(len(design.patients))
    for name, values in design.table.items():
        out = out - 0.5 * ((np.log(values) - math.log(theta[name])) / TABLE_SPREAD) ** 2
    return out


def weights(pool: Pool, theta: dict[str, float]) -> dict[str, np.ndarray]:
    """Normalised weights per regimen (zero for implausible patients)."""
    by_population = {p: log_weights(d, pool.problem, theta) for p, d in pool.designs.items()}
    out = {}
    for regimen in pool.problem.regimens:
        lw = np.where(pool.plausible[regimen.name], by_population[regimen.population], -np.inf)
        w = np.exp(lw - lw.max())
        out[regimen.name] = w / w.sum()
    return out


def effective_sample_size(w: np.ndarray) -> float:
    """Kish's effective sample size of normalised weights."""
    return float(1.0 / np.sum(w * w))
