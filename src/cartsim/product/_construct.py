"""Construct properties (co-stimulatory domain, target, suicide switch, cell source) as model parameters.

The model never branches on a construct: each property is a set of parameter values, declared in the
parameter table (:attr:`cartsim.model.Parameter.constructs`, beside the reference product's default), and
the kernel uses the parameters. Why the values differ:

* **Co-stimulatory domains.** 4-1BB is the reference of the parameter table. CD28 products expand faster and
  peak earlier, persist less, and are less prone to senescence, which does not impair their killing
  (Kenderian group, 2025 paper "Differential susceptibility and role for senescence in CART cells based on
  costimulatory domains"; kay2022_costim_dependence target).
* **Targets.** CD19 is on normal B cells, ROR1 is not (Porter interview, CLL Society, "CAR-T Part 2").
  The model's antigen-negative clone is the clone that lost the product's target (a single antigen): a
  single-target CAR sees it only as antigen-low, an OR-gate CD19/ROR1 CAR still sees it through the other
  antigen (NCI, "CAR T cells: engineering patients' immune cells to treat their cancers": escape by antigen
  loss; dual targeting as the answer to it), at 0.8 [A] because ROR1 is expressed at a few thousand sites
  per CLL cell, fewer than CD19, and killing falls with antigen density (Majzner 2020 Cancer Discov).
* **Source.** Allogeneic (off-the-shelf, TCR-knockout) cells are rejected by the host's recovering T cells:
  [A] 1/day at a fully recovered host pool (a half-life of 17 hours), so after standard flu/cy the cells are
  gone within two months, and only deeper lymphodepletion lets them expand and persist for weeks, as for
  UCART19, which expanded only in patients given alemtuzumab on top of flu/cy (Benjamin 2020 Lancet).
* **Suicide switch.** 95% of cells carry a functional iCasp9 switch; low-transgene cells escape (Di Stasi
  2011 NEJM).
"""

from __future__ import annotations

from ..model import PARAMETER_TABLE

#: The choices of each construct property; the first is the parameter table's reference.
COSTIMULATION: tuple[str, ...] = ("4-1BB", "CD28")
TARGETS: tuple[str, ...] = ("CD19", "ROR1", "CD19/ROR1")
SOURCES: tuple[str, ...] = ("autologous", "allogeneic")
SUICIDE_SWITCH = "suicide_switch"

#: Parameters a construct sets, with the value of each choice that differs from the table default.
CONSTRUCT_PARAMETERS = {p.name: p for p in PARAMETER_TABLE if p.constructs}


def construct_parameters(costimulation: str, target: str, suicide_switch: bool,
                         source: str = "autologous") -> dict[str, float]:
    """Model parameter values that encode a construct and its cell source."""
    choices = {costimulation, target, source} | ({SUICIDE_SWITCH} if suicide_switch else set())
    values = {}
    for name, p in CONSTRUCT_PARAMETERS.items():
        chosen = [p.constructs[c] for c in choices if c in p.constructs]
        values[name] = chosen[0] if chosen else p.default
    return values
