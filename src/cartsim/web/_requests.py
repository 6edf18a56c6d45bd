"""What the server accepts: the server's limits, and every request body checked by the same schemas as
the CLI's files (a scenario, a trial, the lab settings) before any work starts.

A request that fails is a :class:`~cartsim.io.ScenarioError` whose message
names each field, the value given and what was expected; the app answers it
with 422.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from ..io import Scenario, ScenarioError
from ..lab._settings import MouseSettings, RestimSettings
from ..trial import Trial

#: The kinds of run a client can start, with the schema of each one's request body.
SCHEMAS: dict[str, type[BaseModel]] = {
    "patient": Scenario, "trial": Trial, "restim": RestimSettings, "mouse": MouseSettings,
}


@dataclass(frozen=True)
class ServerLimits:
    """What one server will do; set by whoever starts it (``cartsim serve``), never by a client."""

    workers: int = 2  # model worker processes: runs at the same time
    max_patients: int = 2000  # virtual patients (all arms together) or mice in one run
    run_seconds: float = 300.0  # a run still going after this long is stopped
    body_bytes: int = 1_000_000  # largest request body
    active_runs: int = 8  # runs queued or running at once; more are refused with 503
    kept_runs: int = 50  # finished runs kept when a new run starts (results downloadable); older ones are deleted

    def __post_init__(self):
        for name in ("workers", "max_patients", "body_bytes", "active_runs", "kept_runs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1; got {getattr(self, name)}")
        if not self.run_seconds > 0:
            raise ValueError(f"run_seconds must be > 0; got {self.run_seconds}")


def _size(request: BaseModel) -> tuple[str, int]:
    """The field that sizes a run, and how many patients (or mice) it asks for."""
    if isinstance(request, Trial):
        return "patients_per_arm", request.patients_per_arm * len(request.arms)
    if isinstance(request, MouseSettings):
        return "mice", request.animals
    return "", 1


def validate_run(kind: str, body: object, limits: ServerLimits) -> BaseModel:
    """The validated request of a ``kind`` run (a key of :data:`SCHEMAS`), within the server's limits."""
    request = SCHEMAS[kind].validated(body, "scenario" if kind == "patient" else kind)
    field, size = _size(request)
    if size > limits.max_patients:
        what = "patients (all arms together)" if kind == "trial" else "mice (all groups together)"
        raise ScenarioError(f"{kind}: 1 invalid field(s)\n  {field} = {getattr(request, field)!r}: this server runs "
                            f"at most {limits.max_patients} {what} per run; asked for {size}")
    return request
