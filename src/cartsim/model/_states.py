"""The state vector of one patient, declared once: each state's kind, lineage, site, exposure level, baseline,
units and whether the stochastic layer may take it.

Index sets (``CAR_T_STATES``, :func:`states_where`), the untreated baseline (:func:`baseline_state`) and the
solver's scales are derived from :data:`STATE_TABLE` and nowhere else. Cell populations come first: those
are the compartments that the hybrid stochastic layer may advance as birth-death processes when they become
small (see :mod:`cartsim.solver`). Everything is a whole-body absolute count, a serum concentration (pg/mL
for cytokines, mg/L for drugs and CRP) or a fraction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

#: Exposure levels of the CAR-T antigen-exposure chain: resting cells with
#: k = 0, 1, 2 completed exposures and effectors in their (k+1)-th exposure.
EXPOSURE_LEVELS = 3
LINEAGES = ("cd4", "cd8")
SITES = ("blood", "marrow", "node")
CLONES = ("pos", "neg")

#: The baseline a state starts from in an untreated patient: a number, the name of a parameter holding
#: it, a function of the parameters (by name), or PATIENT (the patient's own value, set by the patient
#: builder from the scenario or population).
PATIENT = "patient"
Baseline = float | str | Callable[[Mapping[str, float]], float]


@dataclass(frozen=True)
class StateInfo:
    name: str
    kind: str  # car_t, car_t_divisions, cll, normal_cell, host_cell, cytokine, inflammation, drug, chemotherapy
    units: str
    description: str
    baseline: Baseline = 0.0
    stochastic: bool = False  # a cell population the hybrid stochastic layer may take when small
    lineage: str | None = None  # cd4 / cd8 (CAR-T)
    phenotype: str | None = None  # resting / effector / senescent (CAR-T)
    exposure: int | None = None  # completed exposures of a resting cell, or the exposure an effector is in - 1
    clone: str | None = None  # pos / neg: carries the CAR target antigen or lost it (CLL)
    site: str | None = None  # blood / marrow / node; None: whole body or serum
    typical: float = 1e6  # magnitude used for finite-difference steps
    atol: float = 1e-5  # absolute tolerance of the integrator, in the state's units


def _car_t(lineage: str) -> list[StateInfo]:
    name = lineage.upper()
    rows = [StateInfo(f"{lineage}_resting_{k}", "car_t", "cells",
                      f"{name} CAR-T, resting/memory-like, {k} completed antigen exposures",
                      stochastic=True, lineage=lineage, phenotype="resting", exposure=k)
            for k in range(EXPOSURE_LEVELS)]
    rows += [StateInfo(f"{lineage}_effector_{k}", "car_t", "cells",
                       f"{name} CAR-T, activated effector in exposure {k + 1}",
                       stochastic=True, lineage=lineage, phenotype="effector", exposure=k)
             for k in range(EXPOSURE_LEVELS)]
    rows.append(StateInfo(f"{lineage}_senescent", "car_t", "cells",
                          f"{name} CAR-T, senescent (little division, pro-inflammatory)",
                          stochastic=True, lineage=lineage, phenotype="senescent"))
    return rows


def _divisions(lineage: str) -> list[StateInfo]:
    # The burst's bookkeeping: deterministic even when the stochastic layer takes the effectors, because it
    # is read only as a mean per effector (divisions / effectors), which a birth-death jump hardly moves.
    return [StateInfo(f"{lineage}_effector_{k}_divisions", "car_t_divisions", "cell-divisions",
                      f"{lineage.upper()} CAR-T effectors in exposure {k + 1}: divisions since activation, summed "
                      f"over the cells (divided by the effectors: the mean burst spent)",
                      lineage=lineage, phenotype="effector", exposure=k, typical=1e6, atol=1e-5)
            for k in range(EXPOSURE_LEVELS)]


_WHERE = {"blood": "peripheral blood", "marrow": "bone marrow", "node": "lymph nodes and spleen"}


def _cll(clone: str) -> list[StateInfo]:
    antigen = "positive" if clone == "pos" else "negative"
    return [StateInfo(f"cll_{clone}_{site}", "cll", "cells", f"CLL, target-antigen-{antigen} clone, {_WHERE[site]}",
                      baseline=PATIENT, stochastic=True, clone=clone, site=site)
            for site in SITES]


def _neutrophil_precursors(p: Mapping[str, float]) -> float:
    # Steady state of the precursor pool: maturation out balances what the circulating pool clears.
    return p["neutrophil_clearance"] * p["neutrophil_baseline"] / p["neutrophil_maturation"]


def _serum(name: str, kind: str, units: str, description: str, typical: float, atol: float,
           baseline: Baseline = 0.0) -> StateInfo:
    return StateInfo(name, kind, units, description, baseline=baseline, typical=typical, atol=atol)


def _cytokine(name: str, description: str, units: str = "pg/mL") -> StateInfo:
    return _serum(name, "cytokine", units, description, 10.0, 1e-8, baseline=f"{name}_baseline")


def _fraction(name: str, description: str) -> StateInfo:
    return _serum(name, "inflammation", "fraction", description, 1.0, 1e-10)


STATE_TABLE: tuple[StateInfo, ...] = tuple(
    _car_t("cd4") + _car_t("cd8") + _cll("pos") + _cll("neg") + [
        StateInfo("normal_b_cells", "normal_cell", "cells", "normal (CD19+, ROR1-) B cells, whole body",
                  baseline=PATIENT, stochastic=True),
        # ---- deterministic-only states below ----
        *_divisions("cd4"), *_divisions("cd8"),
        StateInfo("host_t_cells", "host_cell", "cells", "host (non-CAR) T cells, whole body",
                  baseline="host_t_capacity", typical=1e9, atol=1e-2),
        StateInfo("neutrophil_precursors", "host_cell", "cells", "proliferating marrow neutrophil precursors",
                  baseline=_neutrophil_precursors, typical=1e9, atol=1e-2),
        StateInfo("neutrophils", "host_cell", "cells", "circulating neutrophils (5 L of blood)",
                  baseline="neutrophil_baseline", typical=1e9, atol=1e-2),
        _cytokine("il15", "serum IL-15 (homeostatic T-cell support)"),
        _cytokine("ifng", "serum IFN-gamma"),
        _fraction("macrophage_activation", "fraction of activated macrophages/monocytes"),
        _fraction("macrophage_tolerance",
                  "fraction of macrophages/monocytes refractory after activation (endotoxin-like tolerance)"),
        _cytokine("il6", "free serum IL-6"),
        _cytokine("il1", "serum IL-1"),
        _cytokine("crp", "C-reactive protein", units="mg/L"),
        _fraction("endothelial_activation", "endothelial activation (Ang-2/Ang-1-like; capillary leak, ICANS)"),
        _fraction("neuroinflammation", "CNS inflammation behind a disrupted blood-brain barrier (ICANS severity)"),
        _serum("tocilizumab_central", "drug", "mg/L", "tocilizumab, central compartment", 1.0, 1e-10),
        _serum("tocilizumab_peripheral", "drug", "mg/L", "tocilizumab, peripheral compartment", 1.0, 1e-10),
        _serum("corticosteroid", "drug", "mg/L", "corticosteroid, dexamethasone-equivalent", 0.1, 1e-12),
        _serum("anakinra", "drug", "mg/L", "anakinra", 1.0, 1e-10),
        _serum("ibrutinib", "drug", "mg/L", "ibrutinib, plasma", 0.01, 1e-12),
        _serum("btk_occupancy", "drug", "fraction", "BTK occupancy by ibrutinib (covalent)", 1.0, 1e-10),
        _serum("switch_drug", "drug", "mg/L", "suicide-switch dimerizer (rimiducid-type)", 0.01, 1e-12),
        _serum("lymphodepletion", "chemotherapy", "standard daily doses",
               "fludarabine/cyclophosphamide exposure, in standard daily doses", 1.0, 1e-10),
    ])

State = IntEnum("State", [(s.name, i) for i, s in enumerate(STATE_TABLE)])
State.__doc__ = "Index of each state in the state vector ``y[patient, state]``."

STATE_NAMES: tuple[str, ...] = tuple(s.name for s in STATE_TABLE)
N_STATES = len(STATE_TABLE)


def states_where(**attributes) -> tuple[int, ...]:
    """Indices of the states whose fields equal ``attributes`` (e.g. ``kind="car_t", lineage="cd4"``), in
    table order."""
    return tuple(i for i, s in enumerate(STATE_TABLE) if all(getattr(s, k) == v for k, v in attributes.items()))


#: The first N_CELL_STATES states are the cell populations eligible for the stochastic layer.
N_CELL_STATES = len(states_where(stochastic=True))
assert states_where(stochastic=True) == tuple(range(N_CELL_STATES)), "stochastic states must come first"
CAR_T_STATES = states_where(kind="car_t")
#: Each lineage's effector division counts, CD4 then CD8, by exposure: the kernel reads lineage * K + k.
DIVISION_STATES = states_where(kind="car_t_divisions")
assert DIVISION_STATES == tuple(range(State.cd4_effector_0_divisions,
                                      State.cd4_effector_0_divisions + len(LINEAGES) * EXPOSURE_LEVELS))
CLL_STATES = states_where(kind="cll")
#: One lineage's exposure chain, in the kernel's layout: resting 0..K-1, effector 0..K-1, senescent.
LINEAGE_STATES = {lineage: states_where(kind="car_t", lineage=lineage) for lineage in LINEAGES}
LINEAGE_SIZE = 2 * EXPOSURE_LEVELS + 1
#: The kernel walks the chains and the clones by offset: these layouts are what it assumes.
assert all(LINEAGE_STATES[l] == tuple(range(State[f"{l}_resting_0"], State[f"{l}_resting_0"] + LINEAGE_SIZE))
           for l in LINEAGES)
assert CLL_STATES == tuple(State[f"cll_{c}_{s}"] for c in CLONES for s in SITES) == tuple(
    range(State.cll_pos_blood, State.cll_pos_blood + len(CLONES) * len(SITES)))


def _value(baseline: Baseline, parameters: Mapping[str, float]) -> float:
    if callable(baseline):
        return baseline(parameters)
    return parameters[baseline] if isinstance(baseline, str) else float(baseline)


def baseline_state(parameters: Mapping[str, float], kinds: tuple[str, ...] | None = None) -> np.ndarray:
    """The untreated steady state implied by ``parameters`` (a mapping by name, of values or of arrays over
    patients, which make ``y[patient, state]``): every state of the given ``kinds`` (all when None) at its
    table baseline; states set by the patient (:data:`PATIENT`) and states of other kinds are 0."""
    y = np.zeros(np.shape(next(iter(parameters.values()))) + (N_STATES,))
    for i, s in enumerate(STATE_TABLE):
        if s.baseline != PATIENT and (kinds is None or s.kind in kinds):
            y[..., i] = _value(s.baseline, parameters)
    return y
