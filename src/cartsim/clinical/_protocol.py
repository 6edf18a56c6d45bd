"""Clinical protocols: rules ``condition -> drug`` decided for all patients at once at each visit.

A rule's condition is a small boolean language over the visit variables
(:data:`VISIT_VARIABLES`)::

    expr     := or_expr
    or_expr  := and_expr ('or' and_expr)*
    and_expr := not_expr ('and' not_expr)*
    not_expr := 'not' not_expr | atom
    atom     := '(' expr ')' | NAME OP NUMBER | NAME
    OP       := '>=' | '>' | '<=' | '<' | '==' | '!='

A bare NAME is true where the variable is nonzero. Conditions are parsed by
:func:`compile_condition` (no ``eval``) and evaluated on arrays, one value per
patient. The rule schema itself (:class:`cartsim.io.Rule`) lives with the
scenario schema; this module holds the parser, the presets and
:func:`decide`.
"""

from __future__ import annotations

import functools
import operator
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..io._scenario import DRUGS, Rule

#: Variables a condition may use: the visit's clinical readouts, and per drug in
#: :data:`cartsim.io.DRUGS` the doses given so far (``<drug>_doses``, by any rule or
#: the schedule) and the hours since the last dose (``hours_since_<drug>``, inf if never).
VISIT_VARIABLES: tuple[str, ...] = (
    "day",  # days since infusion
    "crs_grade",  # ASTCT CRS grade now, 0-5
    "icans_grade",  # ASTCT ICANS grade now, 0-5
    "crs_max_grade",  # highest CRS grade so far
    "icans_max_grade",  # highest ICANS grade so far
    "temperature_c",
    "fever",  # 0/1, temperature >= 38 C
    "infused",  # 0/1, CAR-T cells given (0 before day 0 and after a failed manufacture)
    *(f"{drug}_doses" for drug in DRUGS),
    *(f"hours_since_{drug}" for drug in DRUGS),
)

_OPERATORS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
_KEYWORDS = ("and", "or", "not")

# One token per match; the operator alternative takes a whole run of operator
# characters so that '>>' or '=' is reported as one bad operator. ASCII only: in
# Unicode mode \d and \s would also take other scripts' digits ('٣' read as 3)
# and no-break spaces, and float() would accept those digits.
_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>[<>=!]+)"
    r"|(?P<paren>[()])",
    re.ASCII,
)


@dataclass(frozen=True)
class _Token:
    kind: str  # number, name, keyword, op, paren, end
    text: str
    position: int

    def shown(self) -> str:
        return "end of condition" if self.kind == "end" else repr(self.text)


def _tokenize(text: str) -> list[_Token]:
    tokens = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise _unexpected_character(text, position)
        kind = match.lastgroup
        if kind != "space":
            word = match.group()
            if kind == "name" and word in _KEYWORDS:
                kind = "keyword"
            tokens.append(_Token(kind, word, position))
        position = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


def _unexpected_character(text: str, position: int) -> ValueError:
    character = text[position]
    shown = repr(character)
    if not character.isascii():
        # A look-alike ('٣', a no-break space) cannot be told apart on screen: its Unicode name can.
        shown += f" ({unicodedata.name(character, f'U+{ord(character):04X}')})"
    hint = "; numbers are written with the digits 0-9" if character.isnumeric() else ""
    return ValueError(f"unexpected character {shown} at position {position} of {text!r}{hint}")


_Node = Callable[[Mapping[str, np.ndarray]], np.ndarray]

#: Longest condition compiled (characters); the presets' longest is under 100.
MAX_CONDITION_LENGTH = 1000
#: Deepest nesting of parentheses and ``not`` (each is one level of the parser's and the condition's recursion).
MAX_CONDITION_DEPTH = 32


class _Parser:
    """Recursive descent over the grammar in the module docstring, building closures."""

    def __init__(self, text: str, variables: frozenset[str]):
        self.text = text
        self.variables = variables
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0  # open parentheses
        self.nesting = 0  # open parentheses and 'not's: the parser's (and the compiled closures') recursion
        self.used: set[str] = set()

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def _is(self, kind: str, text: str | None = None) -> bool:
        return self.token.kind == kind and (text is None or self.token.text == text)

    def _fail(self, expected: str) -> ValueError:
        token = self.token
        return ValueError(f"expected {expected} at position {token.position}, got {token.shown()}")

    def _followers(self) -> str:
        return "'and'/'or' or ')'" if self.depth else "'and'/'or' or end of condition"

    def parse(self) -> _Node:
        if self._is("end"):
            raise ValueError(f"empty condition: expected a variable, 'not' or '(' at position {self.token.position}")
        node = self.expr()
        if not self._is("end"):
            raise self._fail(self._followers())
        return node

    def expr(self) -> _Node:
        return self.or_expr()

    def or_expr(self) -> _Node:
        terms = [self.and_expr()]
        while self._is("keyword", "or"):
            self.index += 1
            terms.append(self.and_expr())
        if len(terms) == 1:
            return terms[0]
        return lambda values: functools.reduce(np.logical_or, (term(values) for term in terms))

    def and_expr(self) -> _Node:
        terms = [self.not_expr()]
        while self._is("keyword", "and"):
            self.index += 1
            terms.append(self.not_expr())
        if len(terms) == 1:
            return terms[0]
        return lambda values: functools.reduce(np.logical_and, (term(values) for term in terms))

    def _nest(self, token: _Token) -> None:
        self.nesting += 1
        if self.nesting > MAX_CONDITION_DEPTH:
            raise ValueError(f"condition nested deeper than {MAX_CONDITION_DEPTH} levels of '(' and 'not' "
                             f"at position {token.position}")

    def not_expr(self) -> _Node:
        if self._is("keyword", "not"):
            self._nest(self.token)
            self.index += 1
            inner = self.not_expr()
            self.nesting -= 1
            return lambda values: np.logical_not(inner(values))
        return self.atom()

    def atom(self) -> _Node:
        token = self.token
        if self._is("paren", "("):
            self._nest(token)
            self.index += 1
            self.depth += 1
            inner = self.expr()
            if not self._is("paren", ")"):
                raise self._fail(f"')' (closing the '(' at position {token.position}) or 'and'/'or'")
            self.index += 1
            self.depth -= 1
            self.nesting -= 1
            return inner
        if token.kind != "name":
            raise self._fail("a variable, 'not' or '('")
        name = token.text
        if name not in self.variables:
            raise ValueError(
                f"unknown variable {name!r} at position {token.position}; known: {', '.join(sorted(self.variables))}"
            )
        self.used.add(name)
        self.index += 1
        if self.token.kind == "op":
            op_token = self.token
            if op_token.text not in _OPERATORS:
                raise self._fail(f"a comparison operator ({', '.join(_OPERATORS)}) or {self._followers()}")
            self.index += 1
            if not self._is("number"):
                raise self._fail(f"a number after {op_token.text!r}")
            number = float(self.token.text)
            self.index += 1
            compare = _OPERATORS[op_token.text]
            return lambda values: compare(_value(values, name), number)
        if not (self._is("keyword", "and") or self._is("keyword", "or") or self._is("end")
                or (self.depth and self._is("paren", ")"))):
            raise self._fail(f"a comparison operator or {self._followers()}")
        return lambda values: _value(values, name) != 0


def _value(values: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    try:
        return np.asarray(values[name])
    except KeyError:
        raise KeyError(f"condition needs the visit variable {name!r}, which was not given") from None


@dataclass(frozen=True)
class Condition:
    """A compiled condition: call it with ``{name: array}`` to get a boolean array (broadcast)."""

    text: str
    variables: frozenset[str]  # the names the condition uses
    _node: _Node = field(repr=False, compare=False)

    def __call__(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.asarray(self._node(values), dtype=bool)


@functools.lru_cache(maxsize=1024)
def _compile(text: str, variables: frozenset[str]) -> Condition:
    parser = _Parser(text, variables)
    node = parser.parse()
    return Condition(text, frozenset(parser.used), node)


def compile_condition(text: str, variables: Iterable[str] = VISIT_VARIABLES) -> Condition:
    """Parse ``text`` into a :class:`Condition`; a ``ValueError`` names the position and what was expected.

    Compiled conditions are cached by (text, variables), so a rule is parsed once.
    """
    if not isinstance(text, str):
        raise ValueError(f"a condition is a string, got {type(text).__name__}")
    if len(text) > MAX_CONDITION_LENGTH:
        raise ValueError(f"condition of {len(text)} characters; at most {MAX_CONDITION_LENGTH} are read "
                         "(split it into several rules)")
    return _compile(text, frozenset(variables))


# --- presets ----------------------------------------------------------------------------------
#
# Doses and intervals:
# * tocilizumab 8 mg/kg IV (max 800 mg per infusion), >= 8 h between doses: FDA Actemra
#   (tocilizumab) label, "Cytokine Release Syndrome" (CAR T cell-induced CRS), which allows up
#   to 3 further doses after the first if there is no improvement; consensus algorithms
#   (Neelapu et al., Nat Rev Clin Oncol 2018; Lee et al., ASTCT consensus grading, Biol Blood
#   Marrow Transplant 2019) limit this to 3 doses in 24 h, which is the rule's cap here.
# * dexamethasone 10 mg IV every 6 h for CRS grade >= 3 or ICANS grade >= 2: NCCN Guidelines,
#   Management of Immunotherapy-Related Toxicities (CAR T-cell section); Santomasso et al.,
#   ASCO guideline, J Clin Oncol 2021; Neelapu et al. 2018.
# * anakinra 100 mg every 6 h for CRS/ICANS refractory to tocilizumab/steroids: NCCN
#   Management of Immunotherapy-Related Toxicities; Santomasso et al., ASCO 2021.
# * switch_drug (rimiducid-type dimerizer for an inducible-caspase-9 switch) 20 mg once for
#   grade 4 CRS: the model's flat dose; in iCasp9 trials rimiducid (AP1903) was given at
#   0.4 mg/kg (Di Stasi et al., N Engl J Med 2011).

_TOCILIZUMAB = {"give": "tocilizumab", "dose_mg_per_kg": 8, "max_dose_mg": 800}

_STANDARD: tuple[Rule, ...] = (
    Rule(name="tocilizumab for CRS grade >= 2", when="crs_grade >= 2", **_TOCILIZUMAB,
         repeat_after_hours=8, max_doses=3),
    Rule(name="dexamethasone for CRS grade >= 3 or ICANS grade >= 2",
         when="crs_grade >= 3 or icans_grade >= 2", give="corticosteroid", dose_mg=10,
         repeat_after_hours=6, max_doses=12),
    Rule(name="anakinra for refractory CRS/ICANS",
         when="(crs_grade >= 3 and tocilizumab_doses >= 2) or (icans_grade >= 3 and corticosteroid_doses >= 2)",
         give="anakinra", dose_mg=100, repeat_after_hours=6, max_doses=12),
    Rule(name="safety switch for CRS grade 4", when="crs_grade >= 4", give="switch_drug", dose_mg=20),
)

#: Named protocols; ``Scenario.protocol`` accepts a name and holds the expanded rules.
PROTOCOL_PRESETS: dict[str, tuple[Rule, ...]] = {
    "standard": _STANDARD,
    "none": (),
    "prophylactic_tocilizumab": (
        Rule(name="prophylactic tocilizumab", when="infused", **_TOCILIZUMAB),
        *_STANDARD,
    ),
    "early_tocilizumab": (
        Rule(name="tocilizumab at first fever", when="fever", **_TOCILIZUMAB),
        *_STANDARD,
    ),
}


# --- decisions --------------------------------------------------------------------------------


@dataclass
class ProtocolState:
    """Per rule and patient: doses given by the rule and the day of the last one."""

    doses_given: np.ndarray  # int32 [n_rules, n_patients]
    last_given_day: np.ndarray  # float [n_rules, n_patients], -inf if never

    @classmethod
    def start(cls, n_rules: int, n_patients: int) -> ProtocolState:
        return cls(
            doses_given=np.zeros((n_rules, n_patients), dtype=np.int32),
            last_given_day=np.full((n_rules, n_patients), -np.inf),
        )


def rule_dose_mg(rule: Rule, weight_kg: np.ndarray) -> np.ndarray:
    """The rule's dose in mg per patient: ``dose_mg``, or ``min(dose_mg_per_kg * weight, max_dose_mg)``."""
    weight_kg = np.asarray(weight_kg, dtype=float)
    if rule.dose_mg is not None:
        return np.full(weight_kg.shape, float(rule.dose_mg))
    dose = rule.dose_mg_per_kg * weight_kg
    return dose if rule.max_dose_mg is None else np.minimum(dose, rule.max_dose_mg)


def decide(
    rules: Sequence[Rule],
    state: ProtocolState,
    variables: Mapping[str, np.ndarray],
    day: float,
    weight_kg: np.ndarray,
    alive: np.ndarray,
) -> list[tuple[int, np.ndarray]]:
    """Rules that fire at this visit: (rule index, dose in mg per patient, 0 where it does not fire). Updates state.

    A rule fires for a patient who is alive, whose condition holds, who has had fewer than
    ``max_doses`` from this rule, and whose last dose from it (if any) is at least
    ``repeat_after_hours`` ago. All rules see the same ``variables`` (the visit's values before
    any of this visit's doses), so rules firing at one visit are decided together.
    ``variables`` values broadcast against ``(n_patients,)``; scalars (e.g. ``day``) are fine.
    """
    alive = np.asarray(alive, dtype=bool)
    weight_kg = np.asarray(weight_kg, dtype=float)
    n_patients = alive.shape[0] if alive.ndim else weight_kg.shape[0]
    alive = np.broadcast_to(alive, (n_patients,))
    weight_kg = np.broadcast_to(weight_kg, (n_patients,))
    expected = (len(rules), n_patients)
    if state.doses_given.shape != expected or state.last_given_day.shape != expected:
        raise ValueError(
            f"protocol state is {state.doses_given.shape}, expected (n_rules, n_patients) = {expected}"
        )
    fired = []
    for index, rule in enumerate(rules):
        condition = compile_condition(rule.when)
        holds = np.broadcast_to(condition(variables), (n_patients,))
        interval_days = (rule.repeat_after_hours or 0.0) / 24.0
        given = state.doses_given[index]
        last = state.last_given_day[index]
        ready = (given == 0) | (day - last >= interval_days - 1e-9)
        fires = alive & holds & (given < rule.max_doses) & ready
        if not fires.any():
            continue
        given[fires] += 1
        last[fires] = day
        fired.append((index, np.where(fires, rule_dose_mg(rule, weight_kg), 0.0)))
    return fired
