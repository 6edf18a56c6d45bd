"""The in-vivo dynamics as the clinic sees them: a liso-cel trial in the default population, by response.

Prints, for responders (CR/CRi/PR) and non-responders among the infused: expansion fold and day of the
CAR-T peak, CRS and ICANS incidence and median onset; and for all patients the best-response split and
blood/marrow uMRD4 at day 90 beside the CR rate. The numbers of the fidelity issue's before/after table.

    PYTHONPATH=src .venv/bin/python benchmarks/clinic_trial.py [--patients 1000] [--days 365]
"""

from __future__ import annotations

import argparse

import numpy as np

from cartsim.calibration._cohorts import Cohort, simulate_cohort
from cartsim.clinical import CR, CRI, PR


def _median(values) -> str:
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    return "n/a" if values.size == 0 else f"{np.median(values):.3g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    cohort = Cohort("liso-cel in the default population", ({"name": "liso-cel", "product": {"preset": "liso-cel"}},),
                    args.patients, args.days, 2026)
    frame = simulate_cohort(cohort).frame
    infused = frame["product_dose_cells"].to_numpy(float) > 0
    responder = frame["best_response"].isin((CR, CRI, PR)).to_numpy()
    fold = frame["car_t_peak_cells"].to_numpy(float) / np.maximum(frame["product_dose_cells"].to_numpy(float), 1.0)
    print(f"{args.patients} patients, liso-cel, default population, {args.days} days; infused {infused.sum()}")
    print("group | n | median fold | median peak day | CRS any | median CRS onset | ICANS any | median ICANS onset")
    for name, rows in (("responders", infused & responder), ("non-responders", infused & ~responder)):
        g = frame[rows]
        print(f"{name} | {rows.sum()} | {_median(fold[rows])} | {_median(g['car_t_peak_day'])} | "
              f"{(g['crs_max_grade'] >= 1).mean():.1%} | {_median(g['crs_onset_day'])} | "
              f"{(g['icans_max_grade'] >= 1).mean():.1%} | {_median(g['icans_onset_day'])}")
    best = frame["best_response"]
    print(f"CR/CRi {best.isin((CR, CRI)).mean():.1%}, PR {(best == PR).mean():.1%}; "
          f"uMRD4 at day 90: blood {frame['umrd4_blood_day90'].mean():.1%}, "
          f"marrow {frame['umrd4_marrow_day90'].mean():.1%}")


if __name__ == "__main__":
    main()
