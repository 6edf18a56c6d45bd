"""Response assessment of CLL after treatment (iwCLL 2018: Hallek et al., Blood 2018;131:2745-2760, table
"Response definition after treatment") and minimal residual disease (MRD).

Pure functions vectorised over patients: every field of an :class:`Observations` is a numpy array of one
shape (usually ``(n,)``, one element per patient) or a scalar that broadcasts; the response comes back as an
int8 array of codes into :data:`RESPONSES` (lower code = better response).

The rules are applied in the order PD, CR, CRi, PR, else SD:

* PD (any one): node SPD up >= 50% from the nadir with a node >= 1.5 cm; spleen enlargement up >= 50% from the
  nadir enlargement with a spleen >= 13 cm (de novo splenomegaly: >= 13 cm and >= 2 cm longer than at the
  nadir); clonal B lymphocytes up >= 50% over baseline and >= 5000/uL; marrow infiltration up >= 50% from the
  nadir and >= :data:`MARROW_INVOLVED`; platelets down >= 50% or hemoglobin down > 2 g/dL from baseline
  "secondary to CLL", which we take to mean: with marrow infiltration >= :data:`MARROW_INVOLVED` and higher
  than at baseline (the model has no autoimmune cytopenia, so CLL in the marrow is the only CLL cause).
* CR (all): lymphocytes < 4000/uL, largest node < 1.5 cm, spleen < 13 cm, marrow < :data:`MARROW_CLEAR`,
  platelets >= 100,000/uL, hemoglobin >= 11 g/dL, neutrophils >= 1500/uL.
* CRi: CR except that one or more of the blood counts is below its CR level (with a clear marrow the
  cytopenia is not due to CLL).
* PR (2018 table, calibration target iwcll2018_pr): >= 2 group-A parameters (lymphocytes, nodes, spleen) among
  those abnormal at baseline decreased by >= 50% (all of them when only one was abnormal) and >= 1 group-B
  parameter (platelets, hemoglobin) abnormal at baseline now normal or >= 50% over baseline (met when none was
  abnormal, so treatment cytopenia does not block PR); with one abnormal parameter in each group, one
  improvement suffices. The marrow may still hold CLL; neutrophils are a CR criterion only.

Not modelled: the liver (hepatomegaly), constitutional symptoms, Richter transformation, transfusions and
growth factors; none of them can make or unmake a response here.

Progression of nodes, spleen and marrow is referred to the nadir (best value so far, baseline included, as
kept by :func:`update_nadir`), because after a deep response the guideline's "increase from baseline or from
response" is first met against the best response; lymphocytes and the cytopenias are referred to baseline as
the table words them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

RESPONSES = ("CR", "CRi", "PR", "SD", "PD")
CR, CRI, PR, SD, PD = range(5)
#: Code of a visit without an assessment; :func:`best_response` skips it.
NOT_ASSESSED = -1

#: CR: blood lymphocytes below 4000/uL; PR/CR lymphocyte criteria count only if at least this at baseline.
NORMAL_LYMPHOCYTES_PER_UL = 4000.0
#: PD: a >= 50% rise of blood lymphocytes counts only with at least 5000 B lymphocytes/uL.
PD_B_LYMPHOCYTES_PER_UL = 5000.0
#: CR: no lymph node >= 1.5 cm in longest diameter; PD by nodal growth needs a node of at least this size.
NODE_NORMAL_CM = 1.5
#: CR: spleen < 13 cm craniocaudal (normal size); enlargement is the length above this.
SPLEEN_NORMAL_CM = 13.0
#: CR: platelets >= 100,000/uL; PR: >= 100,000/uL or +50% over baseline.
PLATELETS_NORMAL_PER_UL = 100_000.0
#: CR: hemoglobin >= 11 g/dL (untransfused); PR: >= 11 g/dL or +50% over baseline.
HEMOGLOBIN_NORMAL_G_DL = 11.0
#: CR: neutrophils >= 1500/uL (below it with a clear marrow: CRi); not a PR parameter in the 2018 table.
NEUTROPHILS_NORMAL_PER_UL = 1500.0
#: CR: no CLL cells in the marrow by morphology. Our choice: morphology detects CLL down to 1% of nucleated
#: marrow cells, so below this the marrow counts as clear (deeper levels are the business of MRD).
MARROW_CLEAR = 0.01
#: Our choice: marrow evidently involved by CLL. Marrow PD and cytopenias "secondary to CLL" need at least
#: this, so that a rise within the MRD range (say 1e-6 -> 1e-5, +900%) is not called progression.
MARROW_INVOLVED = 0.05
#: Hemoglobin PD: a fall of more than this from baseline (g/dL).
_HEMOGLOBIN_DROP_G_DL = 2.0
#: De novo splenomegaly (no enlargement at the nadir): growth of at least this many cm is PD.
_SPLEEN_GROWTH_CM = 2.0

_TUMOUR_FIELDS = ("lymphocytes_per_ul", "b_lymphocytes_per_ul", "node_spd_cm2", "largest_node_cm",
                  "spleen_cm", "marrow_infiltration")


@dataclass(frozen=True)
class Observations:
    """What a visit measures, each an array over patients."""

    lymphocytes_per_ul: np.ndarray      # absolute lymphocyte count in blood (all lymphocytes incl. CAR-T)
    b_lymphocytes_per_ul: np.ndarray    # clonal CLL B cells in blood per uL
    node_spd_cm2: np.ndarray            # sum of the products of diameters of the index lymph nodes
    largest_node_cm: np.ndarray         # longest diameter of the largest node
    spleen_cm: np.ndarray               # craniocaudal spleen length (normal < 13 cm)
    marrow_infiltration: np.ndarray     # fraction of marrow nucleated cells that are CLL (0..1)
    neutrophils_per_ul: np.ndarray
    platelets_per_ul: np.ndarray
    hemoglobin_g_dl: np.ndarray


def observation_arrays(obs: Observations) -> dict[str, np.ndarray]:
    """The fields of ``obs`` as float64 arrays."""
    return {f.name: np.asarray(getattr(obs, f.name), dtype=np.float64) for f in fields(Observations)}


def _enlargement(spleen_cm: np.ndarray) -> np.ndarray:
    """Spleen length above normal (cm), 0 for a normal spleen: the quantity whose change iwCLL measures."""
    return np.maximum(spleen_cm - SPLEEN_NORMAL_CM, 0.0)


def iwcll_response(current: Observations, baseline: Observations, nadir: Observations) -> np.ndarray:
    """iwCLL response code per patient (int8, see :data:`RESPONSES`) of the visit ``current``.

    ``baseline`` is the pre-treatment assessment; ``nadir`` the best tumour measures so far with baseline
    included (start it at ``baseline`` and advance it with :func:`update_nadir`; whether it already includes
    ``current`` does not change the result). A patient with any non-finite measure (NaN, inf) gets
    :data:`NOT_ASSESSED`.
    """
    c, b, m = observation_arrays(current), observation_arrays(baseline), observation_arrays(nadir)

    # --- PD: any one criterion.
    # Nodes: >= 50% growth of the SPD from the nadir; the strict rise keeps a 0 -> 0 SPD from counting, and
    # the 1.5 cm floor keeps regrowth of normal-sized nodes from counting.
    pd_nodes = ((c["node_spd_cm2"] >= 1.5 * m["node_spd_cm2"]) & (c["node_spd_cm2"] > m["node_spd_cm2"])
                & (c["largest_node_cm"] >= NODE_NORMAL_CM))
    # Spleen: 50% growth of the enlargement; from no enlargement 50% of 0 is meaningless, so de novo
    # splenomegaly needs a 2 cm gain to an abnormal size.
    cur_enl, nadir_enl = _enlargement(c["spleen_cm"]), _enlargement(m["spleen_cm"])
    pd_spleen = (c["spleen_cm"] >= SPLEEN_NORMAL_CM) & np.where(
        nadir_enl > 0.0,
        cur_enl >= 1.5 * nadir_enl,
        c["spleen_cm"] >= m["spleen_cm"] + _SPLEEN_GROWTH_CM)
    # Blood: clonal B cells, not all lymphocytes, because CAR-T expansion raises the lymphocyte count.
    pd_blood = ((c["b_lymphocytes_per_ul"] >= 1.5 * b["b_lymphocytes_per_ul"])
                & (c["b_lymphocytes_per_ul"] >= PD_B_LYMPHOCYTES_PER_UL))
    pd_marrow = ((c["marrow_infiltration"] >= 1.5 * m["marrow_infiltration"])
                 & (c["marrow_infiltration"] >= MARROW_INVOLVED))
    # Cytopenia secondary to CLL: the marrow must be involved and more so than at baseline; otherwise the
    # fall is treatment toxicity (lymphodepletion, CAR-T cytopenia), not progression.
    cytopenia = ((c["platelets_per_ul"] <= 0.5 * b["platelets_per_ul"])
                 | (b["hemoglobin_g_dl"] - c["hemoglobin_g_dl"] > _HEMOGLOBIN_DROP_G_DL))
    pd_cytopenia = (cytopenia & (c["marrow_infiltration"] >= MARROW_INVOLVED)
                    & (c["marrow_infiltration"] > b["marrow_infiltration"]))
    pd = pd_nodes | pd_spleen | pd_blood | pd_marrow | pd_cytopenia

    # --- CR / CRi: tumour criteria (group A and marrow), then the blood counts.
    cr_tumour = ((c["lymphocytes_per_ul"] < NORMAL_LYMPHOCYTES_PER_UL)
                 & (c["largest_node_cm"] < NODE_NORMAL_CM)
                 & (c["spleen_cm"] < SPLEEN_NORMAL_CM)
                 & (c["marrow_infiltration"] < MARROW_CLEAR))
    counts_normal = ((c["platelets_per_ul"] >= PLATELETS_NORMAL_PER_UL)
                     & (c["hemoglobin_g_dl"] >= HEMOGLOBIN_NORMAL_G_DL)
                     & (c["neutrophils_per_ul"] >= NEUTROPHILS_NORMAL_PER_UL))

    # --- PR (2018 table): group A is the tumour load (lymphocytes, nodes, spleen), group B the marrow
    # function (platelets, hemoglobin); only parameters abnormal at baseline can improve.
    abnormal_a = np.stack(np.broadcast_arrays(
        b["lymphocytes_per_ul"] >= NORMAL_LYMPHOCYTES_PER_UL,
        b["largest_node_cm"] >= NODE_NORMAL_CM,
        b["spleen_cm"] >= SPLEEN_NORMAL_CM))
    improved_a = abnormal_a & np.stack(np.broadcast_arrays(
        c["lymphocytes_per_ul"] <= 0.5 * b["lymphocytes_per_ul"],
        c["node_spd_cm2"] <= 0.5 * b["node_spd_cm2"],
        cur_enl <= 0.5 * _enlargement(b["spleen_cm"])))
    keys, normal_levels = ("platelets_per_ul", "hemoglobin_g_dl"), (PLATELETS_NORMAL_PER_UL, HEMOGLOBIN_NORMAL_G_DL)
    abnormal_b = np.stack(np.broadcast_arrays(*(b[k] < level for k, level in zip(keys, normal_levels))))
    improved_b = abnormal_b & np.stack(np.broadcast_arrays(*((c[k] >= level) | (c[k] >= 1.5 * b[k])
                                                             for k, level in zip(keys, normal_levels))))
    n_abnormal_a, n_improved_a = abnormal_a.sum(axis=0), improved_a.sum(axis=0)
    n_abnormal_b, n_improved_b = abnormal_b.sum(axis=0), improved_b.sum(axis=0)
    # >= 2 of group A (all of them when only one was abnormal) and >= 1 of group B (nothing to improve when
    # none was abnormal, so treatment cytopenia does not block PR); with one abnormal in each group, one
    # improvement suffices. No abnormal group-A parameter: no PR.
    usual = (n_improved_a >= np.minimum(n_abnormal_a, 2)) & ((n_abnormal_b == 0) | (n_improved_b >= 1))
    one_each = (n_abnormal_a == 1) & (n_abnormal_b == 1)
    partial = (n_abnormal_a > 0) & np.where(one_each, n_improved_a + n_improved_b >= 1, usual)

    shape = np.broadcast_shapes(*(v.shape for v in (*c.values(), *b.values(), *m.values())))
    out = np.full(shape, SD, dtype=np.int8)
    # Written from the lowest priority up so that each later assignment overrides: PD > CR > CRi > PR > SD.
    out[np.broadcast_to(partial, shape)] = PR
    out[np.broadcast_to(cr_tumour & ~counts_normal, shape)] = CRI
    out[np.broadcast_to(cr_tumour & counts_normal, shape)] = CR
    out[np.broadcast_to(pd, shape)] = PD
    # A NaN fails every comparison and would read as SD; a patient that cannot be measured is not assessed.
    finite = np.logical_and.reduce([np.isfinite(v) for v in (*c.values(), *b.values(), *m.values())])
    out[~np.broadcast_to(finite, shape)] = NOT_ASSESSED
    return out


def update_nadir(nadir: Observations, current: Observations) -> Observations:
    """The nadir after the visit ``current``: elementwise minimum of the tumour measures (lymphocytes, B
    lymphocytes, node SPD, largest node, spleen, marrow); the blood counts keep the nadir's values, since
    progression reads them against baseline, never against the nadir."""
    values = {f.name: getattr(nadir, f.name) for f in fields(Observations)}
    for name in _TUMOUR_FIELDS:
        values[name] = np.minimum(np.asarray(getattr(nadir, name), dtype=np.float64),
                                  np.asarray(getattr(current, name), dtype=np.float64))
    return Observations(**values)


def best_response(codes: np.ndarray, axis: int = -1) -> np.ndarray:
    """Best (lowest) response code along ``axis`` ignoring :data:`NOT_ASSESSED`; NOT_ASSESSED where no
    assessment was made."""
    codes = np.asarray(codes)
    if codes.dtype.kind not in "iu" or ((codes < NOT_ASSESSED) | (codes > PD)).any():
        raise ValueError(f"codes must be integers in {NOT_ASSESSED}..{PD}")
    # Unassessed visits become worse than PD so that the minimum skips them unless nothing else is there.
    best = np.where(codes == NOT_ASSESSED, PD + 1, codes).min(axis=axis)
    return np.where(best > PD, NOT_ASSESSED, best).astype(np.int8)


def minimal_residual_disease(cll_cells, other_cells) -> np.ndarray:
    """MRD level: CLL cells per nucleated cell, ``cll / (cll + other)``; 0 where both are 0 (no cells, no
    disease detected)."""
    cll = np.asarray(cll_cells, dtype=np.float64)
    total = cll + np.asarray(other_cells, dtype=np.float64)
    # divide only where there are cells, so an empty sample gives 0 and no 0/0 warning.
    return np.divide(cll, total, out=np.zeros(total.shape), where=total > 0.0)


def undetectable_mrd(mrd, threshold: float = 1e-4) -> np.ndarray:
    """Undetectable MRD: ``mrd < threshold``; 1e-4 (uMRD4: fewer than 1 CLL cell in 10,000 leukocytes, by
    flow cytometry or NGS) is the iwCLL 2018 level, 1e-6 (uMRD6) needs NGS."""
    return np.asarray(mrd, dtype=np.float64) < threshold
