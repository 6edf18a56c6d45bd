"""The model's common tests (in the spirit of scikit-learn's estimator checks): every state, parameter, drug
and observable of the tables is complete and wired. Adding a row to a table without its mechanism, or a
mechanism without its row, fails here and says what is missing."""

import re
from pathlib import Path

import numpy as np
import pytest

from cartsim._batch import build_batch
from cartsim.io import Scenario, ScenarioError
from cartsim.io._scenario import Patient, Product
from cartsim.model import (DRUG_TABLE, OBSERVABLE_TABLE, OBSERVABLES, PARAMETER_NAMES, PARAMETER_TABLE,
                           PARAMETERS, PATIENT, STATE_TABLE, Obs, State, baseline_state, observe)
from cartsim.model._parameters import LINEAGE_PARAMETERS
from cartsim.product import COSTIMULATION, SOURCES, TARGETS, construct_parameters

SOURCE = Path(__file__).resolve().parents[1] / "src" / "cartsim"
KINDS = {"car_t", "car_t_divisions", "cll", "normal_cell", "host_cell", "cytokine", "inflammation", "drug", "chemotherapy"}


def _read_by_tables() -> set[str]:
    """Parameters the tables themselves name: state baselines, drug volumes and PK, construct values."""
    names = {s.baseline for s in STATE_TABLE if isinstance(s.baseline, str) and s.baseline != PATIENT}
    for drug in DRUG_TABLE:
        names |= {drug.volume, *drug.pk}
    return names


# ---- states ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", STATE_TABLE, ids=lambda s: s.name)
def test_each_state_has_kind_units_and_a_baseline(state):
    assert state.kind in KINDS and state.units and state.description
    assert state.typical > 0 and state.atol > 0
    if isinstance(state.baseline, str) and state.baseline != PATIENT:
        assert state.baseline in PARAMETERS, f"{state.name}: baseline names no parameter"
    if state.kind == "car_t":
        assert state.lineage and state.phenotype and (state.exposure is not None) == (state.phenotype != "senescent")
    if state.kind == "cll":
        assert state.site and state.clone


def test_the_untreated_baseline_is_a_steady_state():
    """With no CAR-T, no drug, no chemotherapy and no CLL, every state stays where the table's baselines and
    the patient builder put it: within 1% of its scale per day (the smoothed thresholds of the cytokine
    drives and the neutrophil feedback's offset leave a small drift, not a moving baseline)."""
    from cartsim.model import N_CELL_STATES, derivatives

    scenario = Scenario.validated({"patient": {"tumor": {"blood_cells": 0, "marrow_cells": 0, "node_cells": 0}}})
    batch = build_batch([scenario])
    y, p = batch.y0[0], batch.params[0]
    dy, birth, loss = np.zeros_like(y), np.zeros(N_CELL_STATES), np.zeros(N_CELL_STATES)
    derivatives(y, p, dy, birth, loss)
    scale = np.maximum(np.abs(y), np.array([s.typical for s in STATE_TABLE]))
    moving = {STATE_TABLE[i].name: dy[i] / scale[i] for i in np.nonzero(np.abs(dy) > 1e-2 * scale)[0]}
    assert not moving


# ---- parameters -----------------------------------------------------------------------------------------


#: Where each group of parameters is read.
READERS = {"kernel": "model/_kernel.py", "observable": "model/_physiology.py", "hazard": "clinical/_survival.py"}


def _reads(code: str, name: str) -> bool:
    return re.search(rf"\b(P|Param)\.{name}\b|[\"']{name}[\"']", code) is not None


def test_every_parameter_is_read_where_its_group_says():
    lineage_read = {f"{stem}_cd8" for stem in LINEAGE_PARAMETERS}  # read at the CD4 index + lineage
    volumes = {drug.volume for drug in DRUG_TABLE}
    unread = []
    for p in PARAMETER_TABLE:
        if p.group == "dose":
            found = p.name in volumes
        else:
            found = p.name in lineage_read | _read_by_tables() or _reads((SOURCE / READERS[p.group]).read_text(),
                                                                          p.name)
        if not found:
            unread.append(f"{p.name} ({p.group})")
    assert not unread, f"parameters their group's module does not read: {unread}"


@pytest.mark.parametrize("p", PARAMETER_TABLE, ids=lambda p: p.name)
def test_each_parameter_has_units_source_a_prior_and_a_default_within_its_bounds(p):
    assert p.units and p.source and p.description and p.group in READERS.keys() | {"dose"}
    assert p.low <= p.default <= p.high
    assert p.prior == "uniform" or 0 < p.low
    assert all(p.low <= value <= p.high for value in p.constructs.values())


@pytest.mark.parametrize("p", PARAMETER_TABLE, ids=lambda p: p.name)
def test_an_override_outside_the_bounds_is_refused(p):
    for outside in (p.low - max(abs(p.low), 1.0), p.high + max(abs(p.high), 1.0), float("nan")):
        with pytest.raises(ScenarioError, match=p.name):
            Scenario.validated({"parameters": {p.name: outside}})


def test_patient_fields_that_are_parameters_carry_the_table_bounds():
    for name, field in Patient.model_fields.items():
        if name in PARAMETERS:
            bounds = {type(m).__name__: m for m in field.metadata}
            assert bounds["Ge"].ge == PARAMETERS[name].low and bounds["Le"].le == PARAMETERS[name].high, name


def test_population_and_sensitivity_ranges_lie_within_the_table_bounds():
    from cartsim.calibration._sensitivity import FACTORS
    from cartsim.patient import POPULATIONS

    for population in POPULATIONS.values():
        shared = PARAMETERS.keys() & set(vars(population))
        assert shared, "a population draws model parameters (T-cell fitness, cytokine propensity)"
        for name in shared:
            marginal = getattr(population, name)
            assert PARAMETERS[name].low <= marginal.low and marginal.high <= PARAMETERS[name].high, name
    for factor in FACTORS:
        if factor.name in PARAMETERS:
            assert PARAMETERS[factor.name].low <= factor.low and factor.high <= PARAMETERS[factor.name].high


def test_constructs_are_declared_in_the_table_and_the_schema_offers_exactly_them():
    keys = {key for p in PARAMETER_TABLE for key in p.constructs}
    assert keys <= set(COSTIMULATION) | set(TARGETS) | set(SOURCES) | {"suicide_switch"}
    literal = lambda field: set(Product.model_fields[field].annotation.__args__)  # noqa: E731
    assert literal("costimulation") == set(COSTIMULATION) and literal("target") == set(TARGETS)
    assert literal("source") == set(SOURCES)
    reference = construct_parameters(COSTIMULATION[0], TARGETS[0], False, SOURCES[0])
    assert reference == {name: PARAMETERS[name].default for name in reference}, "the reference is the table"


# ---- drugs ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("drug", DRUG_TABLE, ids=lambda d: d.name)
def test_each_drug_dose_reaches_its_state(drug):
    assert STATE_TABLE[State[drug.state]].kind == "drug"
    assert {drug.volume, *drug.pk} <= set(PARAMETERS)
    scenario = Scenario.validated({"schedule": [{"drug": drug.name, "day": 1, "dose": 100}]})
    doses = build_batch([scenario]).doses
    n = doses.counts[0]
    given = [(day, state, amount) for day, state, amount in zip(doses.times[0, :n], doses.states[0, :n],
                                                                doses.amounts[0, :n]) if state == State[drug.state]]
    assert given == [(1.0, State[drug.state], 100 / PARAMETERS[drug.volume].default)]


def test_the_schema_and_protocol_offer_exactly_the_drug_table():
    from cartsim.io import DRUGS

    assert set(DRUGS) == {d.name for d in DRUG_TABLE}
    for drug in DRUG_TABLE:
        Scenario.validated({"protocol": [{"when": "crs_grade >= 2", "give": drug.name, "dose_mg": 1}]})


# ---- observables ----------------------------------------------------------------------------------------

#: How each observable answers to the state (its formula's defining property): (state raised, +1 rises / -1
#: falls). Every observable must have an entry.
RESPONDS = {
    "temperature_c": ("il6", +1), "hypotension": ("endothelial_activation", +1),
    "oxygen": ("endothelial_activation", +1), "ice_score": ("neuroinflammation", -1),
    "consciousness": ("neuroinflammation", +1), "seizure": ("neuroinflammation", +1),
    "motor": ("neuroinflammation", +1), "edema": ("neuroinflammation", +1),
    "lymphocytes_per_ul": ("cll_pos_blood", +1), "b_lymphocytes_per_ul": ("cll_neg_blood", +1),
    "node_spd_cm2": ("cll_pos_node", +1), "largest_node_cm": ("cll_neg_node", +1),
    "spleen_cm": ("cll_pos_node", +1), "marrow_infiltration": ("cll_pos_marrow", +1),
    "neutrophils_per_ul": ("neutrophils", +1), "platelets_per_ul": ("cll_pos_marrow", -1),
    "hemoglobin_g_dl": ("cll_neg_marrow", -1), "mrd_blood": ("cll_pos_blood", +1),
    "mrd_marrow": ("cll_pos_marrow", +1), "normal_b_per_ul": ("normal_b_cells", +1),
    "tumor_cells": ("cll_neg_marrow", +1), "car_t_cells": ("cd8_effector_1", +1),
    "car_t_copies_per_ug": ("cd4_resting_0", +1), "car_t_flow_per_ul": ("cd8_senescent", +1),
    "il6_pg_ml": ("il6", +1), "il6_signal_pg_ml": ("il6", +1),
}


def test_every_observable_has_a_unit_an_instrument_and_a_formula_test():
    assert set(RESPONDS) == set(OBSERVABLES)
    assert all(o.units and o.instrument and o.description for o in OBSERVABLE_TABLE)


@pytest.mark.parametrize("name", OBSERVABLES)
def test_each_observable_answers_to_its_state(name):
    state, direction = RESPONDS[name]
    params = build_batch([Scenario()]).params
    y = baseline_state(dict(zip(PARAMETER_NAMES, params[0])))
    y[State.normal_b_cells] = 1e9
    low, high = y.copy(), y.copy()
    high[State[state]] = {"endothelial_activation": 0.99, "neuroinflammation": 0.95}.get(state, 1e12)
    if state == "il6":
        high[State.il6] = 1e4
    before, after = observe(np.stack([low, high]), np.repeat(params, 2, axis=0))[:, Obs[name]]
    assert np.sign(after - before) == direction, f"{name}: {before} -> {after} when {state} rises"


# ---- sources --------------------------------------------------------------------------------------------

#: Documents that are not in the repository: the composite model summary, the design notes and the five
#: source articles by their seed numbers. A source names the publication instead (issue 15, item 8).
OUTSIDE_DOCUMENTS = ("models.md", "DESIGN.md", "seed 00")


def test_no_source_refers_to_a_document_outside_the_repository():
    rows = [f"{p.name}: {p.source}" for p in PARAMETER_TABLE
            if any(d.lower() in p.source.lower() for d in OUTSIDE_DOCUMENTS)]
    assert not rows, "parameter sources naming a document outside the repository:\n" + "\n".join(rows)
    files = [path for path in sorted(SOURCE.rglob("*"))
             if path.is_file() and "__pycache__" not in path.parts and path.suffix not in {".json", ".yaml", ".pyc", ".parquet", ".png"}]
    assert any(path.name == "_parameters.py" for path in files)
    hits = [f"{path.relative_to(SOURCE)}:{number}: {line.strip()}"
            for path in files
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if any(d.lower() in line.lower() for d in OUTSIDE_DOCUMENTS)]
    assert not hits, "files of src/cartsim naming a document outside the repository:\n" + "\n".join(hits)
