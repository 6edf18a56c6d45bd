"""The NSG mouse xenograft: CAR-T harvested after k stimulations against an engrafted CLL-like line.

Kay NE, ASH 2022 (Kay/Kenderian): "CAR-T cells activated at later time points (more exposure to cancer
cells) were less effective at reducing tumour burden in a mouse model"
(kay2022_function_loss); the 2025 paper adds that senescence impairs 4-1BB
but not CD28 cells (kay2022_costim_dependence). The experiment here:

1. each mouse (an NSG host, :class:`Xenograft`) is engrafted with a CLL-like
   cell line at day ``-establishment_days``; the line spreads over blood,
   marrow and spleen (the model's node compartment) and grows;
2. at day 0 it gets CAR-T harvested from the repeated-stimulation assay
   (:func:`cartsim.lab.run_restim`) after k stimulations: the harvest's
   composition (CD4:CD8, exposure levels, senescent share) rescaled to the dose;
3. it is followed to ``days``; it dies (humane endpoint) when its tumour
   exceeds ``lethal_burden``. A group is a (domain, k); every group holds the
   same mice (tumour and T-cell fitness drawn per mouse index from the seed),
   so groups differ by their CAR-T alone, as littermates randomised to arms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from .._engine import integrate
from .._seeds import hashed_normals, mix_seeds
from ..model import CLL_STATES, PARAMETERS, State
from ..solver import Doses
from ._hosts import CAR_T, SENESCENT, completed_exposures, empty_host_state, host_parameters
from ._restim import RestimResult, check_costimulations, run_restim

_STREAM = 0x4D4F5553  # "MOUS": mouse draws are independent of every other stream
_TUMOUR, _FITNESS, _SOLVER = range(3)

#: Sites of the engrafted line: the model's node compartment stands for the mouse spleen.
SITES = ("blood", "marrow", "node")


@dataclass(frozen=True)
class Xenograft:
    """An NSG mouse as a host of the in-vivo model. [A] marks an assumption, [M] a recalled figure."""

    mouse_mass_kg: float = 0.025  # kg; [M] adult NSG mouse, 20-30 g. Scales the crowding constants and the
    #                               CAR-T ceiling: 6.96e10 x 0.025 / 70 = 2.5e7 CAR-T per mouse.
    engrafted_cells: float = 1e6  # cells; [A] i.v. injection of 1e6 CLL-line cells (1-10e6 is usual)
    establishment_days: float = 7.0  # days; [A] tumour established a week before the CAR-T
    #: days; [A] net doubling of an aggressive CLL-like line (MEC-1-like) in NSG mice, which die within about
    #: a month untreated (1e6 cells reach the lethal burden in ~20 days).
    doubling_days: float = 2.0
    #: [A] shares of the line in blood, marrow and spleen at engraftment (kept at trafficking equilibrium).
    distribution: tuple[float, float, float] = (0.1, 0.5, 0.4)
    lethal_burden: float = 1e9  # cells; [A] humane endpoint: ~1 g of tumour (4% of body mass, moribund)
    cll_capacity: float = 1e10  # cells; [A] well above the lethal burden, so growth is exponential until then
    #: CAR-T per mouse; [A] a stress dose within the 1-10e6 usual in NSG CART19 xenografts: a fresh product
    #: controls the tumour, with little to spare, so a loss of function shows. At 5e6 every product, however
    #: often stimulated, controls the tumour and the experiment cannot tell products apart.
    dose_cells: float = 2e6
    readout_day: int = 28  # days after CAR-T; [A] the tumour burden reported per group (4-week imaging)
    tumour_log_sd: float = 0.5  # [A] mouse-to-mouse spread (natural log) of engraftment
    fitness_log_sd: float = 0.2  # [A] mouse-to-mouse spread (natural log) of T-cell fitness in the host
    default_days: int = 90  # days of follow-up after the CAR-T
    default_mice: int = 10  # mice per group
    default_stimulations: tuple[int, ...] = (0, 1, 2, 3)

    def parameters(self, costimulation: str, fitness: float) -> np.ndarray:
        """Parameter vector of one mouse: no host immunity (host_t_cells 0), no normal human B cells,
        a growing human CLL-like line, CAR-T fitness ``fitness`` (tcell_fitness)."""
        # Births at every site net the doubling time over the table's CLL death rate.
        death = PARAMETERS["cll_death"].default
        birth = np.log(2.0) / self.doubling_days + death
        blood, marrow, spleen = self.distribution
        from_marrow, from_spleen = PARAMETERS["cll_egress_marrow"].default, PARAMETERS["cll_egress_node"].default
        return host_parameters(costimulation, self.mouse_mass_kg, {
            "cll_birth_blood": birth, "cll_birth_marrow": birth, "cll_birth_node": birth, "cll_death": death,
            "cll_capacity": self.cll_capacity, "tcell_fitness": fitness,
            # Trafficking equilibrium of the engrafted distribution: homing balances egress.
            "cll_homing_marrow": from_marrow * marrow / blood, "cll_homing_node": from_spleen * spleen / blood,
        })


XENOGRAFT = Xenograft()

#: Columns of the per-group table.
GROUP_COLUMNS = ("costimulation", "stimulations", "mice", "injected_senescent_fraction",
                 "injected_completed_exposures", "deaths", "median_survival_days", "mean_survival_days",
                 "survival_end", "tumour_readout_median")


@dataclass(frozen=True)
class MouseResult:
    """Per-group outcomes (``groups``), every mouse's fate (``survival``) and burden over time (``tumour``)."""

    groups: pd.DataFrame
    survival: pd.DataFrame  # costimulation, stimulations, mouse, engrafted_cells, tcell_fitness, survival_days, died
    tumour: pd.DataFrame  # costimulation, stimulations, mouse, day, tumour_cells, car_t_cells, alive
    days: int
    xenograft: Xenograft


def _mice(n: int, seed: int, xenograft: Xenograft) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Engrafted cells, T-cell fitness and solver seed of mice 0..n-1: one hashed key per (seed, mouse),
    so mouse i is the same mouse in every group and in a larger cohort."""
    with np.errstate(over="ignore"):
        keys = mix_seeds(mix_seeds(np.uint64(seed), _STREAM) + np.arange(n, dtype=np.uint64), _STREAM)
    engrafted = xenograft.engrafted_cells * np.exp(xenograft.tumour_log_sd * hashed_normals(keys, _TUMOUR))
    fitness = np.exp(xenograft.fitness_log_sd * hashed_normals(keys, _FITNESS))
    return engrafted, fitness, mix_seeds(keys, _SOLVER) >> np.uint64(1)


def _injection(harvest: np.ndarray, dose: float) -> list[tuple[float, int, float]]:
    """Doses at day 0 that inject ``dose`` cells with the harvest's composition."""
    share = harvest[CAR_T] / harvest[CAR_T].sum()
    return [(0.0, int(state), float(dose * s)) for state, s in zip(CAR_T, share) if s > 0]


def _survival(days: np.ndarray, burden: np.ndarray, lethal: float, end: float) -> tuple[np.ndarray, np.ndarray]:
    """Day of death (first output day at or above the lethal burden, from the CAR-T on) and whether it
    happened; mice alive at the end are censored there."""
    over = burden >= lethal
    died = over.any(axis=1)
    first = np.where(died, days[np.argmax(over, axis=1)], end)
    return np.maximum(first, 0.0), died


def _group_row(costimulation: str, k: int, harvest: np.ndarray, death: np.ndarray, died: np.ndarray,
               readout: np.ndarray, end: float) -> tuple:
    from lifelines import KaplanMeierFitter

    km = KaplanMeierFitter().fit(death, died)
    median = float(km.median_survival_time_)
    return (costimulation, k, death.size, float(harvest[SENESCENT].sum() / harvest[CAR_T].sum()),
            float(completed_exposures(harvest)), int(died.sum()), median if np.isfinite(median) else np.nan,
            float(death.mean()), float(km.survival_function_at_times(end).iloc[0]), float(np.median(readout)))


def run_mouse(restim: RestimResult | None = None, costimulations: Sequence[str] = ("4-1BB", "CD28"),
              stimulations: Sequence[int] = XENOGRAFT.default_stimulations, mice: int = XENOGRAFT.default_mice,
              days: int = XENOGRAFT.default_days, seed: int = 0, xenograft: Xenograft = XENOGRAFT,
              progress: Callable[[str], None] | None = None) -> MouseResult:
    """Treat a cohort of tumour-bearing mice per (domain, k) with CAR-T harvested after k stimulations.

    ``restim`` is an assay run holding every domain and at least ``max(stimulations)`` rounds; without it
    the default assay is run for as many rounds. ``progress(group label)`` is called after each group.
    ``mean_survival_days`` is the mean time to death restricted to the follow-up (censored mice count
    ``days``), a readout that still ranks groups whose median is not reached.
    """
    domains = check_costimulations(costimulations)
    ks = tuple(stimulations)
    if not ks or any(not isinstance(k, (int, np.integer)) or k < 0 for k in ks) or len(set(ks)) != len(ks):
        raise ValueError(f"stimulations must be distinct integers >= 0; got {ks!r}.")
    if not (isinstance(mice, (int, np.integer)) and mice >= 1):
        raise ValueError(f"mice must be an integer >= 1; got {mice!r}.")
    if not (isinstance(days, (int, np.integer)) and xenograft.readout_day <= days <= 365):
        raise ValueError(f"days must be an integer within [{xenograft.readout_day}, 365]; got {days!r}.")
    if restim is None:
        restim = run_restim(domains, rounds=max(max(ks), 1), seed=seed)
    missing = [d for d in domains if d not in restim.cultures]
    if missing or max(ks) > restim.rounds:
        raise ValueError(f"the assay run must hold {', '.join(domains)} with at least {max(ks)} rounds; "
                         f"it holds {', '.join(restim.cultures)} with {restim.rounds}.")
    engrafted, fitness, seeds = _mice(mice, seed, xenograft)
    times = np.arange(-xenograft.establishment_days, days + 1.0)
    after = times >= 0
    rows, fates, frames = [], [], []
    for costimulation in domains:
        params = np.array([xenograft.parameters(costimulation, f) for f in fitness])
        y0 = np.array([empty_host_state(p) for p in params])
        for site, share in zip(SITES, xenograft.distribution):
            y0[:, State[f"cll_pos_{site}"]] = share * engrafted
        for k in ks:
            harvest = restim.harvest(costimulation, k)
            doses = Doses.from_lists([_injection(harvest, xenograft.dose_cells)] * mice)
            solution = integrate(y0, params, times, doses=doses, seeds=seeds)
            if not solution.successful.all():
                raise RuntimeError(f"the xenograft's integration failed for {costimulation}, k={k}.")
            values = solution.values[:, after]
            burden = values[..., list(CLL_STATES)].sum(axis=-1)
            car_t = values[..., CAR_T].sum(axis=-1)
            death, died = _survival(times[after], burden, xenograft.lethal_burden, float(days))
            readout = burden[:, times[after] == xenograft.readout_day][:, 0]
            rows.append(_group_row(costimulation, k, harvest, death, died, readout, float(days)))
            fates.append(pd.DataFrame({"costimulation": costimulation, "stimulations": k, "mouse": np.arange(mice),
                                       "engrafted_cells": engrafted, "tcell_fitness": fitness,
                                       "survival_days": death, "died": died}))
            day = np.broadcast_to(times[after], burden.shape)
            frames.append(pd.DataFrame({
                "costimulation": costimulation, "stimulations": k,
                "mouse": np.repeat(np.arange(mice), day.shape[1]), "day": day.ravel(),
                "tumour_cells": burden.ravel(), "car_t_cells": car_t.ravel(),
                "alive": (~died[:, None] | (day < death[:, None])).ravel()}))
            if progress is not None:
                progress(f"{costimulation}, k={k}")
    return MouseResult(pd.DataFrame(rows, columns=list(GROUP_COLUMNS)), pd.concat(fates, ignore_index=True),
                       pd.concat(frames, ignore_index=True), days, xenograft)
