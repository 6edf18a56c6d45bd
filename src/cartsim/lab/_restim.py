"""The in-vitro repeated-stimulation assay: CAR-T and CLL targets in a well, restimulated every N days.

Kay NE (Kay/Kenderian), ASH 2022: "a cell culture model for repeated CAR-T
cell activation followed by rest"; senescence markers appeared after one or
two exposures, more in 4-1BB than in CD28 cells (kay2022_senescence_onset,
kay2022_costim_dependence). The assay here is the in-vivo model in a culture
well (:class:`Culture`), integrated round by round:

1. round r starts by re-plating: a sample of ``cells`` CAR-T is taken from
   the culture (composition kept: exposure levels, senescent share, leftover
   targets in proportion) and fresh targets are added at the E:T ratio. This
   is how such assays keep the cell density, and so the E:T ratio, fixed;
2. the well is integrated for ``every_days``; a target-only control well
   (same targets, no CAR-T) runs beside it, so killing is specific killing
   (1 - targets left / targets left in the control), the assay's readout;
3. the culture at the end of round r is kept: :meth:`RestimResult.harvest`
   hands its CAR-T to the mouse xenograft (:mod:`._mouse`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from .._engine import integrate
from .._seeds import mix_seeds
from ..model import State
from ..product import COSTIMULATION
from ..solver import SolverOptions
from ._hosts import CAR_T, DIVISIONS, SENESCENT, completed_exposures, empty_host_state, fresh_product, host_parameters

_STREAM = 0x52535449  # "RSTI": the assay's solver seeds, independent of every other stream
TARGETS = State.cll_pos_blood  # all targets sit in one fully accessible compartment (access_blood 1)


@dataclass(frozen=True)
class Culture:
    """A culture well as a host of the in-vivo model. [A] marks an assumption, [M] a recalled figure."""

    well_ml: float = 2.0  # mL; [A] working volume of a 24-well plate well (1 mL of medium ~ 1 g of body)
    #: 1/day; [A] targets are irradiated CLL-like cells or primary CLL cells, which do not divide in culture
    #: and die spontaneously over days without stromal support ([M] Collins 1989 Br J Haematol: primary CLL
    #: cells undergo apoptosis in culture). 0.1/day: a half-life of ~7 days, one restimulation interval.
    target_death: float = 0.1
    #: cells per well; [A] T-cell cultures stop growing at ~1e7 cells/mL even when fed. Replaces the
    #: mass-scaled whole-body lymphoid niche (5e11 x 2 g / 70 kg = 1.4e7, set by body crowding, not feeding).
    lymphoid_capacity: float = 2e7
    #: 1/day; [A] return of effectors to rest once the targets are gone. Clearly marked override of the
    #: table's rest_rate (0.003/day), which is calibrated to how few effectors of an in-vivo expansion
    #: join the long-lived pool (stein2019_model_params). In a well, activated cells return to rest within
    #: days of clearing their targets (the protocols restimulate once cells are back at resting size), and
    #: the exposure chain, which counts completed exposures, would otherwise not advance at all.
    rest_rate: float = 0.5
    default_every_days: float = 7.0  # days; [A] weekly restimulation after rest, the common protocol
    default_rounds: int = 5  # [A] enough rounds for 4-1BB cells to lose function (Kay/Kenderian ASH 2022: 1-2 suffice)
    default_cells: float = 1e6  # CAR-T per well at each restimulation; [A] 1e6 cells in 2 mL (5e5/mL)

    def parameters(self, costimulation: str) -> np.ndarray:
        """Parameter vector of a well with a CD19 CAR of ``costimulation``: targets in the blood
        compartment with full access, no homing, no division, spontaneous death only."""
        return host_parameters(costimulation, self.well_ml * 1e-3, {
            "cll_birth_blood": 0.0, "cll_birth_marrow": 0.0, "cll_birth_node": 0.0,
            "cll_death": self.target_death, "cll_homing_marrow": 0.0, "cll_homing_node": 0.0,
            "access_blood": 1.0, "antigen_escape_rate": 0.0,
            "lymphoid_capacity": self.lymphoid_capacity, "rest_rate": self.rest_rate,
        })


CULTURE = Culture()

#: Deterministic integration: a well holds ~1e6 cells per population, and the assay reads bulk fractions.
#: Seeds are still passed, so turning the stochastic layer on would stay reproducible.
ASSAY_SOLVER = SolverOptions(stochastic=False)

#: Columns of the assay table, one row per co-stimulatory domain and round.
COLUMNS = ("costimulation", "round", "day", "car_t_plated", "targets_added", "killing", "killing_24h",
           "fold_expansion", "cumulative_fold", "senescent_fraction", "completed_exposures")


@dataclass(frozen=True)
class RestimResult:
    """The assay table and each domain's culture after every round (for the mouse xenograft)."""

    table: pd.DataFrame
    cultures: dict[str, np.ndarray] = field(repr=False)  # domain -> state[round 0..R, n_states]

    @property
    def rounds(self) -> int:
        return int(self.table["round"].max())

    def harvest(self, costimulation: str, stimulations: int) -> np.ndarray:
        """The CAR-T part of the state (other states 0) after ``stimulations`` rounds; 0 is the product."""
        if costimulation not in self.cultures:
            raise ValueError(f"costimulation must be one of {sorted(self.cultures)}; got {costimulation!r}.")
        if not 0 <= stimulations <= self.rounds:
            raise ValueError(f"stimulations must be within [0, {self.rounds}]; got {stimulations!r}.")
        cells = np.zeros_like(self.cultures[costimulation][stimulations])
        cells[CAR_T] = self.cultures[costimulation][stimulations][CAR_T]
        return cells


def check_costimulations(costimulations: Sequence[str]) -> tuple[str, ...]:
    """The domains as a tuple, each a COSTIMULATION preset, at least one, no repeats."""
    domains = tuple(costimulations)
    unknown = [d for d in domains if d not in COSTIMULATION]
    if not domains or unknown or len(set(domains)) != len(domains):
        raise ValueError(f"costimulations must be distinct domains among {', '.join(COSTIMULATION)}; "
                         f"got {', '.join(map(repr, domains)) or 'none'}.")
    return domains


def _check(rounds: int, every_days: float, effector_target_ratio: float, cells: float) -> None:
    if not (isinstance(rounds, (int, np.integer)) and rounds >= 1):
        raise ValueError(f"rounds must be an integer >= 1; got {rounds!r}.")
    if not (np.isfinite(every_days) and every_days >= 1):
        raise ValueError(f"every_days must be >= 1 day (killing is also read at 24 h); got {every_days!r}.")
    if not (np.isfinite(effector_target_ratio) and effector_target_ratio > 0):
        raise ValueError(f"effector_target_ratio must be > 0; got {effector_target_ratio!r}.")
    if not (np.isfinite(cells) and 1e3 <= cells <= 1e8):
        raise ValueError(f"cells must be within [1e3, 1e8] CAR-T per well; got {cells!r}.")


def run_restim(costimulations: Sequence[str] = ("4-1BB", "CD28"), rounds: int = CULTURE.default_rounds,
               every_days: float = CULTURE.default_every_days, effector_target_ratio: float = 1.0,
               cells: float = CULTURE.default_cells, seed: int = 0, culture: Culture = CULTURE,
               progress: Callable[[int], None] | None = None) -> RestimResult:
    """Run the repeated-stimulation assay for each co-stimulatory domain; ``progress(round)`` after each round.

    All domains (and their target-only control wells) run as one batch, so each round is one solver call.
    """
    domains = check_costimulations(costimulations)
    _check(rounds, every_days, effector_target_ratio, cells)
    n = len(domains)
    params = np.array([culture.parameters(d) for d in domains] * 2)  # test wells, then control wells
    well = np.array([empty_host_state(p) for p in params])
    well[:n] += np.array([fresh_product(cells) for _ in domains])
    with np.errstate(over="ignore"):  # seeds wrap around 2**64 by design
        seeds = mix_seeds(np.uint64(seed), _STREAM) + np.arange(2 * n, dtype=np.uint64)
    cultures = {d: [well[i].copy()] for i, d in enumerate(domains)}
    rows: dict[str, list[tuple]] = {d: [] for d in domains}
    cumulative = np.ones(n)
    for r in range(1, rounds + 1):
        start = (r - 1) * every_days
        plated = well[:n, CAR_T].sum(axis=1)
        # Re-plate a sample of `cells` CAR-T (composition and leftover targets kept), then add fresh targets.
        sample = cells / plated
        well[:n, CAR_T] *= sample[:, None]
        well[:n, DIVISIONS] *= sample[:, None]  # the division counts are sums over the cells sampled
        well[:n, TARGETS] *= sample
        added = cells / effector_target_ratio
        well[:n, TARGETS] += added
        well[n:, TARGETS] = well[:n, TARGETS]  # control wells: the same targets, no CAR-T
        times = start + np.array([0.0, 1.0, every_days]) if every_days > 1 else start + np.array([0.0, 1.0])
        solution = integrate(well, params, times, seeds=seeds, options=ASSAY_SOLVER)
        if not solution.successful.all():
            raise RuntimeError(f"the assay's integration failed in round {r}.")
        targets = solution.values[:, :, TARGETS]
        well = solution.values[:, -1].copy()
        fold = well[:n, CAR_T].sum(axis=1) / cells
        cumulative = cumulative * fold
        senescent = well[:n, SENESCENT].sum(axis=1) / well[:n, CAR_T].sum(axis=1)
        exposures = completed_exposures(well[:n])
        for i, domain in enumerate(domains):
            cultures[domain].append(well[i].copy())
            rows[domain].append((domain, r, start, cells, added, 1.0 - targets[i, -1] / targets[n + i, -1],
                         1.0 - targets[i, 1] / targets[n + i, 1], fold[i], cumulative[i], senescent[i],
                         exposures[i]))
        if progress is not None:
            progress(r)
    table = pd.DataFrame([row for d in domains for row in rows[d]], columns=list(COLUMNS))
    return RestimResult(table, {d: np.array(c) for d, c in cultures.items()})
