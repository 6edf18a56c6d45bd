"""Virtual populations: chunk-independent, seeded, within the scenario schema, with the documented
marginals and correlations (cartsim.patient)."""

import math
from dataclasses import replace

import annotated_types
import numpy as np
import pandas as pd
import pytest

from cartsim._batch import build_batch
from cartsim.io import Scenario
from cartsim.io._scenario import Patient, Product, Tumor
from cartsim.patient import (COLUMNS, DEFAULT_POPULATION, LATENT, POPULATIONS, Correlation, Marginal, Proportion,
                             patient_fields, sample_population)

PRESETS = list(POPULATIONS)
DEFAULT = POPULATIONS[DEFAULT_POPULATION]

#: Population columns and the schema field that bounds each.
SCHEMA_FIELDS = {
    "age_years": Patient.model_fields["age_years"],
    "weight_kg": Patient.model_fields["weight_kg"],
    "tumor_blood_cells": Tumor.model_fields["blood_cells"],
    "tumor_marrow_cells": Tumor.model_fields["marrow_cells"],
    "tumor_node_cells": Tumor.model_fields["node_cells"],
    "antigen_negative_fraction": Tumor.model_fields["antigen_negative_fraction"],
    "normal_b_cells": Patient.model_fields["normal_b_cells"],
    "tcell_fitness": Patient.model_fields["tcell_fitness"],
    "cytokine_propensity": Patient.model_fields["cytokine_propensity"],
    "cd4_fraction": Product.model_fields["cd4_fraction"],
}


def latent_view(frame: pd.DataFrame) -> pd.DataFrame:
    """Each latent characteristic as a column, each a monotone function of its latent normal."""
    tumor = frame.tumor_blood_cells + frame.tumor_marrow_cells + frame.tumor_node_cells
    view = frame.assign(tumor_cells=tumor, blood_to_node=frame.tumor_blood_cells / frame.tumor_node_cells,
                        marrow_to_node=frame.tumor_marrow_cells / frame.tumor_node_cells)
    return view[list(LATENT)].astype(float)


@pytest.fixture(scope="module")
def samples():
    """50,000 patients of every preset (seed 2024)."""
    return {name: sample_population(name, 50_000, 2024) for name in PRESETS}


# ---- reproducibility --------------------------------------------------------------------------

@pytest.mark.parametrize("name", PRESETS)
def test_rows_do_not_depend_on_the_split(name):
    whole = sample_population(name, 300, 11)
    cuts = [0, 1, 4, 37, 64, 65, 299, 300]  # odd sizes and offsets: any vectorised tail path is hit
    pieces = [sample_population(name, b - a, 11, start=a) for a, b in zip(cuts, cuts[1:])]
    pd.testing.assert_frame_equal(pd.concat(pieces, ignore_index=True), whole, check_exact=True)


def test_a_window_equals_the_same_rows_of_a_larger_sample():
    window = sample_population(DEFAULT_POPULATION, 10, 5, start=5)
    rows = sample_population(DEFAULT_POPULATION, 20, 5).iloc[5:15].reset_index(drop=True)
    pd.testing.assert_frame_equal(window, rows, check_exact=True)
    assert window.patient.tolist() == list(range(5, 15))


def test_a_patient_alone_equals_the_patient_in_a_batch():
    alone = sample_population(DEFAULT_POPULATION, 1, 3, start=1_234_567)
    batch = sample_population(DEFAULT_POPULATION, 100, 3, start=1_234_500)
    pd.testing.assert_frame_equal(alone, batch.iloc[[67]].reset_index(drop=True), check_exact=True)


def test_same_seed_same_patients_other_seed_other_patients():
    first = sample_population(DEFAULT_POPULATION, 1000, 42)
    pd.testing.assert_frame_equal(first, sample_population(DEFAULT_POPULATION, 1000, 42), check_exact=True)
    other = sample_population(DEFAULT_POPULATION, 1000, 43)
    assert (first.seed != other.seed).all()
    for column in ("age_years", "tumor_node_cells", "tcell_fitness", "cytokine_propensity", "cd4_fraction"):
        assert (first[column] != other[column]).mean() > 0.99, column


def test_patient_seeds_are_distinct_fit_the_schema_and_are_shared_by_presets():
    seeds = {name: sample_population(name, 100_000, 9).seed for name in PRESETS}
    default = seeds[DEFAULT_POPULATION]
    assert default.dtype == np.uint64
    assert default.is_unique
    assert int(default.max()) < 2 ** 63  # SimulationSettings.seed < 2**63
    for name in PRESETS:  # a patient is one person, with one seed, in every preset
        assert (seeds[name] == default).all(), name


def test_healthy_t_cells_are_the_default_patients_with_healthy_donor_t_cells():
    default = sample_population(DEFAULT_POPULATION, 5000, 8)
    healthy = sample_population("healthy_t_cells", 5000, 8)
    same = [c for c in COLUMNS if c not in ("tcell_fitness", "cd4_fraction")]
    pd.testing.assert_frame_equal(healthy[same], default[same], check_exact=True)
    assert (healthy.tcell_fitness != default.tcell_fitness).all()


# ---- schema -----------------------------------------------------------------------------------

def _bounds(field) -> tuple[float, bool, float, bool]:
    """(low, low inclusive, high, high inclusive) of a pydantic field."""
    low, low_in, high, high_in = -math.inf, True, math.inf, True
    for item in field.metadata:
        if isinstance(item, annotated_types.Ge):
            low, low_in = item.ge, True
        elif isinstance(item, annotated_types.Gt):
            low, low_in = item.gt, False
        elif isinstance(item, annotated_types.Le):
            high, high_in = item.le, True
        elif isinstance(item, annotated_types.Lt):
            high, high_in = item.lt, False
    return low, low_in, high, high_in


@pytest.mark.parametrize("name", PRESETS)
def test_100k_patients_respect_the_scenario_schema(name):
    frame = sample_population(name, 100_000, 77)
    assert tuple(frame.columns) == COLUMNS
    assert frame.patient.dtype == np.int64 and frame.prior_lines.dtype == np.int64
    assert frame.prior_btki.dtype == bool and frame.prior_venetoclax.dtype == bool
    assert (frame.prior_lines >= 1).all()
    for column, field in SCHEMA_FIELDS.items():
        low, low_in, high, high_in = _bounds(field)
        values = frame[column].to_numpy()
        assert np.isfinite(values).all(), column
        assert ((values >= low) if low_in else (values > low)).all(), column
        assert ((values <= high) if high_in else (values < high)).all(), column

    # Build the scenarios of the first rows and of every column's extreme rows; the model must take them.
    extremes = {int(frame[c].idxmin()) for c in SCHEMA_FIELDS} | {int(frame[c].idxmax()) for c in SCHEMA_FIELDS}
    for row in pd.concat([frame.head(300), frame.loc[sorted(extremes)]]).itertuples(index=False):
        scenario = Scenario.validated({"patient": patient_fields(row),
                                       "simulation": {"seed": int(row.seed)}})
        build_batch([scenario])  # derived parameters (egress, B-cell production) stay in range


def test_patient_fields_reads_series_tuples_and_mappings():
    frame = sample_population(DEFAULT_POPULATION, 3, 1)
    row = frame.iloc[1]
    expected = patient_fields(row)
    assert patient_fields(next(frame.iloc[1:].itertuples(index=False))) == expected
    assert patient_fields(row.to_dict()) == expected
    assert expected["tumor"]["node_cells"] == row.tumor_node_cells
    assert expected["tcell_fitness"] == row.tcell_fitness
    assert Scenario.validated({"patient": expected}).patient.age_years == row.age_years


def test_no_patients_gives_an_empty_frame_with_the_columns():
    frame = sample_population(DEFAULT_POPULATION, 0, 1, start=10)
    assert frame.empty and tuple(frame.columns) == COLUMNS
    assert frame.seed.dtype == np.uint64


# ---- marginals and correlations ---------------------------------------------------------------

@pytest.mark.parametrize("name", PRESETS)
def test_marginal_medians_and_proportions_are_the_documented_ones(samples, name):
    population, view = POPULATIONS[name], latent_view(samples[name])
    for characteristic in LATENT:
        spec = getattr(population, characteristic)
        if isinstance(spec, Marginal):
            median = view[characteristic].median()
            tolerance = 0.5 if spec.scale == "linear" else 0.03 * spec.median  # years; or 3%
            assert median == pytest.approx(spec.median, abs=tolerance), characteristic
        elif isinstance(spec, Proportion):
            assert view[characteristic].mean() == pytest.approx(spec.p, abs=0.01), characteristic


def test_prior_lines_of_the_default_population():
    lines = sample_population(DEFAULT_POPULATION, 50_000, 3).prior_lines
    assert lines.median() == 4  # TRANSCEND CLL 004 phase 1
    assert lines.min() == 2  # >= 2 lines required
    assert 8 <= lines.quantile(0.95) <= 10 and lines.max() <= DEFAULT.prior_lines.maximum


@pytest.mark.parametrize("name", PRESETS)
def test_every_documented_correlation_has_its_sign_and_rough_size(samples, name):
    ranks = latent_view(samples[name]).rank().corr()  # Spearman: invariant to the monotone marginals
    declared = set()
    for c in POPULATIONS[name].correlations:
        observed = ranks.loc[c.a, c.b]
        declared.add(frozenset((c.a, c.b)))
        if ranks[[c.a, c.b]].isna().any(axis=None):  # a characteristic all patients share (no BTKi before
            continue  # BTK inhibitors existed) correlates with nothing
        assert np.sign(observed) == np.sign(c.rho), (c.a, c.b, observed)
        # Yes/no exposures and line counts coarsen their latent normal, which shrinks the correlation.
        assert 0.25 * abs(c.rho) <= abs(observed) <= abs(c.rho) + 0.03, (c.a, c.b, observed)
    for i, a in enumerate(LATENT):
        for b in LATENT[i + 1:]:
            if frozenset((a, b)) not in declared and np.isfinite(ranks.loc[a, b]):
                assert abs(ranks.loc[a, b]) < 0.025, (a, b, ranks.loc[a, b])


def test_the_clinical_associations_of_the_default_population(samples):
    frame = samples[DEFAULT_POPULATION]
    view = latent_view(frame)
    spearman = view.rank().corr()
    assert -0.45 < spearman.loc["prior_lines", "tcell_fitness"] < -0.2  # heavier pretreatment, poorer T cells
    assert spearman.loc["prior_lines", "age_years"] > 0.15
    assert spearman.loc["tumor_cells", "cytokine_propensity"] > 0.2  # higher burden, more CRS
    fitness = frame.groupby("prior_btki").tcell_fitness.median()
    assert fitness[True] > 1.1 * fitness[False]  # Fraietta 2016: ibrutinib improves CAR-T expansion
    blood_share = frame.tumor_blood_cells / view.tumor_cells
    assert blood_share[frame.prior_btki].median() < 0.7 * blood_share[~frame.prior_btki].median()  # nodal after BTKi
    venetoclax = frame[frame.prior_lines <= 7].groupby("prior_lines").prior_venetoclax.mean()  # well-filled lines
    assert venetoclax.is_monotonic_increasing and venetoclax[7] > venetoclax[2] + 0.2


def test_presets_differ_as_described(samples):
    default, early, healthy = (samples[n] for n in (DEFAULT_POPULATION, "rr_cll_early", "healthy_t_cells"))
    assert healthy.tcell_fitness.median() > 2 * default.tcell_fitness.median()
    assert healthy.cd4_fraction.median() > default.cd4_fraction.median()
    assert early.tcell_fitness.median() > default.tcell_fitness.median()
    assert set(early.prior_lines.unique()) == {1, 2}
    assert early.prior_lines.mean() < default.prior_lines.mean() - 2
    burden = lambda f: (f.tumor_blood_cells + f.tumor_marrow_cells + f.tumor_node_cells).median()  # noqa: E731
    assert burden(early) < 0.6 * burden(default)
    assert early.prior_btki.mean() < default.prior_btki.mean()
    assert early.prior_venetoclax.mean() < default.prior_venetoclax.mean()


# ---- bad input --------------------------------------------------------------------------------

def test_unknown_population_lists_the_presets():
    with pytest.raises(ValueError, match="unknown population 'all_comers'") as error:
        sample_population("all_comers", 10, 0)
    for name in PRESETS:
        assert name in str(error.value)


@pytest.mark.parametrize("argument, kwargs", [
    ("n", dict(n=-1, seed=0)),
    ("start", dict(n=5, seed=0, start=-3)),
    ("n", dict(n=2.5, seed=0)),
    ("seed", dict(n=5, seed=-1)),
    ("seed", dict(n=5, seed=2 ** 64)),
])
def test_bad_counts_and_seeds_name_the_argument(argument, kwargs):
    with pytest.raises(ValueError, match=rf"^{argument} must"):
        sample_population(DEFAULT_POPULATION, **kwargs)


def test_invalid_populations_are_refused_when_built():
    with pytest.raises(ValueError, match="unknown latent characteristic 'height_cm'"):
        Correlation("height_cm", "age_years", 0.2, "[A]")
    with pytest.raises(ValueError, match="median 200 lies outside"):
        Marginal(200.0, 8.0, "linear", 35.0, 90.0, "years", "[A]")
    with pytest.raises(ValueError, match="not positive definite"):
        replace(DEFAULT, correlations=(Correlation("age_years", "weight_kg", 0.9, "[A]"),
                                       Correlation("age_years", "tumor_cells", 0.9, "[A]"),
                                       Correlation("weight_kg", "tumor_cells", -0.9, "[A]")))
    with pytest.raises(ValueError, match="given twice"):
        replace(DEFAULT, correlations=(Correlation("age_years", "weight_kg", 0.1, "[A]"),
                                       Correlation("weight_kg", "age_years", 0.2, "[A]")))


def test_every_number_has_units_and_a_source():
    for population in POPULATIONS.values():
        assert population.description
        for characteristic in LATENT:
            spec = getattr(population, characteristic)
            assert spec.source.strip(), (population.name, characteristic)
            if isinstance(spec, Marginal):
                assert spec.units.strip(), (population.name, characteristic)
        assert all(c.source.strip() for c in population.correlations)
