"""What a clinician measures at a visit, derived from the model's state: the observables.

The in-vivo state holds cytokines, endothelial activation and CNS inflammation;
the clinic sees temperature, blood pressure support, oxygen need, an ICE score,
blood counts, node and spleen size, marrow infiltration and MRD. This module is
that bridge, written once (compiled, for one patient, with a batched form) and
sharing the kernel's receptor-blockade formulas, so tocilizumab lowers fever
through the same IL-6 signal by which it acts in the model.

Support levels and neurological findings are the ordinal codes of
:mod:`cartsim.clinical._grading` (ASTCT, Lee 2019).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from numba import njit

from ._kernel import cytokine_signals, steroid_effect
from ._parameters import Param as P
from ._states import CAR_T_STATES, CLL_STATES
from ._states import State as S

#: Blood: 5 L (blood_volume target) holding ~2% of the body's lymphocytes (lymphocytes_blood_fraction).
BLOOD_UL = 5e6
BLOOD_LYMPHOCYTE_SHARE = 0.02
MONOCYTES_PER_UL = 500.0  # normal monocyte count, part of the leukocyte denominator of blood MRD
NORMAL_NODE_CM = 1.0  # a normal lymph node measures under 1 cm
NORMAL_SPLEEN_CM = 11.0
NORMAL_SPLEEN_CM3 = 200.0
INDEX_NODES = 6  # iwCLL measures the sum of products of diameters of up to six nodes

#: [A] Ordinal cut points on the CNS-inflammation scale (0..1) at which each ASTCT ICANS domain
#: escalates; ordered so that the ICE score falls first and oedema and motor signs come last. The first signs
#: (ICE below 10, drowsiness) at 0.2 [A], calibrated with blood_brain_barrier_half to the neurological-event rates
#: of ELIANA and JULIET (eliana_neuro_any, juliet_neuro_any).
ICE_ONSET = 0.2  # CNS inflammation below this is subclinical: the ICE score stays 10
ICE_ZERO_AT = 0.6  # ICE score falls linearly from 10 at ICE_ONSET to 0 as CNS inflammation rises to this
CONSCIOUSNESS_CUTS = (0.2, 0.3, 0.5, 0.75)  # awakens spontaneously, to voice, to touch, unarousable
SEIZURE_CUTS = (0.6, 0.8)  # rapidly resolving, prolonged
MOTOR_CUT = 0.85  # deep focal motor weakness
EDEMA_CUTS = (0.7, 0.85)  # focal, diffuse

#: Lower limits of quantification of the CAR-T assays of blood. qPCR: [M] 50 transgene copies per ug of
#: genomic DNA (the tisagenlecleucel assay: Mueller 2017 Blood; Kymriah prescribing information, section 12.3).
#: Flow: [A] about 1 CAR+ cell per uL (some 20 CAR+ events among 1e5 leukocytes acquired, at ~5000 leukocytes/uL).
QPCR_LLOQ_COPIES_PER_UG = 50.0
FLOW_LLOQ_CELLS_PER_UL = 1.0


@dataclass(frozen=True)
class Observable:
    name: str
    units: str
    instrument: str  # what measures it in the clinic or the lab
    description: str
    #: The assay's lower limit of quantification: a measurement below it is reported as "below LLOQ", not as
    #: a number (the observer itself gives the model's value; the readouts apply the limit).
    lloq: float | None = None


OBSERVABLE_TABLE: tuple[Observable, ...] = (
    # CRS (ASTCT, Lee 2019)
    Observable("temperature_c", "degC", "thermometer", "body temperature (fever from IL-6 and IL-1 signalling)"),
    Observable("hypotension", "ordinal 0-3", "blood pressure and vasopressor need",
               "none, fluid-responsive, one vasopressor, several vasopressors"),
    Observable("oxygen", "ordinal 0-3", "pulse oximetry and oxygen support",
               "none, low-flow, high-flow, positive pressure"),
    # ICANS (ASTCT)
    Observable("ice_score", "points 0-10", "ICE encephalopathy screen", "immune effector cell encephalopathy score"),
    Observable("consciousness", "ordinal 0-4", "bedside neurological exam",
               "awake, to voice, to touch, unarousable (depressed level of consciousness)"),
    Observable("seizure", "ordinal 0-2", "clinical exam and EEG", "none, rapidly resolving, prolonged"),
    Observable("motor", "0/1", "neurological exam", "deep focal motor weakness"),
    Observable("edema", "ordinal 0-2", "CT/MRI of the brain", "none, focal, diffuse cerebral oedema"),
    # iwCLL 2018 (Hallek 2018)
    Observable("lymphocytes_per_ul", "cells/uL", "complete blood count", "absolute lymphocyte count"),
    Observable("b_lymphocytes_per_ul", "cells/uL", "flow cytometry of blood", "clonal (CLL) B lymphocytes"),
    Observable("node_spd_cm2", "cm2", "CT scan", "sum of the products of diameters of six index nodes"),
    Observable("largest_node_cm", "cm", "CT scan or palpation", "longest diameter of the largest node"),
    Observable("spleen_cm", "cm", "CT scan or ultrasound", "craniocaudal spleen length"),
    Observable("marrow_infiltration", "fraction", "bone marrow biopsy", "CLL share of nucleated marrow cells"),
    Observable("neutrophils_per_ul", "cells/uL", "complete blood count", "absolute neutrophil count"),
    Observable("platelets_per_ul", "cells/uL", "complete blood count", "platelet count"),
    Observable("hemoglobin_g_dl", "g/dL", "complete blood count", "haemoglobin"),
    Observable("mrd_blood", "fraction", "flow cytometry of blood (MRD)", "CLL cells per leukocyte in blood"),
    Observable("mrd_marrow", "fraction", "flow cytometry of marrow (MRD)", "CLL cells per nucleated marrow cell"),
    Observable("normal_b_per_ul", "cells/uL", "flow cytometry of blood (CD19+)", "normal B cells (aplasia)"),
    Observable("tumor_cells", "cells", "model (whole-body burden; no single instrument)", "all CLL cells"),
    Observable("car_t_cells", "cells", "model (whole body; blood qPCR or flow sees 2%)", "all CAR-T cells"),
    Observable("car_t_copies_per_ug", "copies/ug DNA", "qPCR of the CAR transgene in blood genomic DNA",
               "CAR+ share of nucleated blood cells x vector copies per CAR+ cell x genomes per ug of DNA",
               lloq=QPCR_LLOQ_COPIES_PER_UG),
    Observable("car_t_flow_per_ul", "cells/uL", "flow cytometry of blood (CAR detection reagent)",
               "CAR+ T cells per uL of blood", lloq=FLOW_LLOQ_CELLS_PER_UL),
    Observable("il6_pg_ml", "pg/mL", "serum immunoassay", "free serum IL-6 (rises under tocilizumab)"),
    Observable("il6_signal_pg_ml", "pg/mL", "none (model: IL-6 not bound by tocilizumab-blocked receptors)",
               "the part of free IL-6 that signals"),
)
OBSERVABLES: tuple[str, ...] = tuple(o.name for o in OBSERVABLE_TABLE)
Obs = IntEnum("Obs", [(name, i) for i, name in enumerate(OBSERVABLES)])
Obs.__doc__ = "Index of each observable in ``out[patient, observable]``."
N_OBSERVABLES = len(OBSERVABLES)


O = Obs
# Tuples are compile-time constants for numba.
_CAR_T = CAR_T_STATES
_CLL = CLL_STATES


def nucleated_blood_cells(cll_blood, normal_lymphocytes, neutrophils):
    """Nucleated cells in blood (5 L): CLL, normal lymphocytes (CAR-T among them), neutrophils and monocytes;
    the denominator of blood MRD and of qPCR copies per ug of DNA (every nucleated cell gives its genome)."""
    return cll_blood + normal_lymphocytes + neutrophils + MONOCYTES_PER_UL * BLOOD_UL


def transgene_copies_per_ug(car_t_blood, nucleated_blood, vector_copies_per_cell, genomes_per_ug):
    """qPCR copies per ug of blood genomic DNA of ``car_t_blood`` CAR+ cells among ``nucleated_blood`` cells."""
    return car_t_blood / nucleated_blood * vector_copies_per_cell * genomes_per_ug


# The same formulas compiled into the observer, and on arrays in the readouts.
_nucleated = njit(cache=True, inline="always")(nucleated_blood_cells)
_copies_per_ug = njit(cache=True, inline="always")(transgene_copies_per_ug)


@njit(cache=True, inline="always")
def _node_diameter(tumour_cm3):
    """Diameter (cm) of a node: a sphere of tumour added to a normal node."""
    return (NORMAL_NODE_CM ** 3 + 6.0 * tumour_cm3 / math.pi) ** (1.0 / 3.0)


@njit(cache=True, inline="always")
def _level(x, cuts):
    level = 0
    for cut in cuts:
        if x >= cut:
            level += 1
    return level


@njit(cache=True)
def observe_patient(y, p, out):
    """Fill ``out[N_OBSERVABLES]`` with one patient's observables."""
    # ---- CRS: fever from IL-6 and IL-1 signalling (antipyresis by steroids); leak from the endothelium
    il6_excess, il1_excess, _, il6_signal = cytokine_signals(y, p)
    pyrogen = (il6_excess / p[P.fever_il6_half] + il1_excess / p[P.fever_il1_half]) * (1.0 - steroid_effect(y, p))
    out[O.temperature_c] = 37.0 + p[P.fever_max_rise] * pyrogen / (1.0 + pyrogen)
    leak = y[S.endothelial_activation]
    out[O.hypotension] = _level(leak, (p[P.hypotension_threshold], p[P.vasopressor_threshold],
                           p[P.multiple_vasopressor_threshold]))
    out[O.oxygen] = _level(leak, (p[P.hypoxia_threshold], p[P.high_flow_oxygen_threshold],
                           p[P.positive_pressure_threshold]))
    # ---- ICANS
    neuro = y[S.neuroinflammation]
    out[O.ice_score] = min(10.0, max(0.0, np.round(10.0 * (1.0 - (neuro - ICE_ONSET) / (ICE_ZERO_AT - ICE_ONSET)))))
    out[O.consciousness] = _level(neuro, CONSCIOUSNESS_CUTS)
    out[O.seizure] = _level(neuro, SEIZURE_CUTS)
    out[O.motor] = 1.0 if neuro >= MOTOR_CUT else 0.0
    out[O.edema] = _level(neuro, EDEMA_CUTS)
    # ---- blood counts
    car_t = 0.0
    for i in _CAR_T:
        car_t += max(y[i], 0.0)
    cll_blood = max(y[S.cll_pos_blood], 0.0) + max(y[S.cll_neg_blood], 0.0)
    normal_lymphocytes = (max(y[S.host_t_cells], 0.0) + car_t + max(y[S.normal_b_cells], 0.0)) * BLOOD_LYMPHOCYTE_SHARE
    out[O.lymphocytes_per_ul] = (cll_blood + normal_lymphocytes) / BLOOD_UL
    out[O.b_lymphocytes_per_ul] = cll_blood / BLOOD_UL
    # ---- nodes and spleen: spheres of tumour added to normal tissue
    lymphoid = (max(y[S.cll_pos_node], 0.0) + max(y[S.cll_neg_node], 0.0)) / p[P.tumor_cells_per_cm3]
    index_cm3 = lymphoid * (1.0 - p[P.spleen_share]) * p[P.index_node_share]
    # Nodal disease is uneven: the largest index node, which decides CR and PD, holds more than a sixth.
    largest = _node_diameter(index_cm3 * p[P.largest_node_share])
    others = _node_diameter(index_cm3 * (1.0 - p[P.largest_node_share]) / (INDEX_NODES - 1))
    out[O.node_spd_cm2] = largest * largest + (INDEX_NODES - 1) * others * others
    out[O.largest_node_cm] = largest
    out[O.spleen_cm] = NORMAL_SPLEEN_CM * ((NORMAL_SPLEEN_CM3 + lymphoid * p[P.spleen_share]) / NORMAL_SPLEEN_CM3) ** (1.0 / 3.0)
    # ---- marrow: CLL crowds out haematopoiesis; chemotherapy shows in the neutrophil precursors
    cll_marrow = max(y[S.cll_pos_marrow], 0.0) + max(y[S.cll_neg_marrow], 0.0)
    infiltration = cll_marrow / (cll_marrow + p[P.marrow_nucleated_cells])
    out[O.marrow_infiltration] = infiltration
    neutrophils = max(y[S.neutrophils], 0.0)
    out[O.neutrophils_per_ul] = neutrophils / BLOOD_UL
    precursors0 = p[P.neutrophil_clearance] * p[P.neutrophil_baseline] / p[P.neutrophil_maturation]
    marrow_toxicity = min(1.0, max(y[S.neutrophil_precursors], 0.0) / precursors0)
    out[O.platelets_per_ul] = p[P.platelets_normal] * (1.0 - infiltration) ** 2 * math.sqrt(marrow_toxicity)
    out[O.hemoglobin_g_dl] = p[P.hemoglobin_normal] * (1.0 - p[P.hemoglobin_marrow_loss] * infiltration)
    # ---- MRD: CLL cells per leukocyte in blood, per nucleated cell in marrow
    leukocytes = _nucleated(cll_blood, normal_lymphocytes, neutrophils)
    out[O.mrd_blood] = cll_blood / leukocytes
    out[O.mrd_marrow] = infiltration
    out[O.normal_b_per_ul] = max(y[S.normal_b_cells], 0.0) * BLOOD_LYMPHOCYTE_SHARE / BLOOD_UL
    tumor = 0.0
    for i in _CLL:
        tumor += max(y[i], 0.0)
    out[O.tumor_cells] = tumor
    out[O.car_t_cells] = car_t
    # ---- CAR-T as the clinic measures them in blood: qPCR of the transgene and flow cytometry
    car_t_blood = car_t * BLOOD_LYMPHOCYTE_SHARE
    out[O.car_t_copies_per_ug] = _copies_per_ug(car_t_blood, leukocytes, p[P.car_vector_copies_per_cell],
                                                p[P.genomes_per_ug_dna])
    out[O.car_t_flow_per_ul] = car_t_blood / BLOOD_UL
    out[O.il6_pg_ml] = max(y[S.il6], 0.0)
    out[O.il6_signal_pg_ml] = il6_signal


@njit(cache=True)  # serial: see rhs in _kernel (a clinical visit observes 0.1 ms of work)
def _observe_batch(y, p, out):
    for i in range(y.shape[0]):
        observe_patient(y[i], p[i], out[i])


def observe(y: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Observables ``[n, N_OBSERVABLES]`` (columns named by :data:`OBSERVABLES`) of states ``y[n, n_states]``."""
    y = np.ascontiguousarray(y, dtype=np.float64)
    out = np.empty((y.shape[0], N_OBSERVABLES))
    _observe_batch(y, np.ascontiguousarray(params, dtype=np.float64), out)
    return out
