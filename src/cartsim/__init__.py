"""cartsim: mechanistic in-silico CAR-T therapy for chronic lymphocytic leukemia.

>>> import cartsim
>>> result = cartsim.simulate("scenarios/responder.yaml")   # doctest: +SKIP
>>> result.summary["car_t_peak_day"]                         # doctest: +SKIP
"""

from . import _compiled_cache  # noqa: F401  (must run before any compiled module is imported)
from ._simulate import SimulationError as SimulationError
from ._simulate import SimulationResult as SimulationResult
from ._simulate import simulate as simulate
from .io import Scenario as Scenario
from .io import ScenarioError as ScenarioError
from .io import load_scenario as load_scenario

__version__ = "0.1.0"
