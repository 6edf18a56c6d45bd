"""The in-vivo model's right-hand side as symbolic expressions, traced from the kernel itself.

The compiled kernel (:func:`cartsim.model._kernel.derivatives`) is plain Python
under its numba decorator. Running that Python with sympy symbols for the
states and parameters, and with sympy versions of the few numeric helpers it
calls, yields one expression per state: the same equations, not a second copy
that could drift from them. Only the helpers are replaced, by their meaning:
``_pos(x)`` is ``max(x, 0)``, ``min`` is ``Min``, ``np.sqrt`` and ``np.log``
are sympy's.
"""

from __future__ import annotations

import types
from functools import lru_cache

import sympy

from ..model import N_CELL_STATES, N_STATES, PARAMETER_NAMES, STATE_NAMES
from ..model import _kernel


class _SympyNumpy:
    """The part of numpy the kernel calls, for symbolic arguments."""

    sqrt = staticmethod(sympy.sqrt)
    log = staticmethod(sympy.log)


def _rebuild(function, shadow: dict):
    """``function``'s pure-Python code bound to ``shadow`` globals (so it calls the shadow helpers)."""
    python = getattr(function, "py_func", function)
    return types.FunctionType(python.__code__, shadow, python.__name__, python.__defaults__, python.__closure__)


@lru_cache(maxsize=1)
def symbolic_rhs() -> tuple[tuple[sympy.Symbol, ...], tuple[sympy.Symbol, ...], tuple[sympy.Expr, ...]]:
    """(state symbols, parameter symbols, d state / dt) of the kernel, named as in the model's tables."""
    states = tuple(sympy.Symbol(name, real=True) for name in STATE_NAMES)
    parameters = tuple(sympy.Symbol(name, real=True) for name in PARAMETER_NAMES)
    shadow = dict(vars(_kernel))
    # Every compiled function of the kernel module runs as Python over the symbols (no hand-kept list):
    # a mechanism added as a new function is traced like the others.
    for name, value in vars(_kernel).items():
        if hasattr(value, "py_func"):
            shadow[name] = _rebuild(value, shadow)
    shadow.update(np=_SympyNumpy, min=sympy.Min, max=sympy.Max, _pos=lambda x: sympy.Max(x, 0))
    derivatives = shadow["derivatives"]
    dy = [sympy.Integer(0)] * N_STATES
    birth = [sympy.Integer(0)] * N_CELL_STATES
    loss = [sympy.Integer(0)] * N_CELL_STATES
    derivatives(list(states), list(parameters), dy, birth, loss)
    return states, parameters, tuple(dy)
