"""The diseases a patient may have: one in-vivo model, three B-cell malignancies.

A disease is not another copy of the equations. The kernel's tumour is a CD19+ B-cell clone in blood, marrow and
lymph nodes/extranodal tissue with an antigen-negative/low subclone; what makes it CLL, B-ALL or large B-cell
lymphoma is where the tumour sits (the population's site split), how fast it grows, how much target antigen each
cell carries, how well CAR-T reach and kill it in its tissues (node protection, microenvironment) and how the
clinic reads the response (:data:`DISEASES`, criteria in :mod:`cartsim.clinical`). The per-patient values live in
the scenario's ``patient.tumor`` block and become the patient's model parameters in the batch builder
(:mod:`cartsim._batch`), each relative to CLL so that a CLL patient's parameters are the table's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Disease:
    """A disease: its name, what it is, the response criteria the clinic applies to it and their source."""

    name: str
    description: str
    criteria: str
    criteria_source: str


DISEASES: tuple[Disease, ...] = (
    Disease("CLL", "chronic lymphocytic leukaemia: blood, marrow and bulky nodes, slow growth",
            "iwCLL 2018", "Hallek 2018 Blood 131:2745 (iwCLL guidelines, response table)"),
    Disease("B-ALL", "B-cell acute lymphoblastic leukaemia of children and young adults: marrow- and blood-dominant, "
                     "fast growth, high CD19 density",
            "CR/CRi with marrow MRD < 0.01% at day 28 and month 3",
            "Maude 2018 NEJM 378:439 (ELIANA: CR/CRi within 3 months, MRD by flow cytometry below 0.01%; NCCN "
            "response criteria for ALL)"),
    Disease("LBCL", "large B-cell lymphoma: bulky nodal and extranodal masses, little blood or marrow disease",
            "Lugano 2014", "Cheson 2014 J Clin Oncol 32:3059 (Lugano classification: PET-CT complete metabolic "
            "response, CT partial response by >= 50% fall of the SPD of up to six target lesions)"),
)
#: Disease names in code order: a patient table holds the code (the index here).
DISEASE_NAMES: tuple[str, ...] = tuple(d.name for d in DISEASES)
DISEASE_BY_NAME = {d.name: d for d in DISEASES}


def disease_codes(names) -> np.ndarray:
    """The code (index in :data:`DISEASE_NAMES`) of each disease name; a code passes through unchanged."""
    values = np.asarray(names)
    if values.dtype.kind in "iuf":
        codes = values.astype(np.int64)
        if ((codes < 0) | (codes >= len(DISEASES)) | (codes != values)).any():
            raise ValueError(f"disease codes must be integers 0..{len(DISEASES) - 1} ({', '.join(DISEASE_NAMES)})")
        return codes
    unknown = sorted(set(values.tolist()) - set(DISEASE_NAMES))
    if unknown:
        raise ValueError(f"unknown disease {unknown[0]!r}; diseases: {', '.join(DISEASE_NAMES)}")
    return np.array([DISEASE_NAMES.index(v) for v in values.tolist()], dtype=np.int64)
