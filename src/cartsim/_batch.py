"""From scenarios to the arrays the engine integrates: manufactured products, initial states, parameters,
doses, seeds.

A patient's simulation starts at apheresis, ``vein_to_vein_days`` before the
infusion (day 0), or at its first scheduled dose if earlier: the scenario's
tumour is the burden at apheresis, and it grows while the product is made
unless bridging therapy holds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .io import Scenario
from .model import DRUG_TABLE, PARAMETER_NAMES, Param, State, baseline_state, default_parameters
from .product import Manufactured, construct_parameters, manufacture
from .solver import Doses

#: Which state each drug fills, and the parameter holding its distribution volume (L).
DRUG_STATES = {drug.name: (State[drug.state], drug.volume) for drug in DRUG_TABLE}


@dataclass(frozen=True)
class Batch:
    """Everything the engine needs for a batch of patients, each starting at its own ``t0``."""

    y0: np.ndarray
    params: np.ndarray
    doses: Doses
    seeds: np.ndarray
    t0: np.ndarray  # each patient's start: apheresis, or its first dose if earlier
    products: tuple[Manufactured, ...]  # each patient's infused product (or failed manufacture)


def patient_parameters(scenario: Scenario, made: Manufactured) -> np.ndarray:
    """The parameter vector of one scenario: defaults, construct, patient, then explicit overrides."""
    values = dict(zip(PARAMETER_NAMES, default_parameters()))
    product, patient, tumor = scenario.product, scenario.patient, scenario.patient.tumor
    values.update(construct_parameters(product.costimulation, product.target, product.suicide_switch,
                                       product.source))
    values["tcell_fitness"] = made.car_t_fitness
    values["cytokine_propensity"] = patient.cytokine_propensity
    # Start at trafficking equilibrium: egress balances homing for the given distribution.
    if tumor.marrow_cells > 0 and tumor.blood_cells > 0:
        values["cll_egress_marrow"] = values["cll_homing_marrow"] * tumor.blood_cells / tumor.marrow_cells
    if tumor.node_cells > 0 and tumor.blood_cells > 0:
        values["cll_egress_node"] = values["cll_homing_node"] * tumor.blood_cells / tumor.node_cells
    # Start normal B cells at steady state under the marrow infiltration.
    values["b_cell_production"] = (values["b_cell_death"] * patient.normal_b_cells
                                   * (1.0 + tumor.marrow_cells / values["b_cell_marrow_suppression"]))
    # The equilibrium values follow from a valid patient and are not held to the override ranges: a marrow
    # holding few cells next to a leukaemic blood needs a fast egress, and the implicit solver takes it.
    values.update(scenario.parameters)
    return np.array([values[name] for name in PARAMETER_NAMES])


def initial_state(scenario: Scenario, params: np.ndarray) -> np.ndarray:
    """The steady state of an untreated patient, before lymphodepletion: the table's baselines, and the
    patient's own CLL by compartment and clone and normal B cells."""
    y = baseline_state(dict(zip(PARAMETER_NAMES, params)))
    tumor = scenario.patient.tumor
    negative = tumor.antigen_negative_fraction
    for site, cells in (("blood", tumor.blood_cells), ("marrow", tumor.marrow_cells), ("node", tumor.node_cells)):
        y[State[f"cll_pos_{site}"]] = (1.0 - negative) * cells
        y[State[f"cll_neg_{site}"]] = negative * cells
    y[State.normal_b_cells] = scenario.patient.normal_b_cells
    return y


def dose_list(scenario: Scenario, params: np.ndarray, made: Manufactured) -> list[tuple[float, int, float]]:
    """(day, state, amount) for lymphodepletion and the CAR-T infusion at day 0 (unless manufacturing
    failed) and the drug schedule."""
    doses: list[tuple[float, int, float]] = []
    if not made.failed and scenario.lymphodepletion.regimen == "flu_cy":
        doses += [(day, State.lymphodepletion, scenario.lymphodepletion.intensity)
                  for day in scenario.lymphodepletion.days]
    k = scenario.product.prior_exposures
    for lineage, share in (("cd4", made.cd4_fraction), ("cd8", 1.0 - made.cd4_fraction)):
        cells = made.dose_cells * share
        effector = 1.0 - made.memory_fraction - made.senescent_fraction
        doses += [(0.0, State[f"{lineage}_resting_{k}"], cells * made.memory_fraction),
                  (0.0, State[f"{lineage}_effector_{k}"], cells * effector),
                  (0.0, State[f"{lineage}_senescent"], cells * made.senescent_fraction)]
    for given in scenario.schedule:
        state, volume = DRUG_STATES[given.drug]
        doses += [(day, state, given.dose / params[Param[volume]]) for day in given.days]
    return [d for d in doses if d[2] > 0]


def build_batch(scenarios: Sequence[Scenario], seeds: Sequence[int] | None = None) -> Batch:
    """Manufacture each scenario's product and stack the scenarios into one batch."""
    seeds = np.array([s.simulation.seed for s in scenarios] if seeds is None else seeds, dtype=np.uint64)
    products = manufacture(scenarios, seeds)
    params = np.array([patient_parameters(s, m) for s, m in zip(scenarios, products)])
    y0 = np.array([initial_state(s, p) for s, p in zip(scenarios, params)])
    per_patient = [dose_list(s, p, m) for s, p, m in zip(scenarios, params, products)]
    t0 = np.array([min([-m.vein_to_vein_days] + [d[0] for d in doses])
                   for doses, m in zip(per_patient, products)])
    return Batch(y0, params, Doses.from_lists(per_patient), seeds, t0, tuple(products))
