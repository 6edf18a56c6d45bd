"""Calibration, validation and sensitivity: target intervals, the validation table, the calibrated default."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from cartsim.calibration import COMPARATORS, CalibrationError, Target, compare, load_targets
from cartsim.calibration._inference import populations_at
from cartsim.calibration._sensitivity import ENDPOINTS, FACTORS, run_sensitivity
from cartsim.calibration._validate import ALSO_COMPARED, NOT_COMPARED
from cartsim.cli import app
from cartsim.patient import DEFAULT_POPULATION, POPULATIONS
from cartsim.patient._population import CALIBRATED_FILE, UNCALIBRATED_POPULATIONS
from cartsim.trial._analysis import wilson_interval


def _target(value, units="1", confidence="high") -> Target:
    return Target("t", "q", value, units, "p", "s", confidence)


def test_target_intervals_follow_the_published_form():
    assert _target(0.29, "fraction (4/14)").interval() == wilson_interval(4, 14)
    assert _target([7, 21], "days").interval() == (7.0, 21.0)
    assert _target(10.0, confidence="high").interval() == (7.5, 12.5)
    assert _target(10.0, confidence="low").interval() == (5.0, 20.0)


def test_every_target_is_compared_or_says_why_not():
    targets = load_targets()
    assert set(COMPARATORS) <= set(targets)
    silent = set(targets) - set(COMPARATORS) - set(NOT_COMPARED)
    assert not silent, f"targets neither compared nor explained: {sorted(silent)}"
    assert len(COMPARATORS) >= 20


def test_bad_target_files_are_clear_errors(tmp_path):
    with pytest.raises(CalibrationError, match="no such targets file"):
        load_targets(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("targets:\n  - {id: x, value: 1}\n")
    with pytest.raises(CalibrationError, match="targets.0 lacks units"):
        load_targets(tmp_path / "bad.yaml")
    result = CliRunner().invoke(app, ["validate", "--targets", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2 and "no such targets file" in result.output


def test_calibrated_parameter_set_is_the_package_default():
    parameter_set = json.loads(CALIBRATED_FILE.read_text())
    assert {"version", "date", "targets", "objective", "populations"} <= set(parameter_set)
    fitted = parameter_set["populations"][DEFAULT_POPULATION]["tcell_fitness"]
    marginal = POPULATIONS[DEFAULT_POPULATION].tcell_fitness
    assert {what: getattr(marginal, what) for what in fitted} == fitted
    assert marginal.source.startswith(f"calibrated {parameter_set['version']}")
    assert UNCALIBRATED_POPULATIONS[DEFAULT_POPULATION].tcell_fitness.median != marginal.median


def test_calibrated_population_reproduces_the_published_cll_complete_response_rate():
    """cll_reasons_lower_efficacy: CR 18-30% in CLL (a fitted target; this checks the fit landed), on the cohort
    cartsim validate compares (its 300 patients: at 200 the sampling error is a quarter of the band)."""
    table = compare(load_targets(), ids=["cll_reasons_lower_efficacy"], days=365)
    row = table.iloc[0]
    assert row["within"], (row["simulated"], row["target_low"], row["target_high"])


def test_fitter_more_t_cells_respond_more():
    """The calibration's lever works in the published direction (T-cell fitness; Fraietta 2018 Nat Med)."""
    rates = [compare(load_targets(), populations_at({"tcell_fitness.median": median, "tcell_fitness.spread": 0.6}),
                     ids=["porter2015_cr"], days=180, patients=60)
             .iloc[0]["simulated"] for median in (0.1, 1.0)]
    assert rates[1] > rates[0] + 0.2


def test_validate_uses_a_parameter_set(tmp_path):
    import cartsim

    weaker = tmp_path / "weaker.json"
    parameter_set = json.loads(CALIBRATED_FILE.read_text())
    for fitted in parameter_set["populations"].values():  # the default and the CTL019-era presets
        fitted["tcell_fitness"]["median"] = 0.06
    weaker.write_text(json.dumps(parameter_set))
    shipped, weak = (cartsim.validate(parameters=p, patients=40).set_index("id").loc["porter2015_cr", "simulated"]
                     for p in (None, weaker))
    assert weak < shipped


def test_sensitivity_ranks_factors_for_each_endpoint(tmp_path):
    indices, samples = run_sensitivity(n_base=4, days=120)
    assert len(samples) == 4 * (len(FACTORS) + 2)
    assert set(indices["endpoint"]) <= set(ENDPOINTS) and "log10_car_t_peak" in set(indices["endpoint"])
    assert set(indices["factor"]) == {f.name for f in FACTORS}
    result = CliRunner().invoke(app, ["sensitivity", "--n", "4", "--days", "60", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert {p.name for p in tmp_path.iterdir()} >= {"sensitivity.csv", "sensitivity.json", "sensitivity.png"}


def test_validate_writes_table_json_and_figure(tmp_path):
    result = CliRunner().invoke(app, ["validate", "--patients", "20", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    content = json.loads((tmp_path / "validation.json").read_text())
    # Each comparator is one row, and a target compared in a second disease too (ALSO_COMPARED) one more.
    comparisons = len(COMPARATORS) + sum(len(also) for also in ALSO_COMPARED.values())
    assert content["compared"] == comparisons and 0 <= content["agree"] <= content["compared"]
    markdown = (tmp_path / "validation.md").read_text()
    assert markdown.startswith(f"{content['agree']} of {content['compared']} compared targets agree")
    assert (tmp_path / "validation.png").stat().st_size > 0
