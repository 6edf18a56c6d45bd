"""``python -m cartsim``: the ``cartsim`` command line."""

from cartsim.cli import app

app(prog_name="cartsim")
