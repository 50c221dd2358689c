"""HTML tearsheet rendering: the page draws what a run folder holds and computes nothing scoring computed."""

from backtests.report.tearsheet import render_tearsheet
from backtests.report.view import SavedRun, read_pooled, read_returns

__all__ = ["SavedRun", "read_pooled", "read_returns", "render_tearsheet"]
