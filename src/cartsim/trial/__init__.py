"""Virtual trials: arms over a virtual population, chunked and resumable runs (local processes or Dask),
endpoints with confidence intervals, Kaplan-Meier curves, hazard ratios and the responder analysis."""

from ._analysis import RATES as RATES
from ._analysis import arm_endpoints as arm_endpoints
from ._analysis import hazard_ratios as hazard_ratios
from ._analysis import kinetics_by_response as kinetics_by_response
from ._analysis import responder_analysis as responder_analysis
from ._outputs import write_trial_outputs as write_trial_outputs
from ._posterior import DEFAULT_DRAWS as DEFAULT_DRAWS
from ._posterior import MAX_DRAWS as MAX_DRAWS
from ._posterior import MIN_DRAWS as MIN_DRAWS
from ._posterior import SHIPPED as SHIPPED
from ._posterior import run_posterior_trial as run_posterior_trial
from ._run import TrialError as TrialError
from ._run import TrialWarning as TrialWarning
from ._run import arm_batch as arm_batch
from ._run import map_chunks as map_chunks
from ._run import read_patients as read_patients
from ._run import run_trial as run_trial
from ._run import simulate_patients as simulate_patients
from ._spec import Arm as Arm
from ._spec import Trial as Trial
from ._spec import load_trial as load_trial
