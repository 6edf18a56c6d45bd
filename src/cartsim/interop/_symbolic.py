"""The in-vivo model's right-hand side as symbolic expressions, traced from the kernel itself.

The compiled kernel (:func:`cartsim.model.kernel.derivatives`) is plain Python
under its numba decorator. Running that Python with sympy symbols for the
states and parameters, and with sympy versions of the few numeric helpers it
calls, yields one expression per state: the same equations, not a second copy
that could drift from them. Only the helpers are replaced, by their meaning:
``_pos(x)`` is ``max(x, 0)``, ``min`` is ``Min``, ``np.sqrt`` and ``np.log``
are sympy's.
"""

from __future__ import annotations

import ast
import inspect
import types
from functools import lru_cache

import sympy

from ..model import N_CELL_STATES, N_STATES, PARAMETER_NAMES, STATE_NAMES
from ..model import kernel as _kernel


class _SympyNumpy:
    """The part of numpy the kernel calls, for symbolic arguments."""

    sqrt = staticmethod(sympy.sqrt)
    log = staticmethod(sympy.log)


def _rebuild(function, shadow: dict):
    """``function``'s pure-Python code bound to ``shadow`` globals (so it calls the shadow helpers)."""
    python = getattr(function, "py_func", function)
    return types.FunctionType(python.__code__, shadow, python.__name__, python.__defaults__, python.__closure__)


def _named_results() -> dict[str, tuple[str, ...]]:
    """For each kernel function whose results ``derivatives`` assigns to names, those names: the model's own
    words for its intermediates (``antigen, stim = _antigen(y, p)``)."""
    tree = ast.parse(inspect.getsource(_kernel.derivatives.py_func))
    named = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name):
            target = node.targets[0]
            named[node.value.func.id] = tuple(e.id for e in (target.elts if isinstance(target, ast.Tuple)
                                                             else [target]))
    return named


def _naming(function, names: tuple[str, ...], intermediates: list, taken: set[str]):
    """``function`` returning symbols named ``names`` in place of its expressions, recorded in
    ``intermediates`` as (symbol, expression)."""
    def named(*args):
        result = function(*args)
        values = result if isinstance(result, tuple) else (result,)
        symbols = []
        for name, value in zip(names, values):
            value = sympy.sympify(value)
            if name == "_" or value.is_Atom:
                symbols.append(value)
                continue
            unique = name if name not in taken else next(f"{name}_{i}" for i in range(2, 1000)
                                                          if f"{name}_{i}" not in taken)
            taken.add(unique)
            symbol = sympy.Symbol(unique, real=True)
            intermediates.append((symbol, value))
            symbols.append(symbol)
        return tuple(symbols) if isinstance(result, tuple) else symbols[0]
    return named


@lru_cache(maxsize=1)
def symbolic_model() -> tuple[tuple[sympy.Symbol, ...], tuple[sympy.Symbol, ...],
                              tuple[tuple[sympy.Symbol, sympy.Expr], ...], tuple[sympy.Expr, ...]]:
    """(state symbols, parameter symbols, named intermediates, d state / dt) of the kernel, named as in the
    model's tables: the intermediates are the results of its mechanisms (``stim``, ``per_target``,
    ``killed``...) as (symbol, expression) in the order they are computed, and the derivatives use them."""
    states = tuple(sympy.Symbol(name, real=True) for name in STATE_NAMES)
    parameters = tuple(sympy.Symbol(name, real=True) for name in PARAMETER_NAMES)
    shadow = dict(vars(_kernel))
    # Every compiled function of the kernel module runs as Python over the symbols (no hand-kept list):
    # a mechanism added as a new function is traced like the others.
    for name, value in vars(_kernel).items():
        if hasattr(value, "py_func"):
            shadow[name] = _rebuild(value, shadow)
    shadow.update(np=_SympyNumpy, min=sympy.Min, max=sympy.Max, _pos=lambda x: sympy.Max(x, 0))
    intermediates: list = []
    taken = set(STATE_NAMES) | set(PARAMETER_NAMES)
    # Only the calls ``derivatives`` makes are named; the mechanisms' own helper calls stay inline.
    top = {**shadow, **{name: _naming(shadow[name], names, intermediates, taken)
                        for name, names in _named_results().items()}}
    derivatives = _rebuild(_kernel.derivatives, top)
    dy = [sympy.Integer(0)] * N_STATES
    birth = [sympy.Integer(0)] * N_CELL_STATES
    loss = [sympy.Integer(0)] * N_CELL_STATES
    derivatives(list(states), list(parameters), dy, birth, loss)
    return states, parameters, tuple(intermediates), tuple(dy)


@lru_cache(maxsize=1)
def symbolic_rhs() -> tuple[tuple[sympy.Symbol, ...], tuple[sympy.Symbol, ...], tuple[sympy.Expr, ...]]:
    """(state symbols, parameter symbols, d state / dt) of the kernel in states and parameters only."""
    states, parameters, intermediates, rhs = symbolic_model()
    definitions = {}
    for symbol, expression in intermediates:
        definitions[symbol] = expression.xreplace(definitions)
    return states, parameters, tuple(derivative.xreplace(definitions) for derivative in rhs)
