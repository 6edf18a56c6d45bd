"""The lab assays' settings as validated schemas, shared by ``cartsim lab`` and the web app.

Like a scenario, a settings object cannot be built in an invalid state: a bad
value is a :class:`~cartsim.io.ScenarioError` naming the field, the value
given and what was expected.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from ..io import StrictModel
from ..product import COSTIMULATION
from ._mouse import XENOGRAFT
from ._restim import CULTURE

Domain = Literal[tuple(COSTIMULATION)]  # type: ignore[valid-type]


def _distinct(values: tuple, what: str) -> tuple:
    repeated = sorted({str(v) for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"{what} must be distinct; repeated: {', '.join(repeated)}")
    return values


class _AssaySettings(StrictModel):
    costimulations: tuple[Domain, ...] = Field(("4-1BB", "CD28"), min_length=1,
                                               description="co-stimulatory domains, one culture or cohort each")
    seed: int = Field(0, ge=0, lt=2**63, description="fixes every random draw")

    @field_validator("costimulations")
    @classmethod
    def _distinct_domains(cls, domains):
        return _distinct(domains, "costimulations")


class RestimSettings(_AssaySettings):
    """The in-vitro repeated-stimulation assay (:func:`cartsim.lab.run_restim`)."""

    rounds: int = Field(CULTURE.default_rounds, ge=1, le=20, description="stimulation rounds")
    every_days: float = Field(CULTURE.default_every_days, ge=1, le=28, description="days between restimulations")
    effector_target_ratio: float = Field(1.0, gt=0, le=100, description="CAR-T per target at each stimulation")
    cells: float = Field(CULTURE.default_cells, ge=1e3, le=1e8, description="CAR-T plated per well each round")


class MouseSettings(_AssaySettings):
    """The NSG mouse xenograft (:func:`cartsim.lab.run_mouse`) with CAR-T harvested after k stimulations."""

    stimulations: tuple[int, ...] = Field(XENOGRAFT.default_stimulations, min_length=1, max_length=21,
                                          description="stimulations k before harvest, one group each")
    mice: int = Field(XENOGRAFT.default_mice, ge=1, le=1000, description="mice per (domain, k) group")
    days: int = Field(XENOGRAFT.default_days, ge=XENOGRAFT.readout_day, le=365,
                      description="follow-up after the CAR-T")

    @field_validator("stimulations")
    @classmethod
    def _ks(cls, ks):
        if any(k < 0 or k > 20 for k in ks):
            raise ValueError(f"each k must be within [0, 20] stimulations; got {', '.join(map(str, ks))}")
        return _distinct(ks, "stimulations")

    @property
    def animals(self) -> int:
        """Mice in the whole experiment."""
        return self.mice * len(self.stimulations) * len(self.costimulations)
