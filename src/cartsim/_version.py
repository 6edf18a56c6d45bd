"""The installed distribution's version (pyproject.toml is its one source); a leaf, so that any module,
including those the package ``__init__`` imports, can read it at import time."""

from importlib.metadata import version

__version__ = version("cartsim")
