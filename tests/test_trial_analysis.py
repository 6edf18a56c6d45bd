"""The virtual trial's statistics and figures, on hand-built and simulated patient frames."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.utils import median_survival_times

from cartsim.clinical import CAUSES
from cartsim.report import plot_km, plot_responders
from cartsim.stats import wilson_interval
from cartsim.trial import arm_endpoints, hazard_ratios, responder_analysis

CR, CRI, PR, SD, PD, NA = 0, 1, 2, 3, 4, -1
MONTH = 30.4375


def frame(n: int, arm="A", **columns) -> pd.DataFrame:
    """``n`` patients of one arm: unremarkable defaults, overridden by ``columns`` (scalars or arrays)."""
    base = {
        "arm": arm, "patient": np.arange(n), "age_years": 65.0, "weight_kg": 75.0, "tumor_blood_cells": 1e11,
        "tumor_marrow_cells": 5e11, "tumor_node_cells": 2e11, "antigen_negative_fraction": 0.01,
        "tcell_fitness": 1.0, "cytokine_propensity": 1.0, "cd4_fraction": 0.5, "prior_lines": 3,
        "prior_btki": True, "prior_venetoclax": True, "crs_max_grade": 0, "icans_max_grade": 0,
        "best_response": SD, "response_day28": SD, "umrd4_blood_day90": False, "umrd4_marrow_day90": False,
        "progressed": False, "died": False, "pfs_event": False, "os_event": False, "pfs_days": 3650.0,
        "os_days": 3650.0, "death_cause": -1, "car_t_peak_cells": 1e9, "manufacturing_failed": False,
        "product_out_of_specification": False, "gvhd": False, "vein_to_vein_days": 21.0,
        "product_memory_fraction": 0.3, "solver_failed": False,
    }
    base.update(columns)
    return pd.DataFrame({name: np.broadcast_to(value, n) if np.ndim(value) == 0 else value
                         for name, value in base.items()})


# ---- endpoints per arm ---------------------------------------------------------------------------------------


def _hand_built() -> pd.DataFrame:
    # Arm "B" first: arms come back in order of first appearance, not sorted.
    b = frame(4, "B", best_response=[CR, PD, PD, PD], crs_max_grade=[0, 0, 0, 5],
              death_cause=[-1, -1, -1, CAUSES.index("CRS")], died=[False, False, False, True])
    a = frame(10, "A",
              best_response=[CR, CR, CRI, PR, PR, SD, PD, PD, NA, NA],
              umrd4_blood_day90=[True, True, True, False, False, False, False, False, False, False],
              umrd4_marrow_day90=[True, False, False, False, False, False, False, False, False, False],
              crs_max_grade=[0, 1, 1, 2, 2, 3, 4, 0, 0, 0], icans_max_grade=[0, 0, 0, 0, 1, 1, 1, 3, 0, 0],
              death_cause=[-1] * 8 + [CAUSES.index("ICANS"), CAUSES.index("infection")],
              car_t_peak_cells=[1.0, 2, 3, 4, 5, 6, 7, 8, 9, 1000],
              manufacturing_failed=[False] * 9 + [True])
    return pd.concat([b, a], ignore_index=True)


def test_arm_endpoints_counts_and_rates_on_a_hand_built_frame():
    result = arm_endpoints(_hand_built())
    assert list(result) == ["B", "A"]
    a = result["A"]
    assert a["n"] == 10 and a["solver_failures"] == 0
    expected = {"orr": 5 / 10, "cr_rate": 3 / 10, "umrd4_blood_rate": 3 / 10, "umrd4_marrow_rate": 1 / 10,
                "crs_any_rate": 6 / 10, "crs_grade3plus_rate": 2 / 10, "icans_any_rate": 4 / 10,
                "icans_grade3plus_rate": 1 / 10, "crs_death_rate": 0.0, "manufacturing_failure_rate": 1 / 10}
    for name, rate in expected.items():
        assert a[name] == pytest.approx(rate), name
        assert a[f"{name}_ci"] == pytest.approx(list(wilson_interval(round(rate * 10), 10))), name
    assert a["car_t_peak_median"] == 5.0  # median of 1..9: the manufacturing failure is not infused
    b = result["B"]
    assert b["n"] == 4 and b["orr"] == b["cr_rate"] == 0.25 and b["crs_death_rate"] == 0.25
    assert b["crs_grade3plus_rate"] == 0.25
    # JSON-ready: plain Python values, no NaN anywhere.
    json.dumps(result, allow_nan=False)
    for entry in result.values():
        for value in entry.values():
            for v in value if isinstance(value, list) else [value]:
                assert v is None or type(v) in (int, float), v


def test_solver_failures_are_counted_but_left_out_of_every_rate_and_curve():
    clean = _hand_built()
    lost = frame(5, "A", best_response=CR, crs_max_grade=4, icans_max_grade=4, umrd4_blood_day90=True,
                 pfs_days=3.0, os_days=3.0, pfs_event=True, os_event=True, died=True, solver_failed=True,
                 car_t_peak_cells=1e15)
    both = pd.concat([clean.iloc[:6], lost, clean.iloc[6:]], ignore_index=True)
    with_failures, without = arm_endpoints(both), arm_endpoints(clean)
    assert with_failures["A"]["solver_failures"] == 5
    assert {k: v for k, v in with_failures["A"].items() if k != "solver_failures"} == \
        {k: v for k, v in without["A"].items() if k != "solver_failures"}
    assert with_failures["B"] == without["B"]
    # An arm of solver failures only: no rates, no curves, no NaN.
    alone = arm_endpoints(frame(3, "X", solver_failed=True))["X"]
    assert alone["n"] == 0 and alone["solver_failures"] == 3 and alone["orr"] is None
    assert alone["orr_ci"] == [None, None] and alone["median_pfs_months"] is None
    json.dumps(alone, allow_nan=False)


def test_km_median_and_12_month_survival_match_lifelines_and_none_when_not_reached():
    rng = np.random.default_rng(7)
    n = 300
    days = rng.exponential(400.0, n)
    event = rng.random(n) < 0.8
    days = np.where(event, days, rng.uniform(0, 2000, n))
    patients = frame(n, pfs_days=days, pfs_event=event, os_days=days * 1.5, os_event=event)
    result = arm_endpoints(patients)["A"]
    kmf = KaplanMeierFitter().fit(days / MONTH, event)
    ci = median_survival_times(kmf.confidence_interval_).iloc[0].to_numpy()
    assert result["median_pfs_months"] == pytest.approx(kmf.median_survival_time_)
    assert result["median_pfs_months_ci"] == pytest.approx(list(ci))
    assert result["median_pfs_months_ci"][0] < result["median_pfs_months"] < result["median_pfs_months_ci"][1]
    assert result["pfs_12m"] == pytest.approx(float(kmf.survival_function_at_times(12.0).iloc[0]))
    assert result["median_os_months"] == pytest.approx(KaplanMeierFitter().fit(days * 1.5 / MONTH, event)
                                                       .median_survival_time_)
    # Few events: the curve never reaches 0.5.
    few = frame(50, pfs_days=np.linspace(10, 1000, 50), pfs_event=np.arange(50) < 10)
    km_few = arm_endpoints(few)["A"]
    assert km_few["median_pfs_months"] is None and km_few["median_pfs_months_ci"][1] is None
    assert km_few["median_os_months"] is None and km_few["os_12m"] == 1.0
    # Follow-up ends at 6 months with survivors at risk: no 12-month estimate; one year of days counts.
    assert arm_endpoints(frame(20, pfs_days=182.0, os_days=182.0))["A"]["pfs_12m"] is None
    assert arm_endpoints(frame(20, pfs_days=365.0, os_days=365.0))["A"]["os_12m"] == 1.0
    # Everyone progressed by month 3: 12-month PFS is 0, known.
    assert arm_endpoints(frame(20, pfs_days=80.0, pfs_event=True, os_days=182.0))["A"]["pfs_12m"] == 0.0


# ---- hazard ratios -------------------------------------------------------------------------------------------


def _two_arms(n_per_arm: int = 1000, hazard_ratio: float = 2.0, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    arms = []
    for name, rate in (("control", 1 / 600.0), ("worse", hazard_ratio / 600.0)):
        pfs = rng.exponential(1 / rate, n_per_arm)
        os_ = rng.exponential(1 / (0.5 * rate), n_per_arm)
        follow_up = rng.uniform(365, 1500, n_per_arm)  # staggered entry, administrative censoring
        arms.append(frame(n_per_arm, name, pfs_days=np.minimum(pfs, follow_up), pfs_event=pfs < follow_up,
                          os_days=np.minimum(os_, follow_up), os_event=os_ < follow_up))
    return pd.concat(arms, ignore_index=True)


def test_hazard_ratio_of_two_is_recovered_from_exponential_data():
    result = hazard_ratios(_two_arms())
    assert list(result) == ["worse vs control"]
    hr = result["worse vs control"]
    for endpoint in ("pfs", "os"):
        low, high = hr[f"{endpoint}_hr_ci"]
        assert 1.8 < hr[f"{endpoint}_hr"] < 2.2, hr
        assert low < 2.0 < high and low > 1.5
        assert hr[f"{endpoint}_p"] < 1e-10
    reversed_ = hazard_ratios(_two_arms(), reference="worse")["control vs worse"]
    assert reversed_["pfs_hr"] == pytest.approx(1 / hr["pfs_hr"], rel=1e-3)
    json.dumps(result, allow_nan=False)


def test_hazard_ratio_of_one_and_errors():
    hr = hazard_ratios(_two_arms(hazard_ratio=1.0, seed=3))["worse vs control"]
    assert hr["pfs_hr_ci"][0] < 1.0 < hr["pfs_hr_ci"][1] and hr["pfs_p"] > 0.05
    with pytest.raises(ValueError, match="reference"):
        hazard_ratios(_two_arms(), reference="nobody")
    assert hazard_ratios(frame(10)) == {}
    # No events in one arm: not estimable, None rather than a huge number.
    none = pd.concat([frame(20, "A", pfs_days=100.0, pfs_event=True), frame(20, "B")], ignore_index=True)
    assert hazard_ratios(none)["B vs A"]["pfs_hr"] is None


# ---- responder analysis --------------------------------------------------------------------------------------


def _logistic_trial(n: int = 3000, seed: int = 5) -> tuple[pd.DataFrame, float]:
    """Complete response depends on log T-cell fitness (log-odds slope 2 per log unit) and on nothing else;
    age, burden and the rest are drawn as noise. Returns the frame and the true odds ratio per SD."""
    rng = np.random.default_rng(seed)
    log_fitness = rng.normal(0.0, 0.4, n)
    logit = -0.3 + 2.0 * log_fitness
    complete = rng.random(n) < 1 / (1 + np.exp(-logit))
    best = np.where(complete, rng.choice([CR, CRI], n), rng.choice([SD, PD], n))
    best[rng.random(n) < 0.1] = PR  # partial responders: left out
    best[rng.random(n) < 0.03] = NA
    arms = rng.choice(["A", "B"], n)
    arms[0] = "A"  # the reference: the first arm to appear
    patients = frame(n, arms, tcell_fitness=np.exp(log_fitness), best_response=best,
                     age_years=rng.normal(65, 9, n), cytokine_propensity=np.exp(rng.normal(0, 0.5, n)),
                     tumor_blood_cells=10 ** rng.normal(11, 0.5, n), tumor_node_cells=10 ** rng.normal(11, 0.5, n),
                     cd4_fraction=rng.uniform(0.2, 0.8, n), antigen_negative_fraction=rng.uniform(0, 0.05, n),
                     prior_lines=rng.integers(1, 6, n), prior_venetoclax=rng.random(n) < 0.5)
    used = np.isin(best, (CR, CRI, SD, PD))
    return patients, float(np.exp(2.0 * log_fitness[used].std(ddof=1)))


def test_responder_analysis_recovers_a_known_effect_and_no_effect_of_noise():
    patients, true_or = _logistic_trial()
    table = responder_analysis(patients).set_index("term")
    best = patients["best_response"]
    assert (table["n_responders"] == best.isin((CR, CRI)).sum()).all()
    assert (table["n_nonresponders"] == best.isin((SD, PD)).sum()).all()
    fitness = table.loc["log_tcell_fitness"]
    assert fitness["ci_low"] > 1.5 and fitness["p_value"] < 1e-20
    assert fitness["ci_low"] < true_or < fitness["ci_high"]
    for noise in ("age_years", "log_cytokine_propensity", "cd4_fraction", "arm=B"):
        assert table.loc[noise, "ci_low"] < 1.0 < table.loc[noise, "ci_high"], noise
    # prior_btki is True for everyone: dropped, not fitted.
    assert "prior_btki" not in table.index and "prior_venetoclax" in table.index
    assert table.loc["prior_venetoclax", "unit"] == "yes vs no" and table.loc["arm=B", "unit"] == "vs A"
    assert table.loc["age_years", "unit"].startswith("per SD")
    json.dumps(responder_analysis(patients).to_dict(orient="records"), allow_nan=False)


def test_responder_analysis_drops_the_arm_term_of_a_single_arm_and_leaves_out_solver_failures():
    patients, _ = _logistic_trial(n=800, seed=9)
    patients["arm"] = "only"
    lost = frame(40, "only", best_response=CR, solver_failed=True, tcell_fitness=0.1)
    table = responder_analysis(pd.concat([patients, lost], ignore_index=True))
    assert not any(term.startswith("arm=") for term in table["term"])
    assert table["n_responders"].iloc[0] == patients["best_response"].isin((CR, CRI)).sum()


def test_responder_analysis_needs_ten_of_each_class():
    rng = np.random.default_rng(1)
    n = 200
    best = np.full(n, PD)
    best[:9] = CR
    best[9:60] = PR  # partial responders do not count as complete responders
    patients = frame(n, tcell_fitness=np.exp(rng.normal(0, 0.3, n)), age_years=rng.normal(65, 9, n),
                     best_response=best)
    with pytest.raises(ValueError, match="at least 10 complete responders.*got 9 and 140"):
        responder_analysis(patients)
    best[60] = CRI
    responder_analysis(patients.assign(best_response=best))  # ten: fitted


# ---- figures -------------------------------------------------------------------------------------------------


def test_figures_are_written(tmp_path):
    patients = _two_arms(300)
    for endpoint in ("pfs", "os"):
        path = plot_km(patients, endpoint, tmp_path / f"km_{endpoint}.png")
        assert path.exists() and path.stat().st_size > 10_000
    table = responder_analysis(_logistic_trial(n=1000)[0])
    path = plot_responders(table, tmp_path / "responders.png")
    assert path.exists() and path.stat().st_size > 10_000
    with pytest.raises(ValueError):
        plot_km(patients, "efs", tmp_path / "x.png")
