"""Hosts other than a patient: a culture well and an NSG mouse, as parameter overrides and initial states.

The lab module never writes equations of its own: a host is a set of values for
the in-vivo model's parameter table (:mod:`cartsim.model`) plus an initial
state, integrated by :func:`cartsim.solver.integrate`. What makes a well or a
mouse different from a patient is:

* **size**. The model counts absolute cells, and the constants that describe
  how crowded cells are (half-saturations of engagement and killing,
  ceilings) are whole-body numbers for a 70 kg adult. Cells meet by density,
  so those constants shrink with the host's volume (:func:`scaled_to_host`);
* **which processes exist**: no host T or B cells, no normal B cells, no
  lymphodepletion, no macrophage-driven cytokine storm.
"""

from __future__ import annotations

import numpy as np

from ..model import (CAR_T_STATES, DIVISION_STATES, EXPOSURE_LEVELS, N_STATES, PARAMETER_NAMES, State, baseline_state,
                     default_parameters, states_where)
from ..product import construct_parameters

#: kg; the reference adult the parameter table's whole-body constants describe ([M] the table's own
#: "0.8 L/kg x 70 kg" steroid volume).
HUMAN_MASS_KG = 70.0

#: Whole-body constants that describe crowding (cells per volume): they scale with host volume.
#: host_t_capacity normalises IL-15 consumption by lymphocytes and scales like the others.
DENSITY_PARAMETERS = ("antigen_half_saturation", "kill_half_saturation", "lymphoid_capacity", "cll_capacity",
                      "host_t_capacity")

#: The CAR target of every lab assay: CD19, as in the Kenderian group's CART19 experiments (Kay NE, ASH 2022).
LAB_TARGET = "CD19"

#: Drives of macrophage activation (cytokine release syndrome): set to 0 in both lab hosts. A culture
#: has no macrophages; NSG mice keep murine macrophages, but human CAR-T cause at most mild CRS in them
#: unless the mice carry human myeloid cytokines (Norelli 2018 Nat Med needed SGM3 humanised mice),
#: and nothing a mouse readout needs depends on it (inflammatory_killing_gain is 0 by default).
MACROPHAGE_DRIVES = ("macrophage_activation_by_killing", "macrophage_activation_by_contact",
                     "macrophage_activation_by_ifng")

#: Share of CD4 cells in a lab product. [A] CAR-T products are commonly made at a defined 1:1 CD4:CD8
#: ratio (liso-cel; the cartsim scenario default cd4_fraction 0.5).
LAB_CD4_FRACTION = 0.5


def scaled_to_host(values: dict[str, float], host_mass_kg: float) -> dict[str, float]:
    """``values`` with the crowding constants (:data:`DENSITY_PARAMETERS`) scaled by host/human mass.

    Body mass stands for the volume the cells mix in (1 mL of medium ~ 1 g). The scaled values lie
    below the table's plausible ranges, which describe patients, so they are not range-checked.
    """
    ratio = host_mass_kg / HUMAN_MASS_KG
    return {**values, **{name: values[name] * ratio for name in DENSITY_PARAMETERS}}


def host_parameters(costimulation: str, host_mass_kg: float, overrides: dict[str, float]) -> np.ndarray:
    """The parameter vector of a lab host: table defaults, the construct, the host's size, then overrides.

    Common to both lab hosts: no lymphodepletion is given (no dose), no host T cells to reject or
    compete, no normal B cells produced, no macrophage activation, and IL-15 held at its baseline
    (``il15_consumption`` 0): a culture's medium is refreshed, and an NSG mouse has no lymphopenic
    IL-15 surge worth modelling ([A]; murine IL-15 supports human T cells only weakly).
    """
    values = dict(zip(PARAMETER_NAMES, default_parameters()))
    values.update(construct_parameters(costimulation, LAB_TARGET, suicide_switch=False))
    values = scaled_to_host(values, host_mass_kg)
    values.update({name: 0.0 for name in MACROPHAGE_DRIVES})
    values.update(b_cell_production=0.0, il15_consumption=0.0)
    values.update(overrides)
    return np.array([values[name] for name in PARAMETER_NAMES])


def empty_host_state(params: np.ndarray) -> np.ndarray:
    """A host with no cells at all: cytokines at their baselines, no drugs, no host lymphocytes.

    Neutrophils are 0 as well: they are a patient readout and feed nothing the lab measures.
    """
    return baseline_state(dict(zip(PARAMETER_NAMES, params)), kinds=("cytokine",))


#: State indices of every CAR-T population, both lineages (the harvestable part of a culture).
CAR_T = list(CAR_T_STATES)
DIVISIONS = list(DIVISION_STATES)
SENESCENT = list(states_where(kind="car_t", phenotype="senescent"))


def fresh_product(cells: float) -> np.ndarray:
    """The CAR-T part of a state for a rested product with no prior exposure and no senescent cells:
    ``cells`` resting cells with 0 completed exposures, split CD4:CD8 by :data:`LAB_CD4_FRACTION`."""
    y = np.zeros(N_STATES)
    y[State.cd4_resting_0] = LAB_CD4_FRACTION * cells
    y[State.cd8_resting_0] = (1.0 - LAB_CD4_FRACTION) * cells
    return y


def completed_exposures(y: np.ndarray) -> np.ndarray:
    """Mean completed antigen exposures of the non-senescent CAR-T in ``y[..., n_states]``.

    A resting cell at level k has completed k exposures, an effector at level k is in its (k+1)-th, so
    has completed k. Senescent cells left the chain (their level is not tracked) and are not counted.
    """
    weighted = np.zeros(y.shape[:-1])
    total = np.zeros(y.shape[:-1])
    for lineage in ("cd4", "cd8"):
        for kind in ("resting", "effector"):
            for k in range(EXPOSURE_LEVELS):
                cells = y[..., State[f"{lineage}_{kind}_{k}"]]
                weighted = weighted + k * cells
                total = total + cells
    return np.divide(weighted, total, out=np.zeros_like(total), where=total > 0)
