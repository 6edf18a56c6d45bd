"""The method: screening, the posterior ensemble, identifiability and the posterior predictive.

1. **Screening** (SALib Morris, Campolongo 2007 mu*): every candidate over its prior in a few one-at-a-time
   trajectories, each point a small virtual cohort of every regimen on the same patients (common random
   numbers); a candidate whose elementary effects move no fitted target by :attr:`Problem.screening_threshold`
   standard errors of that target is fixed at its sourced value. At most :data:`MAX_FREE_TABLE` table
   parameters are freed (the most influential).
2. **Posterior** (emcee, the affine-invariant ensemble sampler of Foreman-Mackey 2013 PASP): the likelihood of
   the fitted terms on the weighted plausible-patient pool (:mod:`._pool`) times the priors. A candidate costs
   a reweighting, not a simulation, so a chain of tens of thousands of evaluations takes a minute. Why emcee:
   with the pool the likelihood is explicit (binomial, multinomial on published counts), cheap and smooth, so
   likelihood-free inference (pyabc's ABC-SMC, sbi's neural estimators) would pay fresh simulations for what
   a reweighting gives, and emcee needs no tuning for correlated posteriors and no extra stack (sbi needs torch).
3. **Identifiability**: from the ensemble, each free parameter's posterior variance over its prior variance
   (prior coordinates) and the posterior correlations. A parameter the targets do not identify is fixed at its
   sourced value and the posterior is drawn again without it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import pandas as pd

from ..patient import UNCALIBRATED_POPULATIONS, sample_population
from ..trial import map_chunks
from ._pool import Pool, effective_sample_size, regimen_outcomes, weights
from ._problem import MAX_FREE_TABLE, FreeParameter, Problem, Term, marginal_changes, population_parameter_of


def populations_at(theta: dict[str, float]) -> dict:
    """The presets that the population parameters of ``theta`` move, with those parameters."""
    presets = {p for name in theta if (parameter := population_parameter_of(name)) for p in parameter.presets}
    out = {}
    for name in sorted(presets):
        base = UNCALIBRATED_POPULATIONS[name]
        out[name] = replace(base, **{c: replace(getattr(base, c), **v) for c, v in marginal_changes(theta, name).items()})
    return out


def _term_scale(term: Term) -> np.ndarray:
    """A target's standard error per reported category (binomial at the published share, or a quarter band)."""
    if term.counts is None:
        low, high = term.band
        return np.array([(high - low) / 3.92])
    p = np.array([v for _, v, _ in term.published()])
    return np.sqrt(np.maximum(p * (1 - p), 0.25 / term.n) / term.n)


# ---- 1. screening -----------------------------------------------------------------------------------------------

def _screen_chunk(payload: str, chunk: tuple[str, int, int]) -> pd.DataFrame:
    """The outcomes of Morris points ``first .. first+count-1`` in regimen ``chunk[0]``, one batch (a worker's
    task); the column ``point`` says which point a row belongs to."""
    from ._problem import PROBLEMS

    spec = json.loads(payload)
    problem = PROBLEMS[spec["problem"]]
    regimen_name, first, count = chunk
    regimen = problem.regimen(regimen_name)
    frames, table = [], {c.name: [] for c in problem.candidates if c.kind == "table"}
    for point in range(first, first + count):
        theta = spec["points"][point]
        population = populations_at(theta).get(regimen.population, UNCALIBRATED_POPULATIONS[regimen.population])
        frames.append(sample_population(population, spec["patients"], problem.seed).assign(point=point))
        for name in table:
            table[name].append(np.full(spec["patients"], theta[name]))
    patients = pd.concat(frames, ignore_index=True)
    outcomes = regimen_outcomes(problem, regimen_name, patients, {k: np.concatenate(v) for k, v in table.items()})
    return outcomes.assign(point=patients["point"].to_numpy())


@dataclass
class Screening:
    table: pd.DataFrame  # candidate, term, mu_star (in target standard errors), sigma
    chosen: list[str]
    reasons: dict[str, str]


def screen(problem_name: str, trajectories: int = 4, patients: int = 48, workers: int = 1,
           scheduler: str | None = None, progress: Callable[[int, int], None] | None = None) -> Screening:
    """Morris screening of the candidates of the problem ``problem_name`` on the fitted terms."""
    from SALib.analyze import morris as morris_analyze
    from SALib.sample import morris as morris_sample

    from ._problem import PROBLEMS

    problem = PROBLEMS[problem_name]
    names = [c.name for c in problem.candidates]
    spec = {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}
    unit = morris_sample.sample(spec, trajectories, num_levels=4, seed=problem.seed)
    points = [{c.name: float(c.from_unit(u[k])) for k, c in enumerate(problem.candidates)} for u in unit]
    needed = sorted({r for term in problem.terms for r in term.statistic.regimens})
    payload = json.dumps({"problem": problem_name, "points": points, "patients": patients})
    per_chunk = max(1, math.ceil(len(points) / 4))  # a few chunks per regimen: batches large, progress shown
    todo = [(r, first, min(per_chunk, len(points) - first)) for r in needed for first in range(0, len(points), per_chunk)]
    results: dict[int, dict[str, pd.DataFrame]] = {}
    for k, (chunk, frame) in enumerate(map_chunks(_screen_chunk, payload, todo, workers, scheduler), 1):
        for point, rows in frame.groupby("point"):
            results.setdefault(int(point), {})[chunk[0]] = rows.reset_index(drop=True)
        if progress:
            progress(k, len(todo))
    rows = []
    for term in problem.terms:
        scale = _term_scale(term)
        values = np.array([term.statistic(results[i], {r: np.ones(len(f)) for r, f in results[i].items()})
                           for i in range(len(points))])
        shown = values[:, :len(scale)] / scale
        for j, category in enumerate(term.categories[:len(scale)]):
            analysis = morris_analyze.analyze(spec, unit, np.nan_to_num(shown[:, j]), num_levels=4)
            for k, name in enumerate(names):
                rows.append({"candidate": name, "term": f"{term.target}:{category}",
                             "mu_star": float(analysis["mu_star"][k]), "sigma": float(analysis["sigma"][k])})
    table = pd.DataFrame(rows)
    strongest = table.groupby("candidate")["mu_star"].max()
    chosen, reasons = [], {}
    table_kept = 0
    for c in sorted(problem.candidates, key=lambda c: -strongest[c.name]):
        if strongest[c.name] < problem.screening_threshold:
            reasons[c.name] = (f"screened out: moves no fitted target by {problem.screening_threshold:g} standard "
                               f"errors (largest Morris mu* {strongest[c.name]:.2f})")
        elif c.kind == "table" and table_kept >= MAX_FREE_TABLE:
            reasons[c.name] = (f"influential (mu* {strongest[c.name]:.2f}) but {MAX_FREE_TABLE} stronger table "
                               "parameters are free: fixed at its sourced value")
        else:
            table_kept += c.kind == "table"
            chosen.append(c.name)
    return Screening(table, [n for n in names if n in chosen], reasons)


# ---- 2. posterior ---------------------------------------------------------------------------------------------

def log_likelihood(pool: Pool, theta: dict[str, float], terms=None) -> tuple[float, dict[str, np.ndarray]]:
    """Sum of the fitted terms' log-likelihoods at ``theta`` and the weights behind it."""
    w = weights(pool, theta)
    terms = pool.problem.terms if terms is None else terms
    return sum(t.log_likelihood(t.statistic(pool.outcomes, w)) for t in terms), w


def theta_of(free: list[FreeParameter], unit: np.ndarray, fixed: dict[str, float]) -> dict[str, float]:
    return {**fixed, **{c.name: float(c.from_unit(u)) for c, u in zip(free, unit)}}


@dataclass
class Posterior:
    free: list[FreeParameter]
    unit: np.ndarray          # [draw, free parameter], prior coordinates
    log_posterior: np.ndarray
    acceptance: float
    fixed: dict[str, float]
    identified_variance_ratio: float
    evaluations: int = 0      # likelihood evaluations of the chain (walkers x steps)

    def thetas(self) -> list[dict[str, float]]:
        return [theta_of(self.free, u, self.fixed) for u in self.unit]

    def median(self) -> dict[str, float]:
        return {**self.fixed, **{c.name: float(np.median(c.from_unit(self.unit[:, k])))
                                 for k, c in enumerate(self.free)}}

    def frame(self) -> pd.DataFrame:
        frame = pd.DataFrame([{c.name: float(c.from_unit(u[k])) for k, c in enumerate(self.free)}
                              for u in self.unit])
        for name, value in self.fixed.items():
            frame[name] = value
        frame["log_posterior"] = self.log_posterior
        frame["weight"] = 1.0 / len(frame)
        return frame


def sample_posterior(pool: Pool, free: list[FreeParameter], fixed: dict[str, float], walkers: int = 24,
                     steps: int = 1500, burn: int = 500, thin: int = 10, seed: int = 0,
                     progress: Callable[[int, int], None] | None = None) -> Posterior:
    """An emcee ensemble over the ``free`` parameters (prior coordinates in [0, 1], a flat prior there: uniform
    or log-uniform over each prior range); ``fixed``: the values of the others. ``walkers`` is raised to twice the
    free parameters where it is fewer."""
    import emcee

    problem = pool.problem
    d = len(free)
    walkers = max(walkers, 2 * d)  # emcee's stretch move needs at least twice as many walkers as dimensions

    def log_prob(u):
        if np.any(u < 0) or np.any(u > 1):
            return -math.inf
        value, _ = log_likelihood(pool, theta_of(free, u, fixed))
        return value if math.isfinite(value) else -math.inf

    rng = np.random.default_rng(seed)
    start = np.array([c.to_unit(c.value) for c in free])
    start = np.clip(start, 0.05, 0.95) + 0.02 * rng.standard_normal((walkers, d))
    sampler = emcee.EnsembleSampler(walkers, d, log_prob)
    sampler.random_state = np.random.RandomState(seed).get_state()  # emcee's documented way to seed its moves
    state = np.clip(start, 0.0, 1.0)
    for k, _ in enumerate(sampler.sample(state, iterations=steps), 1):
        if progress and k % 50 == 0:
            progress(k, steps)
    chain = sampler.get_chain(discard=burn, thin=thin, flat=True)
    log_p = sampler.get_log_prob(discard=burn, thin=thin, flat=True)
    return Posterior(list(free), chain, log_p, float(np.mean(sampler.acceptance_fraction)), fixed,
                     problem.identified_variance_ratio, walkers * steps)


def identifiability(posterior: Posterior) -> dict[str, dict]:
    """Per free parameter: posterior median and 95% interval, variance over the prior's (uniform on [0, 1] in
    prior coordinates: 1/12), the strongest posterior correlation, and whether it is identified."""
    u = posterior.unit
    corr = np.corrcoef(u.T) if u.shape[1] > 1 else np.ones((1, 1))
    out = {}
    for k, c in enumerate(posterior.free):
        values = c.from_unit(u[:, k])
        ratio = float(np.var(u[:, k]) * 12.0)
        others = [(abs(corr[k, j]), posterior.free[j].name, corr[k, j]) for j in range(len(corr))
                  if j != k]
        strongest = max(others) if others else None
        out[c.name] = {
            "median": float(np.median(values)), "interval": [float(np.quantile(values, 0.025)),
                                                             float(np.quantile(values, 0.975))],
            "prior": [c.low, c.high], "prior_scale": "log-uniform" if c.log else "uniform",
            "sourced_value": c.value, "posterior_to_prior_variance": ratio,
            "strongest_correlation": None if strongest is None else {"with": strongest[1],
                                                                    "r": float(strongest[2])},
            "identified": ratio <= posterior.identified_variance_ratio,
        }
    return out


#: Two free parameters whose posterior correlation exceeds this are identified only jointly ([A]).
JOINT_CORRELATION = 0.9


def unidentified(posterior: Posterior, entries: dict[str, dict]) -> dict[str, str]:
    """The free parameters to fix, and why. Of each pair identified only jointly (a ridge: the targets fix a
    combination, not both; both then look unidentified) the table parameter, or the later candidate, goes
    first; without a ridge, those the targets do not narrow."""
    names = [c.name for c in posterior.free]
    kinds = {c.name: c.kind for c in posterior.free}
    matrix = correlations(posterior)
    ridge = {}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            r = matrix[a][b]
            if abs(r) > JOINT_CORRELATION and a not in ridge and b not in ridge:
                fixed, other = (a, b) if kinds[a] == "table" and kinds[b] != "table" else (b, a)
                ridge[fixed] = f"identified only jointly with {other} (posterior correlation {r:.2f})"
    if ridge:
        return ridge
    return {name: (f"not identified by the fitted targets (posterior variance {e['posterior_to_prior_variance']:.2f} "
                   f"of the prior's)") for name, e in entries.items() if not e["identified"]}


def correlations(posterior: Posterior) -> dict[str, dict[str, float]]:
    names = [c.name for c in posterior.free]
    if len(names) < 2:
        return {names[0]: {names[0]: 1.0}} if names else {}
    corr = np.corrcoef(posterior.unit.T)
    return {a: {b: float(corr[i, j]) for j, b in enumerate(names)} for i, a in enumerate(names)}


# ---- 3. posterior predictive -------------------------------------------------------------------------------------

def predictive(pool: Pool, posterior: Posterior, terms, seed: int = 0) -> tuple[list[dict], dict]:
    """Per reported category of each term: the published value and interval, the model's median and 95%
    interval over the ensemble (parameter uncertainty), the posterior predictive median and 95% interval of a
    replicate study of the published size (parameter and sampling uncertainty), the log-likelihood at the
    posterior median; and the effective sample sizes over the ensemble."""
    rng = np.random.default_rng(seed)
    thetas = posterior.thetas()
    model = {t.target: [] for t in terms}
    replicate = {t.target: [] for t in terms}
    ess = {r.name: [] for r in pool.problem.regimens}
    for theta in thetas:
        w = weights(pool, theta)
        for name, v in w.items():
            ess[name].append(effective_sample_size(v))
        for t in terms:
            value = t.statistic(pool.outcomes, w)
            model[t.target].append(value)
            replicate[t.target].append(t.predictive(value, rng))
    w_centre = weights(pool, posterior.median())
    rows = []
    for t in terms:
        m, y = np.array(model[t.target]), np.array(replicate[t.target])
        at_centre = t.log_likelihood(t.statistic(pool.outcomes, w_centre))
        for j, (category, value, interval) in enumerate(t.published()):
            mj, yj = m[:, j], y[:, j]
            mj, yj = mj[np.isfinite(mj)], yj[np.isfinite(yj)]
            q = lambda a, p: float(np.quantile(a, p)) if len(a) else None  # noqa: E731
            rows.append({
                "target": t.target, "category": category, "what": t.what, "likelihood": t.likelihood,
                "n": t.n, "published": value, "published_interval": list(interval),
                "model_median": q(mj, 0.5), "model_interval": [q(mj, 0.025), q(mj, 0.975)],
                "predictive_median": q(yj, 0.5), "predictive_interval": [q(yj, 0.025), q(yj, 0.975)],
                "log_likelihood": at_centre if j == 0 else None,
            })
    summary = {name: {"at_posterior_median": effective_sample_size(w_centre[name]),
                      "min": float(np.min(v)), "median": float(np.median(v))} for name, v in ess.items()}
    return rows, summary


def covered(row: dict) -> bool | None:
    """Whether a held-out target is reproduced: a published count's share lies inside its posterior predictive
    95% interval (a replicate study of its size); a stated band holds the predictive median (the band is the
    published uncertainty, as ``cartsim validate`` reads it)."""
    low, high = row["predictive_interval"]
    if low is None:
        return None
    if row["n"] is None:
        band_low, band_high = row["published_interval"]
        return bool(band_low <= row["predictive_median"] <= band_high)
    return bool(low <= row["published"] <= high)
