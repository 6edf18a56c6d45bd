"""iwCLL 2018 response assessment and MRD (cartsim.clinical._response), table-driven from the criteria.

Most cases start from a typical relapsed/refractory CLL baseline (all group-A parameters and all blood counts
abnormal) and change one measure at a time; the nadir is the baseline unless a case gives one.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

from cartsim.clinical._response import (
    CR,
    CRI,
    NOT_ASSESSED,
    PD,
    PR,
    RESPONSES,
    SD,
    Observations,
    best_response,
    iwcll_response,
    minimal_residual_disease,
    undetectable_mrd,
    update_nadir,
)

#: Relapsed/refractory CLL before CAR-T: lymphocytosis, bulky nodes, splenomegaly, 60% marrow infiltration,
#: neutropenia, thrombocytopenia and anemia.
BASELINE = dict(lymphocytes_per_ul=60_000.0, b_lymphocytes_per_ul=56_000.0, node_spd_cm2=40.0,
                largest_node_cm=4.0, spleen_cm=17.0, marrow_infiltration=0.6, neutrophils_per_ul=1200.0,
                platelets_per_ul=80_000.0, hemoglobin_g_dl=10.0)
#: Defining visits after treatment, relative to BASELINE.
VISITS = {
    CR: dict(lymphocytes_per_ul=1500.0, b_lymphocytes_per_ul=0.5, node_spd_cm2=2.0, largest_node_cm=1.0,
             spleen_cm=11.0, marrow_infiltration=1e-5, neutrophils_per_ul=2500.0, platelets_per_ul=180_000.0,
             hemoglobin_g_dl=13.0),
    CRI: dict(lymphocytes_per_ul=1500.0, b_lymphocytes_per_ul=0.5, node_spd_cm2=2.0, largest_node_cm=1.0,
              spleen_cm=11.0, marrow_infiltration=1e-5, neutrophils_per_ul=900.0, platelets_per_ul=60_000.0,
              hemoglobin_g_dl=9.0),
    PR: dict(lymphocytes_per_ul=20_000.0, b_lymphocytes_per_ul=18_000.0, node_spd_cm2=16.0, largest_node_cm=2.5,
             spleen_cm=14.5, marrow_infiltration=0.25, neutrophils_per_ul=1400.0, platelets_per_ul=130_000.0,
             hemoglobin_g_dl=10.5),
    SD: dict(lymphocytes_per_ul=45_000.0, b_lymphocytes_per_ul=42_000.0, node_spd_cm2=30.0, largest_node_cm=3.5,
             spleen_cm=16.0, marrow_infiltration=0.5, neutrophils_per_ul=1200.0, platelets_per_ul=85_000.0,
             hemoglobin_g_dl=10.2),
    PD: dict(lymphocytes_per_ul=70_000.0, b_lymphocytes_per_ul=66_000.0, node_spd_cm2=70.0, largest_node_cm=5.0,
             spleen_cm=18.0, marrow_infiltration=0.7, neutrophils_per_ul=1100.0, platelets_per_ul=75_000.0,
             hemoglobin_g_dl=9.8),
}
#: Baseline with normal blood counts and only the nodes abnormal in group A.
NODES_ONLY = dict(BASELINE, lymphocytes_per_ul=3000.0, b_lymphocytes_per_ul=2000.0, spleen_cm=11.0,
                  marrow_infiltration=0.005, neutrophils_per_ul=2000.0, platelets_per_ul=150_000.0,
                  hemoglobin_g_dl=12.0)


def obs(values: dict, **changes) -> Observations:
    """One patient's Observations (arrays of shape (1,)) from ``values`` with ``changes`` applied."""
    merged = dict(values, **changes)
    return Observations(**{k: np.array([v], dtype=np.float64) for k, v in merged.items()})


def assess(current: dict, baseline: dict = BASELINE, nadir: dict | None = None, **changes) -> int:
    """Response code of one patient; ``changes`` modify the current visit."""
    result = iwcll_response(obs(current, **changes), obs(baseline), obs(nadir if nadir is not None else baseline))
    assert result.shape == (1,) and result.dtype == np.int8
    return int(result[0])


def test_codes_and_names():
    assert RESPONSES == ("CR", "CRi", "PR", "SD", "PD")
    assert (CR, CRI, PR, SD, PD, NOT_ASSESSED) == (0, 1, 2, 3, 4, -1)


@pytest.mark.parametrize("code", [CR, CRI, PR, SD, PD], ids=RESPONSES)
def test_defining_case_of_each_response(code):
    assert assess(VISITS[code]) == code


def test_baseline_itself_is_stable_disease():
    assert assess(BASELINE) == SD


# --- PD: each criterion alone, with its near miss (from the SD visit, nadir = baseline unless given).
PD_CASES = [
    # name, changes to the SD visit, nadir changes (None: baseline), PD expected
    ("nodes +50% SPD", dict(node_spd_cm2=60.0, largest_node_cm=4.5), None, True),
    ("nodes +49% SPD", dict(node_spd_cm2=59.6, largest_node_cm=4.5), None, False),
    ("spleen enlargement +50%", dict(spleen_cm=19.0), None, True),
    ("spleen enlargement +47.5%", dict(spleen_cm=18.9), None, False),
    ("de novo splenomegaly, +2 cm to 13 cm", dict(spleen_cm=13.0), dict(spleen_cm=11.0), True),
    ("de novo, +2 cm but 12.9 cm", dict(spleen_cm=12.9), dict(spleen_cm=10.9), False),
    ("de novo, 13 cm but +1.5 cm", dict(spleen_cm=13.0), dict(spleen_cm=11.5), False),
    ("B lymphocytes +50% over baseline", dict(b_lymphocytes_per_ul=84_000.0), None, True),
    ("B lymphocytes +48%", dict(b_lymphocytes_per_ul=83_000.0), None, False),
    ("marrow +50% from nadir", dict(marrow_infiltration=0.9), None, True),
    ("marrow +48% from nadir", dict(marrow_infiltration=0.89), None, False),
    ("marrow +150% to 5% from a 2% nadir", dict(marrow_infiltration=0.05), dict(marrow_infiltration=0.02), True),
    ("marrow +100% to 4% from a 2% nadir", dict(marrow_infiltration=0.04), dict(marrow_infiltration=0.02), False),
    ("platelets -50% with more marrow CLL", dict(platelets_per_ul=40_000.0, marrow_infiltration=0.7), None, True),
    ("platelets -49.99%", dict(platelets_per_ul=40_001.0, marrow_infiltration=0.7), None, False),
    ("platelets -50% with less marrow CLL", dict(platelets_per_ul=40_000.0, marrow_infiltration=0.5), None, False),
    ("hemoglobin -2.1 g/dL with more marrow CLL", dict(hemoglobin_g_dl=7.9, marrow_infiltration=0.7), None, True),
    ("hemoglobin -2.0 g/dL", dict(hemoglobin_g_dl=8.0, marrow_infiltration=0.7), None, False),
    ("hemoglobin -2.1 g/dL, marrow as baseline", dict(hemoglobin_g_dl=7.9, marrow_infiltration=0.6), None, False),
]


@pytest.mark.parametrize("changes, nadir_changes, is_pd", [c[1:] for c in PD_CASES], ids=[c[0] for c in PD_CASES])
def test_each_pd_criterion_alone(changes, nadir_changes, is_pd):
    nadir = dict(BASELINE, **nadir_changes) if nadir_changes else None
    code = assess(VISITS[SD], nadir=nadir, **changes)
    assert code == PD if is_pd else code == SD


@pytest.mark.parametrize("b_lymphocytes, is_pd", [(5000.0, True), (4999.0, False)])
def test_b_lymphocyte_progression_needs_5000_per_ul(b_lymphocytes, is_pd):
    # Tripled from baseline either way; only the absolute floor decides.
    low = dict(NODES_ONLY, b_lymphocytes_per_ul=1600.0)
    code = assess(low, baseline=low, b_lymphocytes_per_ul=b_lymphocytes)
    assert code == PD if is_pd else code == SD


@pytest.mark.parametrize("marrow, is_pd", [(0.05, True), (0.04, False)])
def test_cytopenia_is_pd_only_with_an_involved_marrow(marrow, is_pd):
    # Marrow rises from 1% at baseline in both cases; below MARROW_INVOLVED the platelet fall is toxicity.
    base = dict(NODES_ONLY, marrow_infiltration=0.01)
    code = assess(base, baseline=base, nadir=dict(base, marrow_infiltration=0.04), platelets_per_ul=70_000.0,
                  marrow_infiltration=marrow)
    # 0.04 -> 0.05 is +25% from the nadir, so only the cytopenia criterion can give PD.
    assert code == PD if is_pd else code == SD


def test_pd_wins_over_cr():
    # A visit meeting every CR criterion but with doubled B lymphocytes from a low baseline is PD.
    low = dict(NODES_ONLY, b_lymphocytes_per_ul=3000.0)
    assert assess(VISITS[CR], baseline=low) == CR
    assert assess(VISITS[CR], baseline=low, b_lymphocytes_per_ul=6000.0) == PD


# --- CR: each criterion failing alone prevents CR; the blood counts give CRi instead.
CR_CASES = [
    ("lymphocytes", "lymphocytes_per_ul", 3999.0, 4000.0, PR),
    ("largest node", "largest_node_cm", 1.49, 1.5, PR),
    ("spleen", "spleen_cm", 12.99, 13.0, PR),
    ("marrow", "marrow_infiltration", 0.0099, 0.01, PR),
    ("platelets", "platelets_per_ul", 100_000.0, 99_999.0, CRI),
    ("hemoglobin", "hemoglobin_g_dl", 11.0, 10.99, CRI),
    ("neutrophils", "neutrophils_per_ul", 1500.0, 1499.0, CRI),
]


@pytest.mark.parametrize("field, passing, failing, instead", [c[1:] for c in CR_CASES], ids=[c[0] for c in CR_CASES])
def test_each_cr_criterion_failing_alone_prevents_cr(field, passing, failing, instead):
    assert assess(VISITS[CR], **{field: passing}) == CR
    assert assess(VISITS[CR], **{field: failing}) == instead


def test_cri_with_all_three_cytopenias_but_not_with_marrow_disease():
    assert assess(VISITS[CRI]) == CRI
    # The same cytopenias with CLL still seen in the marrow are not a complete response.
    assert assess(VISITS[CRI], marrow_infiltration=0.02) != CRI


# --- PR: counting rule of group A and requirement of group B.
def test_pr_needs_two_improved_group_a_parameters():
    # Lymphocytes and nodes halved; spleen and marrow not.
    two = dict(VISITS[SD], lymphocytes_per_ul=30_000.0, node_spd_cm2=20.0, platelets_per_ul=130_000.0)
    assert assess(two) == PR
    assert assess(two, lymphocytes_per_ul=31_000.0) == SD
    # Any pair counts: spleen and lymphocytes this time.
    assert assess(VISITS[SD], spleen_cm=15.0, lymphocytes_per_ul=30_000.0, platelets_per_ul=130_000.0) == PR
    # The marrow is not a group-A parameter in the 2018 table: spleen and marrow halved is one, not two.
    assert assess(VISITS[SD], spleen_cm=15.0, marrow_infiltration=0.3, platelets_per_ul=130_000.0) == SD


@pytest.mark.parametrize("spd, expected", [(20.0, PR), (20.4, SD)])
def test_pr_needs_one_improved_parameter_when_only_one_was_abnormal(spd, expected):
    assert assess(NODES_ONLY, baseline=NODES_ONLY, node_spd_cm2=spd, largest_node_cm=3.0) == expected


def test_parameter_normal_at_baseline_does_not_count_towards_pr():
    # Nodes and spleen abnormal at baseline, lymphocytes normal: halving the lymphocytes does not make the
    # second improved parameter.
    base = dict(NODES_ONLY, spleen_cm=17.0)
    visit = dict(base, node_spd_cm2=20.0, largest_node_cm=3.0, lymphocytes_per_ul=1000.0)
    assert assess(visit, baseline=base) == SD
    assert assess(visit, baseline=base, spleen_cm=15.0) == PR


def test_baseline_at_threshold_counts_as_abnormal_lymphocytes():
    # Nodes abnormal, and lymphocytes exactly at 4000: two abnormal, so halving the nodes alone is not PR.
    base = dict(NODES_ONLY, lymphocytes_per_ul=4000.0)
    visit = dict(base, node_spd_cm2=20.0, largest_node_cm=3.0)
    assert assess(visit, baseline=base) == SD
    assert assess(visit, baseline=dict(base, lymphocytes_per_ul=2000.0)) == PR


def test_marrow_neither_counts_nor_blocks_in_pr():
    # Nodes the only abnormal group-A parameter; a heavily infiltrated marrow at baseline and after does not
    # add a second group-A parameter to improve (2018: "CLL cells or B-lymphoid nodules present" in PR).
    base = dict(NODES_ONLY, marrow_infiltration=0.5)
    visit = dict(base, node_spd_cm2=20.0, largest_node_cm=3.0)
    assert assess(visit, baseline=base) == PR
    assert assess(visit, baseline=base, node_spd_cm2=20.4) == SD


@pytest.mark.parametrize("baseline_changes, visit_changes", [
    (dict(node_spd_cm2=2.25, largest_node_cm=1.5), dict(node_spd_cm2=1.125, largest_node_cm=1.5)),
    (dict(spleen_cm=13.0), dict(spleen_cm=13.0)),
])
def test_baseline_at_threshold_counts_as_abnormal_nodes_spleen(baseline_changes, visit_changes):
    # The only abnormal group-A parameter, exactly at its threshold (1.5 cm node, 13 cm spleen), halved (a 13 cm
    # spleen has no enlargement to halve) but still blocking CR: PR, which needs it to count as abnormal.
    base = dict(_single_abnormal("lymphocytes_per_ul", 3000.0), **baseline_changes)
    assert assess(dict(base, platelets_per_ul=130_000.0, **visit_changes), baseline=base) == PR


def test_no_nodal_progression_without_spd_growth_from_zero():
    # Index nodes gone at the nadir and now (SPD 0) while a non-index node measures 1.5 cm: no increase.
    nadir = dict(VISITS[CR], node_spd_cm2=0.0, largest_node_cm=1.0)
    assert assess(VISITS[CR], nadir=nadir, node_spd_cm2=0.0, largest_node_cm=1.5) == PR
    assert assess(VISITS[CR], nadir=nadir, node_spd_cm2=0.5, largest_node_cm=1.5) == PD


def test_no_abnormal_group_a_parameter_makes_pr_impossible():
    # Everything in group A normal at baseline; blood counts recover; a 1.6 cm node (+28% SPD) blocks CR.
    base = dict(NODES_ONLY, node_spd_cm2=1.96, largest_node_cm=1.4, platelets_per_ul=80_000.0)
    visit = dict(base, node_spd_cm2=2.5, largest_node_cm=1.6, platelets_per_ul=150_000.0,
                 lymphocytes_per_ul=500.0, marrow_infiltration=0.0)
    assert assess(visit, baseline=base) == SD
    assert assess(visit, baseline=base, largest_node_cm=1.4) == CR


@pytest.mark.parametrize("field, baseline_value, met, not_met", [
    ("platelets_per_ul", 50_000.0, 75_000.0, 74_500.0),      # +50% vs +49%, both below 100,000
    ("platelets_per_ul", 80_000.0, 100_000.0, 99_999.0),     # normal vs just below, both below +50%
    ("hemoglobin_g_dl", 6.0, 9.0, 8.94),                     # +50% vs +49%, both below 11 g/dL
    ("hemoglobin_g_dl", 10.0, 11.0, 10.99),                  # normal vs just below
])
def test_pr_needs_one_group_b_parameter(field, baseline_value, met, not_met):
    # Platelets and hemoglobin abnormal at baseline and not improved at the visit, except ``field``.
    base = dict(BASELINE, **{field: baseline_value})
    visit = dict(VISITS[PR], neutrophils_per_ul=1200.0, platelets_per_ul=80_000.0, hemoglobin_g_dl=10.0)
    visit[field] = baseline_value
    assert assess(visit, baseline=base) == SD
    assert assess(visit, baseline=base, **{field: met}) == PR
    assert assess(visit, baseline=base, **{field: not_met}) == SD


def test_neutrophils_are_not_a_pr_parameter():
    # Group B is platelets and hemoglobin (2018): a neutropenia neither blocks nor makes a PR.
    visit = dict(VISITS[PR], neutrophils_per_ul=300.0)
    assert assess(visit) == PR
    assert assess(dict(VISITS[SD], neutrophils_per_ul=3000.0)) == SD


def test_group_b_normal_at_baseline_is_met_even_after_treatment_cytopenia():
    # Nothing to improve in group B: falling counts after treatment (e.g. CAR-T cytopenia) do not block PR.
    base = dict(BASELINE, platelets_per_ul=150_000.0, hemoglobin_g_dl=12.0)
    visit = dict(VISITS[PR], platelets_per_ul=60_000.0, hemoglobin_g_dl=9.0)
    assert assess(visit, baseline=base) == PR
    assert assess(visit, baseline=base, lymphocytes_per_ul=31_000.0, spleen_cm=16.0) == SD


@pytest.mark.parametrize("platelets, hemoglobin, expected", [
    (100_000.0, 11.0, PR),    # both exactly at the normal level: normal, nothing to improve
    (99_999.0, 11.0, SD),     # platelets abnormal and not improved (60,000)
    (100_000.0, 10.99, SD),   # hemoglobin abnormal and not improved (9 g/dL)
])
def test_group_b_count_at_its_normal_level_at_baseline_is_normal(platelets, hemoglobin, expected):
    base = dict(BASELINE, platelets_per_ul=platelets, hemoglobin_g_dl=hemoglobin)
    visit = dict(VISITS[PR], platelets_per_ul=60_000.0, hemoglobin_g_dl=9.0)
    assert assess(visit, baseline=base) == expected


@pytest.mark.parametrize("improved, expected", [
    (dict(node_spd_cm2=20.0, largest_node_cm=3.0), PR),   # the group-A one
    (dict(platelets_per_ul=100_000.0), PR),               # the group-B one
    (dict(node_spd_cm2=20.4, largest_node_cm=3.0, platelets_per_ul=99_000.0), SD),
])
def test_one_abnormal_in_each_group_needs_one_improvement(improved, expected):
    # Only the nodes (group A) and the platelets (group B) abnormal at baseline (iwcll2018_pr counting rule).
    base = dict(NODES_ONLY, platelets_per_ul=80_000.0)
    assert assess(dict(base, **improved), baseline=base) == expected


def test_group_b_reads_only_counts_abnormal_at_baseline():
    # Platelets recover from 80,000; neutrophils, normal at baseline, fall (treatment toxicity): still PR.
    base = dict(BASELINE, neutrophils_per_ul=2000.0, hemoglobin_g_dl=12.0)
    assert assess(VISITS[PR], baseline=base, neutrophils_per_ul=1000.0, hemoglobin_g_dl=11.0) == PR
    assert assess(VISITS[PR], baseline=base, neutrophils_per_ul=1000.0, hemoglobin_g_dl=11.0,
                  platelets_per_ul=90_000.0) == SD


# --- Borderline: 50% vs 49% decrease of each group-A parameter, each the only one abnormal at baseline.
def _single_abnormal(field: str, value: float) -> dict:
    base = dict(NODES_ONLY, node_spd_cm2=1.0, largest_node_cm=1.0, platelets_per_ul=80_000.0)
    base[field] = value
    if field == "node_spd_cm2":
        base["largest_node_cm"] = 4.0
    return base


@pytest.mark.parametrize("field, baseline_value, halved, down_49", [
    ("lymphocytes_per_ul", 10_000.0, 5000.0, 5100.0),
    ("node_spd_cm2", 40.0, 20.0, 20.4),
    ("spleen_cm", 17.0, 15.0, 15.04),                  # enlargement 4 -> 2 cm vs 4 -> 2.04 cm
])
def test_fifty_percent_decrease_is_pr_and_49_percent_is_not(field, baseline_value, halved, down_49):
    # One group-A and one group-B parameter (platelets) abnormal at baseline, the platelets unchanged: the
    # group-A parameter alone decides.
    base = _single_abnormal(field, baseline_value)
    visit = dict(base)
    if field == "node_spd_cm2":
        visit["largest_node_cm"] = 3.0
    assert assess(visit, baseline=base, **{field: halved}) == PR
    assert assess(visit, baseline=base, **{field: down_49}) == SD


# --- Progression is referred to the nadir.
def test_node_regrowth_from_a_deep_nadir_is_pd_below_baseline_size():
    deep = dict(VISITS[CR], node_spd_cm2=2.0, largest_node_cm=1.0)
    regrowth = dict(VISITS[CR], node_spd_cm2=3.0, largest_node_cm=1.5)   # +50% of nadir, 7.5% of baseline
    assert assess(regrowth, nadir=deep) == PD
    assert assess(regrowth, nadir=BASELINE) != PD
    # The same growth with every node below 1.5 cm is not progression.
    assert assess(regrowth, nadir=deep, largest_node_cm=1.4) != PD


def test_spleen_regrowth_from_nadir_enlargement():
    nadir = dict(BASELINE, spleen_cm=15.0)   # enlargement 2 cm at the nadir
    assert assess(VISITS[PR], nadir=nadir, spleen_cm=16.0) == PD   # enlargement 3 cm: +50%
    assert assess(VISITS[PR], nadir=nadir, spleen_cm=15.9) == PR


def test_marrow_rise_within_mrd_range_is_not_pd():
    nadir = dict(VISITS[CR], marrow_infiltration=1e-6)
    assert assess(VISITS[CR], nadir=nadir, marrow_infiltration=1e-5) == CR
    assert assess(VISITS[CR], nadir=nadir, marrow_infiltration=0.05) == PD


# --- update_nadir
def test_update_nadir_keeps_minima_of_tumour_measures_and_nadir_blood_counts():
    rng = np.random.default_rng(1)
    a = Observations(**{f.name: rng.uniform(0.0, 100.0, 50) for f in dataclasses.fields(Observations)})
    b = Observations(**{f.name: rng.uniform(0.0, 100.0, 50) for f in dataclasses.fields(Observations)})
    out = update_nadir(a, b)
    for name in ("lymphocytes_per_ul", "b_lymphocytes_per_ul", "node_spd_cm2", "largest_node_cm", "spleen_cm",
                 "marrow_infiltration"):
        np.testing.assert_array_equal(getattr(out, name), np.minimum(getattr(a, name), getattr(b, name)))
    for name in ("neutrophils_per_ul", "platelets_per_ul", "hemoglobin_g_dl"):
        np.testing.assert_array_equal(getattr(out, name), getattr(a, name))
    # The inputs are not modified.
    assert not np.array_equal(a.node_spd_cm2, out.node_spd_cm2)


def test_response_course_with_running_nadir():
    # CR, then nodes regrow to 3 cm2 / 1.5 cm: PD against the running nadir, not against baseline.
    nadir = obs(BASELINE)
    codes = []
    for visit in (VISITS[PR], VISITS[CR], dict(VISITS[CR], node_spd_cm2=3.0, largest_node_cm=1.5)):
        current = obs(visit)
        codes.append(int(iwcll_response(current, obs(BASELINE), nadir)[0]))
        nadir = update_nadir(nadir, current)
    assert codes == [PR, CR, PD]


# --- best_response
def test_best_response_ignores_not_assessed():
    codes = np.array([[NOT_ASSESSED, SD, PR, NOT_ASSESSED],
                      [NOT_ASSESSED] * 4,
                      [PD, CR, NOT_ASSESSED, PR],
                      [PD, PD, PD, NOT_ASSESSED]], dtype=np.int8)
    best = best_response(codes)
    assert best.dtype == np.int8
    np.testing.assert_array_equal(best, [PR, NOT_ASSESSED, CR, PD])
    np.testing.assert_array_equal(best_response(codes.T, axis=0), [PR, NOT_ASSESSED, CR, PD])
    np.testing.assert_array_equal(best_response(codes, axis=0), [PD, CR, PR, PR])


def test_best_response_rejects_unknown_codes():
    with pytest.raises(ValueError):
        best_response(np.array([0, 5]))
    with pytest.raises(ValueError):
        best_response(np.array([0.0, 1.0]))


# --- MRD
def test_minimal_residual_disease():
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # 0/0 must not warn
        mrd = minimal_residual_disease(np.array([1.0, 0.0, 0.0, 5.0, 3.0]),
                                       np.array([9999.0, 0.0, 10.0, 0.0, 1.0]))
    np.testing.assert_allclose(mrd, [1e-4, 0.0, 0.0, 1.0, 0.75], rtol=1e-15)


@pytest.mark.parametrize("mrd, threshold, undetectable", [
    (9.9e-5, 1e-4, True), (1e-4, 1e-4, False), (2e-4, 1e-4, False),
    (9.9e-7, 1e-6, True), (1e-6, 1e-6, False), (5e-5, 1e-6, False), (0.0, 1e-6, True),
])
def test_undetectable_mrd_thresholds(mrd, threshold, undetectable):
    out = undetectable_mrd(np.array([mrd]), threshold=threshold)
    assert out.dtype == np.bool_
    assert out.tolist() == [undetectable]


def test_undetectable_mrd_default_is_umrd4():
    np.testing.assert_array_equal(undetectable_mrd(np.array([5e-5, 1e-4, 5e-4])), [True, False, False])


# --- Vectorisation
def _random_patients(n: int, rng: np.random.Generator) -> tuple[Observations, Observations, Observations]:
    """Baseline, nadir (<= baseline in the tumour measures) and a visit spread over all five responses."""
    def draw(scale):
        return dict(
            lymphocytes_per_ul=scale * rng.lognormal(np.log(20_000.0), 1.5, n),
            b_lymphocytes_per_ul=scale * rng.lognormal(np.log(15_000.0), 2.0, n),
            node_spd_cm2=scale * rng.lognormal(np.log(15.0), 1.5, n),
            largest_node_cm=scale * rng.lognormal(np.log(2.0), 0.7, n),
            spleen_cm=rng.uniform(9.0, 20.0, n),
            marrow_infiltration=np.minimum(scale * rng.lognormal(np.log(0.1), 2.0, n), 1.0),
            neutrophils_per_ul=rng.lognormal(np.log(1800.0), 0.5, n),
            platelets_per_ul=rng.lognormal(np.log(110_000.0), 0.5, n),
            hemoglobin_g_dl=rng.uniform(7.0, 15.0, n),
        )
    # Low-burden baselines too, so that patients with 0 or 1 abnormal group-A parameters occur.
    base = Observations(**draw(rng.choice([0.05, 1.0], n)))
    current = Observations(**draw(rng.choice([1e-3, 0.3, 1.0, 2.0], n)))
    nadir = update_nadir(base, Observations(**draw(rng.choice([1e-3, 0.3, 1.0], n))))
    return current, base, nadir


def test_vectorised_equals_per_patient():
    n = 2000
    current, base, nadir = _random_patients(n, np.random.default_rng(20180621))
    codes = iwcll_response(current, base, nadir)
    assert codes.shape == (n,) and codes.dtype == np.int8
    assert set(codes.tolist()) == {CR, CRI, PR, SD, PD}   # the draw exercises every branch

    def one(o: Observations, i: int) -> Observations:
        return Observations(**{f.name: getattr(o, f.name)[i:i + 1] for f in dataclasses.fields(Observations)})

    single = np.array([iwcll_response(one(current, i), one(base, i), one(nadir, i))[0] for i in range(n)])
    np.testing.assert_array_equal(codes, single)
    # Scalars per patient give the same codes too.
    def scalar(o: Observations, i: int) -> Observations:
        return Observations(**{f.name: float(getattr(o, f.name)[i]) for f in dataclasses.fields(Observations)})
    assert [int(iwcll_response(scalar(current, i), scalar(base, i), scalar(nadir, i))) for i in range(50)] \
        == codes[:50].tolist()


def test_nadir_including_current_visit_gives_the_same_codes():
    current, base, nadir = _random_patients(2000, np.random.default_rng(7))
    np.testing.assert_array_equal(iwcll_response(current, base, nadir),
                                  iwcll_response(current, base, update_nadir(nadir, current)))


@pytest.mark.parametrize("which", ["current", "baseline", "nadir"])
def test_patient_with_a_non_finite_measure_is_not_assessed(which):
    # Patient 0 is a CR, patient 1 has one NaN or inf measure in ``which``; patient 0 is unaffected.
    current, base, nadir = (Observations(**{k: np.array([v, v]) for k, v in d.items()})
                            for d in (VISITS[CR], BASELINE, BASELINE))
    bad = {"current": current, "baseline": base, "nadir": nadir}[which]
    for k, field in enumerate(("marrow_infiltration", "spleen_cm")):
        getattr(bad, field)[1] = (np.nan, np.inf)[k]
        np.testing.assert_array_equal(iwcll_response(current, base, nadir), [CR, NOT_ASSESSED])
        getattr(bad, field)[1] = VISITS[CR][field] if which == "current" else BASELINE[field]
        np.testing.assert_array_equal(iwcll_response(current, base, nadir), [CR, CR])
