"""ASTCT consensus grading of CRS and adult ICANS (Lee et al. 2019), table-driven from the consensus tables."""

from __future__ import annotations

import numpy as np
import pytest

from cartsim.clinical._grading import (
    CONSCIOUSNESS_LEVELS,
    EDEMA_LEVELS,
    FEVER_C,
    HYPOTENSION_LEVELS,
    MOTOR_LEVELS,
    OXYGEN_LEVELS,
    SEIZURE_LEVELS,
    crs_grade,
    icans_grade,
)

H = {name: level for level, name in enumerate(HYPOTENSION_LEVELS)}
O = {name: level for level, name in enumerate(OXYGEN_LEVELS)}
C = {name: level for level, name in enumerate(CONSCIOUSNESS_LEVELS)}
S = {name: level for level, name in enumerate(SEIZURE_LEVELS)}
M = {name: level for level, name in enumerate(MOTOR_LEVELS)}
E = {name: level for level, name in enumerate(EDEMA_LEVELS)}

# (temperature_c, hypotension, oxygen, fever_masked, expected grade)
CRS_TABLE = [
    # Fever alone: grade 1.
    (38.5, "none", "none", False, 1),
    # Each hypotension level alone, with fever.
    (38.5, "fluids", "none", False, 2),
    (38.5, "one_vasopressor", "none", False, 3),
    (38.5, "multiple_vasopressors", "none", False, 4),
    # Each oxygen level alone, with fever.
    (38.5, "none", "low_flow", False, 2),
    (38.5, "none", "high_flow", False, 3),
    (38.5, "none", "positive_pressure", False, 4),
    # The more severe of hypotension and hypoxia sets the grade.
    (39.0, "fluids", "low_flow", False, 2),
    (39.0, "fluids", "high_flow", False, 3),
    (39.0, "one_vasopressor", "low_flow", False, 3),
    (39.0, "one_vasopressor", "high_flow", False, 3),
    (39.0, "multiple_vasopressors", "low_flow", False, 4),
    (39.0, "fluids", "positive_pressure", False, 4),
    (39.0, "one_vasopressor", "positive_pressure", False, 4),
    # No fever, not masked: no CRS whatever the hypotension or hypoxia.
    (37.0, "none", "none", False, 0),
    (37.0, "fluids", "none", False, 0),
    (37.0, "multiple_vasopressors", "positive_pressure", False, 0),
    (37.0, "none", "high_flow", False, 0),
    # Fever threshold: 38.0 exactly is fever, 37.9 is not.
    (FEVER_C, "none", "none", False, 1),
    (37.9, "none", "none", False, 0),
    (FEVER_C, "one_vasopressor", "none", False, 3),
    (37.9, "one_vasopressor", "none", False, 0),
    # Fever masked by antipyretics, tocilizumab or corticosteroids: hypotension or hypoxia alone grade CRS.
    (37.0, "one_vasopressor", "none", True, 3),
    (37.0, "none", "none", True, 0),
    (37.0, "fluids", "none", True, 2),
    (37.0, "none", "low_flow", True, 2),
    (37.0, "none", "positive_pressure", True, 4),
    (37.0, "fluids", "high_flow", True, 3),
    # A masked patient who still has fever is graded as usual.
    (38.5, "none", "none", True, 1),
    (38.5, "multiple_vasopressors", "none", True, 4),
]

# (ice_score, consciousness, seizure, motor, edema, expected grade)
ICANS_TABLE = [
    # ICE score boundaries, no other finding.
    (10, "alert", "none", "none", "none", 0),
    (9, "alert", "none", "none", "none", 1),
    (7, "alert", "none", "none", "none", 1),
    (6, "alert", "none", "none", "none", 2),
    (3, "alert", "none", "none", "none", 2),
    (2, "alert", "none", "none", "none", 3),
    (0, "alert", "none", "none", "none", 3),
    # Each level of consciousness with a normal ICE score.
    (10, "awakens_spontaneously", "none", "none", "none", 1),
    (10, "awakens_to_voice", "none", "none", "none", 2),
    (10, "awakens_to_touch", "none", "none", "none", 3),
    (10, "unarousable", "none", "none", "none", 4),
    # Each seizure, motor and edema level.
    (10, "alert", "rapidly_resolving", "none", "none", 3),
    (10, "alert", "prolonged", "none", "none", 4),
    (10, "alert", "none", "deep_focal_weakness", "none", 4),
    (10, "alert", "none", "none", "focal", 3),
    (10, "alert", "none", "none", "diffuse", 4),
    # The worst domain wins.
    (0, "unarousable", "none", "none", "none", 4),
    (8, "awakens_to_voice", "none", "none", "none", 2),
    (5, "awakens_spontaneously", "none", "none", "none", 2),
    (2, "awakens_to_voice", "none", "none", "none", 3),
    (9, "alert", "rapidly_resolving", "none", "none", 3),
    (5, "alert", "none", "none", "diffuse", 4),
    (1, "awakens_to_touch", "rapidly_resolving", "none", "focal", 3),
    (1, "awakens_to_touch", "rapidly_resolving", "deep_focal_weakness", "focal", 4),
    (7, "awakens_spontaneously", "prolonged", "none", "focal", 4),
]


def _crs_args(row):
    temperature, hypotension, oxygen, masked, _ = row
    return temperature, H[hypotension], O[oxygen], masked


def _icans_args(row):
    ice, consciousness, seizure, motor, edema, _ = row
    return ice, C[consciousness], S[seizure], M[motor], E[edema]


@pytest.mark.parametrize("row", CRS_TABLE, ids=[f"{r[0]}C-{r[1]}-{r[2]}-masked{r[3]}" for r in CRS_TABLE])
def test_crs_consensus_table(row):
    grade = crs_grade(*_crs_args(row))
    assert grade.dtype == np.int8 and grade.shape == ()
    assert grade == row[-1]


@pytest.mark.parametrize("row", ICANS_TABLE, ids=[f"ice{r[0]}-{r[1]}-{r[2]}-{r[3]}-{r[4]}" for r in ICANS_TABLE])
def test_icans_consensus_table(row):
    grade = icans_grade(*_icans_args(row))
    assert grade.dtype == np.int8 and grade.shape == ()
    assert grade == row[-1]


def test_icans_defaults_to_no_other_finding():
    assert icans_grade(10) == 0
    assert icans_grade(8) == 1


def test_crs_vectorised_equals_per_case():
    columns = [np.array(column) for column in zip(*(_crs_args(row) for row in CRS_TABLE))]
    grades = crs_grade(*columns)
    assert grades.dtype == np.int8 and grades.shape == (len(CRS_TABLE),)
    np.testing.assert_array_equal(grades, [crs_grade(*_crs_args(row)) for row in CRS_TABLE])
    np.testing.assert_array_equal(grades, [row[-1] for row in CRS_TABLE])


def test_icans_vectorised_equals_per_case():
    columns = [np.array(column) for column in zip(*(_icans_args(row) for row in ICANS_TABLE))]
    grades = icans_grade(*columns)
    assert grades.dtype == np.int8 and grades.shape == (len(ICANS_TABLE),)
    np.testing.assert_array_equal(grades, [icans_grade(*_icans_args(row)) for row in ICANS_TABLE])
    np.testing.assert_array_equal(grades, [row[-1] for row in ICANS_TABLE])


def test_crs_broadcasts_scalars_and_shapes():
    temperature = np.array([37.0, 38.0, 39.5])
    grades = crs_grade(temperature, H["fluids"], O["none"])
    assert grades.dtype == np.int8
    np.testing.assert_array_equal(grades, [0, 2, 2])
    # (3,) temperatures against (4, 1) oxygen levels: a (4, 3) grid.
    grid = crs_grade(temperature, 0, np.arange(4)[:, None], fever_masked=np.array([False, True, False]))
    assert grid.dtype == np.int8 and grid.shape == (4, 3)
    np.testing.assert_array_equal(grid, [[0, 1, 1], [0, 2, 2], [0, 3, 3], [0, 4, 4]])


def test_icans_broadcasts_scalars_and_shapes():
    grades = icans_grade(np.array([10, 8, 4, 1]), seizure=S["rapidly_resolving"])
    assert grades.dtype == np.int8
    np.testing.assert_array_equal(grades, [3, 3, 3, 3])
    grid = icans_grade(10, consciousness=np.arange(5)[:, None], edema=np.arange(3))
    assert grid.dtype == np.int8 and grid.shape == (5, 3)
    np.testing.assert_array_equal(grid, [[0, 3, 4], [1, 3, 4], [2, 3, 4], [3, 3, 4], [4, 4, 4]])


def test_integer_valued_floats_and_int_dtypes_are_accepted():
    assert crs_grade(38, 2.0, np.int64(1)) == 3
    assert icans_grade(np.float32(6.0), np.uint8(0)) == 2


CRS_INVALID = [
    ("temperature_c", dict(temperature_c=np.nan)),
    ("temperature_c", dict(temperature_c=np.inf)),
    ("temperature_c", dict(temperature_c=24.9)),
    ("temperature_c", dict(temperature_c=np.array([38.0, 45.1]))),
    ("temperature_c", dict(temperature_c="hot")),
    ("hypotension", dict(hypotension=4)),
    ("hypotension", dict(hypotension=-1)),
    ("hypotension", dict(hypotension=1.5)),
    ("hypotension", dict(hypotension="fluids")),
    ("oxygen", dict(oxygen=5)),
    ("oxygen", dict(oxygen=np.array([0, 2.5]))),
    ("oxygen", dict(oxygen=np.nan)),
    ("fever_masked", dict(fever_masked=2)),
]


@pytest.mark.parametrize(("name", "bad"), CRS_INVALID, ids=[f"{n}={b[n]!r}" for n, b in CRS_INVALID])
def test_crs_invalid_input_names_the_argument(name, bad):
    kwargs = dict(temperature_c=38.5, hypotension=0, oxygen=0, fever_masked=False) | bad
    with pytest.raises(ValueError, match=f"^{name} must be"):
        crs_grade(**kwargs)


def test_crs_invalid_message_lists_expected_values():
    with pytest.raises(ValueError) as error:
        crs_grade(38.5, 0, 5)
    assert str(error.value) == (
        "oxygen must be an integer level 0..3 (none, low_flow, high_flow, positive_pressure); got 5")


ICANS_INVALID = [
    ("ice_score", dict(ice_score=11)),
    ("ice_score", dict(ice_score=-1)),
    ("ice_score", dict(ice_score=7.5)),
    ("ice_score", dict(ice_score=np.array([10, np.nan]))),
    ("consciousness", dict(consciousness=5)),
    ("consciousness", dict(consciousness=0.5)),
    ("seizure", dict(seizure=3)),
    ("motor", dict(motor=2)),
    ("edema", dict(edema=np.array([0, 3]))),
    ("edema", dict(edema=-1)),
]


@pytest.mark.parametrize(("name", "bad"), ICANS_INVALID, ids=[f"{n}={b[n]!r}" for n, b in ICANS_INVALID])
def test_icans_invalid_input_names_the_argument(name, bad):
    kwargs = dict(ice_score=10, consciousness=0, seizure=0, motor=0, edema=0) | bad
    with pytest.raises(ValueError, match=f"^{name} must be"):
        icans_grade(**kwargs)


def test_icans_invalid_message_lists_expected_values():
    with pytest.raises(ValueError, match=r"ice_score must be an integer ICE score 0\.\.10 .*; got 11$"):
        icans_grade(11)
    with pytest.raises(ValueError, match=r"seizure must be an integer level 0\.\.2 "
                                         r"\(none, rapidly_resolving, prolonged\); got 3$"):
        icans_grade(10, seizure=3)
