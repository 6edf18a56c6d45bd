"""The in-vivo model's integrator: the generic solver given the model's right-hand side and state scales.

Every caller that integrates the model (the clinical clock, the lab assays, tests and benchmarks)
uses :data:`integrate` from here, so the model is bound to the solver in one place.
"""

from __future__ import annotations

from ._jacobian import model_jacobian
from .model import N_CELL_STATES, N_PARAMS, STATE_TABLE, derivatives
from .solver import make_integrator

#: The solver compiled for :func:`cartsim.model.derivatives` and its Jacobian generated from the kernel
#: (generated once per kernel source; compilation happens at the first call).
MODEL_INTEGRATOR = make_integrator(derivatives, n_params=N_PARAMS, n_cells=N_CELL_STATES,
                                   atol=[s.atol for s in STATE_TABLE], typical=[s.typical for s in STATE_TABLE],
                                   jacobian=model_jacobian())
integrate = MODEL_INTEGRATOR.integrate
new_sync_state = MODEL_INTEGRATOR.new_sync_state
