"""The drugs a schedule or a protocol rule can give, declared once: the state a dose fills, route, dose unit,
the volume a dose spreads in and the parameters of its pharmacokinetics.

The scenario schema's drug list, the protocol's drug names and the dose-to-state mapping of the patient
builder are derived from :data:`DRUG_TABLE`. A dose of ``amount`` (in ``unit``) raises ``state`` by
``amount / volume`` (mg/L); the kernel's drug block moves it on with the ``pk`` parameters. Lymphodepleting
chemotherapy is not here: it is a regimen (``lymphodepletion``), dosed in standard daily doses.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Drug:
    name: str
    state: str  # the state a dose fills
    route: str
    unit: str  # of a dose
    volume: str  # parameter: distribution volume (L) of a dose
    pk: tuple[str, ...]  # parameters of its pharmacokinetics after the dose
    effect: str  # what it does in the model


DRUG_TABLE: tuple[Drug, ...] = (
    Drug("tocilizumab", "tocilizumab_central", "IV", "mg IV", "tocilizumab_central_volume",
         ("tocilizumab_clearance", "tocilizumab_intercompartmental", "tocilizumab_peripheral_volume",
          "tocilizumab_vmax", "tocilizumab_km"),
         "blocks the IL-6 receptor (free IL-6 rises, its signal falls)"),
    Drug("corticosteroid", "corticosteroid", "IV or oral", "mg dexamethasone-equivalent", "corticosteroid_volume",
         ("corticosteroid_elimination",), "suppresses cytokine production, CAR-T proliferation and killing"),
    Drug("anakinra", "anakinra", "SC or IV", "mg", "anakinra_volume", ("anakinra_elimination",),
         "blocks the IL-1 receptor"),
    Drug("ibrutinib", "ibrutinib", "oral", "mg oral", "ibrutinib_volume",
         ("ibrutinib_elimination", "btk_inactivation", "btk_inactivation_half", "btk_resynthesis"),
         "covalent BTK occupancy: CLL homing and growth blocked, T cells helped, cytokines lowered"),
    Drug("switch_drug", "switch_drug", "IV", "mg (rimiducid-type dimerizer)", "switch_drug_volume",
         ("switch_drug_elimination",), "triggers the suicide switch of switch-carrying CAR-T"),
)
DRUGS: dict[str, Drug] = {d.name: d for d in DRUG_TABLE}
DRUG_NAMES: tuple[str, ...] = tuple(DRUGS)
