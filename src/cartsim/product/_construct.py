"""Construct properties (co-stimulatory domain, target, suicide switch, cell source) as model parameters.

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

#: Recognition of a CLL cell that lost one antigen by an OR-gate CD19/ROR1 CAR: it still carries
#: the other. [A] below 1 because ROR1 is expressed at a few thousand sites per CLL cell, fewer
#: than CD19, and killing falls with antigen density (Majzner 2020 Cancer Discov).
DUAL_SINGLE_LOSS_RECOGNITION = 0.8

#: Targets. CD19 is on normal B cells, ROR1 is not (seed 001). The model's antigen-negative clone is
#: the clone that lost the product's target (a single antigen): a single-target CAR sees it only as
#: antigen-low, an OR-gate dual CAR still sees it through the other antigen (seed 003: escape by
#: antigen loss; dual targeting as the answer to it).
TARGETS: dict[str, dict[str, float]] = {
    "CD19": {"target_on_normal_b": 1.0, "antigen_low_recognition": 0.05, "antigen_low_stimulation": 0.0},
    "ROR1": {"target_on_normal_b": 0.0, "antigen_low_recognition": 0.05, "antigen_low_stimulation": 0.0},
    "CD19/ROR1": {"target_on_normal_b": 1.0, "antigen_low_recognition": DUAL_SINGLE_LOSS_RECOGNITION,
                  "antigen_low_stimulation": DUAL_SINGLE_LOSS_RECOGNITION},
}

#: Where the cells come from. Allogeneic (off-the-shelf, TCR-knockout) cells are rejected by the
#: host's recovering T cells. [A] 1/day at a fully recovered host pool (a half-life of 17 hours):
#: after standard flu/cy the cells are gone within two months, and only deeper lymphodepletion
#: lets them expand and persist for weeks, as for UCART19, which expanded only in patients given
#: alemtuzumab on top of flu/cy (Benjamin 2020 Lancet).
SOURCES: dict[str, dict[str, float]] = {
    "autologous": {"allogeneic_rejection": 0.0},
    "allogeneic": {"allogeneic_rejection": 1.0},
}

#: Fraction of cells carrying a functional iCasp9 switch; low-transgene cells escape (Di Stasi 2011).
SWITCH_FRACTION = 0.95


def construct_parameters(costimulation: str, target: str, suicide_switch: bool,
                         source: str = "autologous") -> dict[str, float]:
    """Model parameter values that encode a construct and its cell source."""
    return {**COSTIMULATION[costimulation], **TARGETS[target], **SOURCES[source],
            "switch_fraction": SWITCH_FRACTION if suicide_switch else 0.0}
