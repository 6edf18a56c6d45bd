"""One patient (a batch of one) through the engine: ``cartsim.simulate(scenario)``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ._batch import build_batch
from ._readouts import derived_readouts, summarise
from .io import Scenario, load_scenario
from .model import STATE_NAMES
from .solver import Result, SolverOptions, integrate


class SimulationError(RuntimeError):
    """The engine could not integrate the patient (the message says why)."""


@dataclass(frozen=True)
class SimulationResult:
    """Daily trajectories and named endpoints of one simulated patient.

    ``days`` run from the first dose (lymphodepletion) to the end of follow-up;
    ``values[day, state]`` are the model states (see ``cartsim.model.STATE_TABLE``).
    """

    scenario: Scenario
    days: np.ndarray
    values: np.ndarray
    summary: dict

    def to_frame(self) -> pd.DataFrame:
        """One row per day: every state plus the derived readouts."""
        frame = pd.DataFrame(self.values, columns=list(STATE_NAMES))
        for name, series in derived_readouts(self.values).items():
            frame[name] = series
        frame.insert(0, "day", self.days)
        return frame

    def plot(self, path: str | Path) -> Path:
        """Write the overview figure (CAR-T by phenotype, tumour by compartment, B cells, IL-6)."""
        from .report import plot_overview

        return plot_overview(self.to_frame(), Path(path), title=self.scenario.name)


def simulate(scenario: Scenario | str | Path) -> SimulationResult:
    """Simulate one patient; ``scenario`` is a :class:`~cartsim.io.Scenario` or a YAML path."""
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    batch = build_batch([scenario])
    settings = scenario.simulation
    days = np.arange(np.floor(batch.t0[0]), settings.days + 1, dtype=np.float64)
    options = SolverOptions(rtol=settings.rtol, stochastic=settings.stochastic)
    solution = integrate(batch.y0, batch.params, days, doses=batch.doses, seeds=batch.seeds, t0=batch.t0,
                         options=options)
    outcome = Result(int(solution.result[0]))
    if outcome != Result.successful:
        raise SimulationError(f"scenario '{scenario.name}': {outcome.message}")
    values = solution.values[0]
    return SimulationResult(scenario, days, values, summarise(days, values))
