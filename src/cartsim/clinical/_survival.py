"""Death by cause as competing hazards, drawn once per patient so a seed fixes every death.

Each patient carries one exponential threshold per cause, a hashed function of
its seed (independent of its position in a batch). The clinical clock adds the
cause's hazard over each interval between visits; the patient dies of the
first cause whose cumulative hazard crosses its threshold. This is the exact
competing-risks draw for hazards that are constant between visits.

The CLL hazard has two regimes. Until iwCLL progression it rises with the
burden and saturates (disease_death_rate, disease_death_burden). From
progression on, the patient is taken to receive next-line therapy, and the CLL
hazard is the constant one of an exponential post-progression survival
(post_progression_median_survival). It is a constant hazard, so the draw stays
exact, and the patient keeps its CLL threshold: by the memorylessness of the
exponential, the hazard still to accumulate after progression is again
Exponential(1), so post-progression survival has exactly the set median and
takes no new random draw.
"""

from __future__ import annotations

import numpy as np

from .._readouts import B_CELL_APLASIA_PER_UL
from .._seeds import hashed_uniforms, mix_seeds
from ..model import Param
from ..model import Obs

CAUSES = ("CRS", "ICANS", "infection", "CLL", "other")
_CRS, _ICANS, _INFECTION, _CLL, _OTHER = range(len(CAUSES))
NO_DEATH = -1
#: Blood counts that define the states raising the infection risk.
SEVERE_NEUTROPENIA_PER_UL = 500.0
_DAYS_PER_YEAR = 365.25
_DAYS_PER_MONTH = _DAYS_PER_YEAR / 12

def death_thresholds(seeds: np.ndarray) -> np.ndarray:
    """Exponential(1) thresholds ``[n, len(CAUSES)]``, one per cause, from each patient's seed."""
    columns = []
    for cause in range(len(CAUSES)):
        columns.append(-np.log(hashed_uniforms(mix_seeds(seeds, 1_000_003), cause)))
    return np.stack(columns, axis=1)


def disease_hazard(tumor_cells: np.ndarray, progressed: np.ndarray, params: np.ndarray) -> np.ndarray:
    """CLL death hazard per day: saturating in the burden before progression, the post-progression
    (next-line therapy) hazard after it."""
    p = params
    burden = tumor_cells / (tumor_cells + p[:, Param.disease_death_burden])
    before = p[:, Param.disease_death_rate] / _DAYS_PER_YEAR * burden
    # A BTKi-naive patient still has a BTKi to go to after CAR-T failure.
    median = np.where(p[:, Param.btki_exposed] > 0.5, p[:, Param.post_progression_median_survival],
                      p[:, Param.post_progression_median_survival_btki_naive])
    after = np.log(2.0) / (median * _DAYS_PER_MONTH)
    return np.where(progressed, after, before)


def hazards(obs: np.ndarray, crs: np.ndarray, icans: np.ndarray, params: np.ndarray,
            age_years: np.ndarray, progressed: np.ndarray) -> np.ndarray:
    """Death hazards per day ``[n, len(CAUSES)]`` at a visit, from observables, grades and whether each
    patient has progressed (iwCLL PD) at an earlier assessment."""
    p = params
    infection = p[:, Param.infection_death_rate] / _DAYS_PER_YEAR
    infection = infection * np.where(obs[:, Obs["neutrophils_per_ul"]] < SEVERE_NEUTROPENIA_PER_UL,
                                     p[:, Param.neutropenia_infection_factor], 1.0)
    infection = infection * np.where(obs[:, Obs["normal_b_per_ul"]] < B_CELL_APLASIA_PER_UL,
                                     p[:, Param.b_cell_aplasia_infection_factor], 1.0)
    background = (p[:, Param.background_mortality_at_70] / _DAYS_PER_YEAR
                  * 2.0 ** ((age_years - 70.0) / p[:, Param.mortality_doubling_years]))
    out = np.empty((obs.shape[0], len(CAUSES)))
    out[:, _CRS] = np.where(crs >= 4, p[:, Param.crs_grade4_death_rate], 0.0)
    out[:, _ICANS] = np.where(icans >= 4, p[:, Param.icans_grade4_death_rate], 0.0)
    out[:, _INFECTION] = infection
    out[:, _CLL] = disease_hazard(obs[:, Obs["tumor_cells"]], progressed, p)
    out[:, _OTHER] = background
    return out


def first_death(cumulative: np.ndarray, increment: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Add ``increment`` to the cumulative hazards; return (cause index or NO_DEATH, fraction of the
    interval at which it struck), the first cause to cross its threshold winning."""
    before = cumulative.copy()
    cumulative += increment
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where(cumulative >= thresholds, (thresholds - before) / increment, np.inf)
    fraction = np.clip(fraction, 0.0, np.inf)
    cause = np.argmin(fraction, axis=1)
    struck = np.isfinite(fraction[np.arange(len(cause)), cause])
    return np.where(struck, cause, NO_DEATH), np.where(struck, fraction[np.arange(len(cause)), cause], np.nan)
