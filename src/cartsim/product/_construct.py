"""Construct properties (co-stimulatory domain, target, suicide switch) as model parameters.

The model never branches on a construct: each property is a set of parameter
values, and the kernel uses the parameters.
"""

from __future__ import annotations

#: Co-stimulatory domains. 4-1BB is the reference of the parameter table. CD28
#: products expand faster and peak earlier, persist less, and are less prone to
#: senescence, which does not impair their killing (Kenderian group, 2025 paper
#: "Differential susceptibility and role for senescence in CART cells based on
#: costimulatory domains"; kay2022_costim_dependence target).
COSTIMULATION: dict[str, dict[str, float]] = {
    "4-1BB": {
        "costim_proliferation_factor": 1.0,
        "costim_effector_death_factor": 1.0,
        "costim_memory_death_excess": 0.0,
        "senescence_rate": 0.06,
        "rest_senescence_fraction": 0.3,
        "exposure_fitness_loss": 0.3,
        "senescent_cytotoxicity": 0.1,
    },
    "CD28": {
        "costim_proliferation_factor": 1.5,
        "costim_effector_death_factor": 2.0,
        "costim_memory_death_excess": 0.01,
        "senescence_rate": 0.03,
        "rest_senescence_fraction": 0.15,
        "exposure_fitness_loss": 0.15,
        "senescent_cytotoxicity": 1.0,
    },
}

#: Targets: CD19 is on normal B cells, ROR1 is not (seed 001).
TARGETS: dict[str, dict[str, float]] = {
    "CD19": {"target_on_normal_b": 1.0},
    "ROR1": {"target_on_normal_b": 0.0},
}

#: Fraction of cells carrying a functional iCasp9 switch; low-transgene cells escape (Di Stasi 2011).
SWITCH_FRACTION = 0.95


def construct_parameters(costimulation: str, target: str, suicide_switch: bool) -> dict[str, float]:
    """Model parameter values that encode a construct."""
    return {**COSTIMULATION[costimulation], **TARGETS[target],
            "switch_fraction": SWITCH_FRACTION if suicide_switch else 0.0}
