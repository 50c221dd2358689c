"""The output contract of a strategy: what ``weights``/``target_weights`` must return.

The rules of :mod:`backtests.strategy.base` (listed in docs/strategies.md, "What weights must look
like"), checked on what a plug-in returned so that a mistake is one line naming the strategy and
the first bad stamp, combination or symbol, never a silently different backtest:

* :func:`check_combo_frame`: one ``weights()`` call (one combination);
* :func:`check_target_weights`: the whole grid (finite, on the strategy's clock, every
  combination and traded symbol, a decision stamp inside every window), normalised, with the
  named warnings of windows that hold only NaN.

Errors point at the plug-in method that made the weights (:func:`~backtests.strategy.guard.definition_line`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from backtests.errors import StrategyError
from backtests.notices import Notice
from backtests.strategy.guard import definition_line

#: A weight above this in absolute value is not a portfolio fraction a study can mean (the study's
#: own leverage limit, when set, is checked by the engine).
MAX_ABS_WEIGHT = 1e6


# ------------------------------------------------------------------------------- one weights()
def check_combo_frame(frame: Any, strategy: Any, label: str, combo: Any) -> pd.DataFrame:
    """What one ``weights()`` call returned: a DataFrame with exactly the traded symbols as columns."""
    where = definition_line(type(strategy).weights)
    traded = list(strategy.traded_symbols)
    if not isinstance(frame, pd.DataFrame):
        hint = ""
        if isinstance(frame, pd.Series):
            hint = f" (a Series: return a DataFrame with one column per traded symbol, e.g. s.to_frame({traded[0]!r}))" \
                if traded else " (a Series)"
        raise StrategyError(f"strategy {label!r}: weights() returned {type(frame).__name__}{hint} for combination "
                            f"{combo}; expected a DataFrame with columns {traded}", where=where)
    if not isinstance(frame.index, pd.DatetimeIndex) or frame.index.tz is None:
        raise StrategyError(f"strategy {label!r}: weights() must be indexed by UTC stamps (normally ctx.index), "
                            f"got {type(frame.index).__name__}{'' if isinstance(frame.index, pd.DatetimeIndex) else ''}"
                            f"{' without a time zone' if isinstance(frame.index, pd.DatetimeIndex) else ''} "
                            f"for combination {combo}", where=where)
    cols = list(frame.columns)
    extra = [c for c in cols if c not in traded]
    if extra:
        raise StrategyError(f"strategy {label!r}: weights() has a column for {extra[0]!r}, which is not one of "
                            f"its traded symbols {traded} (declare it as a role)", where=where)
    missing = [s for s in traded if s not in cols]
    if missing:
        raise StrategyError(f"strategy {label!r}: weights() has no column for traded symbol {missing[0]!r} "
                            "(give 0.0 for flat)", where=where)
    if len(set(cols)) != len(cols):
        raise StrategyError(f"strategy {label!r}: weights() has duplicate columns", where=where)
    return frame[traded]


# ---------------------------------------------------------------------------- target_weights
def _stamp(ns: int) -> str:
    return pd.Timestamp(int(ns), tz="UTC").strftime("%Y-%m-%d %H:%M UTC")


def clock_span(ctx: Any) -> tuple[int, int] | None:
    """First and last UTC ns stamps a strategy's decisions may carry: its bars (``ctx.index``)
    and any intraday bars of its symbols."""
    stamps = [ctx.index.asi8] if len(ctx.index) else []
    for sym in dict.fromkeys(ctx.symbols.values()):
        intra = ctx.data.intraday.get(sym)
        if intra is not None and len(intra):
            stamps.append(pd.DatetimeIndex(intra.index).as_unit("ns").asi8)
    if not stamps:
        return None
    return int(min(s.min() for s in stamps)), int(max(s.max() for s in stamps))


def _first_absurd(vals: np.ndarray) -> tuple[int, int] | None:
    """(row, column) of the first weight that is +-inf or above :data:`MAX_ABS_WEIGHT` in size.

    Two NaN-ignoring reductions without temporaries; the (slow) search only runs on failure.
    """
    if vals.size == 0:
        return None
    flat = vals.ravel(order="K")  # memory order: a view, whatever the layout
    hi, lo = np.fmax.reduce(flat), np.fmin.reduce(flat)
    if not (hi > MAX_ABS_WEIGHT or lo < -MAX_ABS_WEIGHT):
        return None
    with np.errstate(invalid="ignore"):
        r, c = np.argwhere(np.abs(vals) > MAX_ABS_WEIGHT)[0]
    return int(r), int(c)


def check_target_weights(weights: Any, label: str, traded: list[str], n_combos: int,
                         span: tuple[int, int] | None = None, windows: Sequence[Any] = (),
                         combo_names: Sequence[Any] | None = None, where: str | None = None,
                         entry: str = "state",
                         ) -> tuple[pd.DataFrame, dict[str, list[dict[str, Any]]]]:
    """Check a strategy's ``target_weights`` output; return it normalised, with per-window notices.

    Parameters
    ----------
    weights
        What ``target_weights(ctx, grid)`` returned.
    label
        The strategy's label in the study (named in every message).
    traded
        Its traded symbols: the columns' ``symbol`` level must be exactly these.
    n_combos
        Rows of the grid it was given: the ``combo`` level must be exactly ``0..n_combos-1``.
    span
        ``(first, last)`` UTC ns of the strategy's clock (:func:`clock_span`); stamps outside are errors.
    windows
        The windows it runs on (``id``, ``start_utc``, ``end_utc``): each needs a decision stamp inside.
    combo_names
        How to name combination ``i`` in messages (default: its number).
    where
        ``file:line`` the errors point at (the plug-in method that made the weights).
    entry
        The strategy's ``episode_entry``: with ``"change"`` the engine does not carry a target set
        before a window into it, so a window with only NaN inside is flat (``weights_undecided``).

    Returns
    -------
    (weights, notices)
        Weights sorted by stamp, index UTC ns, columns ``(combo, symbol)`` for every combination and
        traded symbol, float64; ``{window id: [Notice records]}`` for windows where some
        combinations made no decision (see docs/strategies.md).

    Raises
    ------
    StrategyError
        Naming the strategy, and the first bad stamp, combination or symbol.
    """
    def _Err(message: str) -> StrategyError:  # noqa: N802 - reads as the exception it builds
        return StrategyError(message, where=where)

    who = f"strategy {label!r}"

    def name(k: int) -> str:
        return f"combination {combo_names[k] if combo_names is not None else k}"

    if not isinstance(weights, pd.DataFrame):
        raise _Err(f"{who}: target_weights returned {type(weights).__name__}, expected a DataFrame")
    if not isinstance(weights.index, pd.DatetimeIndex) or weights.index.tz is None:
        got = type(weights.index).__name__ if not isinstance(weights.index, pd.DatetimeIndex) else "tz-naive stamps"
        raise _Err(f"{who}: target_weights must return a DataFrame with a UTC DatetimeIndex (got {got})")
    if weights.index.hasnans:
        raise _Err(f"{who}: the weights' index has NaT stamps")
    if not isinstance(weights.columns, pd.MultiIndex) or weights.columns.nlevels != 2:
        raise _Err(f"{who}: target_weights must return MultiIndex columns (combo, symbol)")
    extra = [s for s in weights.columns.get_level_values(1).unique() if s not in traded]
    if extra:
        raise _Err(f"{who}: weights for {extra[0]!r}, which is not one of its traded symbols {traded} "
                   "(declare it as a role)")
    if weights.columns.has_duplicates:
        raise _Err(f"{who}: duplicate (combo, symbol) columns in the weights")
    want = pd.MultiIndex.from_product([range(n_combos), traded], names=["combo", "symbol"])
    if not weights.columns.equals(want):
        have = set(weights.columns.tolist())
        missing = next((c for c in want if c not in have), None)
        if missing is not None:
            raise _Err(f"{who}: no weights for {name(missing[0])}, symbol {missing[1]!r} "
                       "(give 0.0 for flat)")
        stray = next(c for c in weights.columns if c not in set(want.tolist()))
        raise _Err(f"{who}: weights for combination {stray[0]!r}, which is not in the grid "
                   f"(combinations are 0..{n_combos - 1})")
    if any(dt.kind not in "fiub" for dt in set(weights.dtypes.tolist())):
        pos = next(i for i, dt in enumerate(weights.dtypes.tolist()) if dt.kind not in "fiub")
        c = weights.columns[pos]
        raise _Err(f"{who}: non-numeric weights ({name(c[0])}, {c[1]!r} has dtype {weights.dtypes.iloc[pos]})")
    w = weights.reindex(columns=want) if not weights.columns.equals(want) else weights
    w = w.set_axis(w.index.tz_convert("UTC").as_unit("ns")).sort_index()
    tau = w.index.asi8
    if w.index.has_duplicates:
        dup = tau[np.flatnonzero(tau[1:] == tau[:-1])[0]]
        raise _Err(f"{who}: duplicate decision stamp {_stamp(dup)} in the weights")
    vals = w.to_numpy(dtype="float64", na_value=np.nan)
    finite = np.isfinite(vals)
    bad_at = _first_absurd(vals)
    if bad_at is not None:
        r, c = bad_at
        raise _Err(f"{who}: weight {float(vals[r, c])!r} at {_stamp(tau[r])} for {name(c // len(traded))}, "
                   f"{traded[c % len(traded)]!r} (weights must be finite fractions of portfolio value)")
    if span is not None and len(tau):
        lo, hi = span
        if tau[0] < lo:
            raise _Err(f"{who}: a decision stamped {_stamp(tau[0])}, before the first bar it can see "
                       f"({_stamp(lo)}): weights must be on the strategy's clock (ctx.index)")
        if tau[-1] > hi:
            raise _Err(f"{who}: a decision stamped {_stamp(tau[-1])}, after the last bar it can see "
                       f"({_stamp(hi)}): weights must be on the strategy's clock (ctx.index)")
    n_sym = max(1, len(traded))
    decided = finite.any(axis=0)  # per column
    per_combo = decided.reshape(n_combos, n_sym).any(axis=1) if len(tau) else np.zeros(n_combos, bool)
    if n_combos and not per_combo.all():
        k = int(np.flatnonzero(~per_combo)[0])
        raise _Err(f"{who}: {name(k)} has only NaN weights (NaN means 'no new decision'; "
                   "return 0.0 for flat)")
    notices: dict[str, list[dict[str, Any]]] = {}
    if windows:
        first = None  # first decided row per column, computed when a window needs it
        for win in windows:
            a = int(np.searchsorted(tau, win.start_utc.value, side="left"))
            b = int(np.searchsorted(tau, win.end_utc.value, side="right"))
            if a == b:
                before = f"; the last before it is {_stamp(tau[a - 1])}" if a else ""
                raise _Err(f"{who}: no decision stamp inside window {win.id!r} "
                           f"({_stamp(win.start_utc.value)}..{_stamp(win.end_utc.value)}){before}: "
                           "weights must be on the strategy's clock (ctx.index)")
            none_inside = ~finite[a:b].any(axis=0)
            if not none_inside.any():
                continue
            if first is None:
                first = np.where(decided, finite.argmax(axis=0), len(tau))
            carried = (none_inside & (first < a)).reshape(n_combos, n_sym).any(axis=1) & (entry != "change")
            undecided = none_inside.reshape(n_combos, n_sym).any(axis=1) & ~carried
            recs = []
            if carried.any():
                recs.append(Notice(
                    "weights_carried_in", "only NaN weights inside the window: targets decided before it "
                    "were carried in (NaN means 'no new decision')", strategy=label, window=win.id,
                    count=int(carried.sum())).record())
            if undecided.any():
                recs.append(Notice(
                    "weights_undecided", "no decision inside the window (only NaN) and none carried into it: "
                    "read as flat", strategy=label, window=win.id,
                    count=int(undecided.sum())).record())
            notices[win.id] = recs
    return w, notices
