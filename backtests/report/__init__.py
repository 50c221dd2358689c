"""HTML tearsheet rendering: the page draws what a run folder holds and computes nothing scoring computed."""

from backtests.report.tearsheet import render_tearsheet
from backtests.report.view import SavedRun

__all__ = ["SavedRun", "render_tearsheet"]
