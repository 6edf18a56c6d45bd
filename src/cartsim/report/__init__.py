"""Figures and reports."""

from ._format import KEY_ENDPOINTS as KEY_ENDPOINTS
from ._format import LABELS as LABELS
from ._format import shown as shown
from ._html import REPORT as REPORT
from ._html import ReportError as ReportError
from ._html import write_report as write_report
from ._overview import plot_overview as plot_overview
from ._timeline import DRUG_COLOURS as DRUG_COLOURS
from ._timeline import acute_window as acute_window
from ._timeline import plot_timeline as plot_timeline
from ._tradeoff import plot_toci_tradeoff as plot_toci_tradeoff
from ._trial_figures import plot_km as plot_km
from ._trial_figures import plot_responders as plot_responders
from ._waterfall import plot_waterfall as plot_waterfall
