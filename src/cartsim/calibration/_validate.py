"""`cartsim validate`: every target, the simulated value with its interval, and whether it agrees.

Each comparable target has a comparator: which virtual cohort (see :mod:`._cohorts`) it needs and how
the simulated value is computed, like with like (a response rate against a rate with its Wilson
interval, a kinetic median against a median with a bootstrap interval). A target agrees when the
simulated point estimate lies inside the target's interval (:meth:`Target.interval`). Targets that
are definitions or inputs of the model (grading criteria, drug doses, body constants) are listed with
what uses them; nothing is left out of the table silently.

Blind targets (``blind.yaml``) have their own comparators (:data:`BLIND_COMPARATORS`, on the cohorts of their
studies) and their own reasons where not compared (:data:`BLIND_NOT_COMPARED`); ``cartsim validate --blind``
puts them in a separate table, and the calibration never sees them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Mapping
from typing import Callable

import numpy as np
import pandas as pd

from .._readouts import B_CELL_APLASIA_PER_UL, derived_readouts
from ..clinical import CR, CRI, PD, PR, SD
from ..model import PARAMETERS, State
from ..patient import Population
from ..stats import DAYS_PER_MONTH, bootstrap_interval, km_median, km_of, wilson_interval
from ._cohorts import COHORTS, CohortResult, simulate_cohort
from ._targets import CalibrationError, Target

#: CAR-T still detectable: at least this many cells in the whole body ([A] ~1 cell per uL of blood).
DETECTABLE_CAR_T = 1e5
#: Target bands of a published direction (with ``strict``: a difference of exactly 0 is no effect, not agreement).
HIGHER, LOWER = (0.0, math.inf), (-math.inf, 0.0)
#: Undetectable MRD by flow cytometry (uMRD4, iwcll2018_umrd) and by IGH sequencing ([A] 1e-6, the depth of
#: clonoSEQ-type assays; recalled, verify).
UMRD_FLOW, UMRD_IGH_SEQUENCING = 1e-4, 1e-6

Estimate = tuple[float | None, float | None, float | None]  # value, low, high


def _rate(hits: np.ndarray) -> Estimate:
    n = len(hits)
    if n == 0:
        return None, None, None
    low, high = wilson_interval(int(np.sum(hits)), n)
    return float(np.mean(hits)), low, high


def _median_estimate(values: np.ndarray, seed: int = 0) -> Estimate:
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None, None, None
    return float(np.median(values)), *bootstrap_interval(np.median, values, seed=seed)


def _responders(result: CohortResult) -> np.ndarray:
    return result.frame["best_response"].isin((CR, CRI, PR)).to_numpy()


def _complete(result: CohortResult) -> np.ndarray:
    return result.frame["best_response"].isin((CR, CRI)).to_numpy()


def _car_t(result: CohortResult) -> np.ndarray:
    return derived_readouts(result.states)["car_t_total"]  # [patient, day]


def _day(result: CohortResult, day: float) -> int:
    return int(np.searchsorted(result.days, day))


def _dose(result: CohortResult) -> np.ndarray:
    return result.frame["product_dose_cells"].to_numpy(float)


def _infused(r: CohortResult) -> np.ndarray:
    """Patients given CAR-T cells (a trial's safety set; not those whose product failed)."""
    return _dose(r) > 0


def _non_responders(r: CohortResult) -> np.ndarray:
    return r.frame["best_response"].isin((SD, PD)).to_numpy()


def _grade_rate(r: CohortResult, toxicity: str, grade: int) -> Estimate:
    """Share of the infused with ``toxicity`` (crs, icans) of at least ``grade``: CRS by the scale the study graded
    with (the cohort's), ICANS by ASTCT."""
    grades = r.crs_grades() if toxicity == "crs" else r.frame[f"{toxicity}_max_grade"].to_numpy()
    return _rate((grades >= grade)[_infused(r)])


def _onset(r: CohortResult, toxicity: str) -> Estimate:
    return _median_estimate(r.frame[f"{toxicity}_onset_day"].to_numpy(float)[_infused(r)])


def _marrow_mrd(r: CohortResult, day: float) -> np.ndarray:
    """CLL share of nucleated marrow cells on ``day`` (the mrd_marrow observable, with the marrow's nucleated
    cells at the parameter's default: recorded states keep no per-patient parameters)."""
    marrow = derived_readouts(r.states[:, _day(r, day)])["tumor_marrow"]
    return marrow / (marrow + PARAMETERS["marrow_nucleated_cells"].default)


def _km_at(frame: pd.DataFrame, endpoint: str, months: float) -> Estimate:
    """Kaplan-Meier survival (``pfs``, ``os``) at ``months`` with its 95% interval."""
    kmf = km_of(frame, endpoint)
    value = float(kmf.survival_function_at_times(months).iloc[0])
    band = kmf.confidence_interval_survival_function_.loc[:months].iloc[-1]
    return value, float(band.iloc[0]), float(band.iloc[1])


def _published_km(value: float, n: int) -> tuple[float, float]:
    """95% interval of a published Kaplan-Meier proportion from ``n`` patients without its own interval: the
    binomial (Wald) interval, an [A] lower bound on the KM interval's width (censoring widens it)."""
    se = math.sqrt(value * (1 - value) / n)
    return max(0.0, value - 1.96 * se), min(1.0, value + 1.96 * se)


def _split_difference(covariate: np.ndarray, outcome: np.ndarray) -> Estimate:
    """Rate of ``outcome`` among patients above the median of ``covariate`` minus the rate below it."""
    if covariate.size == 0:
        return None, None, None
    high = covariate > np.median(covariate)
    if high.all() or not high.any():  # no split: every patient on one side (ties at the median)
        return None, None, None
    return _difference(outcome[high], outcome[~high])


# ---- comparators: (target, cohorts) -> (estimate, target interval, note) -------------------------------------

def doubling_times(frame: pd.DataFrame) -> np.ndarray:
    """Each patient's CAR-T doubling time to the peak (days; NaN without a twofold expansion), from its outcome row."""
    peak_day, peak = frame["car_t_peak_day"].to_numpy(float), frame["car_t_peak_cells"].to_numpy(float)
    fold = peak / np.maximum(frame["product_dose_cells"].to_numpy(float), 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((fold > 2) & (peak_day > 0), peak_day / np.log2(fold), np.nan)


def _half_life(r: CohortResult, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    car_t = _car_t(r)
    rows = np.arange(len(car_t))
    first = car_t[rows, np.minimum(np.searchsorted(r.days, start), len(r.days) - 1)]
    last = car_t[rows, np.minimum(np.searchsorted(r.days, stop), len(r.days) - 1)]
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.log(first / last) / (stop - start)
    return np.where((rate > 0) & (last > DETECTABLE_CAR_T), math.log(2) / rate, np.nan)


def _bcell_aplasia_and_crs(r: CohortResult) -> np.ndarray:
    b = derived_readouts(r.states)["normal_b_blood_per_ul"][:, _day(r, 28):_day(r, 90) + 1]
    return (b < B_CELL_APLASIA_PER_UL).any(axis=1) & (r.frame["crs_max_grade"].to_numpy() >= 1)


def _months_to_depth(r: CohortResult) -> np.ndarray:
    """Months after infusion until the CLL is below 1e-6 of its burden at infusion, in the complete responders
    who never progress (Melenhorst's patients in lasting remission; NaN for the others). The states of a
    patient who died are zero from then on, which is no clearance."""
    tumor = derived_readouts(r.states)["tumor_total"]
    start = tumor[:, _day(r, 0)]
    alive = r.days[None, :] < r.frame["os_days"].to_numpy(float)[:, None]
    deep = (tumor < 1e-6 * start[:, None]) & alive
    first = np.where(deep.any(axis=1), r.days[np.argmax(deep, axis=1)], np.nan)
    lasting = _complete(r) & ~r.frame["progressed"].to_numpy(bool)
    return np.where(lasting, first, np.nan) / DAYS_PER_MONTH


@dataclass(frozen=True)
class Comparator:
    """How one target is simulated: the cohorts it needs, the estimate, and what is compared.

    The target interval is ``band`` when given (a published band or direction), else the Wilson
    interval of ``count`` (successes, n) when given, else the target's own interval around
    ``published`` (the number compared when the target's value is a mapping), see Target.interval.
    ``strict``: the simulated value must lie inside the interval, not on its ends (a published direction).
    """

    cohorts: tuple[str, ...]
    compute: Callable[..., Estimate]
    what: str
    band: tuple[float, float] | None = None
    count: tuple[int, int] | None = None
    published: float | None = None
    strict: bool = False

    def interval(self, target: Target) -> tuple[float, float]:
        if self.band is not None:
            return self.band
        if self.count is not None:
            return wilson_interval(*self.count)
        return target.interval(self.published)


def _porter(f):
    return lambda c: f(c["porter"].arm("CTL019"))


COMPARATORS: dict[str, Comparator] = {
    "porter2015_orr": Comparator(("porter",), _porter(lambda r: _rate(_responders(r))), "ORR (iwCLL), CTL019"),
    "porter2015_cr": Comparator(("porter",), _porter(lambda r: _rate(_complete(r))), "CR/CRi rate, CTL019"),
    "porter2015_pr": Comparator(("porter",), _porter(lambda r: _rate(r.frame["best_response"].to_numpy() == PR)),
                                "PR rate, CTL019"),
    "frey2020_cr_overall": Comparator(("frey",), lambda c: _rate(_complete(c["frey"])),
                                      "CR/CRi rate, 5e7 and 5e8 pooled (28% of ~40 infused)", count=(11, 40)),
    "frey2020_dose_levels": Comparator(
        ("frey",), lambda c: _difference(_complete(c["frey"].arm("5e8")), _complete(c["frey"].arm("5e7"))),
        "CR rate at 5e8 minus 5e7 (published: higher at 5e8)", band=(0.0, 1.0)),
    "fraietta2018_response_counts": Comparator(("porter",), _porter(lambda r: _rate(_complete(r))),
                                               "CR/CRi rate, CTL019 (published: 5 CR of 41)", count=(5, 41)),
    "cll_reasons_lower_efficacy": Comparator(("transcend",), lambda c: _rate(_complete(c["transcend"])),
                                             "CR/CRi rate, liso-cel, default population", band=(0.18, 0.30)),
    "porter2015_bcell_aplasia_crs_in_responders": Comparator(
        ("porter",), _porter(lambda r: _rate(_bcell_aplasia_and_crs(r)[_responders(r)])),
        "responders with CRS and B-cell aplasia (days 28-90; published: all 8)", count=(8, 8)),
    "porter2015_cr_durability": Comparator(
        ("porter",), _porter(lambda r: _rate(r.frame["progressed"].to_numpy()[_complete(r)])),
        "complete responders who progress within ten years (published: 0 of 4)", count=(0, 4)),
    "frey2020_cr_durable": Comparator(("porter",), _porter(lambda r: _km_median(r.frame, "os")),
                                      "median OS (months, KM)", published=64.0),
    "melenhorst2022_mrd_clearance": Comparator(("porter",), _porter(lambda r: _median_estimate(_months_to_depth(r))),
                                               "months to CLL below 1e-6 of the burden at infusion"),
    "melenhorst2022_persistence": Comparator(
        ("porter",), _porter(lambda r: _rate((_car_t(r)[:, -1] >= DETECTABLE_CAR_T)[_ten_year_cr(r)])),
        "ten-year complete responders with CAR-T still detectable (published: 2 of 2)", count=(2, 2)),
    "melenhorst2022_cd4_dominance": Comparator(
        ("porter",), _porter(lambda r: _median_estimate(_cd4_share_ten_years(r)[_ten_year_cr(r)])),
        "CD4 share of CAR-T at ten years in continuous CR (published: CD4 dominate)", band=(0.5, 1.0)),
    "ctl019_cll_crs_timing": Comparator(("porter",), _porter(lambda r: _median_estimate(r.frame["crs_onset_day"])),
                                        "median CRS onset day"),
    "stein2019_doubling_time": Comparator(("porter",), _porter(lambda r: _median_estimate(doubling_times(r.frame)[_responders(r)])),
                                          "CAR-T doubling time to the peak in responders (days)"),
    "stein2019_initial_decline_half_life": Comparator(
        ("porter",), _porter(lambda r: _median_estimate(_half_life(r, r.frame["car_t_peak_day"].to_numpy(float),
                                                           r.frame["car_t_peak_day"].to_numpy(float) + 14)[
                                                               _responders(r)])),
        "CAR-T half-life over the two weeks after the peak, responders (days)"),
    "stein2019_terminal_half_life": Comparator(
        ("porter",), _porter(lambda r: _median_estimate(_half_life(r, np.full(len(r.frame), 180.0),
                                                          np.full(len(r.frame), 365.0))[_responders(r)])),
        "CAR-T half-life from day 180 to 365, responders (days)"),
    "kymriah_all_tmax": Comparator(("porter",), _porter(lambda r: _median_estimate(r.frame["car_t_peak_day"][_responders(r)])),
                                   "day of the CAR-T peak, responders (published band 7-14 days)", band=(7.0, 14.0)),
    "kalos2011_expansion_fold": Comparator(
        ("porter",), _porter(lambda r: _median_estimate((r.frame["car_t_peak_cells"] / np.maximum(_dose(r), 1.0))[_responders(r)])),
        "CAR-T expansion fold (peak / dose), responders (published: > 1000)", band=(1000.0, math.inf)),
    "cart_peak_fraction_lymphocytes": Comparator(("porter",), _porter(lambda r: _median_estimate(_peak_t_share(r)[_responders(r)])),
                                                 "CAR-T share of T cells at the peak, responders"),
    "mueller2017_cll_expansion_response": Comparator(("porter",), _porter(lambda r: _peak_ratio(r)),
                                                     "median CAR-T peak, responders / non-responders (> 10)",
                                                     band=(10.0, math.inf)),
    "il6_baseline": Comparator(("porter",), _porter(lambda r: _median_estimate(r.states[:, 0, State.il6])),
                               "serum IL-6 before treatment (pg/mL)"),
    "il6_peak_severe_vs_mild": Comparator(("natural",), lambda c: _severe_median(c, "il6_peak_pg_ml"),
                                          "median IL-6 peak in grade >= 3 CRS, no protocol (pg/mL)",
                                          band=(1000.0, 10000.0)),
    "crp_ferritin_severe_crs": Comparator(("natural",), lambda c: _severe_crp(c),
                                          "median CRP peak in grade >= 3 CRS, no protocol (mg/L; > 200)",
                                          band=(200.0, math.inf)),
    "tocilizumab_no_effect_expansion": Comparator(("natural",), lambda c: _toci_peak_ratio(c),
                                                  "median CAR-T peak with / without the standard protocol",
                                                  band=(0.8, 1.25)),
    "seed003_manufacturing": Comparator(("transcend",), lambda c: _median_estimate(c["transcend"].frame["vein_to_vein_days"]),
                                        "median vein-to-vein time, liso-cel (days)", published=21.0),
    "cll_net_growth": Comparator(("untreated",), lambda c: _median_estimate(_net_growth(c["untreated"])),
                                 "untreated CLL net growth (1/day)"),
    "porter2015_mrd_negative_in_cr": Comparator(
        ("porter",), _porter(lambda r: _rate(r.frame["umrd4_marrow_day90"].to_numpy()[_complete(r)])),
        "complete responders with uMRD4 in marrow at day 90 (published: none of 4 had detectable MRD)",
        count=(4, 4)),
    "porter2015_expansion_correlates_response": Comparator(
        ("porter",), _porter(lambda r: _peak_ratio(r)),
        "median CAR-T peak, responders / non-responders (published: expansion correlated with response)",
        band=(1.0, math.inf)),
    "fraietta2018_most_nonresponders": Comparator(
        ("porter",), _porter(lambda r: _rate(_non_responders(r))),
        "non-responders (best response SD or PD), CTL019 (published: most did not respond)", band=(0.5, 1.0)),
}


def _eliana(f):
    return lambda c: f(c["eliana"])


def _juliet(f):
    return lambda c: f(c["juliet"])


def _remission_by_month3(r: CohortResult) -> np.ndarray:
    """CR/CRi at day 28 or month 3 (ELIANA: remission within 3 months)."""
    return (r.frame["response_day28"].isin((CR, CRI)) | r.frame["response_month3"].isin((CR, CRI))).to_numpy()


def _mrd_negative_by_month3(r: CohortResult) -> np.ndarray:
    return (r.frame["mrd_negative_remission_day28"] | r.frame["mrd_negative_remission_month3"]).to_numpy()


def _in_response_month3(r: CohortResult) -> np.ndarray:
    """Infused patients in CR or PR at the month-3 assessment."""
    return r.frame["response_month3"].isin((CR, CRI, PR)).to_numpy() & _infused(r)


def _transgene_detectable(r: CohortResult, day: float) -> np.ndarray:
    """Blood qPCR transgene at or above its LLOQ on ``day`` (the readout is NaN below it; the table's assay
    parameters: recorded states keep no per-patient parameters)."""
    return np.isfinite(derived_readouts(r.states[:, _day(r, day)])["car_t_copies_per_ug"])


def _cmax_ratio(r: CohortResult) -> Estimate:
    """Geometric-mean qPCR Cmax of responders over non-responders (Mueller 2018 Clin Cancer Res)."""
    cmax = r.frame["car_t_cmax_copies_per_ug"].to_numpy(float)
    responders, non = _responders(r) & np.isfinite(cmax), _non_responders(r) & np.isfinite(cmax)
    if not responders.any() or not non.any():
        return None, None, None

    def ratio(a, b, axis=-1):
        return np.exp(np.mean(np.log(a), axis=axis) - np.mean(np.log(b), axis=axis))

    return float(ratio(cmax[responders], cmax[non])), *bootstrap_interval(ratio, cmax[responders], cmax[non])


def _geometric_mean(values: np.ndarray) -> Estimate:
    values = values[np.isfinite(values) & (values > 0)]
    if values.size == 0:
        return None, None, None
    mean = lambda v, axis=-1: np.exp(np.mean(np.log(v), axis=axis))  # noqa: E731
    return float(mean(values)), *bootstrap_interval(mean, values)


def _kinetics(cohort: str, what: str) -> dict[str, Comparator]:
    """The CAR-T kinetic targets measured in ALL (Stein 2019, the Kymriah label), compared in ``cohort``."""
    pick = lambda f: lambda c: f(c[cohort])  # noqa: E731
    return {
        "stein2019_doubling_time": Comparator((cohort,), pick(lambda r: _median_estimate(doubling_times(r.frame)[
            _responders(r)])), f"CAR-T doubling time to the peak in responders (days), {what}"),
        "stein2019_initial_decline_half_life": Comparator((cohort,), pick(lambda r: _median_estimate(_half_life(
            r, r.frame["car_t_peak_day"].to_numpy(float), r.frame["car_t_peak_day"].to_numpy(float) + 14)[
                _responders(r)])), f"CAR-T half-life over the two weeks after the peak, responders (days), {what}"),
        "stein2019_terminal_half_life": Comparator((cohort,), pick(lambda r: _median_estimate(_half_life(
            r, np.full(len(r.frame), 180.0), np.full(len(r.frame), 365.0))[_responders(r)])),
            f"CAR-T half-life from day 180 to 365, responders (days), {what}"),
        "kymriah_all_tmax": Comparator((cohort,), pick(lambda r: _median_estimate(r.frame["car_t_tmax_days"][
            _responders(r)])), f"qPCR Tmax, responders (days), {what}", published=9.83),
    }


#: Targets compared in a second disease as well: the ALL kinetics, like for like in the B-ALL preset (their CLL rows
#: in COMPARATORS stay, as bands).
ALSO_COMPARED: dict[str, tuple[Comparator, ...]] = {
    target_id: (comparator,) for target_id, comparator in _kinetics("eliana", "B-ALL (ELIANA cohort)").items()}

def _toxicity(cohort: str) -> dict[str, Comparator]:
    """CRS (Penn, as the tisagenlecleucel trials graded it) and neurological events of a cohort's infused."""
    arm = lambda f: lambda c: f(c[cohort])  # noqa: E731
    grades = {f"{cohort}_{name}_{'any' if grade == 1 else 'grade3'}": Comparator(
        (cohort,), arm(lambda r, t=toxicity, g=grade: _grade_rate(r, t, g)),
        f"{what} {'any grade' if grade == 1 else 'grade >= 3'}{how}, infused")
        for name, toxicity, what, how in (("crs", "crs", "CRS", " (Penn)"),
                                          ("neuro", "icans", "ICANS", " (published: neurological events, CTCAE)"))
        for grade in (1, 3)}
    return {**grades, f"{cohort}_crs_onset": Comparator((cohort,), arm(lambda r: _onset(r, "crs")),
                                                          "median day of CRS onset")}


#: Comparators of the tisagenlecleucel trials in B-ALL (ELIANA) and LBCL (JULIET), CRS by the Penn scale.
DISEASE_COMPARATORS: dict[str, Comparator] = {
    **_toxicity("eliana"), **_toxicity("juliet"),
    "eliana_remission_3mo": Comparator(("eliana",), _eliana(lambda r: _rate(_remission_by_month3(r)[_infused(r)])),
                                       "CR/CRi (B-ALL criteria) by month 3, infused"),
    "eliana_mrd_negative_remission": Comparator(
        ("eliana",), _eliana(lambda r: _rate(_mrd_negative_by_month3(r)[_infused(r)])),
        "MRD-negative CR/CRi (marrow < 1e-4) by month 3, infused"),
    "kymriah_all_cmax": Comparator(("eliana",), _eliana(lambda r: _geometric_mean(
        r.frame["car_t_cmax_copies_per_ug"].to_numpy(float)[_complete(r)])),
        "geometric-mean qPCR Cmax of responders (CR/CRi), copies/ug", published=32700.0),
    "mueller2018_resp_vs_nr": Comparator(("eliana",), _eliana(_cmax_ratio),
                                         "geometric-mean qPCR Cmax, responders / non-responders", published=1.74),
    "juliet_orr": Comparator(("juliet",), _juliet(lambda r: _rate(_responders(r)[_infused(r)])),
                             "best response CR or PR (Lugano surrogate), infused"),
    "juliet_cr": Comparator(("juliet",), _juliet(lambda r: _rate(_complete(r)[_infused(r)])),
                            "best response CR (PET surrogate), infused"),
    "juliet_neuro_onset": Comparator(("juliet",), _juliet(lambda r: _onset(r, "icans")),
                                     "median day of ICANS onset"),
    "awasthi2020_persistence_6mo": Comparator(
        ("juliet",), _juliet(lambda r: _rate(_transgene_detectable(r, 180.0)[_in_response_month3(r)])),
        "responders at month 3 with qPCR transgene detectable at month 6 (published: most)", band=(0.5, 1.0)),
}
COMPARATORS.update(DISEASE_COMPARATORS)


def _difference(a: np.ndarray, b: np.ndarray) -> Estimate:
    pa, pb = float(np.mean(a)), float(np.mean(b))
    se = math.sqrt(pa * (1 - pa) / len(a) + pb * (1 - pb) / len(b))
    return pa - pb, pa - pb - 1.96 * se, pa - pb + 1.96 * se


def _km_median(frame: pd.DataFrame, endpoint: str) -> Estimate:
    median, (low, high) = km_median(km_of(frame, endpoint))
    return median, low, high


def _ten_year_cr(r: CohortResult) -> np.ndarray:
    return _complete(r) & ~r.frame["progressed"].to_numpy() & ~r.frame["died"].to_numpy()


def _cd4_share_ten_years(r: CohortResult) -> np.ndarray:
    readouts = derived_readouts(r.states[:, -1])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(readouts["car_t_total"] >= DETECTABLE_CAR_T,
                        readouts["car_t_cd4"] / readouts["car_t_total"], np.nan)


def _peak_t_share(r: CohortResult) -> np.ndarray:
    car_t = _car_t(r)
    peak = np.argmax(car_t, axis=1)
    rows = np.arange(len(car_t))
    host = r.states[rows, peak, State.host_t_cells]
    return car_t[rows, peak] / (car_t[rows, peak] + host)


def _peak_ratio(r: CohortResult) -> Estimate:
    peaks = r.frame["car_t_peak_cells"].to_numpy(float)
    responders = _responders(r)
    non = r.frame["best_response"].isin((SD, PD)).to_numpy()
    if not responders.any() or not non.any():
        return None, None, None
    def ratio(a, b, axis=-1):  # responders' median peak over non-responders' (at least one cell)
        return np.median(a, axis=axis) / np.maximum(np.median(b, axis=axis), 1.0)

    return float(ratio(peaks[responders], peaks[non])), *bootstrap_interval(ratio, peaks[responders], peaks[non])


def _severe_median(c: dict, column: str) -> Estimate:
    natural = c["natural"].arm("no protocol")
    return _median_estimate(natural.frame[column][natural.frame["crs_max_grade"] >= 3])


def _severe_crp(c: dict) -> Estimate:
    natural = c["natural"].arm("no protocol")
    crp = natural.states[:, :, State.crp].max(axis=1)
    return _median_estimate(crp[natural.frame["crs_max_grade"].to_numpy() >= 3])


def _toci_peak_ratio(c: dict) -> Estimate:
    untreated, managed = c["natural"].arm("no protocol"), c["natural"].arm("standard")
    ratio = (managed.frame["car_t_peak_cells"] / untreated.frame["car_t_peak_cells"].clip(lower=1.0)).to_numpy()
    treated = managed.frame["tocilizumab_doses"].to_numpy() > 0  # only where the protocol acted
    return _median_estimate(ratio[treated])


def _net_growth(r: CohortResult) -> np.ndarray:
    tumor = derived_readouts(r.states)["tumor_total"]
    start, end = _day(r, 0), _day(r, 365)
    return np.log(tumor[:, end] / tumor[:, start]) / (r.days[end] - r.days[start])


#: Targets that are definitions or inputs of the model, not outcomes to compare, and what uses them.
NOT_COMPARED = {
    "porter2015_dose": "input: the CTL019 cohort dose (1.6e8)",
    "fraietta2018_phenotype": "qualitative; the responder analysis of a trial tests product memory share",
    "stein2019_model_params": "an empirical ALL kinetic model; its half-lives and doubling time are compared",
    "kymriah_all_auc_t12_tlast": "a mapping of AUC, half-lives and Tlast; Cmax (kymriah_all_cmax) and Tmax are "
                                 "compared in the B-ALL preset",
    "juliet_persistence": "the longest persistence observed (693 days) is bounded by the trial's follow-up, not a "
                          "rate; the same paper's persistence in 3-month responders (awasthi2020_persistence_6mo) is "
                          "compared",
    "tisacel_dose_cmax_independence": "qualitative; frey2020_dose_levels is compared",
    "kalos2011_tumor_killed": "tumour burden input of the populations (cll_tumor_burden)",
    "tocilizumab_dose": "input: the standard protocol (clinical._protocol)",
    "tocilizumab_half_life": "input: tocilizumab PK parameters (model parameter table)",
    "steroid_anakinra_doses": "input: the standard protocol (clinical._protocol)",
    "astct_crs_grades": "definition: clinical._grading (table-driven tests)",
    "astct_icans_grades": "definition: clinical._grading (table-driven tests)",
    "iwcll2018_cr": "definition: clinical._response (tests)",
    "iwcll2018_pr": "definition: clinical._response (tests)",
    "iwcll2018_pd": "definition: clinical._response (tests)",
    "iwcll2018_sd": "definition: clinical._response (tests)",
    "iwcll2018_umrd": "definition: MRD threshold of clinical._response",
    "cll_diagnosis_threshold": "definition (diagnosis), not an outcome",
    "cll_treatment_indication_ldt": "definition (treatment indication), not an outcome",
    "normal_bcell_blood": "input: B-cell aplasia threshold and healthy B-cell count",
    "normal_lymphocytes_tcells": "input: population CD4 share and host T-cell capacity",
    "blood_volume": "input: model constant BLOOD_UL",
    "lymphocytes_blood_fraction": "input: model constant BLOOD_LYMPHOCYTE_SHARE",
    "cll_tumor_burden": "input: population tumour burden",
    "cll_blood_alc_rr_trials": "input: population blood/node split",
    "messmer2005_birth_rate": "input: CLL birth rates (parameter table)",
    "normal_spleen_size": "input: iwCLL spleen criterion",
    "kay2022_senescence_onset": "lab assay target: tests/test_lab.py (cartsim lab restim)",
    "kay2022_function_loss": "lab assay target: tests/test_lab.py (cartsim lab mouse)",
    "kay2022_costim_dependence": "lab assay target: tests/test_lab.py (cartsim lab restim, mouse)",
    "kalos2011_first_patients_responses": "the first 3 of Porter 2015's 14 patients: porter2015_orr and porter2015_cr "
                                          "compare the whole series",
}


def _transcend(f):
    return lambda c: f(c["transcend"])


def _fred_hutch(f):
    return lambda c: f(c["fred_hutch"])


def _gauthier(f, arm: str = "concurrent ibrutinib"):
    return lambda c: f(c["gauthier"].arm(arm))


def _geyer(f):
    return lambda c: f(c["geyer"])


def _day28_response(r: CohortResult, responses=(CR, CRI, PR)) -> Estimate:
    return _rate(r.frame["response_day28"].isin(responses).to_numpy()[_infused(r)])


def _marrow_negative_day28(r: CohortResult, threshold: float) -> Estimate:
    return _rate((_marrow_mrd(r, 28.0) < threshold)[_infused(r)])


def _grade_difference(c: dict) -> Estimate:
    """Mean CRS grade with concurrent ibrutinib minus without, in the same patients."""
    with_, without = (c["gauthier"].arm(a).frame["crs_max_grade"].to_numpy(float)
                      for a in ("concurrent ibrutinib", "no ibrutinib"))
    difference = with_ - without
    return float(np.mean(difference)), *bootstrap_interval(np.mean, difference)


def _ibrutinib_peak_ratio(c: dict) -> Estimate:
    with_, without = (c["gauthier"].arm(a).frame["car_t_peak_cells"].to_numpy(float)
                      for a in ("concurrent ibrutinib", "no ibrutinib"))
    return _median_estimate(with_ / np.maximum(without, 1.0))


def _pfs_event_by_peak(r: CohortResult) -> Estimate:
    """Progression or death within a year among patients below the median CAR-T peak minus above it."""
    infused = _infused(r)
    events = r.frame["pfs_event"].to_numpy(bool) & (r.frame["pfs_days"].to_numpy(float) <= 365.0)
    value, low, high = _split_difference(r.frame["car_t_peak_cells"].to_numpy(float)[infused], events[infused])
    return -value, -high, -low  # above minus below, turned round


def _crs_by_marrow_burden(r: CohortResult) -> Estimate:
    """Any-grade CRS among the infused above the median marrow CLL at infusion minus below it."""
    infused = _infused(r)
    marrow = derived_readouts(r.states[:, _day(r, 0.0)])["tumor_marrow"]
    crs = r.frame["crs_max_grade"].to_numpy() >= 1
    return _split_difference(marrow[infused], crs[infused])


def _crs_dose_difference(c: dict) -> Estimate:
    low, high = (c["fred_hutch_dose"].arm(a) for a in ("2e5/kg", "2e6/kg"))
    return _difference((high.frame["crs_max_grade"].to_numpy() >= 1)[_infused(high)],
                       (low.frame["crs_max_grade"].to_numpy() >= 1)[_infused(low)])


#: Comparators of the blind targets (blind.yaml): the same machinery, the cohorts of the blind studies.
BLIND_COMPARATORS: dict[str, Comparator] = {
    # TRANSCEND CLL 004 (Siddiqi 2023 Lancet): liso-cel 1e8; efficacy in the primary efficacy analysis set at
    # dose level 2 (n=49), safety in all 117 infused.
    "siddiqi2023_cr": Comparator(("transcend",), _transcend(lambda r: _rate(_complete(r)[_infused(r)])),
                                 "CR/CRi rate, liso-cel 1e8 (infused)", count=(9, 49)),
    "siddiqi2023_orr": Comparator(("transcend",), _transcend(lambda r: _rate(_responders(r)[_infused(r)])),
                                  "ORR (iwCLL 2018), liso-cel 1e8 (infused)", count=(21, 49)),
    "siddiqi2023_umrd_blood": Comparator(
        ("transcend",), _transcend(lambda r: _rate(r.frame["umrd4_blood_day90"].to_numpy()[_infused(r)])),
        "uMRD4 in blood at day 90, liso-cel (infused)", count=(31, 49)),
    "siddiqi2023_umrd_marrow": Comparator(
        ("transcend",), _transcend(lambda r: _rate(r.frame["umrd4_marrow_day90"].to_numpy()[_infused(r)])),
        "uMRD4 in marrow at day 90, liso-cel (infused)", count=(29, 49)),
    "siddiqi2023_crs_any": Comparator(("transcend",), _transcend(lambda r: _grade_rate(r, "crs", 1)),
                                      "CRS any grade (ASTCT), liso-cel (infused)", count=(99, 117)),
    "siddiqi2023_crs_grade3": Comparator(("transcend",), _transcend(lambda r: _grade_rate(r, "crs", 3)),
                                         "CRS grade >= 3, liso-cel (infused)", count=(10, 117)),
    "siddiqi2023_crs_onset": Comparator(("transcend",), _transcend(lambda r: _onset(r, "crs")),
                                        "median day of CRS onset, liso-cel (days)", published=4.0),
    "siddiqi2023_neuro_any": Comparator(("transcend",), _transcend(lambda r: _grade_rate(r, "icans", 1)),
                                        "ICANS any grade, liso-cel (published: neurological events)",
                                        count=(53, 117)),
    "siddiqi2023_neuro_grade3": Comparator(("transcend",), _transcend(lambda r: _grade_rate(r, "icans", 3)),
                                           "ICANS grade >= 3, liso-cel (published: neurological events)",
                                           count=(22, 117)),
    "siddiqi2023_neuro_onset": Comparator(("transcend",), _transcend(lambda r: _onset(r, "icans")),
                                          "median day of ICANS onset, liso-cel (days)", published=7.0),
    # Turtle 2017 J Clin Oncol: Fred Hutch CAR-T after ibrutinib; responses at 4 weeks after flu/cy (n=19).
    "turtle2017_orr_4wk": Comparator(("fred_hutch",), _fred_hutch(_day28_response),
                                     "ORR (iwCLL) at day 28, Fred Hutch CAR-T", count=(14, 19)),
    "turtle2017_cr_4wk": Comparator(("fred_hutch",), _fred_hutch(lambda r: _day28_response(r, (CR, CRI))),
                                    "CR/CRi at day 28, Fred Hutch CAR-T", count=(4, 19)),
    "turtle2017_marrow_flow_negative": Comparator(
        ("fred_hutch",), _fred_hutch(lambda r: _marrow_negative_day28(r, UMRD_FLOW)),
        "marrow CLL below 1e-4 (flow) at day 28, Fred Hutch CAR-T", count=(17, 21)),
    "turtle2017_crs_any": Comparator(("fred_hutch",), _fred_hutch(lambda r: _grade_rate(r, "crs", 1)),
                                     "CRS any grade, Fred Hutch CAR-T (infused)", count=(20, 24)),
    "turtle2017_crs_grade4plus": Comparator(("fred_hutch",), _fred_hutch(lambda r: _grade_rate(r, "crs", 4)),
                                            "CRS grade >= 4, Fred Hutch CAR-T (infused)", count=(2, 24)),
    "turtle2017_neurotoxicity_any": Comparator(("fred_hutch",), _fred_hutch(lambda r: _grade_rate(r, "icans", 1)),
                                               "ICANS any grade, Fred Hutch CAR-T (published: neurotoxicity)",
                                               count=(8, 24)),
    "turtle2017_neurotoxicity_grade3": Comparator(
        ("fred_hutch",), _fred_hutch(lambda r: _grade_rate(r, "icans", 3)),
        "ICANS grade >= 3, Fred Hutch CAR-T (published: neurotoxicity)", count=(6, 24)),
    # Liang 2023 Blood Adv: long-term follow-up of the same trial (n=47).
    "liang2023_pfs_median": Comparator(("fred_hutch",), _fred_hutch(lambda r: _km_median(r.frame[_infused(r)], "pfs")),
                                       "median PFS (months, KM), Fred Hutch CAR-T", published=8.9),
    "liang2023_pfs_6y": Comparator(("fred_hutch",), _fred_hutch(lambda r: _km_at(r.frame[_infused(r)], "pfs", 72.0)),
                                   "PFS at 6 years (KM), Fred Hutch CAR-T", band=_published_km(0.178, 47)),
    "liang2023_os_6y": Comparator(("fred_hutch",), _fred_hutch(lambda r: _km_at(r.frame[_infused(r)], "os", 72.0)),
                                  "OS at 6 years (KM), Fred Hutch CAR-T", band=_published_km(0.312, 47)),
    "liang2023_peak_and_pfs": Comparator(
        ("fred_hutch",), _fred_hutch(_pfs_event_by_peak),
        "progression or death within a year, below- minus above-median CAR-T peak (published: higher peak, "
        "longer PFS)", band=HIGHER, strict=True),
    # Gauthier 2020 Blood: the same CAR-T with concurrent ibrutinib (n=19; 18 evaluable at 4 weeks).
    "gauthier2020_orr_4wk": Comparator(("gauthier",), _gauthier(_day28_response),
                                       "ORR (iwCLL 2018) at day 28 with concurrent ibrutinib", count=(15, 18)),
    "gauthier2020_marrow_igh_negative": Comparator(
        ("gauthier",), _gauthier(lambda r: _marrow_negative_day28(r, UMRD_IGH_SEQUENCING)),
        "marrow CLL below 1e-6 (IGH sequencing) at day 28 with concurrent ibrutinib", count=(11, 18)),
    "gauthier2020_marrow_flow_negative": Comparator(
        ("gauthier",), _gauthier(lambda r: _marrow_negative_day28(r, UMRD_FLOW)),
        "marrow CLL below 1e-4 (flow) at day 28 with concurrent ibrutinib", count=(13, 18)),
    "gauthier2020_lower_crs": Comparator(("gauthier",), _grade_difference,
                                         "mean CRS grade with minus without concurrent ibrutinib (published: lower)",
                                         band=LOWER, strict=True),
    "gauthier2020_equal_expansion": Comparator(
        ("gauthier",), _ibrutinib_peak_ratio,
        "median CAR-T peak ratio with / without ibrutinib (published: equivalent; band [A] 0.5-2)",
        band=(0.5, 2.0)),
    "gauthier2020_pfs_1y": Comparator(("gauthier",), _gauthier(lambda r: _km_at(r.frame[_infused(r)], "pfs", 12.0)),
                                      "PFS at 1 year (KM) with concurrent ibrutinib", band=_published_km(0.38, 19)),
    # Geyer 2019 JCI Insight: MSKCC 19-28z (16 CLL and 4 indolent B-NHL).
    "geyer2019_crs_any": Comparator(("geyer",), _geyer(lambda r: _grade_rate(r, "crs", 1)),
                                    "CRS any grade, 19-28z (infused)", count=(20, 20)),
    "geyer2019_crs_grade3": Comparator(("geyer",), _geyer(lambda r: _grade_rate(r, "crs", 3)),
                                       "CRS grade >= 3, 19-28z (published: grade 3-4 in 10%)", count=(2, 20)),
    "geyer2019_neuro_grade3": Comparator(("geyer",), _geyer(lambda r: _grade_rate(r, "icans", 3)),
                                         "ICANS grade >= 3, 19-28z (published: neurological events 3-4 in 10%)",
                                         count=(2, 20)),
    # LBCL: axi-cel (CD28, ZUMA-1) and liso-cel (4-1BB, TRANSCEND NHL 001), Lee 2014 grading, the LBCL preset.
    "zuma1_orr": Comparator(("zuma1",), lambda c: _rate(_responders(c["zuma1"])[_infused(c["zuma1"])]),
                            "best response CR or PR (Lugano surrogate), axi-cel, infused"),
    "zuma1_cr": Comparator(("zuma1",), lambda c: _rate(_complete(c["zuma1"])[_infused(c["zuma1"])]),
                           "best response CR (PET surrogate), axi-cel, infused"),
    "transcend_nhl_orr": Comparator(("transcend_nhl",), lambda c: _rate(_responders(c["transcend_nhl"])[
        _infused(c["transcend_nhl"])]), "best response CR or PR (Lugano surrogate), liso-cel, infused"),
    "transcend_nhl_cr": Comparator(("transcend_nhl",), lambda c: _rate(_complete(c["transcend_nhl"])[
        _infused(c["transcend_nhl"])]), "best response CR (PET surrogate), liso-cel, infused"),
    "transcend_nhl_crs_any": Comparator(("transcend_nhl",), lambda c: _grade_rate(c["transcend_nhl"], "crs", 1),
                                        "CRS any grade (Lee 2014), liso-cel, infused"),
    "transcend_nhl_crs_grade3": Comparator(("transcend_nhl",), lambda c: _grade_rate(c["transcend_nhl"], "crs", 3),
                                           "CRS grade >= 3 (Lee 2014), liso-cel, infused"),
    "transcend_nhl_neuro_any": Comparator(("transcend_nhl",), lambda c: _grade_rate(c["transcend_nhl"], "icans", 1),
                                          "ICANS any grade, liso-cel (published: neurological events)"),
    "transcend_nhl_neuro_grade3": Comparator(("transcend_nhl",),
                                             lambda c: _grade_rate(c["transcend_nhl"], "icans", 3),
                                             "ICANS grade >= 3, liso-cel (published: neurological events)"),
    # Hay 2017 Blood: predictors of CRS after the Fred Hutch CAR-T (133 adults with ALL, NHL or CLL).
    "hay2017_dose_predicts_crs": Comparator(("fred_hutch_dose",), _crs_dose_difference,
                                            "any-grade CRS at 2e6/kg minus 2e5/kg (published: higher dose, more CRS)",
                                            band=HIGHER, strict=True),
    "hay2017_marrow_burden_predicts_crs": Comparator(
        ("fred_hutch",), _fred_hutch(_crs_by_marrow_burden),
        "any-grade CRS above minus below the median marrow CLL at infusion (published: high marrow burden, "
        "more CRS)", band=HIGHER, strict=True),
}

#: Blind targets without a comparator, and why.
BLIND_NOT_COMPARED = {
    "siddiqi2023_crs_duration": "the clinical endpoints keep the CRS onset and maximum grade, not its resolution day",
    "siddiqi2023_neuro_duration": "the clinical endpoints keep the ICANS onset and maximum grade, not its resolution",
    "hay2017_crs_incidence": "a mixed ALL, NHL and CLL cohort (133 adults) at several doses and lymphodepletions: "
                             "not a CLL cohort; its CLL-specific findings are compared through Turtle 2017",
    "hay2017_endothelial_activation": "angiopoietin-2 and von Willebrand factor are not model states",
}


def cohorts_needed(targets: dict[str, Target], ids=None) -> list[str]:
    """The cohorts the comparisons of ``targets`` (of ``ids``, default all) simulate."""
    ids = list(targets) if ids is None else list(ids)
    comparators, _ = _machinery(targets)
    return sorted({c for i in ids for comparator in _comparators_of(comparators, i) for c in comparator.cohorts})


def _machinery(targets: dict[str, Target]) -> tuple[dict[str, Comparator], dict[str, str]]:
    """The comparators and reasons for ``targets``: the blind ones for a blind set, else the regular ones (a set
    mixing both is a targets file with blind entries in it, refused)."""
    blind = {target.blind for target in targets.values()}
    if blind == {True, False}:
        raise CalibrationError("a targets set mixes blind and regular targets; blind targets belong in blind.yaml "
                               f"(blind: {', '.join(sorted(i for i, t in targets.items() if t.blind))})")
    return (BLIND_COMPARATORS, BLIND_NOT_COMPARED) if blind == {True} else (COMPARATORS, NOT_COMPARED)


def compare(targets: dict[str, Target], populations: Mapping[str, Population] | None = None, ids=None,
            days: int | None = None, patients: int | None = None,
            progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """The validation table: one row per target (of ``ids``, default all), cohorts simulated once each
    (optionally from candidate ``populations`` by preset name, with follow-up capped at ``days`` and
    ``patients`` per arm).
    Blind targets (``blind: true``) are compared by :data:`BLIND_COMPARATORS`."""
    ids = list(targets) if ids is None else list(ids)
    comparators, not_compared = _machinery(targets)
    needed = cohorts_needed(targets, ids)
    cohorts = {}
    for name in needed:
        cohorts[name] = simulate_cohort(COHORTS[name], populations, days=None if days is None else
                                        min(days, COHORTS[name].days), patients_per_arm=patients)
        if progress:
            progress(name)
    rows = []
    for target_id in ids:
        target = targets[target_id]
        row = {"id": target_id, "quantity": target.quantity, "source": target.source[:120],
               "confidence": target.confidence, "blind": target.blind}
        every = _comparators_of(comparators, target_id)
        if not every:
            rows.append({**row, "disease": "", "compared": False,
                         "note": not_compared.get(target_id, "no comparator yet")})
        for comparator in every:
            low, high = comparator.interval(target)
            value, sim_low, sim_high = comparator.compute(cohorts)
            within = None if value is None else bool(low < value < high if comparator.strict else
                                                     low <= value <= high)
            rows.append({**row, "disease": _disease_of(comparator), "compared": True,
                         "simulated_as": comparator.what, "cohort": ", ".join(comparator.cohorts), "target_low": low,
                         "target_high": high, "simulated": value, "simulated_low": sim_low,
                         "simulated_high": sim_high, "within": within})
    return pd.DataFrame(rows)


def _disease_of(comparator: Comparator) -> str:
    """The disease of a comparator's cohorts (CLL for a comparator that simulates none)."""
    return COHORTS[comparator.cohorts[0]].disease if comparator.cohorts else "CLL"


def _comparators_of(comparators: dict[str, Comparator], target_id: str) -> tuple[Comparator, ...]:
    """Every comparison of a target: its own comparator and, for a regular target, those in other diseases."""
    own = (comparators[target_id],) if target_id in comparators else ()
    return own + (ALSO_COMPARED.get(target_id, ()) if comparators is COMPARATORS else ())


def per_disease(table: pd.DataFrame) -> pd.DataFrame:
    """Compared and agreeing targets per disease of a validation table."""
    compared = table[table["compared"]]
    return (compared.assign(agree=compared["within"].eq(True)).groupby("disease", sort=False)
            .agg(compared=("id", "size"), agree=("agree", "sum")).reset_index())
