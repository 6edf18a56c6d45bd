"""Response criteria of the other B-cell malignancies, beside iwCLL 2018 (:mod:`._response`): B-ALL and large
B-cell lymphoma (Lugano 2014). Same inputs (:class:`~._response.Observations` of the visit, baseline and nadir),
same codes (:data:`~._response.RESPONSES`), vectorised over patients; :data:`CRITERIA` holds one function per
disease, in the order of ``cartsim.patient.DISEASE_NAMES``.

B-ALL (NCCN response criteria as used by ELIANA, Maude 2018 NEJM 378:439):

* CR: fewer than 5% blasts in the marrow (:data:`MARROW_BLASTS_REMISSION`), no circulating blasts (fewer than
  :data:`CIRCULATING_BLASTS_PER_UL`), no extramedullary disease (largest node < 1.5 cm and spleen < 13 cm),
  neutrophils >= 1000/uL and platelets >= 100,000/uL.
* CRi: CR except that the counts have not recovered.
* PD (relapse or progression): marrow blasts >= 5% and at least 25% above the nadir, or circulating blasts
  >= 1000/uL and at least 25% above the nadir.
* otherwise no response (coded SD); ALL has no partial response in these criteria.
* MRD-negative remission (the ELIANA endpoint): CR/CRi with marrow MRD below 1e-4 by flow cytometry
  (:func:`mrd_negative_remission`), at day 28 and month 3.

Large B-cell lymphoma, Lugano 2014 (Cheson 2014 J Clin Oncol 32:3059). The model has no FDG uptake; its PET
surrogate: a lesion is metabolically active (Deauville 4-5) while it holds more than :data:`PET_DETECTABLE_CM3` of
tumour (a lesion of about 1 cm, near the resolution of clinical PET; [A]), and the marrow is involved at
:data:`~._response.MARROW_CLEAR` or more:

* CR (complete metabolic response): no index lesion and no marrow above the PET surrogate, whatever residual
  mass the CT still shows.
* PR: the SPD of the index lesions down by >= 50% from baseline (CT-based partial response).
* PD: the SPD up by >= 50% from the nadir with a lesion > 1.5 cm (LDi), or new marrow involvement (>= 5% and
  >= 50% above the nadir).
* otherwise SD.
"""

from __future__ import annotations

import numpy as np

from ._response import (CR, CRI, MARROW_CLEAR, MARROW_INVOLVED, NODE_NORMAL_CM, NOT_ASSESSED, PD, PR, SD,
                        SPLEEN_NORMAL_CM, Observations, observation_arrays, iwcll_response, undetectable_mrd)

#: ALL remission: fewer than 5% blasts among the nucleated marrow cells (M1 marrow).
MARROW_BLASTS_REMISSION = 0.05
#: No circulating blasts: [A] a morphological differential of 100-200 leukocytes finds a blast at about
#: 10 blasts/uL in a cytopenic patient, so fewer than this count as none.
CIRCULATING_BLASTS_PER_UL = 10.0
#: ALL progression in blood: [A] an unmistakable rise of circulating blasts.
CIRCULATING_BLASTS_PD_PER_UL = 1000.0
#: ALL count recovery: neutrophils >= 1000/uL and platelets >= 100,000/uL (NCCN CR); below them, CRi.
ALL_NEUTROPHILS_PER_UL = 1000.0
ALL_PLATELETS_PER_UL = 100_000.0
#: ALL relapse/progression: blasts at least this multiple of the nadir.
_ALL_PD_RISE = 1.25
#: MRD negativity of ELIANA: below 0.01% (1e-4) by flow cytometry.
ALL_MRD_NEGATIVE = 1e-4
#: Lugano PET surrogate: [A] tumour per index lesion above this (cm3) is metabolically active (Deauville 4-5).
PET_DETECTABLE_CM3 = 0.5
#: Index lesions of the Lugano CT assessment (up to six), as the model's node geometry has them.
_INDEX_LESIONS = 6
#: A normal node's diameter (cm) in the model's node geometry (cartsim.model observables).
_NORMAL_NODE_CM = 1.0


def _finite(*groups: dict[str, np.ndarray]) -> np.ndarray:
    return np.logical_and.reduce([np.isfinite(v) for g in groups for v in g.values()])


def _coded(shape, finite, rules) -> np.ndarray:
    """Codes from ``rules`` [(mask, code)], lowest priority first; NOT_ASSESSED where a measure is not finite."""
    out = np.full(shape, SD, dtype=np.int8)
    for mask, code in rules:
        out[np.broadcast_to(mask, shape)] = code
    out[~np.broadcast_to(finite, shape)] = NOT_ASSESSED
    return out


def all_response(current: Observations, baseline: Observations, nadir: Observations) -> np.ndarray:
    """B-ALL response code per patient (CR, CRi, SD for no response, PD; see the module docstring)."""
    c, b, m = observation_arrays(current), observation_arrays(baseline), observation_arrays(nadir)
    blasts = c["b_lymphocytes_per_ul"]
    remission = ((c["marrow_infiltration"] < MARROW_BLASTS_REMISSION) & (blasts < CIRCULATING_BLASTS_PER_UL)
                 & (c["largest_node_cm"] < NODE_NORMAL_CM) & (c["spleen_cm"] < SPLEEN_NORMAL_CM))
    recovered = (c["neutrophils_per_ul"] >= ALL_NEUTROPHILS_PER_UL) & (c["platelets_per_ul"] >= ALL_PLATELETS_PER_UL)
    # Strict rises: a nadir that already includes this visit gives no progression.
    marrow_pd = ((c["marrow_infiltration"] >= MARROW_BLASTS_REMISSION)
                 & (c["marrow_infiltration"] >= _ALL_PD_RISE * m["marrow_infiltration"])
                 & (c["marrow_infiltration"] > m["marrow_infiltration"]))
    blood_pd = ((blasts >= CIRCULATING_BLASTS_PD_PER_UL) & (blasts >= _ALL_PD_RISE * m["b_lymphocytes_per_ul"])
                & (blasts > m["b_lymphocytes_per_ul"]))
    shape = np.broadcast_shapes(*(v.shape for v in (*c.values(), *b.values(), *m.values())))
    return _coded(shape, _finite(c, b, m), [(remission & ~recovered, CRI), (remission & recovered, CR),
                                            (marrow_pd | blood_pd, PD)])


def _lesion_cm3(node_spd_cm2: np.ndarray) -> np.ndarray:
    """Tumour per index lesion (cm3) from the SPD of the six index lesions (spheres added to a normal node)."""
    diameter = np.sqrt(np.maximum(node_spd_cm2, 0.0) / _INDEX_LESIONS)
    return np.maximum(diameter ** 3 - _NORMAL_NODE_CM ** 3, 0.0) * np.pi / 6.0


def lugano_response(current: Observations, baseline: Observations, nadir: Observations) -> np.ndarray:
    """Lugano 2014 response code per patient (CR by the PET surrogate, PR, SD, PD; see the module docstring)."""
    c, b, m = observation_arrays(current), observation_arrays(baseline), observation_arrays(nadir)
    metabolic_cr = (_lesion_cm3(c["node_spd_cm2"]) <= PET_DETECTABLE_CM3) & (c["marrow_infiltration"] < MARROW_CLEAR)
    partial = c["node_spd_cm2"] <= 0.5 * b["node_spd_cm2"]
    nodes_pd = ((c["node_spd_cm2"] >= 1.5 * m["node_spd_cm2"]) & (c["node_spd_cm2"] > m["node_spd_cm2"])
                & (c["largest_node_cm"] > NODE_NORMAL_CM))
    marrow_pd = ((c["marrow_infiltration"] >= MARROW_INVOLVED)
                 & (c["marrow_infiltration"] >= 1.5 * m["marrow_infiltration"])
                 & (c["marrow_infiltration"] > m["marrow_infiltration"]))
    shape = np.broadcast_shapes(*(v.shape for v in (*c.values(), *b.values(), *m.values())))
    return _coded(shape, _finite(c, b, m), [(partial, PR), (metabolic_cr, CR), (nodes_pd | marrow_pd, PD)])


#: Response criteria by disease code (the order of cartsim.patient.DISEASE_NAMES: CLL, B-ALL, LBCL).
CRITERIA = (iwcll_response, all_response, lugano_response)


def response_by_disease(disease: np.ndarray, current: Observations, baseline: Observations,
                        nadir: Observations) -> np.ndarray:
    """Each patient's response code under the criteria of its disease (``disease``: codes, one per patient)."""
    out = np.full(np.shape(disease), NOT_ASSESSED, dtype=np.int8)
    for code, criteria in enumerate(CRITERIA):
        mine = disease == code
        if mine.any():
            out[mine] = criteria(_rows(current, mine), _rows(baseline, mine), _rows(nadir, mine))
    return out


def _rows(obs: Observations, rows: np.ndarray) -> Observations:
    return Observations(**{name: values[rows] for name, values in observation_arrays(obs).items()})


def mrd_negative_remission(code: np.ndarray, marrow_mrd: np.ndarray) -> np.ndarray:
    """CR or CRi with marrow MRD below 1e-4 (flow cytometry; the ELIANA remission endpoint)."""
    return np.isin(code, (CR, CRI)) & undetectable_mrd(marrow_mrd, ALL_MRD_NEGATIVE)
