"""A virtual trial's statistics: endpoints per arm with 95% intervals, hazard ratios, the responder analysis.

Every function takes the trial's patient frame (one row per patient: ``arm``,
``patient``, the covariates and the clinical endpoints of
:func:`cartsim.clinical.run_clinical`) and returns plain Python values
(JSON-ready: no numpy scalars, no NaN, None where a value is not estimable).

Conventions:

* Patients whose solver failed are left out of every rate, curve and model (their
  outcome is an artefact of the integration, not of the treatment); they are
  counted in ``solver_failures``.
* Everyone else counts in the denominators (intention to treat): a patient who
  died before the day-28 assessment (best response not assessed) is a
  non-responder, a manufacturing failure is a non-responder without toxicity.
* Proportions carry 95% Wilson score intervals; Kaplan-Meier medians carry the
  intervals lifelines gives (the times where the pointwise 95% band of the curve
  crosses 0.5); a month is 30.4375 days.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from ..clinical import CAUSES, CR, CRI, PD, PR, SD
from ..io import json_value
from ..stats import DAYS_PER_MONTH, arm_names, cox_efron, km_median, km_of, survival_months, wilson_interval

#: The landmark of ``pfs_12m`` and ``os_12m``, in months.
LANDMARK_MONTHS = 12.0
#: Follow-up that ends this little before the landmark still counts as reaching it (a 365-day trial has
#: 11.99 months of follow-up).
_LANDMARK_SLACK_MONTHS = 1.0 / DAYS_PER_MONTH
#: The fewest complete responders, and the fewest non-responders, the responder analysis fits.
MIN_CLASS = 10

# name -> what makes a patient count, evaluated on the analysed patients.
RATES = {
    "orr": lambda f: f["best_response"].isin((CR, CRI, PR)),
    "cr_rate": lambda f: f["best_response"].isin((CR, CRI)),
    "response_day28_rate": lambda f: f["response_day28"].isin((CR, CRI, PR)),
    "umrd4_blood_rate": lambda f: f["umrd4_blood_day90"].astype(bool),
    "umrd4_marrow_rate": lambda f: f["umrd4_marrow_day90"].astype(bool),
    "crs_any_rate": lambda f: f["crs_max_grade"] >= 1,
    "crs_grade3plus_rate": lambda f: f["crs_max_grade"] >= 3,
    "icans_any_rate": lambda f: f["icans_max_grade"] >= 1,
    "icans_grade3plus_rate": lambda f: f["icans_max_grade"] >= 3,
    "crs_death_rate": lambda f: f["death_cause"] == CAUSES.index("CRS"),
    "manufacturing_failure_rate": lambda f: f["manufacturing_failed"].astype(bool),
    "out_of_specification_rate": lambda f: f["product_out_of_specification"].astype(bool),
    "gvhd_rate": lambda f: f["gvhd"].astype(bool),
}
#: The columns :data:`RATES` read.
RATE_COLUMNS = ("best_response", "response_day28", "umrd4_blood_day90", "umrd4_marrow_day90", "crs_max_grade",
                "icans_max_grade", "death_cause", "manufacturing_failed", "product_out_of_specification", "gvhd")
#: The survival columns of the Kaplan-Meier curves and the Cox models.
SURVIVAL_COLUMNS = ("pfs_days", "pfs_event", "os_days", "os_event")


def _analysed(patients: pd.DataFrame) -> pd.Series:
    """Which patients the statistics use (:func:`cartsim.stats.analysed`: all but the solver failures)."""
    return ~patients["solver_failed"].astype(bool)


def _rows(patients: pd.DataFrame, keep: pd.Series, columns) -> pd.DataFrame:
    """The rows ``keep`` of ``patients`` with only ``columns`` (index kept). A boolean mask of the whole
    table would copy every one of its ~60 columns, 300 MB at 10^6 patients, once per arm and analysis."""
    keep = keep.to_numpy(bool)
    return pd.DataFrame({name: patients[name][keep] for name in dict.fromkeys(columns)}, copy=False)


def _landmark(kmf, months: float) -> float | None:
    """KM survival at ``months``; None when follow-up ends before it with survivors still at risk."""
    last = float(kmf.durations.max())
    at_last = float(kmf.survival_function_at_times(last).iloc[0])
    if last >= months:
        return float(kmf.survival_function_at_times(months).iloc[0])
    if at_last == 0 or last >= months - _LANDMARK_SLACK_MONTHS:
        return at_last
    return None


def arm_endpoints(patients: pd.DataFrame) -> dict[str, dict]:
    """The endpoints of each arm (in order of first appearance), JSON-ready.

    Per arm: ``n`` (analysed patients, i.e. without solver failures), each rate of :data:`RATES` with its
    Wilson 95% interval as ``<rate>_ci`` ([low, high]), the Kaplan-Meier median PFS and OS in months with
    their 95% intervals (None where not reached), ``pfs_12m`` and ``os_12m`` (KM survival at 12 months; None
    when follow-up ends before), ``car_t_peak_median`` (over infused patients, i.e. without manufacturing
    failures), ``vein_to_vein_days_median`` and ``solver_failures``.
    """
    result = {}
    labels, analysed = patients["arm"].astype(str), _analysed(patients)
    columns = (*RATE_COLUMNS, *SURVIVAL_COLUMNS, "car_t_peak_cells", "vein_to_vein_days")
    for arm in arm_names(patients):
        in_arm = labels == arm
        frame = _rows(patients, in_arm & analysed, columns)
        n = len(frame)
        entry: dict = {"n": n}
        for name, counts in RATES.items():
            hits = int(counts(frame).sum()) if n else 0
            entry[name] = hits / n if n else None
            entry[f"{name}_ci"] = [json_value(v) for v in wilson_interval(hits, n)]
        for endpoint in ("pfs", "os"):
            if n:
                kmf = km_of(frame, endpoint)
                median, ci = km_median(kmf)
                landmark = _landmark(kmf, LANDMARK_MONTHS)
            else:
                median, ci, landmark = None, [None, None], None
            entry[f"median_{endpoint}_months"] = median
            entry[f"median_{endpoint}_months_ci"] = ci
            entry[f"{endpoint}_12m"] = landmark
        infused = frame.loc[~frame["manufacturing_failed"].astype(bool), "car_t_peak_cells"]
        entry["car_t_peak_median"] = json_value(float(infused.median())) if len(infused) else None
        entry["vein_to_vein_days_median"] = json_value(float(frame["vein_to_vein_days"].median())) if n else None
        entry["solver_failures"] = int((in_arm & ~analysed).sum())
        result[arm] = entry
    return result


#: The cellular-kinetics columns summarised for responders and non-responders (cartsim._readouts.car_t_kinetics).
KINETICS_COLUMNS = ("car_t_cmax_copies_per_ug", "car_t_tmax_days", "car_t_auc28_copies_days_per_ug")


def _spread(values: pd.Series) -> dict:
    """Median, interquartile range and range of ``values`` (NaN left out), JSON-ready; None without any."""
    values = values.dropna().astype(float)
    if values.empty:
        return {"n": 0, "median": None, "iqr": [None, None], "range": [None, None]}
    q1, median, q3 = values.quantile([0.25, 0.5, 0.75])
    return {"n": int(values.size), "median": json_value(float(median)),
            "iqr": [json_value(float(q1)), json_value(float(q3))],
            "range": [json_value(float(values.min())), json_value(float(values.max()))]}


def kinetics_by_response(patients: pd.DataFrame) -> dict[str, dict] | None:
    """CAR-T cellular kinetics (qPCR copies/ug) per arm, for responders (best response CR, CRi or PR) and
    non-responders (every other analysed patient given cells), as Mueller 2017 Blood report them.

    Per group: ``n``, ``n_below_lloq`` (no sample at or above the qPCR LLOQ in days 0-90) and, for Cmax, Tmax
    and AUC0-28d, the median, interquartile range and range. Cmax and Tmax are over the patients with a
    quantifiable sample (their ``n`` says how many); the AUC counts samples below the LLOQ as 0, so it covers
    every patient sampled. None for a patient table without the kinetics columns (a run of an earlier
    cartsim)."""
    if not set(KINETICS_COLUMNS) <= set(patients.columns):
        return None
    result = {}
    labels = patients["arm"].astype(str)
    infused = _analysed(patients) & ~patients["manufacturing_failed"].astype(bool)
    for arm in arm_names(patients):
        frame = _rows(patients, infused & (labels == arm),
                      ("best_response", "car_t_copies_below_lloq", *KINETICS_COLUMNS))
        responder = frame["best_response"].isin((CR, CRI, PR))
        result[arm] = {}
        for group, members in (("responders", frame[responder]), ("non_responders", frame[~responder])):
            entry = {"n": len(members), "n_below_lloq": int(members["car_t_copies_below_lloq"].astype(bool).sum())}
            entry.update({name: _spread(members[name]) for name in KINETICS_COLUMNS})
            result[arm][group] = entry
    return result


def _cox(pair: pd.DataFrame, endpoint: str, arm: str) -> tuple[float | None, list, float | None]:
    """Hazard ratio of ``arm`` against the other arm of ``pair`` for ``endpoint``, its 95% Wald CI and p."""
    from scipy.stats import norm

    in_arm = (pair["arm"].astype(str) == arm).to_numpy()
    event = pair[f"{endpoint}_event"].to_numpy(bool)
    # Without events in both arms the hazard ratio is 0 or infinite: not estimable.
    if not (event[in_arm].any() and event[~in_arm].any()):
        return None, [None, None], None
    try:
        beta, covariance = cox_efron(survival_months(pair, endpoint), event, in_arm.astype(float)[:, None])
    except (ArithmeticError, np.linalg.LinAlgError):
        return None, [None, None], None
    coef, se = float(beta[0]), math.sqrt(float(covariance[0, 0]))
    half = norm.ppf(0.975) * se
    return (json_value(math.exp(coef)), [json_value(math.exp(coef - half)), json_value(math.exp(coef + half))],
            json_value(float(2.0 * norm.sf(abs(coef) / se))))


def hazard_ratios(patients: pd.DataFrame, reference: str | None = None) -> dict[str, dict]:
    """Cox proportional-hazards ratio of each arm against ``reference`` (default: the first arm), for PFS
    and OS, each fitted on the two arms' analysed patients with the arm as the only covariate (Efron ties).

    Returns ``{"<arm> vs <reference>": {"pfs_hr", "pfs_hr_ci", "pfs_p", "os_hr", "os_hr_ci", "os_p"}}``;
    HR > 1 means the arm does worse. None where an arm has no events (the ratio is not estimable).
    """
    arms = arm_names(patients)
    reference = arms[0] if reference is None else str(reference)
    if reference not in arms:
        raise ValueError(f"reference arm '{reference}' is not in the trial; arms: {', '.join(arms)}")
    labels, analysed = patients["arm"].astype(str), _analysed(patients)
    result = {}
    for arm in arms:
        if arm == reference:
            continue
        pair = _rows(patients, analysed & labels.isin((arm, reference)), ("arm", *SURVIVAL_COLUMNS))
        entry = {}
        for endpoint in ("pfs", "os"):
            hr, ci, p = _cox(pair, endpoint, arm)
            entry.update({f"{endpoint}_hr": hr, f"{endpoint}_hr_ci": ci, f"{endpoint}_p": p})
        result[f"{arm} vs {reference}"] = entry
    return result


#: The patient and product columns the responder analysis's covariates are made of.
COVARIATE_COLUMNS = ("tumor_blood_cells", "tumor_marrow_cells", "tumor_node_cells", "tcell_fitness",
                     "cytokine_propensity", "age_years", "cd4_fraction", "antigen_negative_fraction", "prior_lines",
                     "prior_btki", "prior_venetoclax", "product_memory_fraction", "vein_to_vein_days")


def _covariates(frame: pd.DataFrame, arms: list[str]) -> tuple[pd.DataFrame, dict[str, str]]:
    """The responder analysis's design (before standardisation) and whether each term is continuous."""
    total = (frame["tumor_blood_cells"] + frame["tumor_marrow_cells"] + frame["tumor_node_cells"]).to_numpy(float)
    total = np.maximum(total, 1.0)
    x = pd.DataFrame({
        "log10_tumor_total_cells": np.log10(total),
        "node_share": frame["tumor_node_cells"].to_numpy(float) / total,
        "log_tcell_fitness": np.log(frame["tcell_fitness"].to_numpy(float)),
        "log_cytokine_propensity": np.log(frame["cytokine_propensity"].to_numpy(float)),
        "age_years": frame["age_years"].to_numpy(float),
        "cd4_fraction": frame["cd4_fraction"].to_numpy(float),
        "antigen_negative_fraction": frame["antigen_negative_fraction"].to_numpy(float),
        "prior_lines": frame["prior_lines"].to_numpy(float),
        "prior_btki": frame["prior_btki"].astype(bool).to_numpy(float),
        "prior_venetoclax": frame["prior_venetoclax"].astype(bool).to_numpy(float),
        "product_memory_fraction": frame["product_memory_fraction"].to_numpy(float),
        "vein_to_vein_days": frame["vein_to_vein_days"].to_numpy(float),
    }, index=frame.index)
    kinds = {name: "continuous" for name in x.columns}
    kinds.update(prior_btki="yes vs no", prior_venetoclax="yes vs no")
    for arm in arms[1:]:
        term = f"arm={arm}"
        x[term] = (frame["arm"].astype(str) == arm).to_numpy(float)
        kinds[term] = f"vs {arms[0]}"
    return x, kinds


def responder_analysis(patients: pd.DataFrame) -> pd.DataFrame:
    """Which patient and product characteristics separate complete responders from non-responders.

    Complete responders: best response CR or CRi; non-responders: SD or PD. Patients with PR, not assessed,
    a failed solver or a failed manufacture are left out. A multivariable logistic regression (statsmodels
    ``Logit``, Wald intervals) of complete response on: log10 total tumour burden (blood + marrow + nodes),
    the nodal share of it, log T-cell fitness, log cytokine propensity, age, CD4 fraction, the
    antigen-negative fraction, the number of prior lines, the product's memory-like share and the
    vein-to-vein time (each standardised to mean 0, SD 1), prior BTKi
    and prior venetoclax (yes vs no) and one indicator per arm other than the first. Terms constant among
    the analysed patients (one arm, a population all pretreated with a BTKi) are dropped.

    Returns one row per term: ``term``, ``unit`` (what one step of the odds ratio is: "per SD (SD = ...)" or
    the level against its reference), ``odds_ratio``, ``ci_low``, ``ci_high`` (95%), ``p_value``,
    ``n_responders``, ``n_nonresponders``. Raises ValueError with fewer than :data:`MIN_CLASS` patients in
    either class, or when the model cannot be fitted.
    """
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import PerfectSeparationError

    arms = arm_names(patients)
    best = patients["best_response"]
    fitted = (_analysed(patients) & ~patients["manufacturing_failed"].astype(bool)
              & best.isin((CR, CRI, SD, PD)))
    frame = _rows(patients, fitted, ("arm", "best_response", *COVARIATE_COLUMNS))
    y = frame["best_response"].isin((CR, CRI)).to_numpy(float)
    n_resp, n_non = int(y.sum()), int(len(y) - y.sum())
    if n_resp < MIN_CLASS or n_non < MIN_CLASS:
        raise ValueError(f"the responder analysis needs at least {MIN_CLASS} complete responders (CR/CRi) and "
                         f"{MIN_CLASS} non-responders (SD/PD); got {n_resp} and {n_non}")
    x, kinds = _covariates(frame, arms)
    x = x.loc[:, [name for name in x.columns if x[name].nunique() > 1]]
    units = {}
    for name in x.columns:
        if kinds[name] == "continuous":
            sd = float(x[name].std(ddof=1))
            x[name] = (x[name] - x[name].mean()) / sd
            units[name] = f"per SD (SD = {sd:.3g})"
        else:
            units[name] = kinds[name]
    design = sm.add_constant(x.to_numpy(float), has_constant="add")
    names = ["const", *x.columns]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = sm.Logit(y, design).fit(disp=0, maxiter=200)
    except PerfectSeparationError as exc:
        raise ValueError(f"the responder analysis cannot be fitted (perfect separation): {exc}") from exc
    except np.linalg.LinAlgError as exc:
        raise ValueError(f"the responder analysis cannot be fitted (collinear covariates): {exc}") from exc
    with np.errstate(over="ignore"):
        odds, ci = np.exp(np.asarray(fit.params)), np.exp(np.asarray(fit.conf_int(0.05)))
    p = np.asarray(fit.pvalues)
    if not (np.all(np.isfinite(odds)) and np.all(np.isfinite(ci)) and np.all(np.isfinite(p))):
        raise ValueError("the responder analysis cannot be fitted (separation: a covariate predicts the "
                         "response perfectly, or too few patients for the covariates)")
    rows = []
    for k, name in enumerate(names):
        if name == "const":
            continue
        rows.append({"term": name, "unit": units[name], "odds_ratio": float(odds[k]),
                     "ci_low": float(ci[k, 0]), "ci_high": float(ci[k, 1]),
                     "p_value": float(p[k]), "n_responders": n_resp, "n_nonresponders": n_non})
    return pd.DataFrame(rows, columns=["term", "unit", "odds_ratio", "ci_low", "ci_high", "p_value",
                                       "n_responders", "n_nonresponders"])
