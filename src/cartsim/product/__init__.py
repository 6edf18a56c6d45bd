"""CAR-T products: construct properties expressed as model parameters, and the infused cells."""

from ._construct import COSTIMULATION as COSTIMULATION
from ._construct import TARGETS as TARGETS
from ._construct import construct_parameters as construct_parameters
