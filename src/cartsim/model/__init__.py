"""The in-vivo CAR-T / CLL model: state layout, parameter table and the right-hand side."""

from ._kernel import derivatives as derivatives
from ._kernel import rhs as rhs
from ._parameters import N_PARAMS as N_PARAMS
from ._parameters import PARAMETER_NAMES as PARAMETER_NAMES
from ._parameters import PARAMETER_TABLE as PARAMETER_TABLE
from ._parameters import PARAMETERS as PARAMETERS
from ._parameters import Param as Param
from ._parameters import Parameter as Parameter
from ._parameters import default_parameters as default_parameters
from ._states import CAR_T_STATES as CAR_T_STATES
from ._states import CLL_STATES as CLL_STATES
from ._states import EXPOSURE_LEVELS as EXPOSURE_LEVELS
from ._states import N_CELL_STATES as N_CELL_STATES
from ._states import N_STATES as N_STATES
from ._states import STATE_NAMES as STATE_NAMES
from ._states import STATE_TABLE as STATE_TABLE
from ._states import State as State
