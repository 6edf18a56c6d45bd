"""Lab assays: the in-vivo model with other hosts (README, "Lab assays"), after the repeated-stimulation
senescence work of the Kenderian/Kay group (Kay NE, ASH 2022).

* :func:`run_restim`: the in-vitro repeated-stimulation assay (culture well host);
* :func:`run_mouse`: the NSG mouse xenograft with CAR-T harvested from that assay after k stimulations.

No equations live here: a host is parameter values and an initial state for :mod:`cartsim.model`,
integrated by the solver (:data:`cartsim._engine.integrate`).
"""

from ._restim import CULTURE as CULTURE
from ._restim import Culture as Culture
from ._restim import RestimResult as RestimResult
from ._restim import run_restim as run_restim
from ._mouse import XENOGRAFT as XENOGRAFT
from ._mouse import MouseResult as MouseResult
from ._mouse import Xenograft as Xenograft
from ._mouse import run_mouse as run_mouse
from ._settings import MouseSettings as MouseSettings
from ._settings import RestimSettings as RestimSettings
