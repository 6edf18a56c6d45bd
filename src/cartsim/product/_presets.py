"""Product presets: the approved CD19 products (NCI, "CAR T cells: engineering patients' immune cells to treat
their cancers", cancer.gov), investigational ROR1 and dual products,
and an allogeneic off-the-shelf product.

A preset is a set of :class:`cartsim.io.Product` fields; a scenario that names
a preset may override any of them. Approved products keep their published
construct, co-stimulation and dose. Where a product has no defined CD4:CD8
composition the preset leaves ``cd4_fraction`` unset, so the product mirrors
the patient's T cells. Vein-to-vein times are medians from leukapheresis to
product delivery; "[R]" marks a number recalled from the named publication
(verify before calibrating), "[A]" an assumption.
"""

from __future__ import annotations

#: Axi-cel's construct and label dose, which brexu-cel shares (the same CAR, made with T-cell enrichment).
_AXI_CEL_CONSTRUCT_AND_DOSE = {"target": "CD19", "costimulation": "CD28", "dose_cells_per_kg": 2.0e6,
                               "dose_cells": 2.0e8}
#: What the generic investigational products share, all assumptions [A].
_INVESTIGATIONAL = {"costimulation": "4-1BB", "cd4_fraction": 0.5, "dose_cells": 1.0e8, "vein_to_vein_days": 21.0}
_INVESTIGATIONAL_NOTE = "[A] 4-1BB, defined 1:1 composition, 1e8 CAR+ cells, 21 days"

PRODUCT_PRESETS: dict[str, dict] = {
    "liso-cel": {
        "description": "lisocabtagene maraleucel (Breyanzi): CD19, 4-1BB, defined 1:1 CD4:CD8 composition; "
                       "approved in CLL. Dose: TRANSCEND CLL 004 dose level 2, 100e6 CAR+ T cells "
                       "(Siddiqi 2023 Lancet). Vein-to-vein [R] 24 days (TRANSCEND NHL 001, Abramson 2020 Lancet)",
        "target": "CD19", "costimulation": "4-1BB", "cd4_fraction": 0.5,
        "dose_cells": 1.0e8, "vein_to_vein_days": 24.0,
    },
    "tisa-cel": {
        "description": "tisagenlecleucel (Kymriah, CTL019): CD19, 4-1BB. Dose: 5e8 CAR+ cells, the dose "
                       "Frey 2020 JCO chose for CLL (target frey2020_dose_levels), released down to 0.6e8 "
                       "(adult DLBCL label range 0.6-6.0e8). "
                       "Vein-to-vein [A] 28 days",
        "target": "CD19", "costimulation": "4-1BB",
        "dose_cells": 5.0e8, "minimum_dose_cells": 0.6e8, "vein_to_vein_days": 28.0,
    },
    "axi-cel": {
        **_AXI_CEL_CONSTRUCT_AND_DOSE, "vein_to_vein_days": 17.0,
        "description": "axicabtagene ciloleucel (Yescarta): CD19, CD28. Dose: 2e6 CAR+ cells/kg, at most 2e8 "
                       "(label). Vein-to-vein [R] 17 days (ZUMA-1, Neelapu 2017 NEJM)",
    },
    "brexu-cel": {
        **_AXI_CEL_CONSTRUCT_AND_DOSE, "vein_to_vein_days": 16.0,
        "description": "brexucabtagene autoleucel (Tecartus): CD19, CD28, axi-cel's construct made with T-cell "
                       "enrichment. Dose: 2e6 CAR+ cells/kg, at most 2e8 (label, mantle-cell lymphoma). "
                       "Vein-to-vein [R] 16 days (ZUMA-2, Wang 2020 NEJM)",
    },
    "ror1-investigational": {
        **_INVESTIGATIONAL, "target": "ROR1",
        "description": "generic investigational ROR1 CAR (Porter interview, CLL Society, CAR-T Part 2): ROR1 is on "
                       "CLL but not on normal B cells, "
                       "so no B-cell aplasia. " + _INVESTIGATIONAL_NOTE,
    },
    "cd19-ror1-dual": {
        **_INVESTIGATIONAL, "target": "CD19/ROR1",
        "description": "generic investigational OR-gate dual CAR: kills CLL that lost either antigen. "
                       + _INVESTIGATIONAL_NOTE,
    },
    "allo-cd19": {
        "description": "generic allogeneic off-the-shelf CD19 CAR from a healthy donor, TCR knocked out "
                       "(UCART19-like, Benjamin 2020 Lancet: 4-1BB; doses 6e6-2.4e8; 2 of 21 patients had "
                       "grade 1 skin GvHD [R]). No apheresis and no wait; host T cells reject it unless "
                       "lymphodepletion is deep",
        "source": "allogeneic", "target": "CD19", "costimulation": "4-1BB", "cd4_fraction": 0.5,
        "dose_cells": 1.0e8, "gvhd_risk": 0.1,
    },
}
