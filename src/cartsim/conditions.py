"""The condition language of protocol rules, e.g. ``crs_grade >= 3 or (fever and not infused)``::

    expr     := or_expr
    or_expr  := and_expr ('or' and_expr)*
    and_expr := not_expr ('and' not_expr)*
    not_expr := 'not' not_expr | atom
    atom     := '(' expr ')' | NAME OP NUMBER | NAME
    OP       := '>=' | '>' | '<=' | '<' | '==' | '!='

A bare NAME is true where the variable is nonzero. :func:`compile_condition` parses a condition
(no ``eval``) into a :class:`Condition` evaluated on arrays, one value per patient.

This module imports nothing else of cartsim: the scenario schema (which checks a rule's condition
when it is read) and the clinical clock (which evaluates it at each visit) both use it, and neither
needs the other for it. Which names a condition may use is the caller's: the schema's
:data:`cartsim.io.VISIT_VARIABLES`.
"""

from __future__ import annotations

import functools
import operator
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

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


def compile_condition(text: str, variables: Iterable[str]) -> Condition:
    """Parse ``text`` into a :class:`Condition` over ``variables`` (the names it may use, e.g.
    :data:`cartsim.io.VISIT_VARIABLES`); a ``ValueError`` names the position and what was expected.

    Compiled conditions are cached by (text, variables), so a rule is parsed once.
    """
    if not isinstance(text, str):
        raise ValueError(f"a condition is a string, got {type(text).__name__}")
    if len(text) > MAX_CONDITION_LENGTH:
        raise ValueError(f"condition of {len(text)} characters; at most {MAX_CONDITION_LENGTH} are read "
                         "(split it into several rules)")
    return _compile(text, frozenset(variables))
