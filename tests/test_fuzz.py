"""Property-based fuzzing of the scenario and trial files through the CLI (the contract).

Every document either simulates to the end and writes all its outputs (a solver failure of the patient may
instead end in one clean line, exit 1), or it is refused with exit 2 and a message naming the field.
Nothing in between, and never a traceback.

The generator follows the pydantic models' JSON schema, so a field added later is fuzzed without a change
here: values are drawn inside the schema's bounds, and each optional field is present or left out (so the
defaults run too). What the schema cannot say (names checked by validators: presets, populations, model
parameters, protocol conditions) comes from the registries in ``HINTS``. "Nonsense" documents change one
node of a valid one (wrong type, out of range, NaN/inf, a quoted number, an unknown key, a huge list); they
must be refused, naming that node.

The suite runs a few derandomized examples with ``WORK_CAPS`` (short follow-up, sparse visits) so it takes
a minute or two; ``benchmarks/fuzz.py`` (``make fuzz``) runs the same generator for many more.
"""

from __future__ import annotations

import copy
import json
import math
import re
import resource
import signal
import tempfile
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cartsim.cli import app
from cartsim.io import Scenario, ScenarioError
from cartsim.trial import Trial

SCENARIO_OUTPUTS = ("summary.json", "trajectories.parquet", "visits.parquet", "overview.png", "timeline.png")
TRIAL_OUTPUTS = ("trial.json", "summary.json", "km_pfs.png", "km_os.png")
TRIAL_PATIENTS = 3

#: Longest list drawn for a valid document (the schema's maxItems when smaller); long lists are a mutation.
MAX_LIST = 4
#: Items of a "huge list" mutation: past any sane ceiling on work, and under the 1 MB YAML limit for numbers.
HUGE_LIST = 100_000
#: Tighter bounds on the fields that size the work, by path suffix, so an in-suite example takes seconds;
#: "always" draws a field in every document, as its default (ten years of follow-up) would be past the cap.
WORK_CAPS = {"simulation": {"always": True}, "simulation.days": {"maximum": 400, "always": True},
             "follow_up_days": {"maximum": 400, "always": True}, "every_hours": {"minimum": 24}}
#: Per-document ceilings: a run past them is a finding (unbounded work), not a hang of the suite.
TIME_LIMIT_S = 60
MEMORY_LIMIT_BYTES = 6 * 2**30

UNKNOWN_KEY = "no_such_field"

# Drawn names go into figure titles, and no font has every character.
pytestmark = pytest.mark.filterwarnings("ignore:Glyph .* missing from font:UserWarning")
OK = {"ran", "solver failure", "refused"}


# --- the generator -------------------------------------------------------------------------------------

def _dotted(path: tuple) -> str:
    """``("arms", 0, "product")`` as the schema walker names it: ``arms[].product``."""
    text = ""
    for part in path:
        text += "[]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".")


def _lookup(table: dict, path: tuple):
    """The entry of ``table`` whose key is a suffix of ``path`` (on a field boundary), or None."""
    dotted = _dotted(path)
    return next((value for key, value in table.items() if dotted == key or dotted.endswith("." + key)), None)


@cache
def hints() -> dict:
    """Valid values that only a validator knows, by path suffix; drawn next to what the schema allows."""
    from cartsim.io import PROTOCOL_PRESETS
    from cartsim.model import PARAMETERS
    from cartsim.patient import POPULATIONS
    from cartsim.product import PRODUCT_PRESETS

    conditions = sorted({rule.when for rules in PROTOCOL_PRESETS.values() for rule in rules})
    override = st.sampled_from(sorted(PARAMETERS)).flatmap(
        lambda name: st.tuples(st.just(name), st.floats(PARAMETERS[name].low, PARAMETERS[name].high)))
    return {
        "product.preset": st.sampled_from(sorted(PRODUCT_PRESETS)),
        "protocol": st.sampled_from(sorted(PROTOCOL_PRESETS)),
        "protocol[].when": st.sampled_from(conditions),
        "population": st.sampled_from(sorted(POPULATIONS)),
        "parameters": st.lists(override, max_size=3).map(dict),
    }


class SchemaStrategy:
    """Hypothesis strategies for the documents a JSON schema (pydantic's ``model_json_schema``) accepts."""

    def __init__(self, schema: dict, caps: dict | None = None):
        self.schema = schema
        self.caps = caps or {}

    def resolve(self, node: dict) -> dict:
        while "$ref" in node:
            node = {**self.schema["$defs"][node["$ref"].rsplit("/", 1)[1]],
                    **{k: v for k, v in node.items() if k != "$ref"}}
        return node

    def document(self) -> st.SearchStrategy:
        return self.node(self.schema, ())

    def node(self, node: dict, path: tuple) -> st.SearchStrategy:
        node = {**self.resolve(node), **(_lookup(self.caps, path) or {})}
        drawn = self._by_type(node, path)
        hint = _lookup(hints(), path)
        # What the schema alone draws there (free text) is nearly always refused: mostly the valid values.
        return drawn if hint is None else st.integers(0, 3).flatmap(lambda i: drawn if i == 0 else hint)

    def _by_type(self, node: dict, path: tuple) -> st.SearchStrategy:
        if "anyOf" in node:
            # A work cap on an optional number (``float | None``) bounds its number branch.
            caps = {k: v for k, v in node.items() if k in ("minimum", "maximum")}
            return st.one_of([self._by_type({**self.resolve(branch), **caps}, path) for branch in node["anyOf"]])
        if "enum" in node:
            return st.sampled_from(node["enum"])
        kind = node.get("type")
        if kind == "object":
            return self._object(node, path)
        if kind == "array":
            return st.lists(self.node(node["items"], path + (0,)), min_size=node.get("minItems", 0),
                            max_size=min(node.get("maxItems", MAX_LIST), MAX_LIST))
        if kind == "number":
            return st.floats(node.get("minimum", node.get("exclusiveMinimum")),
                             node.get("maximum", node.get("exclusiveMaximum")),
                             exclude_min="exclusiveMinimum" in node and "minimum" not in node,
                             exclude_max="exclusiveMaximum" in node and "maximum" not in node,
                             allow_nan=False, allow_infinity=False)
        if kind == "integer":
            low = node.get("minimum", node.get("exclusiveMinimum", -2**63))
            high = node.get("maximum", node.get("exclusiveMaximum", 2**63))
            return st.integers(low + ("minimum" not in node and "exclusiveMinimum" in node),
                               high - ("maximum" not in node))
        if kind == "boolean":
            return st.booleans()
        if kind == "string":
            return st.text(min_size=node.get("minLength", 0), max_size=min(node.get("maxLength", 20), 20))
        if kind == "null":
            return st.none()
        raise NotImplementedError(f"{_dotted(path)}: JSON schema node {node} (teach SchemaStrategy this type)")

    def _object(self, node: dict, path: tuple) -> st.SearchStrategy:
        properties = node.get("properties", {})
        if not properties:  # a mapping of free keys (model parameter overrides)
            return st.dictionaries(st.text(max_size=20), self.node(node.get("additionalProperties", {}),
                                                                   path + ("*",)), max_size=MAX_LIST)
        required = set(node.get("required", ())) | {
            key for key in properties if (_lookup(self.caps, path + (key,)) or {}).get("always")}
        strategies = {key: self.node(value, path + (key,)) for key, value in properties.items()}
        return st.fixed_dictionaries({k: s for k, s in strategies.items() if k in required},
                                     optional={k: s for k, s in strategies.items() if k not in required})

    def at(self, path: tuple, value) -> tuple[dict, bool]:
        """The schema node at ``path`` of a document (the anyOf branch that fits ``value``) and whether
        null is allowed there."""
        node = self.resolve(self.schema)
        for part in path:
            node = self._branch(node, None)[0]
            if isinstance(part, int):
                node = self.resolve(node.get("items", {}))
            else:
                free = node.get("additionalProperties")
                node = self.resolve(node.get("properties", {}).get(part, free if isinstance(free, dict) else {}))
        return self._branch(node, value)

    def _branch(self, node: dict, value) -> tuple[dict, bool]:
        branches = [self.resolve(b) for b in node.get("anyOf", [node])]
        nullable = any(b.get("type") == "null" for b in branches)
        fitting = [b for b in branches if b.get("type") != "null"] or branches
        python = {"object": dict, "array": list, "string": str, "boolean": bool, "number": (int, float),
                  "integer": int}
        chosen = next((b for b in fitting if isinstance(value, python.get(b.get("type"), ()))), fitting[0])
        return chosen, nullable


@dataclass(frozen=True)
class Case:
    """A document, and for nonsense the node changed (whose path the refusal must name) and how."""

    document: object
    mutated: tuple | None = None
    how: str = ""

    def __repr__(self) -> str:  # hypothesis prints the failing example: show it as the YAML file it was
        change = f"nonsense at {'.'.join(map(str, self.mutated))} ({self.how})\n" if self.mutated is not None else ""
        return f"Case(\n{change}{_yaml(self.document)[:4000]})"


def _nodes(document, path: tuple = ()):
    """Every node of a parsed document, with its path (mapping keys and list indices)."""
    yield path, document
    if isinstance(document, dict):
        for key, value in document.items():
            yield from _nodes(value, path + (key,))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from _nodes(value, path + (index,))


def nonsense(node: dict, nullable: bool, value) -> list[tuple[str, object, tuple]]:
    """(label, replacement, path suffix to name) for each way to make ``value`` at ``node`` invalid."""
    bad = [("a list", [value], ()), ("a mapping", {"x": value}, ())]
    if not nullable:
        bad.append(("null", None, ()))
    if isinstance(value, dict):
        bad.append(("unknown key", {**value, UNKNOWN_KEY: 1}, (UNKNOWN_KEY,)))
    elif isinstance(value, list):
        bad.append(("huge list", [value[0] if value else 0] * HUGE_LIST, ()))
        bad.append(("text", "abc", ()))
    elif isinstance(value, bool):
        bad += [("quoted", str(value).lower(), ()), ("integer", 1, ())]
    elif isinstance(value, int | float):
        bad += [("quoted", str(value), ()), ("NaN", math.nan, ()), ("inf", math.inf, ()), ("-inf", -math.inf, ())]
        if "maximum" in node or "exclusiveMaximum" in node:
            high = node.get("maximum", node.get("exclusiveMaximum"))
            bad.append(("above range", high + max(1, abs(high)) if "maximum" in node else high, ()))
        if "minimum" in node or "exclusiveMinimum" in node:
            low = node.get("minimum", node.get("exclusiveMinimum"))
            bad.append(("below range", low - max(1, abs(low)) if "minimum" in node else low, ()))
        if node.get("type") == "integer":
            bad.append(("fraction", value + 0.5, ()))
    elif isinstance(value, str):
        bad.append(("number", 12345, ()))
        if "enum" in node:
            bad.append(("not a choice", value + "?", ()))
        if "maxLength" in node:
            bad.append(("too long", "x" * (node["maxLength"] + 1), ()))
    return bad


def _replace(document, path: tuple, value):
    if not path:
        return value
    document = copy.deepcopy(document)
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    return document


def mutated(schema: SchemaStrategy, document) -> st.SearchStrategy:
    """One node of ``document`` made invalid (the root only by an unknown key: it has no field to name)."""
    nodes = list(_nodes(document))

    def change(node_path_value):
        path, value = node_path_value
        choices = nonsense(*schema.at(path, value), value)
        if not path:
            choices = [c for c in choices if c[0] == "unknown key"]
        return st.sampled_from(choices).map(
            lambda c: Case(_replace(document, path, c[1]), path + c[2], c[0]))

    return st.sampled_from(nodes).flatmap(change)


def _validates(model, document) -> bool:
    try:
        model.validated(document)
    except ScenarioError:
        return False
    return True


def cases(model, caps: dict | None = None) -> st.SearchStrategy:
    """A third each: documents drawn from the schema (many refused by checks across fields), the ones of
    them that validate (which must run), and nonsense made from those (refused for the change, naming it)."""
    schema = SchemaStrategy(model.model_json_schema(), caps)
    drawn = schema.document()
    valid = drawn.filter(lambda document: _validates(model, document))
    return st.one_of(drawn.map(Case), valid.map(Case), valid.flatmap(lambda document: mutated(schema, document)))


# --- the property --------------------------------------------------------------------------------------

class OverLimit(BaseException):
    """A document ran past its time limit (a BaseException, so no ``except Exception`` inside can eat it)."""


@contextmanager
def bounded(seconds: float = TIME_LIMIT_S, memory: int = MEMORY_LIMIT_BYTES):
    """Raise OverLimit after ``seconds`` and make allocations past ``memory`` more fail (MemoryError):
    an unbounded document is then a finding instead of a hung or swapping machine."""
    def alarm(signum, frame):
        raise OverLimit(f"still running after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    in_use = int(re.search(r"VmSize:\s+(\d+) kB", Path("/proc/self/status").read_text()).group(1)) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (in_use + memory, hard))
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


class _QuotingDumper(yaml.SafeDumper):
    """Quotes a string that reads as a number: PyYAML writes '1e-05' plain (a string to YAML 1.1, a float to
    the YAML 1.2 loader of cartsim), which would turn the 'quoted number' mutation back into a number."""


def _represent_str(dumper, value: str):
    try:
        float(value)
    except ValueError:
        return dumper.represent_str(value)
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="'")


_QuotingDumper.add_representer(str, _represent_str)


def _yaml(document) -> str:
    return yaml.dump(document, Dumper=_QuotingDumper, sort_keys=False, allow_unicode=True)


def outcome(case: Case, command: str, seconds: float = TIME_LIMIT_S) -> tuple[str, str]:
    """Run ``cartsim COMMAND`` on the case's document: ("ran" | "solver failure" | "refused", output) when
    the contract holds, else (what went wrong, output with the traceback)."""
    with tempfile.TemporaryDirectory(prefix="fuzz-") as folder:
        path, out = Path(folder) / "doc.yaml", Path(folder) / "out"
        path.write_text(_yaml(case.document), encoding="utf-8")
        extra = ["--n", str(TRIAL_PATIENTS)] if command == "trial" else []
        try:
            with bounded(seconds):
                result = CliRunner().invoke(app, [command, str(path), "--out", str(out), *extra])
        except OverLimit as exc:
            return "over time limit", str(exc)
        text = result.output
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            return f"crash: {type(result.exception).__name__}", text + "".join(
                traceback.format_exception(*result.exc_info))
        if "Traceback" in text:
            return "traceback shown", text
        # An internal error is one line naming a log file with the traceback: keep that for the report.
        log = re.search(r"details in (\S+\.log)", text)
        if log and Path(log.group(1)).is_file():
            text += "\n" + Path(log.group(1)).read_text(errors="replace")
            Path(log.group(1)).unlink()
        outputs = SCENARIO_OUTPUTS if command == "simulate" else TRIAL_OUTPUTS
        if result.exit_code == 0:
            missing = [name for name in outputs if not (out / name).is_file()]
            if missing:
                return f"exit 0 without {', '.join(missing)}", text
            json.loads((out / "summary.json").read_text())
            return ("accepted nonsense" if case.mutated is not None else "ran"), text
        if result.exit_code == 1 and command == "simulate" and len(text.strip().splitlines()) == 1:
            return ("accepted nonsense" if case.mutated is not None else "solver failure"), text
        if result.exit_code != 2:
            return f"exit {result.exit_code}", text
        if case.mutated is not None and not _names(text, case):
            return "refusal does not name the field", text
        return "refused", text


def _names(message: str, case: Case) -> bool:
    """Whether a refusal names the changed node (pydantic may add a union branch: ``field.float``) or the
    list or object holding it (their validators report there); a huge list may instead be refused for the
    size of the file."""
    if not case.mutated or (case.how == "huge list" and "bytes" in message):
        return True
    node, parent = (".".join(map(str, path)) for path in (case.mutated, case.mutated[:-1]))
    named = re.findall(r"[^\s=:]+", message)
    return any(word in (node, parent) or word.startswith(node + ".") for word in named)


# Derandomized for a reproducible CI; no shrinking: each step is a CLI run, and the document is short anyway.
SUITE = settings(deadline=None, derandomize=True, database=None, print_blob=False,
                 phases=(Phase.explicit, Phase.generate),
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                        HealthCheck.filter_too_much])


@settings(SUITE, max_examples=30)
@given(case=cases(Scenario, WORK_CAPS))
def test_scenario_documents_run_or_are_refused_by_name(case):
    verdict, output = outcome(case, "simulate")
    assert verdict in OK, f"{verdict}\n{case!r}\n{output}"


@settings(SUITE, max_examples=5)
@given(case=cases(Trial, WORK_CAPS))
def test_trial_documents_run_or_are_refused_by_name(case):
    verdict, output = outcome(case, "trial")
    assert verdict in OK, f"{verdict}\n{case!r}\n{output}"
