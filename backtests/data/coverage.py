"""Do the data cover each window? Windows beyond the data are an error, trimmed or dropped, never padded.

A window spans sessions t = -pre..+post of its defining market. For every symbol a strategy
trades in it, the data must have a bar for each session *of that symbol's market* that closes
inside the window: a window that runs past the last bar (or starts before the first) would
otherwise be simulated on made-up flat prices, i.e. zero returns counted as real periods.

``window_defaults.partial`` says what happens to such a window:

* ``error`` (default): the study stops with one line naming the window, the symbol, the last
  (first) bar and how many sessions are missing;
* ``trim``: the window is cut to the sessions the data covers (``post`` and/or ``pre`` shrink),
  with the named warning ``window_trimmed``; a window whose t = 0 session is not covered cannot
  be trimmed and is an error;
* ``drop``: the window is left out with the named warning ``window_dropped``.

A window with no bar at all for its symbols is an error when it was named by id, and dropped
with ``window_dropped`` when it was selected by kind ("every event of this kind the data covers").
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import pandas as pd

from backtests.time.calendars import sessions
from backtests.time.windows import span_contains
from backtests.errors import DataError
from backtests.notices import Notice

if TYPE_CHECKING:
    from backtests.data.market_data import MarketData
    from backtests.time.windows import Window

PARTIAL = ("error", "trim", "drop")
#: Codes of the notices :func:`check_windows` makes (docs/outputs.md, "Warnings (data codes)").
NOTICE_CODES = ("window_dropped", "window_trimmed")


@dataclass(frozen=True)
class Coverage:
    """How much of a window one symbol's data covers.

    ``first``/``last`` are indexes into the window's sessions of the first and last session
    covered; ``missing_before``/``missing_after`` count the symbol's own sessions inside the
    window that fall before its first bar / after its last bar.
    """

    symbol: str
    first: int
    last: int
    missing_before: int
    missing_after: int
    first_bar: pd.Timestamp
    last_bar: pd.Timestamp


def _market_closes(market: str, lo: pd.Timestamp, hi: pd.Timestamp) -> pd.DatetimeIndex:
    """UTC closes of ``market``'s sessions with a close in (lo, hi]."""
    days = sessions(market, (lo - pd.Timedelta(days=2)).tz_convert(None).normalize(),
                    (hi + pd.Timedelta(days=2)).tz_convert(None).normalize())
    closes = pd.DatetimeIndex(days["close"])
    return closes[span_contains(lo, hi, closes)]


def symbol_coverage(w: Window, symbol: str, stamps: pd.DatetimeIndex, market: str) -> Coverage | None:
    """The part of ``w`` the bars ``stamps`` (UTC close stamps) of ``symbol`` cover; ``None``: no bar in it."""
    inside = stamps[w.contains(stamps)]
    if len(inside) == 0:
        return None
    first_bar, last_bar = stamps[0], stamps[-1]
    own = _market_closes(market, w.start_utc, w.end_utc)
    after = own[own > last_bar]
    before = own[own < first_bar]
    closes = w.closes
    first, last = 0, len(closes) - 1
    if len(after):
        # keep window sessions that close before the symbol's first missed session
        last = int((closes < after[0]).sum()) - 1
    if len(before):
        # keep window sessions that open at or after the symbol's last missed session closed
        first = int((w.opens < before[-1]).sum())
    return Coverage(symbol, first, last, len(before), len(after), first_bar, last_bar)


def _trimmed(w: Window, first: int, last: int) -> Window:
    keep = slice(first, last + 1)
    return replace(w, pre=w.pre - first, post=w.post - (len(w.sessions) - 1 - last),
                   sessions=w.sessions[keep], opens=w.opens[keep], closes=w.closes[keep])


def _gap_text(w: Window, cov: Coverage) -> str:
    parts = []
    if cov.missing_after:
        parts.append(f"runs {cov.missing_after} session(s) past the end of the data for {cov.symbol} "
                     f"(last bar {cov.last_bar.date()}, window ends {w.end_utc.date()})")
    if cov.missing_before:
        parts.append(f"starts {cov.missing_before} session(s) before the data for {cov.symbol} "
                     f"(first bar {cov.first_bar.date()}, window starts {w.start_utc.date()})")
    return " and ".join(parts)


def check_windows(plan: Any, data: MarketData) -> None:
    """Check (and with ``partial: trim``/``drop`` adjust) every strategy's windows against the data.

    Mutates ``plan``: each strategy keeps the windows the data covers (trimmed ones replace the
    originals, in ``plan.windows`` too); warnings go to ``data.warnings`` as named notices.

    Raises
    ------
    DataError
        A window named by id with no data, a window beyond the data with ``partial: error``, a
        window whose t = 0 session the data does not cover, or a strategy left with no window.
    """
    partial = getattr(plan.config.window_defaults, "partial", "error")
    users: dict[str, list[Any]] = {}
    for sp in plan.strategies:
        for w in sp.windows:
            users.setdefault(w.id, []).append(sp)
    by_id = {w.id: w for sp in plan.strategies for w in sp.windows}
    final: dict[str, Window | None] = {}
    for wid, w in by_id.items():
        syms = list(dict.fromkeys(s for sp in users[wid] for s in sp.strategy.traded_symbols))
        covs = {s: symbol_coverage(w, s, data.bars[s].index, data.info[s].market) for s in syms}
        if all(c is None for c in covs.values()):
            labels = ", ".join(sp.label for sp in users[wid])
            msg = (f"window {wid!r} ({w.start_utc.date()}..{w.end_utc.date()}) has no sessions in the data for "
                   f"{', '.join(syms)} (strategy {labels})")
            if not w.by_kind:
                raise DataError(msg, where=f"windows.{wid}")
            data.warnings.append(Notice("window_dropped", f"{msg}: skipped", window=wid))
            final[wid] = None
            continue
        short = [c for c in covs.values() if c is not None and (c.missing_before or c.missing_after)]
        if not short:
            final[wid] = w
            continue
        first = max(c.first for c in short)
        last = min(c.last for c in short)
        worst = max(short, key=lambda c: c.missing_before + c.missing_after)
        text = f"window {wid!r} {_gap_text(w, worst)}"
        if partial == "error":
            raise DataError(f"{text}: its returns there would be made up; shorten the window (pre/post), or set "
                            "window_defaults.partial: trim (or drop)", where=f"windows.{wid}")
        if partial == "drop":
            data.warnings.append(Notice("window_dropped", f"{text}: dropped (window_defaults.partial: drop)",
                                        window=wid, symbol=worst.symbol))
            final[wid] = None
            continue
        if first > w.pre or last < w.pre:
            raise DataError(f"{text}: its t = 0 session ({w.t0_session.date()}) is not covered, so it cannot be "
                            "trimmed; drop it from the study (or window_defaults.partial: drop)",
                            where=f"windows.{wid}")
        cut = _trimmed(w, first, last)
        data.warnings.append(Notice(
            "window_trimmed", f"{text}: trimmed to pre={cut.pre}, post={cut.post} ({cut.sessions[0].date()}.."
            f"{cut.sessions[-1].date()}; asked pre={w.pre}, post={w.post})", window=wid, symbol=worst.symbol))
        final[wid] = cut
    for sp in plan.strategies:
        sp.windows = [final[w.id] for w in sp.windows if final[w.id] is not None]
        if not sp.windows:
            raise DataError(f"strategy {sp.label!r} has no window covered by the data", where=f"strategies.{sp.index}")
    plan.windows = [final[w.id] for w in plan.windows if final.get(w.id) is not None]
