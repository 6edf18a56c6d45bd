"""Compile the solver's templates once per right-hand side.

The functions that call the right-hand side are written as templates against the
placeholder :func:`derivatives`. :func:`specialise` clones each template with its
module's globals plus the real right-hand side bound to that name and compiles the
clone, so numba inlines and optimises the model's kernel exactly as if the solver
had imported it, and nothing in the solver names a model.

Why clones and not a jitted function passed as an argument or captured by a
closure: numba keys its on-disk cache on the argument types or the pickled
closure, and both contain a per-process id of the jitted function, so the cache
would never hit and every run would compile for a minute. Globals are compile-time
constants that the cache key leaves out; a distinct qualified name per right-hand
side (its module, name and a hash of its bytecode) keeps the cache files apart.
Like any numba cache, it does not see an edit to a function that the right-hand
side calls from another file; for the in-vivo model, ``cartsim._compiled_cache``
keys the whole cache folder by the model's and the solver's sources.
"""

from __future__ import annotations

import hashlib
import types
from typing import Callable

import numpy as np
from numba import njit

#: The sparsity pattern of :func:`jacobian_entries`, and whether there is one (placeholders: :func:`specialise`
#: binds the real ones).
JACOBIAN_ROWS = np.zeros(0, dtype=np.int64)
JACOBIAN_COLS = np.zeros(0, dtype=np.int64)
ANALYTIC_JACOBIAN = False


def derivatives(y, p, dydt, birth, loss):
    """The right-hand side a solver template calls, and its protocol.

    Fill ``dydt`` with ``f(y, p)`` for one patient; for each of the first ``n_cells``
    states (the cell populations the stochastic layer may take) also fill ``birth``
    and ``loss`` with its per-capita birth and loss rates (1/day). A placeholder: only
    the clones that :func:`specialise` makes call a real one.
    """
    raise TypeError("solver templates run only once specialised; see cartsim.solver.make_integrator")


def jacobian(y, f, p, typical, active, m, jac, values, ytmp, ftmp, birth, loss):
    """The Jacobian a solver template calls: :func:`specialise` binds it to ``sparse_jacobian`` (which fills
    the entries ``values``) or ``finite_difference_jacobian`` (which fills ``jac`` of the active states) of
    :mod:`._rodas`. A placeholder, like :func:`derivatives`."""
    raise TypeError("solver templates run only once specialised; see cartsim.solver.make_integrator")


def jacobian_entries(y, p, values):
    """The analytic Jacobian a solver template may call, and its protocol.

    Fill ``values[k]`` with ``d f[JACOBIAN_ROWS[k]] / d y[JACOBIAN_COLS[k]]`` at ``(y, p)``: the non-zero
    entries, in a fixed pattern. A placeholder, like :func:`derivatives`.
    """
    raise TypeError("solver templates run only once specialised; see cartsim.solver.make_integrator")


def template(function: Callable) -> Callable:
    """Mark a function that calls :func:`derivatives`: :func:`specialise` compiles a clone of it per
    right-hand side."""
    function.solver_template = True
    return function


def _code_bytes(code: types.CodeType) -> bytes:
    """Bytecode, names and constants of ``code``, nested code included (whose repr holds an address)."""
    consts = [_code_bytes(c) if isinstance(c, types.CodeType) else repr(c).encode() for c in code.co_consts]
    return code.co_code + repr(code.co_names).encode() + b"".join(consts)


def _tag(rhs) -> str:
    """A name for the right-hand side that changes when its bytecode does (it names the cache files)."""
    digest = hashlib.sha256(_code_bytes(rhs.py_func.__code__)).hexdigest()[:12]
    return f"{rhs.py_func.__module__}.{rhs.py_func.__qualname__}.{digest}"


def specialise(rhs, modules, jacobian=None) -> dict[str, Callable]:
    """Compiled clones of every template of ``modules`` (in dependency order) calling ``rhs``.

    A template that calls another template calls its clone: each module's namespace
    holds the clones made so far, and ``jacobian`` names ``sparse_jacobian``'s clone when
    the right-hand side comes with its analytic ``jacobian`` (entries, rows, cols: see
    :func:`jacobian_entries`), else ``finite_difference_jacobian``'s.
    """
    tag = _tag(rhs)
    bound = {"derivatives": rhs}
    if jacobian is not None:
        entries, rows, cols = jacobian
        tag += "+" + _tag(entries) + hashlib.sha256(np.asarray(rows).tobytes() + np.asarray(cols).tobytes()
                                                    ).hexdigest()[:8]
        bound.update(jacobian_entries=entries, JACOBIAN_ROWS=np.asarray(rows, dtype=np.int64),
                     JACOBIAN_COLS=np.asarray(cols, dtype=np.int64), ANALYTIC_JACOBIAN=True)
    chosen = "finite_difference_jacobian" if jacobian is None else "sparse_jacobian"
    made: dict[str, Callable] = {}
    for module in modules:
        namespace = {**vars(module), **made, **bound}
        for function in list(vars(module).values()):
            if not (getattr(function, "solver_template", False) and function.__module__ == module.__name__):
                continue
            clone = types.FunctionType(function.__code__, namespace, function.__name__, function.__defaults__)
            clone.__qualname__ = f"{function.__qualname__}[{tag}]"
            clone.__doc__ = function.__doc__
            made[function.__name__] = namespace[function.__name__] = njit(cache=True)(clone)
        if chosen in made:
            made["jacobian"] = made[chosen]
    return made
