"""Calibration as inference: likelihood terms, pool weights, recovery of known parameters, the commands."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cartsim.calibration import parameter_set_of
from cartsim.calibration._inference import identifiability, populations_at, predictive, sample_posterior
from cartsim.calibration._pool import PLAUSIBILITY_RULES, design_pool, effective_sample_size, pool_of, weights
from cartsim.calibration._problem import (DEFAULT_PROBLEM, Term, population_parameter_of, rate, response_shares,
                                          weighted_median)
from cartsim.cli import app
from cartsim.clinical import CR, PD
from cartsim.patient import (B_ALL_POPULATION, CTL019_ERA_POPULATION, DEFAULT_POPULATION, LBCL_POPULATION,
                             UNCALIBRATED_POPULATIONS)
from cartsim.patient._population import CALIBRATED_FILE


def test_count_likelihoods_peak_at_the_published_share_and_bands_at_their_centre():
    binomial = Term("t", rate(lambda f: f["x"], "r"), "x", counts=(4, 6))
    shares = np.linspace(0.05, 0.95, 91)
    assert abs(shares[np.argmax([binomial.log_likelihood(np.array([p])) for p in shares])] - 0.4) < 0.011
    multinomial = Term("t", response_shares("r"), "x", ("CR", "PR", "none"), counts=(5, 10, 25))
    assert multinomial.log_likelihood(np.array([0.125, 0.25, 0.625])) > multinomial.log_likelihood(
        np.array([0.3, 0.2, 0.5]))
    band = Term("t", rate(lambda f: f["x"], "r"), "x", band=(0.2, 0.4))
    assert band.log_likelihood(np.array([0.3])) > band.log_likelihood(np.array([0.39])) > band.log_likelihood(
        np.array([0.5]))
    with pytest.raises(ValueError, match="counts or a band"):
        Term("t", rate(lambda f: f["x"], "r"), "x")


def test_weighted_median_follows_the_weights():
    values = np.array([1.0, 2.0, 3.0])
    assert weighted_median(values, np.array([1.0, 1.0, 1.0])) == 2.0
    assert weighted_median(values, np.array([0.0, 0.1, 1.0])) == 3.0


def test_pool_weights_reproduce_the_candidate_population():
    """Importance weights on the log-uniform pool give each candidate its own T-cell fitness distribution."""
    problem = DEFAULT_PROBLEM.shrunk(2048).restricted(["tcell_fitness.median", "tcell_fitness.spread"])
    design = design_pool(problem, CTL019_ERA_POPULATION)
    pool = pool_of(problem, {r.name: _outcomes(design.patients, np.zeros(len(design.patients), bool))
                             for r in problem.regimens})
    fitness = design.patients["tcell_fitness"].to_numpy()
    for median in (0.15, 0.5):
        w = weights(pool, {"tcell_fitness.median": median, "tcell_fitness.spread": 0.5})["porter"]
        assert abs(math.log(weighted_median(fitness, w) / median)) < 0.15
        assert effective_sample_size(w) > 200


def test_each_disease_preset_has_its_own_fitness_median():
    """The shared median moves the two CLL presets, a preset's own median moves that preset alone, in the pool's
    weights, the populations of a screening point and the parameter set."""
    b_all = f"{B_ALL_POPULATION}:tcell_fitness.median"
    problem = DEFAULT_PROBLEM.shrunk(1024).restricted(["tcell_fitness.median", b_all])
    designs = {p: design_pool(problem, p) for p in problem.populations()}
    pool = pool_of(problem, {r.name: _outcomes(designs[r.population].patients, np.zeros(1024, bool))
                             for r in problem.regimens})
    fitness = designs[B_ALL_POPULATION].patients["tcell_fitness"].to_numpy()
    low, high = ({"tcell_fitness.median": 0.3, b_all: median} for median in (0.2, 0.7))
    w_low, w_high = weights(pool, low), weights(pool, high)
    for w, median in ((w_low, 0.2), (w_high, 0.7)):
        assert abs(math.log(weighted_median(fitness, w["eliana"]) / median)) < 0.15
    np.testing.assert_array_equal(w_low["porter"], w_high["porter"])  # the CLL patients do not move
    np.testing.assert_array_equal(w_low["juliet"], w_high["juliet"])  # nor the LBCL ones (their own median fixed)
    assert populations_at(high)[B_ALL_POPULATION].tcell_fitness.median == 0.7
    assert populations_at(high)[CTL019_ERA_POPULATION].tcell_fitness.median == 0.3
    populations = parameter_set_of(high, [], (), {})["populations"]
    assert populations[B_ALL_POPULATION] == {"tcell_fitness": {"median": 0.7}}
    assert populations[CTL019_ERA_POPULATION] == populations[DEFAULT_POPULATION] == {"tcell_fitness": {"median": 0.3}}
    assert LBCL_POPULATION not in populations


def test_implausible_patients_are_dropped():
    frame = _outcomes(pd.DataFrame({"patient": [0, 1]}), np.array([False, False]))
    frame.loc[1, "crs_onset_day"] = -3.0  # a storm before any CAR-T
    kept = np.logical_and.reduce([rule.keeps(frame) for rule in PLAUSIBILITY_RULES])
    assert kept.tolist() == [True, False]


def _outcomes(patients: pd.DataFrame, complete: np.ndarray) -> pd.DataFrame:
    n = len(patients)
    return pd.DataFrame({"patient": np.arange(n), "best_response": np.where(complete, CR, PD),
                         "crs_max_grade": np.zeros(n, int), "crs_onset_day": np.full(n, np.nan),
                         "icans_onset_day": np.full(n, np.nan), "car_t_peak_day": np.full(n, 10.0),
                         "solver_failed": np.zeros(n, bool)})


def test_simulation_based_calibration_recovers_known_parameters():
    """Synthetic data from known population parameters (a CR probability rising with T-cell fitness, as the model's
    responder analyses find) are fitted by the same pool, likelihood and sampler, and the truth lies in the 95%
    posterior interval of every parameter, which is narrower than the prior."""
    free = ["tcell_fitness.median", "tcell_fitness.spread"]
    problem = DEFAULT_PROBLEM.shrunk(2048).restricted(free)
    design = design_pool(problem, CTL019_ERA_POPULATION)
    rng = np.random.default_rng(1)
    log_fitness = np.log(design.patients["tcell_fitness"].to_numpy())
    chance = 1 / (1 + np.exp(-3.0 * (log_fitness - math.log(0.3))))
    outcomes = {r.name: _outcomes(design.patients, rng.random(len(chance)) < chance) for r in problem.regimens}
    truth = {"tcell_fitness.median": 0.2, "tcell_fitness.spread": 0.5}
    pool = pool_of(problem, outcomes)
    w = weights(pool, truth)
    # Two synthetic studies of 400 patients: the CR share and the share of fit patients with CR separate the
    # median (how many respond) from the spread (how many fit patients there are).
    terms = []
    for k, statistic in enumerate((rate(lambda f: f["best_response"] == CR, "porter"),
                                   rate(lambda f: (f["best_response"] == CR) & (f["tcell_fitness"] > 0.6),
                                        "frey_5e8"))):
        p = float(statistic(_with_fitness(outcomes, design), w)[0])
        successes = int(rng.binomial(400, p))
        terms.append(Term(f"synthetic{k}", statistic, "synthetic", counts=(successes, 400 - successes)))
    synthetic = replace(problem, terms=tuple(terms))
    pool = pool_of(synthetic, _with_fitness(outcomes, design))
    posterior = sample_posterior(pool, list(synthetic.candidates), {}, walkers=12, steps=400, burn=150, thin=5)
    for name, entry in identifiability(posterior).items():
        low, high = entry["interval"]
        assert low <= truth[name] <= high, (name, entry)
        assert entry["posterior_to_prior_variance"] < 0.5, (name, entry)
    rows, ess = predictive(pool, posterior, synthetic.terms)
    assert all(r["predictive_interval"][0] <= r["published"] <= r["predictive_interval"][1] for r in rows)
    assert ess["porter"]["at_posterior_median"] > 50


def _with_fitness(outcomes: dict, design) -> dict:
    return {name: frame.assign(tcell_fitness=design.patients["tcell_fitness"].to_numpy())
            for name, frame in outcomes.items()}


@pytest.fixture(scope="module")
def calibration(tmp_path_factory):
    out = tmp_path_factory.mktemp("calibration")
    shipped = CALIBRATED_FILE.read_bytes()
    result = CliRunner().invoke(app, ["calibrate", "--out", str(out), "--pool-size", "16", "--trajectories", "2",
                                      "--screening-patients", "4", "--walkers", "8", "--steps", "30",
                                      "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert CALIBRATED_FILE.read_bytes() == shipped  # never into the package
    return out


def test_calibrate_writes_the_posterior_table_and_checks(calibration):
    import cartsim

    assert {p.name for p in calibration.iterdir()} >= {"posterior.parquet", "calibration.json", "vpc.png",
                                                       "calibration.md", "parameter_set.json"}
    content = json.loads((calibration / "calibration.json").read_text())
    fitted = {row["target"] for row in content["targets"]}
    assert fitted == {t.target for t in DEFAULT_PROBLEM.terms}
    assert not fitted & {row["target"] for row in content["held_out"]["targets"]}
    for row in content["targets"]:
        assert {"published", "published_interval", "predictive_median", "predictive_interval", "log_likelihood",
                "model_interval"} <= set(row)
    assert set(content["free"]) | set(content["fixed"]) == {c.name for c in DEFAULT_PROBLEM.candidates}
    assert all("why" in entry for entry in content["fixed"].values())
    assert set(content["effective_sample_size"]) == {r.name for r in DEFAULT_PROBLEM.regimens}
    posterior = pd.read_parquet(calibration / "posterior.parquet")
    assert len(posterior) > 0 and abs(posterior["weight"].sum() - 1) < 1e-9
    cartsim.load_parameter_set(calibration / "parameter_set.json")  # a valid parameter set


def test_a_trial_over_posterior_draws_has_prediction_intervals(calibration, tmp_path):
    spec = tmp_path / "trial.yaml"
    spec.write_text("name: t\npatients_per_arm: 4\nseed: 1\nfollow_up_days: 60\narms:\n"
                    "  - {name: A}\n  - {name: B, product: {dose_cells: 5.0e+8}}\n")
    result = CliRunner().invoke(app, ["trial", str(spec), "--out", str(tmp_path / "out"), "--posterior",
                                      str(calibration), "--draws", "2", "--workers", "1"])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    for arm in ("A", "B"):
        low, high = summary["arms"][arm]["cr_rate_prediction_interval"]
        assert 0 <= low <= high <= 1 and "cr_rate_ci" in summary["arms"][arm]
    assert "cr_rate" in summary["differences"]["B - A"] and summary["posterior"]["draws"] == 2
    from cartsim.report import write_report

    page = write_report(tmp_path / "out").read_text()
    assert "prediction" in page and "Differences between arms" in page


def test_calibrate_refuses_posterior_with_parameters(calibration, tmp_path):
    spec = tmp_path / "trial.yaml"
    spec.write_text("name: t\narms:\n  - {name: A}\n")
    result = CliRunner().invoke(app, ["trial", str(spec), "--out", str(tmp_path / "o"), "--posterior",
                                      str(calibration), "--parameters", str(CALIBRATED_FILE)])
    assert result.exit_code == 2 and "not both" in result.output


def test_every_candidate_names_a_real_parameter_with_its_sourced_value():
    for candidate in DEFAULT_PROBLEM.candidates:
        assert candidate.low < candidate.value <= candidate.high or candidate.low <= candidate.value < candidate.high
        if candidate.kind == "population":
            parameter = population_parameter_of(candidate.name)
            for preset in parameter.presets:
                marginal = getattr(UNCALIBRATED_POPULATIONS[preset], parameter.characteristic)
                assert candidate.value == getattr(marginal, parameter.what), (candidate.name, preset)


def test_the_three_diseases_are_calibrated_together():
    """The problem treats a trial of each disease and frees each disease's own T-cell fitness median."""
    populations = DEFAULT_PROBLEM.populations()
    assert {B_ALL_POPULATION, LBCL_POPULATION, CTL019_ERA_POPULATION} <= set(populations)
    fitted = {DEFAULT_PROBLEM.regimen(r).population for t in DEFAULT_PROBLEM.terms for r in t.statistic.regimens}
    assert {B_ALL_POPULATION, LBCL_POPULATION} <= fitted
    for preset in (B_ALL_POPULATION, LBCL_POPULATION):
        assert any(c.applies_to(preset) and c.characteristic == "tcell_fitness" for c in DEFAULT_PROBLEM.candidates)


def test_the_shipped_parameter_set_is_derived_from_the_shipped_posterior():
    """calibrated.json, which every run applies, is the shipped calibration's parameter set, and its fitted
    parameters lie inside their shipped posterior intervals."""
    from cartsim.calibration._calibrate import CALIBRATION, POSTERIOR, SHIPPED_POSTERIOR, load_posterior

    shipped = json.loads((SHIPPED_POSTERIOR / CALIBRATION).read_text())
    calibrated = json.loads(CALIBRATED_FILE.read_text())
    assert calibrated["populations"] == shipped["parameter_set"]["populations"]
    assert calibrated["parameters"] == shipped["parameter_set"]["parameters"]
    ensemble = load_posterior(SHIPPED_POSTERIOR)
    assert (SHIPPED_POSTERIOR / POSTERIOR).exists() and len(ensemble) >= 100
    for name, entry in shipped["free"].items():
        parameter = population_parameter_of(name)
        value = calibrated["parameters"].get(name, entry["median"]) if parameter is None else \
            calibrated["populations"][parameter.presets[-1]][parameter.characteristic][parameter.what]
        assert entry["interval"][0] <= value <= entry["interval"][1], name
