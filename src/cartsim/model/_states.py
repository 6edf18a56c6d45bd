"""The state vector of one patient: names, units, and the scales the solver needs.

Cell populations come first: those are the compartments that the hybrid
stochastic layer may advance as birth-death processes when they become small
(see :mod:`cartsim.solver`). Everything is a whole-body absolute count, a serum
concentration (pg/mL for cytokines, mg/L for drugs and CRP) or a fraction.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

#: Exposure levels of the CAR-T antigen-exposure chain: resting cells with
#: k = 0, 1, 2 completed exposures and effectors in their (k+1)-th exposure.
EXPOSURE_LEVELS = 3


@dataclass(frozen=True)
class StateInfo:
    name: str
    units: str
    typical: float  # magnitude used for finite-difference steps
    atol: float  # absolute tolerance of the integrator, in the state's units
    description: str


def _car_t(lineage: str) -> list[StateInfo]:
    rows = []
    for k in range(EXPOSURE_LEVELS):
        rows.append(StateInfo(f"{lineage}_resting_{k}", "cells", 1e6, 1e-5,
                              f"{lineage.upper()} CAR-T, resting/memory-like, {k} completed antigen exposures"))
    for k in range(EXPOSURE_LEVELS):
        rows.append(StateInfo(f"{lineage}_effector_{k}", "cells", 1e6, 1e-5,
                              f"{lineage.upper()} CAR-T, activated effector in exposure {k + 1}"))
    rows.append(StateInfo(f"{lineage}_senescent", "cells", 1e6, 1e-5,
                          f"{lineage.upper()} CAR-T, senescent (little division, pro-inflammatory)"))
    return rows


def _cll(clone: str) -> list[StateInfo]:
    return [StateInfo(f"cll_{clone}_{site}", "cells", 1e6, 1e-5,
                      f"CLL, target-antigen-{'positive' if clone == 'pos' else 'negative'} clone, {where}")
            for site, where in (("blood", "peripheral blood"), ("marrow", "bone marrow"),
                                ("node", "lymph nodes and spleen"))]


STATE_TABLE: tuple[StateInfo, ...] = tuple(
    _car_t("cd4") + _car_t("cd8") + _cll("pos") + _cll("neg") + [
        StateInfo("normal_b_cells", "cells", 1e6, 1e-5, "normal (CD19+, ROR1-) B cells, whole body"),
        # ---- deterministic-only states below ----
        StateInfo("host_t_cells", "cells", 1e9, 1e-2, "host (non-CAR) T cells, whole body"),
        StateInfo("neutrophil_precursors", "cells", 1e9, 1e-2, "proliferating marrow neutrophil precursors"),
        StateInfo("neutrophils", "cells", 1e9, 1e-2, "circulating neutrophils (5 L of blood)"),
        StateInfo("il15", "pg/mL", 10.0, 1e-8, "serum IL-15 (homeostatic T-cell support)"),
        StateInfo("ifng", "pg/mL", 10.0, 1e-8, "serum IFN-gamma"),
        StateInfo("macrophage_activation", "fraction", 1.0, 1e-10, "fraction of activated macrophages/monocytes"),
        StateInfo("macrophage_tolerance", "fraction", 1.0, 1e-10,
                  "fraction of macrophages/monocytes refractory after activation (endotoxin-like tolerance)"),
        StateInfo("il6", "pg/mL", 10.0, 1e-8, "free serum IL-6"),
        StateInfo("il1", "pg/mL", 10.0, 1e-8, "serum IL-1"),
        StateInfo("crp", "mg/L", 10.0, 1e-8, "C-reactive protein"),
        StateInfo("endothelial_activation", "fraction", 1.0, 1e-10,
                  "endothelial activation (Ang-2/Ang-1-like; capillary leak, ICANS)"),
        StateInfo("neuroinflammation", "fraction", 1.0, 1e-10,
                  "CNS inflammation behind a disrupted blood-brain barrier (ICANS severity)"),
        StateInfo("tocilizumab_central", "mg/L", 1.0, 1e-10, "tocilizumab, central compartment"),
        StateInfo("tocilizumab_peripheral", "mg/L", 1.0, 1e-10, "tocilizumab, peripheral compartment"),
        StateInfo("corticosteroid", "mg/L", 0.1, 1e-12, "corticosteroid, dexamethasone-equivalent"),
        StateInfo("anakinra", "mg/L", 1.0, 1e-10, "anakinra"),
        StateInfo("ibrutinib", "mg/L", 0.01, 1e-12, "ibrutinib, plasma"),
        StateInfo("btk_occupancy", "fraction", 1.0, 1e-10, "BTK occupancy by ibrutinib (covalent)"),
        StateInfo("switch_drug", "mg/L", 0.01, 1e-12, "suicide-switch dimerizer (rimiducid-type)"),
        StateInfo("lymphodepletion", "standard daily doses", 1.0, 1e-10,
                  "fludarabine/cyclophosphamide exposure, in standard daily doses"),
    ])

State = IntEnum("State", [(s.name, i) for i, s in enumerate(STATE_TABLE)])
State.__doc__ = "Index of each state in the state vector ``y[patient, state]``."

STATE_NAMES: tuple[str, ...] = tuple(s.name for s in STATE_TABLE)
N_STATES = len(STATE_TABLE)
#: The first N_CELL_STATES states are cell populations eligible for the stochastic layer.
N_CELL_STATES = int(State.host_t_cells)
CAR_T_STATES = tuple(range(State.cd4_resting_0, State.cd8_senescent + 1))
CLL_STATES = tuple(range(State.cll_pos_blood, State.cll_neg_node + 1))
