"""Ready-made in-silico studies that answer the seed articles' open questions."""

from ._toci_timing import TOCI_ARMS as TOCI_ARMS
from ._toci_timing import run_toci_timing as run_toci_timing
from ._toci_timing import KILLING_ASSUMPTIONS as KILLING_ASSUMPTIONS
