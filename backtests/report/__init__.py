"""HTML tearsheet rendering."""

from backtests.report.tearsheet import render_tearsheet

__all__ = ["render_tearsheet"]
