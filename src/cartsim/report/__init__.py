"""Figures and reports."""

from ._overview import plot_overview as plot_overview
