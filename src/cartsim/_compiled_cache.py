"""Point numba's on-disk cache at a folder keyed by a hash of cartsim's compiled sources.

Numba invalidates a cached function only when its own file changes, not when
a function it inlines (the model kernel) does; keying the folder by the
sources of every compiled module makes a stale cache impossible. Code generated
from the kernel (its Jacobian, :mod:`cartsim._jacobian`) lives in a
folder keyed the same way, by the sources of the kernel and of the generator.
Set CARTSIM_CACHE_DIR to choose the parent folder.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numba

_COMPILED_PACKAGES = ("model", "solver")
# The generator of compiled code and the symbolic trace it reads.
_GENERATORS = ("interop/_symbolic.py", "_jacobian.py")


def _source_hash() -> str:
    root = Path(__file__).parent
    digest = hashlib.sha256(numba.__version__.encode())
    paths = [path for package in _COMPILED_PACKAGES for path in sorted((root / package).glob("*.py"))]
    for path in paths + [root / name for name in _GENERATORS]:
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _parent() -> Path:
    return Path(os.environ.get("CARTSIM_CACHE_DIR")
                or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cartsim")


def generated_dir() -> Path:
    """The folder of the code generated from this version of the kernel (even when NUMBA_CACHE_DIR is set)."""
    return _parent() / f"generated-{_source_hash()}"


def configure() -> None:
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    numba.config.CACHE_DIR = str(_parent() / f"numba-{_source_hash()}")


configure()
