"""Undefined is NaN with a reason: helpers shared by the panel kernels (:mod:`.metrics`) and the
compiled ones (:mod:`.kernels`).

A kernel returns ``(values, reasons)``: one value per column and a list of ``(mask, reason)``;
the first reason whose mask is true names why a NaN is NaN (docs/metrics.md lists the reasons).
"""

from __future__ import annotations

import numpy as np

Reasons = list[tuple[np.ndarray, str]]
Kernel = tuple[np.ndarray, Reasons]

NO_OBS = "no observations"
NO_OVERLAP = "benchmark does not overlap"


def too_few(n: np.ndarray, need: int) -> tuple[np.ndarray, str]:
    """The reason for a column with fewer than ``need`` observations."""
    return n < need, f"fewer than {need} observations" if need > 1 else NO_OBS


def div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` without warnings (0/0 is NaN, x/0 is inf: :func:`finalize` makes both NaN)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.divide(num, den)
    return out


def finalize(values: np.ndarray, reasons: Reasons) -> Kernel:
    """Force every flagged column to NaN and any remaining inf to NaN."""
    values = np.array(values, dtype=float, copy=True)
    for mask, _ in reasons:
        values[mask] = np.nan
    values[~np.isfinite(values)] = np.nan
    return values, reasons


def bench_reasons(n: np.ndarray, need: int) -> Reasons:
    """Reasons of a benchmark-relative metric over ``n`` overlapping rows that needs ``need``."""
    return [(n == 0, NO_OVERLAP), (n < need, f"fewer than {need} overlapping observations")]
