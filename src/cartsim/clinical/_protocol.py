"""Clinical protocols decided for all patients at once at each visit.

A rule (:class:`cartsim.io.Rule`, with the schema: its condition over :data:`cartsim.io.VISIT_VARIABLES`
is checked when a scenario is read) fires for a patient whose condition holds, up to its dose count
and repeat interval; the conditions are compiled by :mod:`cartsim.conditions`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..conditions import compile_condition
from ..io import VISIT_VARIABLES, Rule


@dataclass
class ProtocolState:
    """Per rule and patient: doses given by the rule and the day of the last one."""

    doses_given: np.ndarray  # int32 [n_rules, n_patients]
    last_given_day: np.ndarray  # float [n_rules, n_patients], -inf if never

    @classmethod
    def start(cls, n_rules: int, n_patients: int) -> ProtocolState:
        return cls(
            doses_given=np.zeros((n_rules, n_patients), dtype=np.int32),
            last_given_day=np.full((n_rules, n_patients), -np.inf),
        )


def rule_dose_mg(rule: Rule, weight_kg: np.ndarray) -> np.ndarray:
    """The rule's dose in mg per patient: ``dose_mg``, or ``min(dose_mg_per_kg * weight, max_dose_mg)``."""
    weight_kg = np.asarray(weight_kg, dtype=float)
    if rule.dose_mg is not None:
        return np.full(weight_kg.shape, float(rule.dose_mg))
    dose = rule.dose_mg_per_kg * weight_kg
    return dose if rule.max_dose_mg is None else np.minimum(dose, rule.max_dose_mg)


def decide(
    rules: Sequence[Rule],
    state: ProtocolState,
    variables: Mapping[str, np.ndarray],
    day: float,
    weight_kg: np.ndarray,
    alive: np.ndarray,
) -> list[tuple[int, np.ndarray]]:
    """Rules that fire at this visit: (rule index, dose in mg per patient, 0 where it does not fire). Updates state.

    A rule fires for a patient who is alive, whose condition holds, who has had fewer than
    ``max_doses`` from this rule, and whose last dose from it (if any) is at least
    ``repeat_after_hours`` ago. All rules see the same ``variables`` (the visit's values before
    any of this visit's doses), so rules firing at one visit are decided together.
    ``variables`` values broadcast against ``(n_patients,)``; scalars (e.g. ``day``) are fine.
    """
    alive = np.asarray(alive, dtype=bool)
    weight_kg = np.asarray(weight_kg, dtype=float)
    n_patients = alive.shape[0] if alive.ndim else weight_kg.shape[0]
    alive = np.broadcast_to(alive, (n_patients,))
    weight_kg = np.broadcast_to(weight_kg, (n_patients,))
    expected = (len(rules), n_patients)
    if state.doses_given.shape != expected or state.last_given_day.shape != expected:
        raise ValueError(
            f"protocol state is {state.doses_given.shape}, expected (n_rules, n_patients) = {expected}"
        )
    fired = []
    for index, rule in enumerate(rules):
        condition = compile_condition(rule.when, VISIT_VARIABLES)
        holds = np.broadcast_to(condition(variables), (n_patients,))
        interval_days = (rule.repeat_after_hours or 0.0) / 24.0
        given = state.doses_given[index]
        last = state.last_given_day[index]
        ready = (given == 0) | (day - last >= interval_days - 1e-9)
        fires = alive & holds & (given < rule.max_doses) & ready
        if not fires.any():
            continue
        given[fires] += 1
        last[fires] = day
        fired.append((index, np.where(fires, rule_dose_mg(rule, weight_kg), 0.0)))
    return fired
