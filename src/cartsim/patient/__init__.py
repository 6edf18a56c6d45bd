"""Patient characteristics and virtual-population sampling (correlated, reproducible, chunk-independent)."""

from ._population import COLUMNS as COLUMNS
from ._population import DEFAULT_POPULATION as DEFAULT_POPULATION
from ._population import LATENT as LATENT
from ._population import POPULATIONS as POPULATIONS
from ._population import Correlation as Correlation
from ._population import LineCount as LineCount
from ._population import Marginal as Marginal
from ._population import Population as Population
from ._population import Proportion as Proportion
from ._population import patient_fields as patient_fields
from ._population import sample_population as sample_population
