"""Point numba's on-disk cache at a folder keyed by a hash of cartsim's compiled sources.

Numba invalidates a cached function only when its own file changes, not when
a function it inlines (the model kernel) does; keying the folder by the
sources of every compiled module makes a stale cache impossible.
Set CARTSIM_CACHE_DIR to choose the parent folder.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numba

_COMPILED_PACKAGES = ("model", "solver")


def _source_hash() -> str:
    root = Path(__file__).parent
    digest = hashlib.sha256(numba.__version__.encode())
    for package in _COMPILED_PACKAGES:
        for path in sorted((root / package).glob("*.py")):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def configure() -> None:
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    parent = Path(os.environ.get("CARTSIM_CACHE_DIR")
                  or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cartsim")
    numba.config.CACHE_DIR = str(parent / f"numba-{_source_hash()}")


configure()
