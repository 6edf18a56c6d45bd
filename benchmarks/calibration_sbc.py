"""Simulation-based calibration check of `cartsim calibrate` on the simulated pool of a calibration folder.

For each replicate: known free parameters drawn from the middle 70% of their priors, synthetic published data of each fitted study
drawn at its size from the model at those parameters (the multinomial or binomial count; a band of the same width
centred on a noisy value), the same emcee fit on the same pool, and whether each known value lies in its 95%
posterior interval. Coverage near 95% says the intervals mean what they say.

    PYTHONPATH=src .venv/bin/python benchmarks/calibration_sbc.py out/calibration [--replicates 10]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy.stats import norm

from cartsim.calibration._calibrate import Settings, reused
from cartsim.calibration._inference import identifiability, sample_posterior
from cartsim.calibration._pool import weights
from cartsim.calibration._problem import PROBLEMS


def synthetic_terms(pool, theta: dict, rng: np.random.Generator):
    w = weights(pool, theta)
    terms = []
    for term in pool.problem.terms:
        value = term.statistic(pool.outcomes, w)
        if term.counts is not None:
            p = term.probabilities(value)
            counts = tuple(int(k) for k in rng.multinomial(term.n, p / p.sum()))
            terms.append(replace(term, counts=counts))
        else:
            low, high = term.band
            half = (high - low) / 2
            centre = value[0] + rng.normal(0.0, half / norm.ppf(0.975))
            terms.append(replace(term, band=(centre - half, centre + half)))
    return tuple(terms)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--replicates", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    calibration = json.loads((args.folder / "calibration.json").read_text())
    problem = PROBLEMS[calibration["problem"]]
    _, pool, _ = reused(args.folder, problem, Settings())
    free = [c for c in problem.candidates if c.name in calibration["free"]]
    fixed = {name: entry["value"] for name, entry in calibration["fixed"].items()}
    rng = np.random.default_rng(args.seed)
    hits = {c.name: 0 for c in free}
    for replicate in range(args.replicates):
        truth = {c.name: float(c.from_unit(rng.uniform(0.15, 0.85))) for c in free}
        synthetic = replace(pool, problem=replace(pool.problem, terms=synthetic_terms(pool, {**fixed, **truth}, rng)))
        posterior = sample_posterior(synthetic, free, fixed, walkers=16, steps=500, burn=200, thin=5, seed=replicate)
        for name, entry in identifiability(posterior).items():
            inside = entry["interval"][0] <= truth[name] <= entry["interval"][1]
            hits[name] += inside
            print(f"replicate {replicate}: {name} truth {truth[name]:.3g}, posterior {entry['median']:.3g} "
                  f"({entry['interval'][0]:.3g}-{entry['interval'][1]:.3g}) {'inside' if inside else 'OUTSIDE'}")
    for name, k in hits.items():
        print(f"{name}: {k} of {args.replicates} known values inside their 95% posterior interval")


if __name__ == "__main__":
    main()
