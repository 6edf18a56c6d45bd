"""Calibration to published targets (as inference: a posterior ensemble on a weighted virtual population),
validation against them, and global sensitivity analysis."""

from ._calibrate import CALIBRATION as CALIBRATION
from ._calibrate import SHIPPED_POSTERIOR as SHIPPED_POSTERIOR
from ._calibrate import load_posterior as load_posterior
from ._calibrate import parameter_set_of as parameter_set_of
from ._cohorts import COHORTS as COHORTS
from ._cohorts import Cohort as Cohort
from ._cohorts import simulate_cohort as simulate_cohort
from ._targets import CalibrationError as CalibrationError
from ._targets import Target as Target
from ._targets import load_blind_targets as load_blind_targets
from ._targets import load_targets as load_targets
from ._targets import refuse_blind as refuse_blind
from ._validate import BLIND_COMPARATORS as BLIND_COMPARATORS
from ._validate import COMPARATORS as COMPARATORS
from ._validate import compare as compare
