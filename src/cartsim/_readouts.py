"""Clinical and laboratory readouts derived from trajectories: blood counts, phenotype shares, summary.

Blood holds about 2% of the body's lymphocytes (lymphocytes_blood_fraction
target) in 5 L (blood_volume target); CLL counts are tracked by compartment.

CAR-T cells are also read out as the clinic measures them in blood: transgene copies per ug of genomic DNA
(qPCR) and CAR+ cells per uL (flow), each blank (NaN) below its assay's lower limit of quantification, and
summarised as cellular kinetics (Cmax, Tmax, AUC0-28d of copies/ug, as Mueller 2017 Blood report them).
"""

from __future__ import annotations

import numpy as np

from .model import (BLOOD_LYMPHOCYTE_SHARE, BLOOD_UL, CAR_T_STATES, CLL_STATES, LINEAGE_STATES, PARAMETERS,
                    OBSERVABLE_TABLE, Param, State, nucleated_blood_cells, states_where, transgene_copies_per_ug)

#: B-cell aplasia: normal blood B cells below 1% of the healthy median of 200/uL (normal_bcell_blood target).
B_CELL_APLASIA_PER_UL = 2.0
#: A population below one cell is gone.
EXTINCT_CELLS = 1.0
#: Lower limits of quantification of the blood CAR-T assays (the observable table's).
LLOQ = {o.name: o.lloq for o in OBSERVABLE_TABLE if o.lloq is not None}
#: Cmax and Tmax are taken over the expansion and contraction, to the month-3 assessment (a CLL expansion can
#: come weeks late); the exposure is AUC0-28d, as in the tisagenlecleucel cellular-kinetics reports.
KINETICS_DAYS = 90.0
AUC_DAYS = 28.0


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


def _parameter(params: np.ndarray | None, name: str):
    return PARAMETERS[name].default if params is None else params[..., Param[name]]


def below_lloq(series: np.ndarray, name: str) -> np.ndarray:
    """``series`` of the observable ``name`` as the assay reports it: NaN where below its LLOQ."""
    return np.where(series >= LLOQ[name], series, np.nan)


def car_t_copies_per_ug(values: np.ndarray, params: np.ndarray | None = None) -> np.ndarray:
    """qPCR transgene copies per ug of blood genomic DNA from ``values[..., n_states]`` (the model's value,
    before the assay's LLOQ); ``params`` as in :func:`derived_readouts`."""
    car_t_blood = _sum(values, CAR_T_STATES) * BLOOD_LYMPHOCYTE_SHARE
    normal_lymphocytes = (values[..., State.host_t_cells] + values[..., State.normal_b_cells]) * BLOOD_LYMPHOCYTE_SHARE
    nucleated = nucleated_blood_cells(_sum(values, _cll(site="blood")), normal_lymphocytes + car_t_blood,
                                      values[..., State.neutrophils])
    return transgene_copies_per_ug(car_t_blood, nucleated, _parameter(params, "car_vector_copies_per_cell"),
                                   _parameter(params, "genomes_per_ug_dna"))


def derived_readouts(values: np.ndarray, params: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Named readouts from ``values[..., n_states]`` (any leading shape); ``params[..., n_params]``, whose
    leading shape broadcasts against that of ``values`` (one patient's vector for its trajectory,
    ``params[:, None]`` for ``values[patient, day]``), default the table's. The qPCR and flow readouts are
    NaN below their assay's LLOQ."""
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
        "car_t_copies_per_ug": below_lloq(car_t_copies_per_ug(values, params), "car_t_copies_per_ug"),
        "car_t_flow_per_ul": below_lloq(car_t * per_ul, "car_t_flow_per_ul"),
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


#: The per-patient cellular-kinetics endpoints of :func:`car_t_kinetics`, with their units.
KINETICS = {
    "car_t_cmax_copies_per_ug": "copies/ug DNA", "car_t_tmax_days": "days",
    "car_t_auc28_copies_days_per_ug": "copies/ug DNA x days", "car_t_copies_below_lloq": "true/false",
}


def car_t_kinetics(days: np.ndarray, copies: np.ndarray) -> dict[str, np.ndarray]:
    """Cellular kinetics of qPCR ``copies[..., day]`` (copies/ug, the model's values; NaN: no sample, e.g.
    after death) at daily ``days``, per patient: Cmax and Tmax over days 0 to :data:`KINETICS_DAYS` among the
    samples at or above the LLOQ (NaN when none is: ``car_t_copies_below_lloq``), and AUC0-28d by the linear
    trapezoid rule over the samples of days 0-28, those below the LLOQ counted as 0 (NaN without a sample)."""
    days = np.asarray(days, dtype=np.float64)
    copies = np.asarray(copies, dtype=np.float64)
    window = (days >= 0) & (days <= KINETICS_DAYS)
    d, c = days[window], copies[..., window]
    sampled = ~np.isnan(c)
    quantified = sampled & (c >= LLOQ["car_t_copies_per_ug"])
    detected = quantified.any(axis=-1)
    if not d.size:  # died before infusion
        nothing = np.full(detected.shape, np.nan)
        return dict(zip(KINETICS, (nothing, nothing, nothing, ~detected)))
    ranked = np.where(quantified, c, -np.inf)
    peak = np.argmax(ranked, axis=-1)  # the first day of the highest value
    cmax = np.take_along_axis(ranked, peak[..., None], axis=-1)[..., 0]
    early = d <= AUC_DAYS
    level = np.where(quantified, c, 0.0)[..., early]
    both = sampled[..., early][..., 1:] & sampled[..., early][..., :-1]
    trapezoids = np.where(both, 0.5 * (level[..., 1:] + level[..., :-1]) * np.diff(d[early]), 0.0)
    area = np.zeros(detected.shape)
    for j in range(trapezoids.shape[-1]):  # in day order: the same sum for a patient alone or in any batch
        area += trapezoids[..., j]
    return {
        "car_t_cmax_copies_per_ug": np.where(detected, cmax, np.nan),
        "car_t_tmax_days": np.where(detected, d[peak], np.nan),
        "car_t_auc28_copies_days_per_ug": np.where(sampled[..., early].any(axis=-1), area, np.nan),
        "car_t_copies_below_lloq": ~detected,
    }


def _json(value):
    """One patient's endpoint (a 0-d array) as a JSON value: NaN is None."""
    value = np.asarray(value).item()
    return None if isinstance(value, float) and np.isnan(value) else value


def summarise(days: np.ndarray, values: np.ndarray, params: np.ndarray | None = None,
              infused_cells: float | None = None) -> dict:
    """The named endpoints of one patient (``values[time, n_states]`` at ``days``, daily from day 0; its
    parameter vector ``params``, default the table's).

    ``infused_cells``: the CAR-T cells of all fractions of a split dose, over which the expansion fold is
    taken; left out, the cells on day 0 (a single infusion). A patient who died before infusion has no
    day 0: the post-infusion endpoints are None."""
    r = derived_readouts(values, params)
    after = days >= 0
    d, car_t, il6 = days[after], r["car_t_total"][after], values[after, State.il6]
    car_t_peak, car_t_peak_day = _peak(d, car_t)
    il6_peak, il6_peak_day = _peak(d, il6)
    tumor = r["tumor_total"]
    infused = (car_t[0] if car_t.size else 0.0) if infused_cells is None else infused_cells
    kinetics = car_t_kinetics(days, car_t_copies_per_ug(values, params))
    return {
        "car_t_peak_cells": car_t_peak,
        "car_t_peak_day": car_t_peak_day,
        # Fold over what was infused: none without a whole cell infused (a failed manufacture, a zero dose).
        "car_t_expansion_fold": (car_t_peak / infused if car_t_peak is not None and infused >= EXTINCT_CELLS
                                 else None),
        **{name: _json(value) for name, value in kinetics.items()},
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
