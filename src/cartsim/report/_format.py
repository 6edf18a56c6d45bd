"""How the report, the CLI and the web page show a value and name a key: one formatter, one label table."""

from __future__ import annotations

import math

import numpy as np

#: Key endpoints of a single-patient summary, in reading order, with their labels.
KEY_ENDPOINTS = {
    "manufacturing_failed": "manufacturing failed",
    "vein_to_vein_days": "vein-to-vein (days)",
    "product_dose_cells": "CAR+ cells infused",
    "product_memory_fraction": "product memory-like share",
    "car_t_peak_cells": "CAR-T peak (cells)",
    "car_t_peak_day": "CAR-T peak day",
    "car_t_expansion_fold": "CAR-T expansion (fold)",
    "car_t_cmax_copies_per_ug": "CAR-T Cmax, blood qPCR (copies/µg DNA)",
    "car_t_tmax_days": "CAR-T Tmax, blood qPCR (days)",
    "car_t_auc28_copies_days_per_ug": "CAR-T AUC0-28d (copies/µg DNA × days)",
    "tumor_cells_day0": "CLL cells, day 0",
    "tumor_cells_day28": "CLL cells, day 28",
    "tumor_cells_day365": "CLL cells, day 365",
    "tumor_extinct": "CLL extinct at end",
    "b_cell_aplasia_days": "B-cell aplasia (days)",
    "il6_peak_pg_ml": "IL-6 peak (pg/mL)",
    "crp_peak_mg_l": "CRP peak (mg/L)",
    "crs_max_grade": "CRS max grade (ASTCT)",
    "crs_onset_day": "CRS onset day",
    "icans_max_grade": "ICANS max grade (ASTCT)",
    "tocilizumab_doses": "tocilizumab doses",
    "corticosteroid_doses": "dexamethasone doses",
    "best_response": "best response (iwCLL)",
    "umrd4_blood_day90": "uMRD4 blood, day 90",
    "pfs_days": "PFS (days)",
    "os_days": "OS (days)",
    "death_cause": "death cause",
}

#: Labels of every key a report shows: the endpoints above, a trial's per-arm endpoints and hazard ratios,
#: and the responder analysis's columns.
LABELS = {
    **KEY_ENDPOINTS,
    "n": "patients analysed",
    "orr": "ORR (CR/CRi/PR)",
    "cr_rate": "CR/CRi",
    "response_day28_rate": "response at day 28 (CR/CRi/PR)",
    "umrd4_blood_rate": "uMRD4 blood, day 90",
    "umrd4_marrow_rate": "uMRD4 marrow, day 90",
    "crs_any_rate": "CRS, any grade",
    "crs_grade3plus_rate": "CRS grade ≥ 3",
    "icans_any_rate": "ICANS, any grade",
    "icans_grade3plus_rate": "ICANS grade ≥ 3",
    "crs_death_rate": "death from CRS",
    "manufacturing_failure_rate": "manufacturing failure",
    "out_of_specification_rate": "product out of specification",
    "gvhd_rate": "GvHD",
    "median_pfs_months": "median PFS (months)",
    "median_os_months": "median OS (months)",
    "pfs_12m": "PFS at 12 months",
    "os_12m": "OS at 12 months",
    "car_t_peak_median": "median CAR-T peak (cells)",
    "vein_to_vein_days_median": "median vein-to-vein (days)",
    "solver_failures": "solver failures",
    "pfs_hr": "PFS hazard ratio",
    "pfs_p": "PFS p",
    "os_hr": "OS hazard ratio",
    "os_p": "OS p",
    "term": "covariate",
    "odds_ratio": "odds ratio of CR",
    "ci_low": "95% CI low",
    "ci_high": "95% CI high",
    "p_value": "p",
    "unit": "per",
    "n_responders": "complete responders",
    "n_nonresponders": "non-responders",
}

#: From this magnitude on a number is shown as a power of ten.
_LARGE = 1e6


def label(key: str) -> str:
    """The human label of ``key``; a key without one is shown with spaces for its underscores."""
    return LABELS.get(key, key.replace("_", " "))


def shown(value) -> str:
    """A value as a person reads it: integers as integers, other numbers to 3 significant digits (as a power
    of ten only when very large or small, never for a seed, a day or a count), yes/no, a dash for missing."""
    if isinstance(value, np.generic):
        value = value.item()  # a numpy scalar, from a table
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if abs(value) < _LARGE and (value.is_integer() or abs(value) >= 1e3):
            # 3 significant digits would drop digits of its whole part; `or 0.0` shows -0.0 as 0.
            return f"{value or 0.0:.0f}"
        return f"{value:.3g}"
    return str(value)
