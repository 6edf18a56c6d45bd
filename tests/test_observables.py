"""CAR-T as the clinic measures them in blood (issue 16, item 7): qPCR transgene copies per ug of genomic DNA
and flow cytometry CAR+ cells per uL, blank below their assay's LLOQ, and the cellular kinetics Cmax, Tmax
and AUC0-28d of copies/ug (Mueller 2017 Blood) in the single-patient summary and the trial rows."""

import json

import numpy as np
import pytest

import cartsim
from cartsim._batch import build_batch
from cartsim._readouts import (AUC_DAYS, KINETICS, KINETICS_DAYS, LLOQ, car_t_copies_per_ug, car_t_kinetics,
                               derived_readouts)
from cartsim.io import Scenario
from cartsim.model import CAR_T_STATES, PARAMETERS, Obs, Param, State, observe
from cartsim.trial import Trial, kinetics_by_response, simulate_patients
from cartsim.patient import sample_population

QPCR_LLOQ = LLOQ["car_t_copies_per_ug"]


@pytest.fixture(scope="module")
def patient():
    """One untreated patient's state (its CLL in blood, marrow and nodes) and parameters; CAR-T cells are
    added per test."""
    batch = build_batch([Scenario()])
    return batch.y0[0], batch.params[0]


def _with_car_t(y, cells):
    y = y.copy()
    y[list(CAR_T_STATES)] = cells / len(CAR_T_STATES)
    return y


def test_copies_per_ug_are_the_car_share_of_nucleated_blood_cells_times_vcn_and_genomes_per_ug(patient):
    """copies/ug = CAR+ cells / all nucleated blood cells x vector copies per cell x 1.5e5 genomes per ug,
    the nucleated cells being the blood count's lymphocytes (CLL and CAR-T among them), neutrophils and
    monocytes (500/uL)."""
    y, p = patient
    y = _with_car_t(y, 1e10)
    r = derived_readouts(y, p)
    nucleated_per_ul = r["lymphocytes_per_ul"] + r["neutrophils_per_ul"] + 500.0
    share = r["car_t_blood_per_ul"] / nucleated_per_ul
    expected = share * p[Param.car_vector_copies_per_cell] * p[Param.genomes_per_ug_dna]
    assert r["car_t_copies_per_ug"] == pytest.approx(expected, rel=1e-12)
    assert observe(y[None], p[None])[0, Obs.car_t_copies_per_ug] == pytest.approx(expected, rel=1e-12)
    assert r["car_t_flow_per_ul"] == pytest.approx(r["car_t_blood_per_ul"], rel=1e-12)


def test_copies_scale_with_the_vector_copies_per_cell_and_fall_as_other_blood_cells_rise(patient):
    y, p = patient
    y = _with_car_t(y, 1e10)
    doubled = p.copy()
    doubled[Param.car_vector_copies_per_cell] *= 2
    assert car_t_copies_per_ug(y, doubled) == pytest.approx(2 * car_t_copies_per_ug(y, p), rel=1e-12)
    leukaemic = y.copy()
    leukaemic[State.cll_pos_blood] *= 10  # more genomes per ug that are not the CAR's
    assert leukaemic[State.cll_pos_blood] > 0
    assert car_t_copies_per_ug(leukaemic, p) < car_t_copies_per_ug(y, p)


def test_the_conversion_constants_are_observable_parameters_with_sources():
    for name in ("genomes_per_ug_dna", "car_vector_copies_per_cell"):
        row = PARAMETERS[name]
        assert row.group == "observable" and row.source.startswith(("[V]", "[M]", "[A]"))
    # 6.6 pg of DNA per diploid genome: 1 ug holds ~1.5e5 genomes.
    assert PARAMETERS["genomes_per_ug_dna"].default == pytest.approx(1e-6 / 6.6e-12, rel=0.02)


def test_values_below_the_lloq_are_reported_as_below_lloq(patient):
    y, p = patient
    few, many = _with_car_t(y, 1e5), _with_car_t(y, 1e11)
    assert car_t_copies_per_ug(few, p) < QPCR_LLOQ < car_t_copies_per_ug(many, p)
    readouts = derived_readouts(np.stack([few, many]), p)
    assert np.isnan(readouts["car_t_copies_per_ug"][0]) and readouts["car_t_copies_per_ug"][1] >= QPCR_LLOQ
    assert np.isnan(readouts["car_t_flow_per_ul"][0]) and readouts["car_t_flow_per_ul"][1] >= LLOQ["car_t_flow_per_ul"]
    kinetics = car_t_kinetics(np.arange(0.0, 60.0), np.full(60, 0.5 * QPCR_LLOQ))
    assert kinetics["car_t_copies_below_lloq"]
    assert np.isnan(kinetics["car_t_cmax_copies_per_ug"]) and np.isnan(kinetics["car_t_tmax_days"])
    assert kinetics["car_t_auc28_copies_days_per_ug"] == 0.0  # nothing quantified: no exposure measured


def _series(days):
    """A rise to a peak at day 12 and a decline, starting below the LLOQ."""
    return 1e4 * np.exp(-0.5 * ((days - 12.0) / 4.0) ** 2)


def test_kinetics_are_the_peak_its_day_and_the_trapezoid_of_days_0_to_28():
    days = np.arange(-10.0, 200.0)
    copies = _series(days)
    k = car_t_kinetics(days, copies)
    window = (days >= 0) & (days <= KINETICS_DAYS)
    assert k["car_t_cmax_copies_per_ug"] == copies[window].max()
    assert k["car_t_tmax_days"] == 12.0
    early = (days >= 0) & (days <= AUC_DAYS)
    quantified = np.where(copies[early] >= QPCR_LLOQ, copies[early], 0.0)
    assert k["car_t_auc28_copies_days_per_ug"] == pytest.approx(np.trapezoid(quantified, days[early]), rel=1e-12)
    assert not k["car_t_copies_below_lloq"]


def test_kinetics_end_at_death_and_are_vectorised_over_patients():
    days = np.arange(0.0, 91.0)
    alive = _series(days)
    died = alive.copy()
    died[days > 10] = np.nan  # no sample after death on day 10
    k = car_t_kinetics(days, np.stack([alive, died]))
    assert k["car_t_tmax_days"][1] <= 10 < k["car_t_tmax_days"][0]
    assert 0 <= k["car_t_auc28_copies_days_per_ug"][1] < k["car_t_auc28_copies_days_per_ug"][0]
    alone = car_t_kinetics(days, died)
    assert all(np.array_equal(alone[name], k[name][1], equal_nan=True) for name in KINETICS)


@pytest.fixture(scope="module")
def result():
    return cartsim.simulate(Scenario.validated({"simulation": {"days": 120, "seed": 3}}))


def test_the_patient_summary_has_the_kinetics_of_its_daily_copies(result, tmp_path_factory):
    s = result.summary
    assert set(KINETICS) <= set(s)
    frame = result.to_frame().set_index("day")
    copies = frame["car_t_copies_per_ug"]  # NaN below the LLOQ
    assert s["car_t_cmax_copies_per_ug"] == pytest.approx(copies.loc[0:KINETICS_DAYS].max(), rel=1e-12)
    assert 0 <= s["car_t_tmax_days"] <= min(KINETICS_DAYS, s["os_days"])
    assert copies.loc[s["car_t_tmax_days"]] == pytest.approx(s["car_t_cmax_copies_per_ug"], rel=1e-12)
    early = copies.loc[0:AUC_DAYS].fillna(0.0)
    assert s["car_t_auc28_copies_days_per_ug"] >= 0
    assert s["car_t_auc28_copies_days_per_ug"] == pytest.approx(np.trapezoid(early.to_numpy(), early.index),
                                                                rel=1e-12)
    out = result.write(tmp_path_factory.mktemp("run"), figures=False)  # strict JSON: no NaN
    assert json.loads((out / "summary.json").read_text())["car_t_tmax_days"] == s["car_t_tmax_days"]
    assert {"car_t_copies_per_ug", "car_t_flow_per_ul"} <= set(result.visits.columns)


TRIAL = {"name": "kinetics", "patients_per_arm": 6, "follow_up_days": 60, "seed": 5,
         "arms": [{"name": "standard"}]}


@pytest.fixture(scope="module")
def trial_rows():
    trial = Trial.validated(TRIAL)
    patients = sample_population(trial.population, 6, trial.seed)
    return trial, patients, simulate_patients(trial, trial.arms[0], patients)[0]


def test_trial_rows_hold_each_patients_kinetics_as_its_own_run_does(trial_rows):
    trial, patients, rows = trial_rows
    assert set(KINETICS) <= set(rows.columns)
    assert (rows["car_t_auc28_copies_days_per_ug"].dropna() >= 0).all()
    tmax = rows["car_t_tmax_days"].dropna()
    assert ((tmax >= 0) & (tmax <= np.minimum(KINETICS_DAYS, rows.loc[tmax.index, "os_days"]))).all()
    assert rows["car_t_copies_below_lloq"].to_numpy().tolist() == rows["car_t_cmax_copies_per_ug"].isna().tolist()
    # The same patient simulated alone (a scenario of the arm) has the same kinetics.
    first = next(patients.itertuples(index=False))
    alone = cartsim.simulate(trial.scenario(trial.arms[0], first)).summary
    assert bool(rows.iloc[0]["car_t_copies_below_lloq"]) == alone["car_t_copies_below_lloq"]
    for name in ("car_t_cmax_copies_per_ug", "car_t_tmax_days", "car_t_auc28_copies_days_per_ug"):
        expected, got = alone[name], rows.iloc[0][name]
        assert (expected is None and np.isnan(got)) or got == pytest.approx(expected, rel=1e-9), name


def test_trial_summary_reports_responders_and_non_responders_separately(trial_rows):
    _, _, rows = trial_rows
    kinetics = kinetics_by_response(rows)["standard"]
    assert set(kinetics) == {"responders", "non_responders"}
    infused = int((~rows["manufacturing_failed"].astype(bool)).sum())
    assert kinetics["responders"]["n"] + kinetics["non_responders"]["n"] == infused
    for group in kinetics.values():
        auc = group["car_t_auc28_copies_days_per_ug"]
        if auc["n"]:
            assert auc["range"][0] <= auc["iqr"][0] <= auc["median"] <= auc["iqr"][1] <= auc["range"][1]
        assert group["car_t_cmax_copies_per_ug"]["n"] == group["n"] - group["n_below_lloq"]
    json.dumps(kinetics, allow_nan=False)
    assert kinetics_by_response(rows.drop(columns=list(KINETICS))) is None  # a table of an earlier cartsim
