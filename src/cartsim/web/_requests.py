"""What the server accepts: the server's limits, and every request body checked by the same schemas as
the CLI's files (a scenario, a trial, the lab settings) before any work starts.

A request that fails is a :class:`~cartsim.io.ScenarioError` whose message
names each field, the value given and what was expected; the app answers it
with 422. Every body is validated as a client's (:func:`validated`): a field
the CLI reads as a file path (a ``parameters`` set) is refused, unread. Bodies are parsed here too (:func:`parse_body`): JSON nested no deeper
than :data:`MAX_BODY_DEPTH`, YAML read by :func:`cartsim.io.parse_yaml_text`
(no aliases, no duplicate keys, bounded depth), so no body reaches a recursion
limit or expands past its own size.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from ..io import Scenario, ScenarioError, StrictModel, parse_yaml_text
from ..lab import MouseSettings, RestimSettings
from ..trial import DEFAULT_DRAWS, MAX_DRAWS, MIN_DRAWS, SHIPPED, Trial

#: The kinds of run a client can start, with the schema of each one's request body.
SCHEMAS: dict[str, type[BaseModel]] = {
    "patient": Scenario, "trial": Trial, "restim": RestimSettings, "mouse": MouseSettings,
}


class PosteriorDraws(StrictModel):
    """The query of a trial run over draws of the shipped posterior, ``POST /api/runs/trial?posterior=shipped
    &draws=K``: as ``cartsim trial --posterior shipped --draws K``, every endpoint gets a 95% prediction
    interval and each arm's difference from the first its own. Only the package's posterior: a client never
    names a folder of the server."""

    posterior: Literal["shipped"] = Field(description=f"the package's posterior ({SHIPPED!r})")
    # A query's values are text: the one count of a schema that reads "20" as 20.
    draws: int = Field(DEFAULT_DRAWS, ge=MIN_DRAWS, le=MAX_DRAWS, strict=False)


class TrialRun(StrictModel):
    """What a worker gets for a trial run: the trial, and the posterior draws to run it over (None: once, with
    the shipped parameter set)."""

    trial: Trial
    draws: int | None = None


@dataclass(frozen=True)
class ServerLimits:
    """What one server will do; set by whoever starts it (``cartsim serve``), never by a client."""

    workers: int = 2  # model worker processes: runs at the same time
    max_patients: int = 2000  # virtual patients (all arms together) or mice in one run
    run_seconds: float = 300.0  # a run still going after this long is stopped
    body_bytes: int = 1_000_000  # largest request body
    active_runs: int = 8  # runs queued or running at once; more are refused with 503
    kept_runs: int = 50  # finished runs kept when a new run starts (results downloadable); older ones are deleted
    body_seconds: float = 10.0  # a request body still arriving this long after it was first read is cut off (408)
    parse_seconds: float = 10.0  # parsing and validating one body (off the event loop) past this is refused (413)

    def __post_init__(self):
        for name in ("workers", "max_patients", "body_bytes", "active_runs", "kept_runs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1; got {getattr(self, name)}")
        for name in ("run_seconds", "body_seconds", "parse_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0; got {getattr(self, name)}")


#: Deepest nesting of objects and arrays in a JSON body (a trial is 5 deep); as for YAML files.
MAX_BODY_DEPTH = 32
JSON_TYPE = "application/json"
#: The media types a YAML body may be declared as (``text/plain`` is not one: see ``parse_yaml`` in the app).
YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})


def media_type(content_type: str | None) -> str:
    """The media type of a Content-Type header, lower case, without parameters (``charset=...``)."""
    return (content_type or "").split(";")[0].strip().lower()


def _deeper_than(data: object, limit: int) -> bool:
    """Whether the dicts and lists of ``data`` nest more than ``limit`` deep (walked without recursion)."""
    stack = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def parse_json(body: bytes) -> object:
    """The data of a JSON body; a ScenarioError if it is not JSON or nests deeper than MAX_BODY_DEPTH."""
    too_deep = ScenarioError(f"body: JSON nested deeper than {MAX_BODY_DEPTH} levels; a request is a few levels deep")
    try:
        data = json.loads(body)
    except RecursionError:  # the decoder's own limit (about 1000 levels), met before ours
        raise too_deep from None
    except ValueError:  # JSONDecodeError, UnicodeDecodeError
        raise ScenarioError("body: not valid JSON; expected a JSON object of fields") from None
    if isinstance(data, (dict, list)) and _deeper_than(data, MAX_BODY_DEPTH):
        raise too_deep
    return data


def parse_body(media: str, body: bytes, source: str) -> object:
    """The data of a request body sent as ``media`` (JSON or one of YAML_TYPES)."""
    if media == JSON_TYPE:
        return parse_json(body)
    if media in YAML_TYPES:
        return parse_yaml_text(body, source)
    raise ValueError(f"not a body media type: {media!r}")


def _size(request: BaseModel) -> tuple[str, int, str]:
    """The fields that size a run (as a 422 names them), how many patients (or mice) it asks for, and of what."""
    if isinstance(request, TrialRun):
        trial = request.trial
        size = trial.patients_per_arm * len(trial.arms)
        if request.draws is None:
            return f"patients_per_arm = {trial.patients_per_arm}", size, "patients (all arms together)"
        return (f"patients_per_arm = {trial.patients_per_arm} with draws = {request.draws}", size * request.draws,
                "patients (all arms and posterior draws together)")
    if isinstance(request, MouseSettings):
        return f"mice = {request.mice!r}", request.animals, "mice (all groups together)"
    return "", 1, ""


def validated(schema: type[StrictModel], data: object, source: str) -> StrictModel:
    """``data`` of a request (a body or a query) validated by ``schema`` as a client's: the one place the
    server validates what a client sent, so a path in any field is refused before a file is opened."""
    return schema.validated(data, source, client=True)


def validate_run(kind: str, body: object, limits: ServerLimits, query: Mapping[str, str] | None = None) -> BaseModel:
    """The validated request of a ``kind`` run (a key of :data:`SCHEMAS`; a trial's as a :class:`TrialRun`,
    over the posterior draws its ``query`` asks for), within the server's limits."""
    request = validated(SCHEMAS[kind], body, "scenario" if kind == "patient" else kind)
    if kind == "trial":
        draws = validated(PosteriorDraws, dict(query), "query").draws if query else None
        request = TrialRun(trial=request, draws=draws)
    elif query:
        raise ScenarioError(f"query: a {kind} run takes no options; got {', '.join(map(repr, query))}")
    fields, size, what = _size(request)
    if size > limits.max_patients:
        raise ScenarioError(f"{kind}: 1 invalid field(s)\n  {fields}: this server runs at most {limits.max_patients} "
                            f"{what} per run; asked for {size}")
    return request
