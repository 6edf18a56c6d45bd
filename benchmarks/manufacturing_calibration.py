"""Calibrate the manufacturing process to published manufacturing failure and out-of-specification rates.

* Failure: TRANSCEND CLL 004 made liso-cel for 96% of its 137 leukapheresed patients (Siddiqi, 2023).
* Out of specification: a UK multicentre review of 1,138 patients approved for CAR-T found 58
  manufacturing failures, 19 of them infused as out-of-specification products (1.7%).

The default population (R/R CLL after BTKi and venetoclax) is manufactured with the liso-cel preset.
For each candidate smallest out-of-specification share (of the release minimum), brentq finds the median fold expansion
that gives 4% failure; an outer brentq finds the share that gives 1.7% out of specification.
Manufacturing draws no simulation, so this takes seconds.

    PYTHONPATH=src .venv/bin/python benchmarks/manufacturing_calibration.py [--n 20000]
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np
from scipy.optimize import brentq

from cartsim._batch import patient_arrays, product_columns
from cartsim.io import Product
from cartsim.patient import DEFAULT_POPULATION, sample_population
from cartsim.product import PROCESS, manufacture

TARGET_FAILURE = 0.04  # Siddiqi 2023: 96% manufacturing success
TARGET_OUT_OF_SPEC = 19 / 1138  # UK review: out-of-specification products infused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    args = parser.parse_args()
    patients = sample_population(DEFAULT_POPULATION, args.n, seed=2023)
    table = patient_arrays(patients)  # checked, with the columns a population does not sample
    liso_cel = product_columns([Product(preset="liso-cel")])
    product = {name: np.repeat(values, args.n) for name, values in liso_cel.items()}
    seeds = patients["seed"].to_numpy(np.uint64)

    def rates(fold: float, share: float) -> tuple[float, float]:
        made = manufacture(product, table, seeds, replace(PROCESS, fold_expansion=fold,
                                                              out_of_specification_share=share))
        return float(made.failed.mean()), float(made.out_of_specification.mean())

    def fold_for(share: float) -> float:
        return brentq(lambda f: rates(f, share)[0] - TARGET_FAILURE, 0.01, 1000.0, xtol=0.01)

    share = brentq(lambda s: rates(fold_for(s), s)[1] - TARGET_OUT_OF_SPEC, 0.1, 0.99, xtol=0.005)
    fold = fold_for(share)
    made = manufacture(product, table, seeds,
                       replace(PROCESS, fold_expansion=fold, out_of_specification_share=share))
    lines = patients["prior_lines"].to_numpy()
    failed = made.failed
    print(f"{args.n} patients of {DEFAULT_POPULATION}, liso-cel preset")
    print(f"fold_expansion {fold:.2f} (default {PROCESS.fold_expansion:g}) and out_of_specification_share "
          f"{share:.3f} (default {PROCESS.out_of_specification_share:g}) give")
    print(f"  failure: {failed.mean():.1%} (target {TARGET_FAILURE:.1%})")
    print(f"  out of specification: {made.out_of_specification.mean():.1%} "
          f"(target {TARGET_OUT_OF_SPEC:.1%})")
    print(f"  median vein-to-vein: {np.median(made.vein_to_vein_days):.0f} days")
    for name, rows in (("<= 3 prior lines", lines <= 3), ("4-5", (lines >= 4) & (lines <= 5)), (">= 6", lines >= 6)):
        print(f"  failure with {name}: {failed[rows].mean():.1%} (n={rows.sum()})")


if __name__ == "__main__":
    main()
