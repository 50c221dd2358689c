"""When each leg of a multi-asset decision is released: together, or all before the event.

Two legging policies move a decision's instant before the schedule's next-bar rule applies
(:mod:`backtests.engine.schedule`, rules 7 and 7b):

* ``together``: every decision is released one nanosecond before the first instant after it at
  which every leg can fill (:func:`common_instants`, :func:`release_times`), so all legs fill at
  that instant.
* ``before_event``: around a window's event (its ``time_utc`` ``E``), with ``C_j`` the close stamp
  of leg ``j``'s last bar before ``E`` and ``F = min_j C_j`` (:func:`last_closes_before`):

  - a decision stamped before ``F`` is released to each leg ``j`` at ``C_j - 1 ns``: every leg fills
    in its own market's last closing auction before the event (a market-on-close order at
    ``C_j``), so the position is on before the news in every market, and each leg fills after the
    decision. Several such decisions collapse onto those closes: the last of them is what is held
    into the event;
  - a decision stamped at or after ``F`` but before ``E`` is too late to put every leg on before
    the event: it is released at ``E`` (each leg at its own first bar after the event), and counted
    (``legs_after_event``);
  - a decision at or after ``E`` is not moved (each leg at its own next bar: ``independent``).

  A leg with no bar before ``E`` in the window has no ``C_j``: then no decision can be put on
  before the event, and every decision before ``E`` is released at ``E``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from backtests.engine.results import NEVER


def common_instants(assets: Sequence[Any], fill: str) -> np.ndarray:
    """Instants (int64 ns UTC, sorted) at which every asset of ``assets`` can fill an order.

    An asset can fill at each of its close stamps and, when ``fill == "open"``, at each open
    instant that has an open price. Empty when the assets' sessions never meet (e.g. KRX and NYSE).
    """
    out: np.ndarray | None = None
    for b in assets:
        t = b.stamps
        if fill == "open":
            t = np.union1d(t, b.open_times[np.isfinite(b.open)])
        out = t if out is None else np.intersect1d(out, t, assume_unique=True)
    return np.array([], dtype=np.int64) if out is None else out.astype(np.int64)


def release_times(x: np.ndarray, common: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map decision instants to one nanosecond before the first common instant after each.

    Parameters
    ----------
    x
        int64 ns instants (any shape; ``NEVER`` stays ``NEVER``).
    common
        Sorted common instants (:func:`common_instants`).

    Returns
    -------
    (mapped, ok)
        ``mapped`` = ``common[k] - 1`` with ``common[k]`` the first common instant ``> x`` (the
        next-bar rule then fills every leg exactly at ``common[k]``), or ``x`` itself where there
        is none; ``ok`` is True where a common instant was found.
    """
    k = np.searchsorted(common, x, side="right")
    ok = (k < len(common)) & (x != NEVER)
    mapped = np.where(ok, common[np.clip(k, 0, max(len(common) - 1, 0))] - 1 if len(common) else x, x)
    return mapped.astype(np.int64), ok


def last_closes_before(assets: Sequence[Any], event: int) -> np.ndarray:
    """Per asset: the close stamp of its last bar stamped strictly before ``event`` (int64 ns UTC),
    ``NEVER`` when it has none."""
    out = np.full(len(assets), NEVER, dtype=np.int64)
    for j, b in enumerate(assets):
        k = int(np.searchsorted(b.stamps, event, side="left")) - 1
        if k >= 0:
            out[j] = int(b.stamps[k])
    return out


def before_event_times(x: np.ndarray, event: int, closes: np.ndarray, j: int) -> tuple[np.ndarray, np.ndarray]:
    """Decision instants as released to leg ``j`` under ``legs: before_event`` (module docstring).

    Parameters
    ----------
    x
        int64 ns UTC decision instants (any shape; ``NEVER`` stays ``NEVER``).
    event
        The window's event instant ``E`` (int64 ns UTC).
    closes
        :func:`last_closes_before` of every leg.
    j
        The leg.

    Returns
    -------
    (mapped, late)
        ``mapped``: ``C_j - 1`` for decisions before ``F``, ``E`` for those in ``[F, E)``, ``x``
        otherwise (non-decreasing in ``x``); ``late``: the decisions released at ``E``.
    """
    x = np.asarray(x, dtype=np.int64)
    real = x != NEVER
    if (closes == NEVER).any():
        pre = np.zeros(x.shape, dtype=bool)
    else:
        pre = real & (x < int(closes.min()))
    late = real & ~pre & (x < event)
    mapped = np.where(pre, int(closes[j]) - 1, np.where(late, event, x))
    return mapped.astype(np.int64), late
