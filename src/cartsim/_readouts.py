"""Clinical and laboratory readouts derived from trajectories: blood counts, phenotype shares, summary.

Blood holds about 2% of the body's lymphocytes (lymphocytes_blood_fraction
target) in 5 L (blood_volume target); CLL counts are tracked by compartment.
"""

from __future__ import annotations

import numpy as np

from .model import (BLOOD_LYMPHOCYTE_SHARE, BLOOD_UL, CAR_T_STATES, CLL_STATES, LINEAGE_STATES, State,
                    states_where)

#: B-cell aplasia: normal blood B cells below 1% of the healthy median of 200/uL (normal_bcell_blood target).
B_CELL_APLASIA_PER_UL = 2.0
#: A population below one cell is gone.
EXTINCT_CELLS = 1.0


def _sum(values: np.ndarray, states) -> np.ndarray:
    return values[..., list(states)].sum(axis=-1)


def _car_t(phenotype: str) -> tuple[int, ...]:
    return states_where(kind="car_t", phenotype=phenotype)


def _cll(**where) -> tuple[int, ...]:
    return states_where(kind="cll", **where)


#: Readouts drawn together, with their labels: named from the state table's phenotypes, lineages, sites and
#: clones, for the report's figures and the web app's charts alike.
CAR_T_BY_PHENOTYPE = {"car_t_resting": "resting/memory", "car_t_effector": "effector", "car_t_senescent": "senescent"}
CAR_T_BY_LINEAGE = {f"car_t_{lineage}": f"{lineage.upper()}+" for lineage in LINEAGE_STATES}
CLL_BY_COMPARTMENT = {"tumor_blood": "blood", "tumor_marrow": "marrow", "tumor_node": "nodes and spleen",
                      "tumor_antigen_negative": "antigen-negative (all sites)"}


def derived_readouts(values: np.ndarray) -> dict[str, np.ndarray]:
    """Named readouts from ``values[..., n_states]`` (any leading shape)."""
    car_t = _sum(values, CAR_T_STATES)
    tumor_blood = _sum(values, _cll(site="blood"))
    per_ul = BLOOD_LYMPHOCYTE_SHARE / BLOOD_UL
    lymphocytes = (tumor_blood / BLOOD_UL
                   + (values[..., State.host_t_cells] + car_t + values[..., State.normal_b_cells]) * per_ul)
    return {
        "car_t_total": car_t,
        **{f"car_t_{lineage}": _sum(values, states) for lineage, states in LINEAGE_STATES.items()},
        **{key: _sum(values, _car_t(key.removeprefix("car_t_"))) for key in CAR_T_BY_PHENOTYPE},
        "car_t_blood_per_ul": car_t * per_ul,
        "tumor_total": _sum(values, CLL_STATES),
        "tumor_blood": tumor_blood,
        "tumor_marrow": _sum(values, _cll(site="marrow")),
        "tumor_node": _sum(values, _cll(site="node")),
        "tumor_antigen_negative": _sum(values, _cll(clone="neg")),
        "lymphocytes_per_ul": lymphocytes,
        "normal_b_blood_per_ul": values[..., State.normal_b_cells] * per_ul,
        "neutrophils_per_ul": values[..., State.neutrophils] / BLOOD_UL,
    }


def _at(days: np.ndarray, series: np.ndarray, day: float):
    hit = np.nonzero(days == day)[0]
    return float(series[hit[0]]) if hit.size else None


def _share(part: np.ndarray, whole: np.ndarray, days: np.ndarray, day: float):
    total = _at(days, whole, day)
    if total is None or total < EXTINCT_CELLS:
        return None
    return _at(days, part, day) / total


def _peak(days: np.ndarray, series: np.ndarray) -> tuple[float | None, float | None]:
    """Highest value and its day; none for a patient without a day after infusion (died before it)."""
    if not series.size:
        return None, None
    i = int(np.argmax(series))
    return float(series[i]), float(days[i])


def summarise(days: np.ndarray, values: np.ndarray) -> dict:
    """The named endpoints of one patient (``values[time, n_states]`` at ``days``, daily from day 0).

    A patient who died before infusion has no day 0: the post-infusion endpoints are None."""
    r = derived_readouts(values)
    after = days >= 0
    d, car_t, il6 = days[after], r["car_t_total"][after], values[after, State.il6]
    car_t_peak, car_t_peak_day = _peak(d, car_t)
    il6_peak, il6_peak_day = _peak(d, il6)
    tumor = r["tumor_total"]
    return {
        "car_t_peak_cells": car_t_peak,
        "car_t_peak_day": car_t_peak_day,
        # Fold over what was infused: none without a whole cell infused (a failed manufacture, a zero dose).
        "car_t_expansion_fold": (car_t_peak / car_t[0] if car_t_peak is not None and car_t[0] >= EXTINCT_CELLS
                                 else None),
        "tumor_cells_day0": _at(days, tumor, 0),
        "tumor_cells_day28": _at(days, tumor, 28),
        "tumor_cells_day365": _at(days, tumor, 365),
        "tumor_cells_day3650": _at(days, tumor, 3650),
        "tumor_cells_final": float(tumor[-1]),
        "tumor_extinct": bool(tumor[-1] < EXTINCT_CELLS),
        "cd4_fraction_car_t_day3650": _share(r["car_t_cd4"], r["car_t_total"], days, 3650),
        "senescent_fraction_car_t_day28": _share(r["car_t_senescent"], r["car_t_total"], days, 28),
        "b_cell_aplasia_days": int(np.count_nonzero(r["normal_b_blood_per_ul"][after] < B_CELL_APLASIA_PER_UL)),
        "il6_peak_pg_ml": il6_peak,
        "il6_peak_day": il6_peak_day,
        "crp_peak_mg_l": _peak(d, values[after, State.crp])[0],
        "ifng_peak_pg_ml": _peak(d, values[after, State.ifng])[0],
    }
