"""CAR-T products: constructs as model parameters, presets, and the manufacturing stage before infusion."""

from ._construct import COSTIMULATION as COSTIMULATION
from ._construct import SOURCES as SOURCES
from ._construct import TARGETS as TARGETS
from ._construct import construct_parameters as construct_parameters
from ._presets import PRODUCT_PRESETS as PRODUCT_PRESETS
from ._manufacturing import PROCESS as PROCESS
from ._manufacturing import PRODUCT_COLUMNS as PRODUCT_COLUMNS
from ._manufacturing import Manufactured as Manufactured
from ._manufacturing import Process as Process
from ._manufacturing import Products as Products
from ._manufacturing import manufacture as manufacture
