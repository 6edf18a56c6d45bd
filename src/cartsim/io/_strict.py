"""The base of the schemas (scenario, trial, lab settings) and the one error they raise."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator


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
    def validated(cls, data: object, source: str = "scenario"):
        """Build from parsed YAML/JSON, turning validation errors into one readable ScenarioError."""
        if not isinstance(data, dict):
            raise ScenarioError(f"{source}: expected a mapping of fields, got {type(data).__name__}")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ScenarioError(_describe(exc, source)) from None


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
