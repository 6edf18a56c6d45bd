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

import numpy as np
from numba import njit, prange

from ._kernel import cytokine_signals, steroid_effect
from ._parameters import Param as P
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
#: escalates; ordered so that the ICE score falls first and oedema and motor signs come last.
ICE_ZERO_AT = 0.6  # ICE score falls linearly from 10 to 0 as CNS inflammation rises to this
CONSCIOUSNESS_CUTS = (0.05, 0.25, 0.5, 0.75)  # awakens spontaneously, to voice, to touch, unarousable
SEIZURE_CUTS = (0.6, 0.8)  # rapidly resolving, prolonged
MOTOR_CUT = 0.85  # deep focal motor weakness
EDEMA_CUTS = (0.7, 0.85)  # focal, diffuse

OBSERVABLES = (
    "temperature_c", "hypotension", "oxygen",  # CRS (ASTCT)
    "ice_score", "consciousness", "seizure", "motor", "edema",  # ICANS (ASTCT)
    "lymphocytes_per_ul", "b_lymphocytes_per_ul", "node_spd_cm2", "largest_node_cm", "spleen_cm",
    "marrow_infiltration", "neutrophils_per_ul", "platelets_per_ul", "hemoglobin_g_dl",  # iwCLL 2018
    "mrd_blood", "mrd_marrow", "normal_b_per_ul", "tumor_cells", "car_t_cells",
    "il6_pg_ml", "il6_signal_pg_ml",  # free IL-6 and the part of it that signals (tocilizumab)
)
Obs = {name: i for i, name in enumerate(OBSERVABLES)}
N_OBSERVABLES = len(OBSERVABLES)


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
    out[0] = 37.0 + p[P.fever_max_rise] * pyrogen / (1.0 + pyrogen)
    leak = y[S.endothelial_activation]
    out[1] = _level(leak, (p[P.hypotension_threshold], p[P.vasopressor_threshold],
                           p[P.multiple_vasopressor_threshold]))
    out[2] = _level(leak, (p[P.hypoxia_threshold], p[P.high_flow_oxygen_threshold],
                           p[P.positive_pressure_threshold]))
    # ---- ICANS
    neuro = y[S.neuroinflammation]
    out[3] = min(10.0, max(0.0, np.round(10.0 * (1.0 - neuro / ICE_ZERO_AT))))
    out[4] = _level(neuro, CONSCIOUSNESS_CUTS)
    out[5] = _level(neuro, SEIZURE_CUTS)
    out[6] = 1.0 if neuro >= MOTOR_CUT else 0.0
    out[7] = _level(neuro, EDEMA_CUTS)
    # ---- blood counts
    car_t = 0.0
    for i in range(S.cd4_resting_0, S.cd8_senescent + 1):
        car_t += max(y[i], 0.0)
    cll_blood = max(y[S.cll_pos_blood], 0.0) + max(y[S.cll_neg_blood], 0.0)
    normal_lymphocytes = (max(y[S.host_t_cells], 0.0) + car_t + max(y[S.normal_b_cells], 0.0)) * BLOOD_LYMPHOCYTE_SHARE
    out[8] = (cll_blood + normal_lymphocytes) / BLOOD_UL
    out[9] = cll_blood / BLOOD_UL
    # ---- nodes and spleen: spheres of tumour added to normal tissue
    lymphoid = (max(y[S.cll_pos_node], 0.0) + max(y[S.cll_neg_node], 0.0)) / p[P.tumor_cells_per_cm3]
    node_cm3 = lymphoid * (1.0 - p[P.spleen_share]) * p[P.index_node_share] / INDEX_NODES
    diameter = (NORMAL_NODE_CM ** 3 + 6.0 * node_cm3 / math.pi) ** (1.0 / 3.0)
    out[10] = INDEX_NODES * diameter * diameter
    out[11] = diameter
    out[12] = NORMAL_SPLEEN_CM * ((NORMAL_SPLEEN_CM3 + lymphoid * p[P.spleen_share]) / NORMAL_SPLEEN_CM3) ** (1.0 / 3.0)
    # ---- marrow: CLL crowds out haematopoiesis; chemotherapy shows in the neutrophil precursors
    cll_marrow = max(y[S.cll_pos_marrow], 0.0) + max(y[S.cll_neg_marrow], 0.0)
    infiltration = cll_marrow / (cll_marrow + p[P.marrow_nucleated_cells])
    out[13] = infiltration
    neutrophils = max(y[S.neutrophils], 0.0)
    out[14] = neutrophils / BLOOD_UL
    precursors0 = p[P.neutrophil_clearance] * p[P.neutrophil_baseline] / p[P.neutrophil_maturation]
    marrow_toxicity = min(1.0, max(y[S.neutrophil_precursors], 0.0) / precursors0)
    out[15] = p[P.platelets_normal] * (1.0 - infiltration) ** 2 * math.sqrt(marrow_toxicity)
    out[16] = p[P.hemoglobin_normal] * (1.0 - p[P.hemoglobin_marrow_loss] * infiltration)
    # ---- MRD: CLL cells per leukocyte in blood, per nucleated cell in marrow
    leukocytes = cll_blood + normal_lymphocytes + neutrophils + MONOCYTES_PER_UL * BLOOD_UL
    out[17] = cll_blood / leukocytes
    out[18] = infiltration
    out[19] = max(y[S.normal_b_cells], 0.0) * BLOOD_LYMPHOCYTE_SHARE / BLOOD_UL
    tumor = 0.0
    for i in range(S.cll_pos_blood, S.cll_neg_node + 1):
        tumor += max(y[i], 0.0)
    out[20] = tumor
    out[21] = car_t
    out[22] = max(y[S.il6], 0.0)
    out[23] = il6_signal


@njit(cache=True, parallel=True)
def _observe_batch(y, p, out):
    for i in prange(y.shape[0]):
        observe_patient(y[i], p[i], out[i])


def observe(y: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Observables ``[n, N_OBSERVABLES]`` (columns named by :data:`OBSERVABLES`) of states ``y[n, n_states]``."""
    y = np.ascontiguousarray(y, dtype=np.float64)
    out = np.empty((y.shape[0], N_OBSERVABLES))
    _observe_batch(y, np.ascontiguousarray(params, dtype=np.float64), out)
    return out
