"""The base of the schemas (scenario, trial, lab settings), the one error they raise, and the refusal of a
file path in a client's data."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, model_validator

#: The validation context of data a client sent (a web request): no field of it may name a file here.
_CLIENT = {"client": True}


class ScenarioError(ValueError):
    """A scenario that does not validate; the message lists every problem."""


class StrictModel(BaseModel):
    """Base of every schema (scenario, trial, lab settings): unknown fields refused, immutable, no coercion."""

    # Strict: '30' is not a number and 1 is not true; a user who quoted a number meant something else.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    @model_validator(mode="before")
    @classmethod
    def _lists_as_tuples(cls, data):
        # YAML and JSON have lists where the schema keeps (immutable) tuples; strict mode takes only tuples.
        if isinstance(data, dict):
            return {key: tuple(value) if isinstance(value, list) else value for key, value in data.items()}
        return data

    @classmethod
    def validated(cls, data: object, source: str = "scenario", *, client: bool = False):
        """Build from parsed YAML/JSON, turning validation errors into one readable ScenarioError. With
        ``client``, ``data`` came from a client (a web request): a field that would name a file of this
        machine is refused, unread (:func:`refuse_client_path`)."""
        if not isinstance(data, dict):
            raise ScenarioError(f"{source}: expected a mapping of fields, got {type(data).__name__}")
        try:
            return cls.model_validate(data, context=_CLIENT if client else None)
        except ValidationError as exc:
            raise ScenarioError(_describe(exc, source)) from None


def from_client(info: ValidationInfo) -> bool:
    """Whether the data being validated came from a client (``validated(..., client=True)``)."""
    return bool(info.context and info.context.get("client"))


def refuse_client_path(info: ValidationInfo, expected: str) -> None:
    """Refuse, before anything opens it, a field's text that names a file (a parameter set) when the data
    came from a client: a server reads no path a client gave. ``expected`` is what a client gives instead."""
    if from_client(info):
        raise ValueError(f"a file path, which the server never opens for a client; expected {expected}")


_MAX_LISTED = 50
_MAX_ECHOED = 80


def _describe(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: {exc.error_count()} invalid field(s)"]
    for err in exc.errors()[:_MAX_LISTED]:
        field = ".".join(str(part) for part in err["loc"]) or "(document)"
        value = repr(err.get("input"))
        # A whole block (a check across its fields) is named by the message; only a short value is echoed.
        shown = f" = {value}" if len(value) <= _MAX_ECHOED else ""
        lines.append(f"  {field}{shown}: {err['msg']}")
    if exc.error_count() > _MAX_LISTED:
        lines.append(f"  ... and {exc.error_count() - _MAX_LISTED} more")
    return "\n".join(lines)
