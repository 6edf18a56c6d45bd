"""Ready-made in-silico studies that answer the seed articles' open questions."""

from ._toci_timing import TOCI_ARMS as TOCI_ARMS
from ._toci_timing import run_toci_timing as run_toci_timing
from ._toci_timing import KILLING_ASSUMPTIONS as KILLING_ASSUMPTIONS
from ._efficacy_gap import COMPARISONS as GAP_COMPARISONS
from ._efficacy_gap import FACTORS as FACTORS
from ._efficacy_gap import INTERVENTIONS as INTERVENTIONS
from ._efficacy_gap import run_efficacy_gap as run_efficacy_gap
from ._efficacy_gap import shapley as shapley
from ._efficacy_gap import simulated_patients as simulated_patients
from ._efficacy_gap import write_efficacy_gap as write_efficacy_gap
from ._efficacy_gap import ATTRIBUTION_HEADER as ATTRIBUTION_HEADER
from ._efficacy_gap import ATTRIBUTION as GAP_ATTRIBUTION
from ._efficacy_gap import CONCLUSIONS as GAP_CONCLUSIONS
from ._efficacy_gap import attribution_rows as attribution_rows
from ._efficacy_gap import closes_most as closes_most
from ._efficacy_gap import intervention_rows as intervention_rows
from ._efficacy_gap import main_reasons as main_reasons
