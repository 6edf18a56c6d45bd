"""Patient characteristics and virtual-population sampling (correlated, reproducible, chunk-independent)."""

from ._population import COLUMNS as COLUMNS
from ._population import CTL019_ERA_POPULATION as CTL019_ERA_POPULATION
from ._population import DEFAULT_POPULATION as DEFAULT_POPULATION
from ._population import LATENT as LATENT
from ._population import POPULATIONS as POPULATIONS
from ._population import Correlation as Correlation
from ._population import LineCount as LineCount
from ._population import Marginal as Marginal
from ._population import Population as Population
from ._population import Proportion as Proportion
from ._population import TUMOR_FIELDS as TUMOR_FIELDS
from ._population import patient_fields as patient_fields
from ._population import patients_from_latents as patients_from_latents
from ._population import sample_population as sample_population
from ._population import CALIBRATED_FILE as CALIBRATED_FILE
from ._population import PARAMETER_SET_FORMAT as PARAMETER_SET_FORMAT
from ._population import UNCALIBRATED_POPULATIONS as UNCALIBRATED_POPULATIONS
from ._population import ParameterSetError as ParameterSetError
from ._population import load_parameter_set as load_parameter_set
from ._population import populations_of as populations_of
