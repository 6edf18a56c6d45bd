"""Virtual trials (issue 6): chunked, resumable runs whose results do not depend on chunking, workers or
backend; trial files validated; the CLI writes the summary and figures."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cartsim._batch import build_batch
from cartsim.cli import app
from cartsim.io import ScenarioError
from cartsim.trial import Trial, TrialError, load_trial, run_trial
from cartsim.patient import sample_population
from cartsim.trial import arm_batch
from cartsim.trial._run import chunks

N = 12
FOLLOW_UP = 120
TRIAL = {
    "name": "small",
    "patients_per_arm": N,
    "seed": 5,
    "follow_up_days": FOLLOW_UP,
    "arms": [{"name": "CD28", "product": {"costimulation": "CD28"}},
             {"name": "4-1BB", "product": {"costimulation": "4-1BB", "cd4_fraction": 0.5}, "protocol": "none"}],
}


@pytest.fixture(scope="module")
def trial():
    return Trial.validated(TRIAL)


@pytest.fixture(scope="module")
def reference(trial, tmp_path_factory):
    return run_trial(trial, tmp_path_factory.mktemp("reference"), chunk_size=N)


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


def test_one_row_per_patient_and_arm(reference, trial):
    assert len(reference) == 2 * N
    assert list(reference["arm"].unique()) == ["CD28", "4-1BB"]
    for _, arm in reference.groupby("arm"):
        assert sorted(arm["patient"]) == list(range(N))
    # The same virtual patients in both arms (common random numbers).
    cd28, bb = (reference[reference["arm"] == name].set_index("patient") for name in ("CD28", "4-1BB"))
    pd.testing.assert_series_equal(cd28["tcell_fitness"], bb["tcell_fitness"])
    np.testing.assert_array_equal(cd28["seed"], bb["seed"])
    assert np.all(reference["os_days"] <= FOLLOW_UP) and set(reference["best_response"]) <= {-1, 0, 1, 2, 3, 4}


def test_products_mirror_the_patient_unless_the_arm_fixes_cd4(trial, reference):
    row = reference.iloc[0]
    mirrored, fixed = (build_batch([trial.scenario(arm, row)]).products[0] for arm in trial.arms[:2])
    assert mirrored.cd4_fraction == pytest.approx(row["cd4_fraction"]) == row["product_cd4_fraction"]
    assert fixed.cd4_fraction == 0.5
    assert trial.scenario(trial.arms[1], row).protocol == ()


def _assert_same_batch(a, b) -> None:
    for name in ("y0", "params", "seeds", "t0", "age_years", "weight_kg"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    for name in ("times", "states", "amounts", "counts"):
        np.testing.assert_array_equal(getattr(a.doses, name), getattr(b.doses, name), err_msg=name)
    assert list(a.products) == list(b.products)
    assert a.scheduled.keys() == b.scheduled.keys()
    for drug in a.scheduled:
        np.testing.assert_array_equal(a.scheduled[drug], b.scheduled[drug])


def test_an_arm_built_from_the_patient_table_equals_its_patients_scenarios_bit_for_bit(trial):
    """Trials build patients as arrays; the per-patient scenario (a patient's YAML) gives the same batch."""
    patients = sample_population(trial.population, 30, trial.seed)
    bridged = type(trial.arms[0]).model_validate({  # drugs, overrides and a second treatment's construct
        **trial.arms[1].model_dump(), "parameters": {"cll_homing_marrow": 2.0},
        "schedule": [{"drug": "ibrutinib", "day": -20, "dose": 420, "every_days": 1, "until_day": 10}]})
    for treatment in (*trial.arms, bridged):
        scenarios = [trial.scenario(treatment, row) for row in patients.itertuples(index=False)]
        _assert_same_batch(arm_batch(treatment, patients), build_batch(scenarios))


def test_a_patient_table_is_held_to_the_scenario_bounds(trial):
    patients = sample_population(trial.population, 3, trial.seed)
    patients.loc[1, "tcell_fitness"] = 0.01  # a patient block refuses it (the parameter table's range)
    with pytest.raises(ValueError, match="row 1: tcell_fitness"):
        arm_batch(trial.arms[0], patients)


def test_results_do_not_depend_on_chunk_size_or_workers(trial, reference, tmp_path):
    _same(run_trial(trial, tmp_path / "chunks", chunk_size=5), reference)
    _same(run_trial(trial, tmp_path / "workers", chunk_size=4, workers=2), reference)


def test_resume_finishes_a_stopped_run_with_identical_results(trial, reference, tmp_path):
    out = tmp_path / "run"
    run_trial(trial, out, chunk_size=4)
    files = sorted(out.glob("patients/arm-*/chunk-*.parquet"))
    assert len(files) == len(chunks(trial, N, 4)) == 6
    for path in files[::2]:  # as if the run had been killed before these chunks were written
        path.unlink()
    (out / "patients" / "arm-0" / "chunk-000000004.partial").write_bytes(b"half-written")
    with pytest.raises(TrialError, match="--resume"):
        run_trial(trial, out, chunk_size=4)
    _same(run_trial(trial, out, chunk_size=4, resume=True), reference)
    with pytest.raises(TrialError, match="different trial"):
        run_trial(trial, out, chunk_size=3, resume=True)


def test_dask_cluster_gives_the_same_results(trial, reference, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        _same(run_trial(trial, tmp_path / "dask", chunk_size=5, scheduler=cluster.scheduler_address), reference)


def test_bad_trial_files_name_the_field(tmp_path):
    with pytest.raises(ScenarioError, match=r"arms"):
        Trial.validated({**TRIAL, "arms": []})
    with pytest.raises(ScenarioError, match=r"unique"):
        Trial.validated({**TRIAL, "arms": [TRIAL["arms"][0], TRIAL["arms"][0]]})
    with pytest.raises(ScenarioError, match=r"arms\.0\.product\.dose_cells"):
        Trial.validated({**TRIAL, "arms": [{"name": "x", "product": {"dose_cells": -1}}]})
    with pytest.raises(ScenarioError, match=r"population"):
        Trial.validated({**TRIAL, "population": "martians"})
    path = tmp_path / "scenario.yaml"
    path.write_text("name: not a trial\n")
    with pytest.raises(ScenarioError, match="arms"):
        load_trial(path)


def test_trial_command_writes_summary_and_figures(tmp_path):
    spec = tmp_path / "trial.yaml"
    spec.write_text(json.dumps({**TRIAL, "patients_per_arm": 30}))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["trial", str(spec), "--out", str(out), "--chunk-size", "15"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    for arm in ("CD28", "4-1BB"):
        e = summary["arms"][arm]
        assert e["n"] == 30
        for key in ("orr", "cr_rate", "umrd4_blood_rate", "crs_any_rate", "crs_grade3plus_rate", "icans_any_rate",
                    "icans_grade3plus_rate", "manufacturing_failure_rate"):
            low, high = e[f"{key}_ci"]
            assert 0 <= low <= e[key] <= high <= 1
        assert "median_pfs_months" in e and "median_os_months" in e
    assert "4-1BB vs CD28" in summary["hazard_ratios"]
    for figure in ("km_pfs.png", "km_os.png"):
        assert (out / figure).stat().st_size > 10_000
    again = CliRunner().invoke(app, ["trial", str(spec), "--out", str(out)])
    assert again.exit_code == 2 and "--resume" in again.output


def test_unreachable_scheduler_is_a_clear_error(trial, tmp_path):
    with pytest.raises(TrialError, match="Dask scheduler"):
        run_trial(trial, tmp_path / "nowhere", scheduler="tcp://127.0.0.1:9")


def test_a_trial_parameter_set_calibrates_its_population_and_every_arm(tmp_path):
    """The trial field ``parameters`` (and ``cartsim trial --parameters``): the set's population marginals are
    what patients are drawn from, and its model parameters reach every arm beneath the arm's own overrides."""
    from cartsim.patient import CALIBRATED_FILE

    parameter_set = json.loads(CALIBRATED_FILE.read_text())
    parameter_set["populations"].setdefault(Trial.validated(TRIAL).population, {})["tcell_fitness"] = {
        "median": 0.06, "spread": 0.3}
    parameter_set["parameters"] = {"senescence_rate": 0.02, "max_kill_rate": 2.0}
    path = tmp_path / "set.json"
    path.write_text(json.dumps(parameter_set))
    arms = [{**TRIAL["arms"][0], "parameters": {"max_kill_rate": 3.0}}, TRIAL["arms"][1]]
    trial = Trial.validated({**TRIAL, "arms": arms, "parameters": str(path)})
    assert trial.arms[0].parameters == {"senescence_rate": 0.02, "max_kill_rate": 3.0}  # the arm's own wins
    assert trial.arms[1].parameters == {"senescence_rate": 0.02, "max_kill_rate": 2.0}
    plain = sample_population(trial.population, 50, trial.seed)
    calibrated = sample_population(trial.sampled_population(), 50, trial.seed)
    assert calibrated["tcell_fitness"].median() < 0.5 * plain["tcell_fitness"].median()
