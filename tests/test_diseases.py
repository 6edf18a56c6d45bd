"""Disease presets on the one model (CLL, B-ALL, LBCL): populations, patient parameters, response criteria, CRS
scales, and the efficacy-gap study's attribution."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cartsim._batch import build_patients
from cartsim.clinical import CR, CRI, CRS_SCALES, PD, PR, SD, all_response, crs_grade, crs_grade_by, lugano_response
from cartsim.clinical._criteria import response_by_disease
from cartsim.clinical._response import Observations
from cartsim.io import Scenario, ScenarioError
from cartsim.model import PARAMETERS, Param
from cartsim.patient import (B_ALL_POPULATION, DISEASE_NAMES, LBCL_POPULATION, POPULATIONS, patient_fields,
                             sample_population)
from cartsim.studies import FACTORS, run_efficacy_gap, shapley
from cartsim.studies._efficacy_gap import counterfactual
from cartsim.trial import Trial

TUMOUR_BIOLOGY = ("tumor_growth_factor", "antigen_density", "node_access", "killing_factor")


# ---- populations --------------------------------------------------------------------------------------------------

def test_every_disease_has_a_population_and_cll_presets_keep_cll_biology():
    assert {p.disease for p in POPULATIONS.values()} == set(DISEASE_NAMES)
    for name, population in POPULATIONS.items():
        frame = sample_population(name, 200, 3)
        assert (frame["disease"] == population.disease).all()
        if population.disease == "CLL":
            assert (frame[["tumor_growth_factor", "antigen_density", "killing_factor"]] == 1.0).all().all()
            assert (frame["node_access"] == PARAMETERS["access_node"].default).all()


def test_the_disease_presets_have_the_published_shape():
    """B-ALL: marrow-dominant, fast, CD19-bright, children; LBCL: nodal with little blood or marrow disease."""
    all_, lbcl = sample_population(B_ALL_POPULATION, 2000, 1), sample_population(LBCL_POPULATION, 2000, 1)
    assert (all_.tumor_marrow_cells > all_.tumor_node_cells).mean() > 0.9 and all_.age_years.median() < 18
    assert all_.tumor_growth_factor.median() > lbcl.tumor_growth_factor.median() > 1.0
    assert all_.antigen_density.median() > lbcl.antigen_density.median() > 1.0
    assert (lbcl.tumor_node_cells > 10 * (lbcl.tumor_blood_cells + lbcl.tumor_marrow_cells)).mean() > 0.8
    assert not all_.prior_btki.any() and not lbcl.prior_btki.any()


def test_a_patients_tumour_biology_becomes_its_parameters_and_cll_keeps_the_tables():
    frame = sample_population(B_ALL_POPULATION, 3, 2)
    cll = sample_population("rr_cll_post_btki_venetoclax", 3, 2)
    treatment = Scenario.validated({"product": {"preset": "tisa-cel"}})
    p_all = build_patients(frame, treatment, frame["seed"].to_numpy(np.uint64)).params
    p_cll = build_patients(cll, treatment, cll["seed"].to_numpy(np.uint64)).params
    for name in ("cll_birth_blood", "cll_birth_marrow", "cll_birth_node", "access_blood", "access_marrow",
                 "access_node", "max_kill_rate"):
        assert np.all(p_cll[:, Param[name]] == PARAMETERS[name].default), name
    np.testing.assert_allclose(p_all[:, Param.cll_birth_marrow] / PARAMETERS["cll_birth_marrow"].default,
                               frame.tumor_growth_factor)
    np.testing.assert_allclose(p_all[:, Param.access_blood], frame.antigen_density)
    np.testing.assert_allclose(p_all[:, Param.access_node], frame.node_access * frame.antigen_density)
    np.testing.assert_allclose(p_all[:, Param.max_kill_rate] / PARAMETERS["max_kill_rate"].default,
                               frame.killing_factor)


def test_a_disease_is_chosen_in_scenario_and_trial_files():
    row = sample_population(LBCL_POPULATION, 1, 0).iloc[0]
    scenario = Scenario.validated({"patient": patient_fields(row)})
    assert scenario.patient.disease == "LBCL" and scenario.patient.tumor.growth_factor == pytest.approx(
        row.tumor_growth_factor)
    with pytest.raises(ScenarioError, match="patient.disease"):
        Scenario.validated({"patient": {"disease": "myeloma"}})
    trial = Trial.validated({"population": B_ALL_POPULATION, "arms": [{"name": "a"}]})
    assert trial.population == B_ALL_POPULATION


# ---- response criteria --------------------------------------------------------------------------------------------

def _obs(**changes) -> Observations:
    values = dict(lymphocytes_per_ul=1000.0, b_lymphocytes_per_ul=0.0, node_spd_cm2=6.0, largest_node_cm=1.0,
                  spleen_cm=11.0, marrow_infiltration=1e-6, neutrophils_per_ul=2000.0, platelets_per_ul=150_000.0,
                  hemoglobin_g_dl=12.0)
    values.update(changes)
    return Observations(**{k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in values.items()})


def test_all_criteria_remission_recovery_and_relapse():
    baseline = _obs(marrow_infiltration=0.74, b_lymphocytes_per_ul=5000.0, platelets_per_ul=30_000.0)
    assert all_response(_obs(), baseline, baseline)[0] == CR
    assert all_response(_obs(platelets_per_ul=50_000.0), baseline, baseline)[0] == CRI  # counts not recovered
    assert all_response(_obs(marrow_infiltration=0.3), baseline, baseline)[0] == SD  # no response; ALL has no PR
    assert all_response(_obs(b_lymphocytes_per_ul=50.0), baseline, baseline)[0] == SD  # circulating blasts
    nadir = _obs()
    assert all_response(_obs(marrow_infiltration=0.08), baseline, nadir)[0] == PD  # relapse >= 5% blasts
    assert all_response(_obs(marrow_infiltration=0.04), baseline, nadir)[0] == CR


def test_lugano_criteria_by_pet_surrogate_and_spd():
    bulky = _obs(node_spd_cm2=6 * 5.0 ** 2, largest_node_cm=5.0)
    assert lugano_response(_obs(node_spd_cm2=6 * 1.2 ** 2, largest_node_cm=1.2), bulky, bulky)[0] == CR
    assert lugano_response(_obs(node_spd_cm2=6 * 3.0 ** 2, largest_node_cm=3.0), bulky, bulky)[0] == PR
    assert lugano_response(_obs(node_spd_cm2=6 * 4.5 ** 2, largest_node_cm=4.5), bulky, bulky)[0] == SD
    small = _obs(node_spd_cm2=6 * 2.0 ** 2, largest_node_cm=2.0)
    assert lugano_response(_obs(node_spd_cm2=6 * 3.0 ** 2, largest_node_cm=3.0), bulky, small)[0] == PD


def test_each_patient_is_assessed_by_its_diseases_criteria():
    baseline = _obs(marrow_infiltration=0.5, node_spd_cm2=6 * 4.0 ** 2, largest_node_cm=4.0, spleen_cm=15.0,
                    lymphocytes_per_ul=20000.0, b_lymphocytes_per_ul=19000.0)
    current = _obs(marrow_infiltration=0.03, node_spd_cm2=6 * 2.5 ** 2, largest_node_cm=2.5, spleen_cm=12.0)
    three = lambda o: Observations(**{k: np.repeat(v, 3) for k, v in vars(o).items()})  # noqa: E731
    codes = response_by_disease(np.array([0, 1, 2]), three(current), three(baseline), three(baseline))
    # iwCLL: a 2.5 cm node blocks CR; ALL: marrow < 5% but a 2.5 cm node is extramedullary disease; Lugano: PR.
    assert codes[0] == PR and codes[1] == SD and codes[2] == PR


# ---- CRS scales ---------------------------------------------------------------------------------------------------

def test_astct_is_the_table_scale_and_each_scale_is_monotone():
    for t, h, o, m in itertools.product((37.0, 38.5), range(4), range(4), (0, 1)):
        assert crs_grade_by("ASTCT", t, h, o, m) == crs_grade(t, h, o, m)
    for scale in CRS_SCALES:
        grades = np.array([[crs_grade_by(scale, 39.0, h, o)[()] for o in range(4)] for h in range(4)])
        assert (np.diff(grades, axis=0) >= 0).all() and (np.diff(grades, axis=1) >= 0).all(), scale


@pytest.mark.parametrize("scale, temperature, hypotension, oxygen, neutrophils, grade", [
    ("Lee 2014", 39.0, 0, 0, 2000.0, 1),   # fever alone
    ("Lee 2014", 37.0, 2, 0, 2000.0, 2),   # one low-dose vasopressor
    ("Lee 2014", 37.0, 3, 0, 2000.0, 3),   # several vasopressors
    ("Lee 2014", 37.0, 0, 2, 2000.0, 3),   # FiO2 >= 40%
    ("Lee 2014", 37.0, 0, 3, 2000.0, 4),   # ventilator
    ("Penn", 39.0, 0, 0, 2000.0, 1),       # fever, supportive care
    ("Penn", 39.0, 0, 0, 300.0, 2),        # febrile neutropenia, hospitalised
    ("Penn", 37.0, 1, 0, 2000.0, 3),       # fluid boluses
    ("Penn", 37.0, 0, 1, 2000.0, 3),       # any supplemental oxygen
    ("Penn", 37.0, 3, 0, 2000.0, 4),       # high-dose vasopressors
    ("ASTCT", 37.0, 2, 0, 2000.0, 0),      # no fever, unmasked: not CRS
])
def test_the_older_scales_grade_as_published(scale, temperature, hypotension, oxygen, neutrophils, grade):
    assert crs_grade_by(scale, temperature, hypotension, oxygen, False, neutrophils) == grade


def test_an_unknown_scale_is_refused():
    with pytest.raises(ValueError, match="unknown CRS scale 'CTCAE'"):
        crs_grade_by("CTCAE", 39.0, 0, 0)


# ---- the efficacy-gap study ---------------------------------------------------------------------------------------

def test_shapley_values_sum_to_the_gap_and_give_an_additive_game_its_parts():
    rng = np.random.default_rng(0)
    values = rng.random(1 << 4)
    assert shapley(values, 4).sum() == pytest.approx(values[-1] - values[0])
    effects = np.array([0.1, -0.2, 0.05, 0.3])
    additive = np.array([sum(effects[j] for j in range(4) if mask >> j & 1) for mask in range(16)])
    np.testing.assert_allclose(shapley(additive, 4), effects)
    with pytest.raises(ValueError, match="16 coalition values"):
        shapley(values[:8], 4)


def test_a_counterfactual_swaps_only_its_factors():
    cll = sample_population("rr_cll_post_btki_venetoclax", 5, 1)
    other = sample_population(B_ALL_POPULATION, 5, 1)
    same = counterfactual(cll, other, ())
    np.testing.assert_allclose(same[["tumor_blood_cells", "tcell_fitness"]], cll[["tumor_blood_cells",
                                                                                   "tcell_fitness"]])
    burden = counterfactual(cll, other, ("burden",))
    np.testing.assert_allclose(burden[["tumor_blood_cells", "tumor_marrow_cells", "tumor_node_cells"]].sum(axis=1),
                               other[["tumor_blood_cells", "tumor_marrow_cells", "tumor_node_cells"]].sum(axis=1))
    np.testing.assert_allclose(burden.tumor_node_cells / burden.tumor_blood_cells,
                               cll.tumor_node_cells / cll.tumor_blood_cells)
    everything = counterfactual(cll, other, tuple(FACTORS))
    for column in ("tcell_fitness", "tumor_growth_factor", "antigen_density", "disease", "tumor_marrow_cells"):
        assert np.all(everything[column].to_numpy() == other[column].to_numpy()), column
    assert np.all(everything["seed"] == cll["seed"])  # the CLL patient keeps its own random numbers


def test_a_tiny_efficacy_gap_run_attributes_its_whole_gap():
    results = run_efficacy_gap(n=1, days=30, bootstrap=5, intervention_patients=2, comparisons=("B-ALL",))
    rows = results["attribution"]
    gap = rows.loc[rows.factor == "whole gap", "cr_points"].iloc[0]
    assert rows.loc[rows.factor != "whole gap", "cr_points"].sum() == pytest.approx(gap)
    assert len(results["coalitions"]) == 1 << len(FACTORS)
    assert list(results["interventions"]["intervention"])[0].startswith("none")
    with pytest.raises(ValueError, match="unknown comparison"):
        run_efficacy_gap(n=1, comparisons=("myeloma",))


def test_penn_grade_3_needs_hypotension_or_hypoxia():
    """Penn (Porter 2018 J Hematol Oncol): fever alone, with or without neutropenia, is at most grade 2; grade 3
    and above needs hypotension (fluid boluses or vasopressors) or supplemental oxygen, whatever the temperature."""
    for temperature in (37.0, 38.0, 40.5):
        for hypotension in range(4):
            for oxygen in range(4):
                for neutrophils in (100.0, 2000.0, np.inf):
                    grade = crs_grade_by("Penn", temperature, hypotension, oxygen, False, neutrophils)
                    assert (grade >= 3) == (hypotension > 0 or oxygen > 0)
                    if hypotension == oxygen == 0:
                        assert grade == (0 if temperature < 38.0 else 2 if neutrophils < 500 else 1)
