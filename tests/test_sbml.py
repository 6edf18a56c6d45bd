"""SBML export: a valid document, traced from the kernel, that libRoadRunner simulates like cartsim's own engine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import libsbml
import numpy as np
import pytest
import roadrunner
import sympy
from typer.testing import CliRunner

from cartsim.cli import app
from cartsim.interop import consistency_errors, sbml_document, scenario_batch, symbolic_rhs
from cartsim.io import Scenario
from cartsim.model import STATE_NAMES, STATE_TABLE
from cartsim.model._kernel import derivatives
from cartsim.model._states import N_CELL_STATES
from cartsim._engine import integrate
from cartsim.solver import SolverOptions

CHECK_DAYS = np.array([0.0, 3.0, 7.0, 14.0, 28.0, 60.0, 90.0, 180.0, 365.0])
MATCH = 1e-4
#: States below 1,000 times the engine's absolute tolerance (1e-2 cells, 1e-5 pg/mL, ...) are numerical
#: noise for both integrators, not model behaviour: they are not compared.
#: Cell populations (and their division counts) below 100 cells are, in a default run, the stochastic layer's
#: (it takes over below 1e4 cells): their last digits are not model behaviour either.
FLOOR = np.array([max(1e3 * state.atol, 100.0 if state.units in ("cells", "cell-divisions") else 0.0)
                  for state in STATE_TABLE])

PATIENTS = {
    "4-1BB, CD19 (default)": {"product": {"manufacturing": False}},
    "CD28, small burden": {"product": {"manufacturing": False, "costimulation": "CD28"},
                           "patient": {"tumor": {"blood_cells": 2e10, "marrow_cells": 5e10, "node_cells": 8e10},
                                       "tcell_fitness": 0.6}},
    "ROR1 with tocilizumab": {"product": {"manufacturing": False, "target": "ROR1", "dose_cells": 5e7},
                              "schedule": [{"drug": "tocilizumab", "day": 3, "dose": 560}],
                              "patient": {"tumor": {"antigen_negative_fraction": 0.01}}},
}


def test_symbolic_trace_equals_the_kernel():
    states, parameters, rhs = symbolic_rhs()
    function = sympy.lambdify(list(states) + list(parameters), list(rhs), "math")
    batch = scenario_batch()
    rng = np.random.default_rng(3)
    for _ in range(5):
        y = batch.y0[0] * rng.uniform(0.5, 2.0, batch.y0.shape[1]) + rng.uniform(0, 1e8, batch.y0.shape[1]) * (
            np.arange(batch.y0.shape[1]) < N_CELL_STATES)
        expected = np.zeros_like(y)
        derivatives(y, batch.params[0], expected, np.zeros(N_CELL_STATES), np.zeros(N_CELL_STATES))
        traced = np.array(function(*y, *batch.params[0]))
        np.testing.assert_allclose(traced, expected, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("name", list(PATIENTS))
def test_roadrunner_matches_the_engine(name):
    batch = scenario_batch(Scenario.validated(PATIENTS[name]))
    document = sbml_document(batch)
    assert consistency_errors(document) == []
    runner = roadrunner.RoadRunner(libsbml.writeSBMLToString(document))
    runner.integrator.relative_tolerance = 1e-10
    runner.integrator.absolute_tolerance = 1e-12
    runner.integrator.maximum_num_steps = 100_000
    runner.timeCourseSelections = ["time", *STATE_NAMES]
    start = float(batch.t0[0])
    reference = np.array(runner.simulate(times=[0.0, *(CHECK_DAYS - start)]))[1:, 1:]
    engine = integrate(batch.y0, batch.params, CHECK_DAYS, doses=batch.doses, seeds=batch.seeds, t0=batch.t0,
                       options=SolverOptions(stochastic=False, rtol=1e-9)).values[0]
    compared = np.abs(reference) > FLOOR
    error = np.abs(engine - reference)[compared] / np.abs(reference)[compared]
    worst = np.argmax(error)
    day, state = (idx[worst] for idx in np.nonzero(compared))
    assert error.max() < MATCH, (f"{STATE_NAMES[state]} on day {CHECK_DAYS[day]:g}: engine {engine[day, state]:.6g}, "
                                 f"roadrunner {reference[day, state]:.6g}")
    assert compared.sum() > 0.5 * compared.size  # the comparison is not vacuous


def test_export_sbml_command_writes_valid_sbml_with_units_and_sources(tmp_path):
    out = tmp_path / "model.xml"
    result = CliRunner().invoke(app, ["export-sbml", str(out)])
    assert result.exit_code == 0, result.output
    document = libsbml.readSBMLFromFile(str(out))
    assert document.getNumErrors(libsbml.LIBSBML_SEV_ERROR) == 0
    model = document.getModel()
    assert model.getNumRules() >= len(STATE_NAMES) and model.getNumEvents() >= 2  # doses after the start
    kill = model.getParameter("max_kill_rate")
    assert kill.getUnits() == "u_1_per_day" and "Kimmel" in kill.getNotesString()


def test_export_sbml_into_a_missing_folder_fails_naming_the_path(tmp_path):
    from cartsim.interop import export_sbml

    out = tmp_path / "missing" / "model.xml"
    with pytest.raises(OSError) as error:
        export_sbml(out)
    assert error.value.filename == str(out)
    assert not out.exists()


def test_export_sbml_command_into_a_missing_folder_exits_2_in_one_line(tmp_path):
    # The installed script, as a user runs it: no traceback, no "SBML written", the path named.
    out = tmp_path / "missing" / "model.xml"
    script = Path(sys.executable).with_name("cartsim")
    result = subprocess.run([str(script), "export-sbml", str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr and "SBML written" not in result.stdout
    assert str(out) in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not out.parent.exists()


def test_sbml_speaks_the_models_vocabulary():
    """Intermediates carry the kernel's names (not w_0, w_1, ...), cell populations sit in their sites'
    compartments, and the document says what it does not carry."""
    document = sbml_document(scenario_batch())
    model = document.getModel()
    rules = {model.getRule(i).getVariable() for i in range(model.getNumRules())}
    assert {"antigen", "stim", "kill_rate", "cll_killed", "steroid"} <= rules
    assert not any(name.startswith("w_") for name in rules)
    assert {model.getCompartment(i).getId() for i in range(model.getNumCompartments())} >= {"blood", "marrow", "node"}
    assert model.getSpecies("cll_pos_marrow").getCompartment() == "marrow"
    assert model.getSpecies("cd8_effector_0").getCompartment() == "body"
    assert "protocol rules" in libsbml.writeSBMLToString(document)


def test_export_warns_what_the_sbml_cannot_carry(tmp_path):
    from cartsim.interop import export_sbml
    from cartsim.interop._sbml import SbmlWarning

    with pytest.warns(SbmlWarning, match="protocol rules.*clinical clock.*stochastic layer"):
        export_sbml(tmp_path / "model.xml")
