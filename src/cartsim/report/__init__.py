"""Figures and reports."""

from ._overview import plot_overview as plot_overview
from ._timeline import plot_timeline as plot_timeline
from ._tradeoff import plot_toci_tradeoff as plot_toci_tradeoff
