"""Published and blind targets: every target has a source, a number taken from a text quotes it, blind targets
are compared (or say why not) and never fitted."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import cartsim
from cartsim.calibration import (BLIND_COMPARATORS, COHORTS, COMPARATORS, CalibrationError, compare,
                                 load_blind_targets, load_targets, refuse_blind)
from cartsim.calibration._problem import DEFAULT_PROBLEM
from cartsim.calibration._outputs import write_validation
from cartsim.calibration._targets import DEFAULT_BLIND_TARGETS
from cartsim.calibration._validate import BLIND_NOT_COMPARED, NOT_COMPARED, cohorts_needed
from cartsim.cli import app

RECALLED = "recalled, verify"
#: The CLL targets of issue 16 item 9 taken from a source's text (each must quote it).
NEW_QUOTED_TARGETS = ("porter2015_mrd_negative_in_cr", "porter2015_expansion_correlates_response",
                      "fraietta2018_most_nonresponders")


@pytest.fixture(scope="module")
def targets():
    return load_targets()


@pytest.fixture(scope="module")
def blind():
    return load_blind_targets()


def test_every_target_names_its_source(targets, blind):
    for target in (*targets.values(), *blind.values()):
        assert target.source.strip(), f"{target.id} has no source"


def test_quoted_targets_have_their_excerpt_and_recalled_ones_none(targets, blind):
    for target_id in NEW_QUOTED_TARGETS:
        assert len(targets[target_id].excerpt) > 20, f"{target_id} lacks the sentence it is taken from"
    for target in blind.values():
        assert target.confidence != RECALLED and len(target.excerpt) > 20, f"blind {target.id} lacks its excerpt"
        assert "http" in target.source, f"blind {target.id}: the source names where the text was found"
    for target in targets.values():
        if target.confidence == RECALLED:  # a number without a text quotes nothing
            assert not target.excerpt, target.id


def test_a_count_in_the_units_agrees_with_the_value(targets, blind):
    """'fraction (9/49)' and value 0.184 say the same thing (rounded as published)."""
    for target in (*targets.values(), *blind.values()):
        count = target.count()
        if count is not None and isinstance(target.value, float):
            assert abs(count[0] / count[1] - target.value) < 0.01, target.id


def test_blind_targets_are_marked_and_kept_apart(targets, blind):
    assert blind and all(target.blind for target in blind.values())
    assert not any(target.blind for target in targets.values())
    assert not set(blind) & set(targets), "a blind result also sits among the calibration targets"
    assert not {term.target for term in (*DEFAULT_PROBLEM.terms, *DEFAULT_PROBLEM.held_out)} & set(blind)
    assert not (set(COMPARATORS) | set(NOT_COMPARED)) & set(blind)


def test_every_blind_target_is_compared_or_says_why_not(blind):
    assert set(BLIND_COMPARATORS) <= set(blind)
    silent = set(blind) - set(BLIND_COMPARATORS) - set(BLIND_NOT_COMPARED)
    assert not silent, f"blind targets neither compared nor explained: {sorted(silent)}"
    assert not set(BLIND_COMPARATORS) & set(BLIND_NOT_COMPARED)
    assert set(cohorts_needed(blind)) <= set(COHORTS)


def test_each_blind_study_has_its_own_cohort(blind):
    """Like with like: the blind studies are simulated on cohorts of their product and schedule."""
    for study, cohort in (("turtle2017", "fred_hutch"), ("liang2023", "fred_hutch"), ("gauthier2020", "gauthier"),
                          ("geyer2019", "geyer"), ("siddiqi2023", "transcend")):
        used = {c for i, comparator in BLIND_COMPARATORS.items() if i.startswith(study) for c in comparator.cohorts}
        assert used == {cohort}, (study, used)
    schedules = [arm.get("schedule", ()) for arm in COHORTS["gauthier"].arms]
    assert any(dose["drug"] == "ibrutinib" for schedule in schedules for dose in schedule)
    assert COHORTS["geyer"].arms[0]["product"]["costimulation"] == "CD28"


def test_calibration_refuses_blind_targets(targets, blind):
    with pytest.raises(CalibrationError, match="never fitted.*siddiqi2023_cr"):
        DEFAULT_PROBLEM.check(blind)
    mixed = {**targets, "siddiqi2023_cr": blind["siddiqi2023_cr"]}
    with pytest.raises(CalibrationError, match="never fitted"):
        DEFAULT_PROBLEM.check(mixed)
    refuse_blind(targets)  # the calibration targets themselves pass


def test_calibrate_command_refuses_a_blind_targets_file(tmp_path):
    result = CliRunner().invoke(app, ["calibrate", "--targets", str(DEFAULT_BLIND_TARGETS),
                                      "--out", str(tmp_path / "set.json")])
    assert result.exit_code == 2 and "never fitted" in result.output
    assert not (tmp_path / "set.json").exists()


def test_blind_markers_are_checked(tmp_path):
    entry = "  - {id: x, value: 0.5, units: 'fraction (1/2)', source: s, excerpt: e%s}\n"
    (tmp_path / "unmarked.yaml").write_text("targets:\n" + entry % "")
    with pytest.raises(CalibrationError, match="not marked: x"):
        load_blind_targets(tmp_path / "unmarked.yaml")
    (tmp_path / "odd.yaml").write_text("targets:\n" + entry % ", blind: maybe")
    with pytest.raises(CalibrationError, match="blind must be true or false"):
        load_targets(tmp_path / "odd.yaml")
    (tmp_path / "blind.yaml").write_text("targets:\n" + entry % ", blind: true")
    assert load_blind_targets(tmp_path / "blind.yaml")["x"].blind


def test_a_set_mixing_blind_and_regular_targets_is_not_compared(targets, blind):
    with pytest.raises(CalibrationError, match="mixes blind and regular"):
        compare({**targets, "siddiqi2023_cr": blind["siddiqi2023_cr"]}, ids=["porter2015_cr"])


def test_validate_blind_prints_and_writes_a_separate_table(tmp_path, monkeypatch, blind):
    """The command's blind path on a short, small simulation (the full comparison takes minutes)."""
    def short(targets=None, *, blind=False, **kwargs):
        if blind:
            return compare(load_blind_targets(targets), ids=["siddiqi2023_crs_any", "siddiqi2023_crs_duration",
                                                             "geyer2019_crs_any"], days=40, patients=10)
        return compare(load_targets(targets), ids=["porter2015_cr", "porter2015_dose"], days=40, patients=10)

    monkeypatch.setattr(cartsim, "validate", short)
    result = CliRunner().invoke(app, ["validate", "--blind", "--patients", "10", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "blind checks (never fitted)" in result.output
    content = json.loads((tmp_path / "blind_validation.json").read_text())
    assert content["blind"] and content["compared"] == 2
    markdown = (tmp_path / "blind_validation.md").read_text()
    assert markdown.startswith("Blind checks (published results never fitted)")
    assert "`siddiqi2023_crs_duration` | the clinical endpoints keep" in markdown
    assert (tmp_path / "validation.json").exists()  # the regular table is still written
    assert not json.loads((tmp_path / "validation.json").read_text())["blind"]


def test_blind_table_rows_are_marked_blind(tmp_path, blind):
    table = compare(blind, ids=["geyer2019_crs_any", "hay2017_endothelial_activation"], days=40, patients=10)
    assert table["blind"].all()
    assert table.set_index("id").loc["hay2017_endothelial_activation", "note"] == \
        BLIND_NOT_COMPARED["hay2017_endothelial_activation"]
    content = write_validation(table, tmp_path, blind=True)
    assert content["compared"] == 1 and (tmp_path / "blind_validation.png").stat().st_size > 0



def test_a_published_direction_needs_the_effect_not_just_no_harm(monkeypatch, blind):
    """A strict comparator (a published direction) does not agree with a difference of exactly zero."""
    import cartsim.calibration._validate as validate

    none = validate.Comparator((), lambda cohorts: (0.0, -0.1, 0.1), "no effect", band=validate.HIGHER, strict=True)
    some = validate.Comparator((), lambda cohorts: (0.2, 0.1, 0.3), "an effect", band=validate.HIGHER, strict=True)
    monkeypatch.setitem(validate.BLIND_COMPARATORS, "hay2017_dose_predicts_crs", none)
    monkeypatch.setitem(validate.BLIND_COMPARATORS, "hay2017_marrow_burden_predicts_crs", some)
    table = compare(blind, ids=["hay2017_dose_predicts_crs", "hay2017_marrow_burden_predicts_crs"]).set_index("id")
    assert not table.loc["hay2017_dose_predicts_crs", "within"]
    assert table.loc["hay2017_marrow_burden_predicts_crs", "within"]


def test_a_shortened_cohort_keeps_its_drug_schedule_within_follow_up(blind):
    """Concurrent ibrutinib runs to day 90; a 40-day comparison cuts the course at day 40."""
    table = compare(blind, ids=["gauthier2020_equal_expansion"], days=40, patients=10)
    assert table.iloc[0]["compared"]
