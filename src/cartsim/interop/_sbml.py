"""SBML export of one patient's deterministic in-vivo model (python-libsbml), for libRoadRunner and friends.

The document holds, for the patient of a scenario (its initial state, parameters and doses as
:func:`cartsim._batch.build_batch` makes them):

* every cell population as a species (an amount of cells) in the compartment of its site (blood, marrow,
  nodes; whole body for CAR-T, normal B and host cells), every other state (cytokines, drugs, fractions) as
  a non-constant parameter with its units, each with a rate rule: the kernel's right-hand side, traced
  symbolically (:mod:`._symbolic`), over assignment rules named as the kernel names its intermediates;
* every model parameter as a constant parameter with its units, and its source and description as notes;
* every dose (lymphodepletion, the infusion, scheduled drugs) as an event adding the bolus at its time.

SBML time 0 is the patient's start (apheresis, or an earlier scheduled dose): ``time = day - t0``.
What the document cannot carry (:data:`NOT_CARRIED`: protocol rules, the clinical clock, the stochastic
layer) is said in its notes and by an :class:`SbmlWarning` at export.
"""

from __future__ import annotations

import errno
import html
import warnings
from collections import defaultdict
from pathlib import Path

import libsbml
import numpy as np
import sympy
from sympy.printing.str import StrPrinter

from .._batch import Batch, build_batch
from ..io import Scenario
from ..model import PARAMETER_TABLE, STATE_TABLE
from ._symbolic import symbolic_model

#: Unit atoms of the model's tables as (SBML kind, exponent, scale, multiplier).
_ATOMS = {
    "day": (libsbml.UNIT_KIND_SECOND, 1, 0, 86400.0), "days": (libsbml.UNIT_KIND_SECOND, 1, 0, 86400.0),
    "year": (libsbml.UNIT_KIND_SECOND, 1, 0, 31557600.0), "years": (libsbml.UNIT_KIND_SECOND, 1, 0, 31557600.0),
    "months": (libsbml.UNIT_KIND_SECOND, 1, 0, 31557600.0 / 12.0),
    "cells": (libsbml.UNIT_KIND_ITEM, 1, 0, 1.0), "cell": (libsbml.UNIT_KIND_ITEM, 1, 0, 1.0),
    "pg": (libsbml.UNIT_KIND_GRAM, 1, -12, 1.0), "mg": (libsbml.UNIT_KIND_GRAM, 1, -3, 1.0),
    "g": (libsbml.UNIT_KIND_GRAM, 1, 0, 1.0), "ug": (libsbml.UNIT_KIND_GRAM, 1, -6, 1.0),
    "copies": (libsbml.UNIT_KIND_ITEM, 1, 0, 1.0), "L": (libsbml.UNIT_KIND_LITRE, 1, 0, 1.0),
    "mL": (libsbml.UNIT_KIND_LITRE, 1, -3, 1.0), "dL": (libsbml.UNIT_KIND_LITRE, 1, -1, 1.0),
    "uL": (libsbml.UNIT_KIND_LITRE, 1, -6, 1.0), "cm3": (libsbml.UNIT_KIND_LITRE, 1, -3, 1.0),
    "degC": (libsbml.UNIT_KIND_KELVIN, 1, 0, 1.0),  # a temperature offset: documented as degC in the notes
    # A division is a count of events: divisions are dimensionless, cell-divisions count items like cells.
    "divisions": (libsbml.UNIT_KIND_DIMENSIONLESS, 1, 0, 1.0),
    "cell-divisions": (libsbml.UNIT_KIND_ITEM, 1, 0, 1.0),
}
_DIMENSIONLESS = {"1", "fraction", "standard daily doses"}


def _unit_id(units: str) -> str:
    if units in _DIMENSIONLESS:
        return "dimensionless"
    return "u_" + "".join(c if c.isalnum() else "_" for c in units.replace("/", "_per_"))


def _add_unit(model: libsbml.Model, units: str) -> str:
    """The id of a unit definition for ``units`` ('a/b/c' of known atoms), added once."""
    uid = _unit_id(units)
    if uid == "dimensionless" or model.getUnitDefinition(uid) is not None:
        return uid
    definition = model.createUnitDefinition()
    definition.setId(uid)
    definition.setName(units)
    numerator, *denominators = units.split("/")
    for sign, atom in [(1, numerator)] + [(-1, d) for d in denominators]:
        if atom == "1":
            continue
        kind, exponent, scale, multiplier = _ATOMS[atom]
        unit = definition.createUnit()
        unit.setKind(kind)
        unit.setExponent(sign * exponent)
        unit.setScale(scale)
        unit.setMultiplier(multiplier)
    return uid


class _SbmlPrinter(StrPrinter):
    """sympy to SBML Level 3 infix: pow(), natural log ln(), max/min as piecewise (roadrunner-safe)."""

    def _print_Pow(self, expr):
        base, exponent = (self._print(a) for a in expr.args)
        if expr.exp == sympy.Rational(1, 2):
            return f"sqrt({base})"
        return f"pow({base}, {exponent})"

    def _print_log(self, expr):
        return f"ln({self._print(expr.args[0])})"

    def _fold(self, args, comparison):
        first, *rest = args
        text = self._print(first)
        for other in rest:
            other_text = self._print(other)
            text = f"piecewise({text}, {text} {comparison} {other_text}, {other_text})"
        return text

    def _print_Max(self, expr):
        return self._fold(expr.args, ">")

    def _print_Min(self, expr):
        return self._fold(expr.args, "<")

    def _print_Rational(self, expr):
        return f"({expr.p}/{expr.q})"

    def _print_Float(self, expr):
        return repr(float(expr))


def _math(formula: str) -> libsbml.ASTNode:
    node = libsbml.parseL3Formula(formula)
    if node is None:
        raise ValueError(f"libsbml could not parse: {formula[:200]}... ({libsbml.getLastParseL3Error()})")
    return node


def _notes(text: str) -> str:
    return f'<body xmlns="http://www.w3.org/1999/xhtml"><p>{html.escape(text)}</p></body>'


def _quantity(model: libsbml.Model, name: str, value: float, units: str, constant: bool, note: str) -> None:
    quantity = model.createParameter()
    quantity.setId(name)
    quantity.setValue(float(value))
    quantity.setConstant(constant)
    quantity.setUnits(_add_unit(model, units))
    quantity.setNotes(_notes(note))


#: Where each site's cell states live in the SBML document; cells elsewhere are whole-body counts.
_COMPARTMENTS = {"blood": "peripheral blood (5 L)", "marrow": "bone marrow", "node": "lymph nodes and spleen",
                 "body": "the whole body (CAR-T, normal B and host cells are whole-body counts)"}

#: What the document does not carry: the exported model is the deterministic in-vivo model alone.
NOT_CARRIED = ("the protocol rules (tocilizumab, steroids, anakinra given at visits; only scheduled doses are "
               "events)", "the clinical clock (visits, ASTCT grading, iwCLL response, deaths and their hazards)",
               "the stochastic layer (small populations as birth-death processes)",
               "manufacturing variability (the product is fixed as made for this patient)")


class SbmlWarning(UserWarning):
    """What an SBML export leaves out of the model cartsim simulates."""


def _compartments(model: libsbml.Model) -> None:
    for site, description in _COMPARTMENTS.items():
        compartment = model.createCompartment()
        compartment.setId(site)
        compartment.setConstant(True)
        compartment.setSize(1.0)  # cells are counted, not concentrated: a unit size keeps amounts as they are
        compartment.setSpatialDimensions(3)
        compartment.setUnits("dimensionless")
        compartment.setNotes(_notes(description))


def _state(model: libsbml.Model, info, value: float) -> None:
    """A cell population as a species (an amount of cells in its site), any other state as a parameter."""
    note = f"state: {info.description} [{info.units}]"
    if info.units != "cells":
        _quantity(model, info.name, value, info.units, False, note)
        return
    species = model.createSpecies()
    species.setId(info.name)
    species.setCompartment(info.site or "body")
    species.setInitialAmount(float(value))
    species.setHasOnlySubstanceUnits(True)
    species.setSubstanceUnits(_add_unit(model, "cells"))
    species.setBoundaryCondition(True)  # changed by its rate rule only (there are no reactions)
    species.setConstant(False)
    species.setNotes(_notes(note))


def sbml_document(batch: Batch, patient: int = 0, name: str = "cartsim") -> libsbml.SBMLDocument:
    """The SBML Level 3 Version 2 document of patient ``patient`` of ``batch``."""
    document = libsbml.SBMLDocument(3, 2)
    model = document.createModel()
    model.setId("cartsim_in_vivo")
    model.setName(name)
    model.setTimeUnits(_add_unit(model, "day"))
    model.setNotes(_notes("The deterministic in-vivo model of cartsim. Not carried: " + "; ".join(NOT_CARRIED)))
    states, parameters, intermediates, rhs = symbolic_model()
    _compartments(model)
    for info, value in zip(PARAMETER_TABLE, batch.params[patient]):
        _quantity(model, info.name, value, info.units, True,
                  f"{info.description} [{info.units}]. Source: {info.source}")
    for info, value in zip(STATE_TABLE, batch.y0[patient]):
        _state(model, info, value)
    printer = _SbmlPrinter()
    # The mechanisms' results (antigen seen, stimulation, kill rate per target, cells killed...) become
    # assignment rules under the kernel's own names, computed once instead of repeated in every rate rule.
    for symbol, expression in intermediates:
        quantity = model.createParameter()
        quantity.setId(symbol.name)
        quantity.setConstant(False)
        quantity.setNotes(_notes("intermediate of the right-hand side, named as in the kernel"))
        rule = model.createAssignmentRule()
        rule.setVariable(symbol.name)
        rule.setMath(_math(printer.doprint(expression)))
    for symbol, derivative in zip(states, rhs):
        rule = model.createRateRule()
        rule.setVariable(symbol.name)
        rule.setMath(_math(printer.doprint(derivative)))
    _add_doses(model, batch, patient)
    return document


def _add_doses(model: libsbml.Model, batch: Batch, patient: int) -> None:
    """Each dose time becomes one event adding its boluses; doses at the start are in the initial values."""
    doses = batch.doses
    start = float(batch.t0[patient])
    by_time = defaultdict(list)
    for k in range(int(doses.counts[patient])):
        by_time[float(doses.times[patient, k])].append((int(doses.states[patient, k]),
                                                        float(doses.amounts[patient, k])))
    for number, (day, boluses) in enumerate(sorted(by_time.items())):
        if day <= start:
            for state, amount in boluses:
                name = STATE_TABLE[state].name
                species = model.getSpecies(name)
                if species is not None:
                    species.setInitialAmount(species.getInitialAmount() + amount)
                else:
                    model.getParameter(name).setValue(model.getParameter(name).getValue() + amount)
            continue
        event = model.createEvent()
        event.setId(f"dose_{number}")
        event.setName(f"doses on day {day:g}")
        event.setUseValuesFromTriggerTime(True)
        trigger = event.createTrigger()
        trigger.setInitialValue(False)
        trigger.setPersistent(True)
        trigger.setMath(_math(f"time >= {day - start!r}"))
        for state, amount in boluses:
            name = STATE_TABLE[state].name
            assignment = event.createEventAssignment()
            assignment.setVariable(name)
            assignment.setMath(_math(f"{name} + {amount!r}"))


def scenario_batch(scenario: Scenario | None = None) -> Batch:
    """The batch of one deterministic patient (default: the default scenario, product as specified)."""
    scenario = scenario or Scenario.model_validate({"product": {"manufacturing": False}})
    return build_batch([scenario])


def export_sbml(path: str | Path, scenario: Scenario | None = None) -> Path:
    """Write the SBML of ``scenario``'s patient to ``path``; raise ValueError if libsbml reports errors and
    OSError if the file cannot be written."""
    batch = scenario_batch(scenario)
    document = sbml_document(batch, name=(scenario.name if scenario else "default patient"))
    errors = consistency_errors(document)
    if errors:
        raise ValueError("the exported SBML does not validate:\n" + "\n".join(errors))
    path = Path(path)
    # libsbml does not raise: it returns 0 (and says nothing) for a missing folder or a read-only file.
    if not libsbml.writeSBMLToFile(document, str(path)):
        raise OSError(errno.EIO, "libsbml could not write the SBML file (does its folder exist, and may it "
                                 "be written?)", str(path))
    warnings.warn(SbmlWarning("the SBML carries the deterministic in-vivo model only; not carried: "
                              + "; ".join(NOT_CARRIED)), stacklevel=2)
    return path


def consistency_errors(document: libsbml.SBMLDocument) -> list[str]:
    """libsbml's consistency check: the messages of severity error or fatal (warnings are not errors)."""
    document.checkConsistency()
    log = document.getErrorLog()
    return [log.getError(i).getMessage().strip() for i in range(log.getNumErrors())
            if log.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]


def start_day(batch: Batch, patient: int = 0) -> float:
    """The day (relative to infusion) at SBML time 0."""
    return float(np.asarray(batch.t0)[patient])
