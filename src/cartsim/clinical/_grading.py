"""ASTCT consensus grading of CRS and adult ICANS (Lee et al., Biol Blood Marrow Transplant 2019;25:625-638), and the
older CRS scales the early CAR-T trials used (Lee 2014, Penn), table-driven (:data:`CRS_SCALES`).

Pure functions vectorised over patients: every input is a numpy array of one shape, or a scalar that
broadcasts; the grade comes back as an int8 array of the broadcast shape. Clinical findings are given as
ordered integer levels (the ``*_LEVELS`` tuples name them, index = level).
"""

from __future__ import annotations

import numpy as np

#: 0 none; 1 hypotension not requiring vasopressors; 2 one vasopressor with or without vasopressin;
#: 3 multiple vasopressors (excluding vasopressin).
HYPOTENSION_LEVELS = ("none", "fluids", "one_vasopressor", "multiple_vasopressors")
#: 0 none; 1 low-flow nasal cannula (<= 6 L/min) or blow-by; 2 high-flow nasal cannula (> 6 L/min), facemask,
#: non-rebreather or Venturi mask; 3 positive pressure (CPAP, BiPAP, intubation and mechanical ventilation).
OXYGEN_LEVELS = ("none", "low_flow", "high_flow", "positive_pressure")
#: Depressed level of consciousness; level k gives ICANS grade k (3: awakens only to tactile stimulus;
#: 4: unarousable or needs vigorous/repetitive tactile stimuli, stupor or coma).
CONSCIOUSNESS_LEVELS = ("alert", "awakens_spontaneously", "awakens_to_voice", "awakens_to_touch", "unarousable")
#: 1 -> grade 3 (any clinical seizure that resolves rapidly, or nonconvulsive seizures on EEG that resolve with
#: intervention); 2 -> grade 4 (prolonged seizure > 5 min, or repetitive seizures without return to baseline).
SEIZURE_LEVELS = ("none", "rapidly_resolving", "prolonged")
#: 1 -> grade 4 (deep focal motor weakness such as hemiparesis or paraparesis).
MOTOR_LEVELS = ("none", "deep_focal_weakness")
#: 1 -> grade 3 (focal/local edema on neuroimaging); 2 -> grade 4 (diffuse cerebral edema on neuroimaging,
#: decerebrate or decorticate posturing, cranial nerve VI palsy, papilledema, or Cushing's triad).
EDEMA_LEVELS = ("none", "focal", "diffuse")
#: CRS requires a temperature of at least 38.0 C (unless fever is masked by treatment).
FEVER_C = 38.0

TEMPERATURE_RANGE_C = (25.0, 45.0)
ICE_MAX = 10
#: ICANS grade of each ICE score 0..10: 10 -> 0, 7-9 -> 1, 3-6 -> 2, 0-2 -> 3.
_ICE_GRADE = np.array([3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 0], dtype=np.int8)
_CONSCIOUSNESS_GRADE = np.array([0, 1, 2, 3, 4], dtype=np.int8)
_SEIZURE_GRADE = np.array([0, 3, 4], dtype=np.int8)
_MOTOR_GRADE = np.array([0, 4], dtype=np.int8)
_EDEMA_GRADE = np.array([0, 3, 4], dtype=np.int8)


def _first(values: np.ndarray) -> str:
    value = values.flat[0].item()
    return f"{value:g}" if isinstance(value, float) else str(value)


def _integers(name: str, value, top: int, expected: str) -> np.ndarray:
    """``value`` as an int8 array after checking every element is an integer value in 0..top."""
    message = f"{name} must be {expected}; got "
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise ValueError(message + repr(value))
    numbers = array.astype(np.float64)
    bad = ~np.isfinite(numbers) | (numbers != np.round(numbers)) | (numbers < 0) | (numbers > top)
    if bad.any():
        raise ValueError(message + _first(array[bad]))
    return numbers.astype(np.int8)


def _level(name: str, value, levels: tuple[str, ...]) -> np.ndarray:
    return _integers(name, value, len(levels) - 1,
                     f"an integer level 0..{len(levels) - 1} ({', '.join(levels)})")


def _temperature(value) -> np.ndarray:
    low, high = TEMPERATURE_RANGE_C
    message = f"temperature_c must be a finite temperature in {low:g}..{high:g} C; got "
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise ValueError(message + repr(value))
    numbers = array.astype(np.float64)
    bad = ~np.isfinite(numbers) | (numbers < low) | (numbers > high)
    if bad.any():
        raise ValueError(message + _first(array[bad]))
    return numbers


def crs_grade(temperature_c, hypotension, oxygen, fever_masked=False) -> np.ndarray:
    """ASTCT CRS grade 0..4 (int8) per patient.

    CRS needs fever (``temperature_c >= FEVER_C``); its grade is then 1 plus the more severe of the
    ``hypotension`` (HYPOTENSION_LEVELS) and ``oxygen`` (OXYGEN_LEVELS) levels. Where ``fever_masked``
    (antipyretics, tocilizumab or corticosteroids received) fever is no longer required, so hypotension or
    hypoxia alone grade CRS. Without fever, unmasked, the grade is 0 whatever the hypotension or hypoxia
    (attributed to another cause). Grade 5 (death due to CRS) is not graded here: the clinical clock assigns it.
    """
    return crs_grade_by("ASTCT", temperature_c, hypotension, oxygen, fever_masked)


def icans_grade(ice_score, consciousness=0, seizure=0, motor=0, edema=0) -> np.ndarray:
    """ASTCT adult ICANS grade 0..4 (int8) per patient: the most severe of its five domains.

    ``ice_score`` is the ICE score 0..10 (orientation 4, naming 3, following commands 1, writing 1,
    attention 1): 10 -> 0, 7-9 -> 1, 3-6 -> 2, 0-2 -> 3 (an unarousable patient scores 0 and is grade 4
    through ``consciousness``). The other domains are levels of CONSCIOUSNESS_LEVELS, SEIZURE_LEVELS,
    MOTOR_LEVELS and EDEMA_LEVELS. Grade 5 (death due to ICANS) is not graded here.
    """
    ice = _integers("ice_score", ice_score, ICE_MAX,
                    "an integer ICE score 0..10 (orientation 4, naming 3, following commands 1, writing 1, "
                    "attention 1)")
    domains = (
        _ICE_GRADE[ice],
        _CONSCIOUSNESS_GRADE[_level("consciousness", consciousness, CONSCIOUSNESS_LEVELS)],
        _SEIZURE_GRADE[_level("seizure", seizure, SEIZURE_LEVELS)],
        _MOTOR_GRADE[_level("motor", motor, MOTOR_LEVELS)],
        _EDEMA_GRADE[_level("edema", edema, EDEMA_LEVELS)],
    )
    return np.asarray(np.max(np.broadcast_arrays(*domains), axis=0), dtype=np.int8)


# ---- the older CRS scales, table-driven --------------------------------------------------------------------------
#: Each scale: the grade fever alone gives, the grade of each HYPOTENSION_LEVELS and OXYGEN_LEVELS level, whether
#: fever is required for any grade (ASTCT), and the grade of fever with neutropenia (Penn: hospitalisation for
#: "fevers with associated neutropenia"). The CRS grade is the most severe of the findings present.
#:
#: * ASTCT (Lee 2019 BBMT): fever 1; hypotension without vasopressors 2, one vasopressor 3, several 4; low-flow
#:   oxygen 2, high-flow 3, positive pressure 4; fever required unless masked.
#: * Lee 2014 (Blood 124:188): grade 1 constitutional symptoms (fever); grade 2 oxygen below 40% FiO2 (low flow) or
#:   hypotension responsive to fluids or one low-dose vasopressor; grade 3 oxygen >= 40% FiO2 (high flow) or high-dose
#:   or multiple vasopressors; grade 4 ventilator support. The model's single-vasopressor level is taken as low dose
#:   [A]; fever not required (the grade is set by the organ support).
#: * Penn (Porter 2018 J Hematol Oncol 11:35): grade 1 mild, supportive care; grade 2 hospitalisation, e.g. fevers
#:   with neutropenia needing IV therapy (not fluid resuscitation); grade 3 hypotension treated with multiple fluid
#:   boluses or low-dose vasopressors, hypoxia needing supplemental oxygen (nasal cannula, high flow, CPAP or BiPAP);
#:   grade 4 hypotension needing high-dose vasopressors, hypoxia needing mechanical ventilation. The model's
#:   positive-pressure level (CPAP/BiPAP or intubation) is taken as ventilation, grade 4, and its multiple-vasopressor
#:   level as high dose [A].
CRS_SCALES: dict[str, dict] = {
    "ASTCT": {"fever": 1, "fever_neutropenic": 1, "hypotension": (0, 2, 3, 4), "oxygen": (0, 2, 3, 4),
              "fever_required": True},
    "Lee 2014": {"fever": 1, "fever_neutropenic": 1, "hypotension": (0, 2, 2, 3), "oxygen": (0, 2, 3, 4),
                 "fever_required": False},
    "Penn": {"fever": 1, "fever_neutropenic": 2, "hypotension": (0, 3, 3, 4), "oxygen": (0, 3, 3, 4),
             "fever_required": False},
}
#: Neutropenia of the Penn scale's grade 2 (absolute neutrophils below 500/uL, febrile neutropenia).
NEUTROPENIA_PER_UL = 500.0


def crs_grade_by(scale: str, temperature_c, hypotension, oxygen, fever_masked=False,
                 neutrophils_per_ul=np.inf) -> np.ndarray:
    """CRS grade 0..4 (int8) per patient under ``scale`` (a key of :data:`CRS_SCALES`); ASTCT equals
    :func:`crs_grade`. Inputs as for :func:`crs_grade`, with ``neutrophils_per_ul`` for the Penn scale's febrile
    neutropenia."""
    if scale not in CRS_SCALES:
        raise ValueError(f"unknown CRS scale {scale!r}; scales: {', '.join(CRS_SCALES)}")
    table = CRS_SCALES[scale]
    temperature = _temperature(temperature_c)
    pressure = np.asarray(table["hypotension"], np.int8)[_level("hypotension", hypotension, HYPOTENSION_LEVELS)]
    breathing = np.asarray(table["oxygen"], np.int8)[_level("oxygen", oxygen, OXYGEN_LEVELS)]
    masked = _integers("fever_masked", fever_masked, 1, "a boolean (True/False)").astype(bool)
    neutrophils = np.asarray(neutrophils_per_ul, dtype=np.float64)
    if np.isnan(neutrophils).any():
        raise ValueError("neutrophils_per_ul must be a number (inf when not measured); got nan")
    fever = temperature >= FEVER_C
    fever_grade = np.where(fever, np.where(neutrophils < NEUTROPENIA_PER_UL, table["fever_neutropenic"],
                                           table["fever"]), 0)
    support = np.maximum(pressure, breathing)
    if table["fever_required"]:
        support = np.where(fever | masked, support, 0)
    return np.asarray(np.maximum(fever_grade, support), dtype=np.int8)
