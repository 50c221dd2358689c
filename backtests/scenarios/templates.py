"""Crash shapes from real days, normalized by depth and time, resampled in blocks.

Two kinds of template sit beside the parametric family (``ScenarioFamily(shape="template")``):

- :class:`DailyTemplate`: what daily bars show of a real shock. ``../shared/data`` has no
  intraday bars, so a template is the shock session's open, high, low and close relative to the
  previous close, and the same for the sessions after it (each relative to its own previous
  close), all divided by the shock day's log depth (the day's low is ``-1``). Built by
  :func:`krx_daily_templates` from the KOSPI level-1 circuit-breaker days of
  ``events/krx_circuit_breakers.csv`` that have OHLC bars (2024-08-05, 2026-03-04, 2026-03-09,
  2026-06-08, 2026-06-23, 2026-06-26), with the recorded halt time where there is one.
- :class:`IntradayTemplate`: a real day's minute path (for users who have intraday bars),
  normalized by depth (log ratio to the previous close over the log depth) and by time
  (minutes from the start of the fall over the time to the trough), plus the residual minute
  increments around its smoothed shape, which :func:`block_resample` reshuffles in blocks.

Daily templates cannot say *when* inside the day the high and the low came. The scenario
parameters supply the timing: the day's high at ``shock_time``, the low ``time_to_trough``
minutes later, the close reached from the low with the rebound's ``half_life`` shape. Sessions
after the shock are resampled in blocks of ``family.block`` consecutive template days (a day
keeps its own open/high/low/close relative to its previous close); inside them the extremes come
at one and two thirds of the session, the low first on an up day and the high first on a down day.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from backtests.errors import DataError
from backtests.scenarios.clock import MarketGrid
from backtests.scenarios.params import ParamTable
from backtests.scenarios.shapes import pre_shock, shock_minutes

#: Minutes per block when an intraday template's residual increments are resampled.
INTRADAY_BLOCK = 15
#: Uniforms per scenario a template family draws (template choice, then blocks).
TEMPLATE_UNIFORMS = 256


@dataclass(frozen=True)
class DailyTemplate:
    """One real shock day and the sessions after it, normalized by its depth.

    Attributes
    ----------
    name
        ``<index> <date>``.
    date
        Local date of the shock session.
    depth
        ``1 - low / previous close`` of the shock session (fraction).
    days
        ``(K, 4)``: open, high, low, close of day 0 (log ratios to its previous close) and of each
        later day (log ratios to *its* previous close), all divided by ``-log(1 - depth)``.
    halt_minutes
        Minutes after the open of the recorded level-1 halt (NaN when none was recorded).
    """

    name: str
    date: str
    depth: float
    days: np.ndarray
    halt_minutes: float = float("nan")


@dataclass(frozen=True)
class IntradayTemplate:
    """A real day's minute path normalized by depth and time.

    Attributes
    ----------
    name
        Label.
    u
        Normalized times of the samples: ``(minutes since the start of the fall) / time_to_trough``
        (negative before the fall; 1 at the trough).
    y
        The 15-minute centred moving average of the path's log ratio to the previous close,
        divided by the day's log depth (the template's shape).
    residuals
        Minute increments of the normalized path minus those of ``y``: the template's own
        texture, re-used in blocks of :data:`INTRADAY_BLOCK` minutes by :func:`block_resample`.
    """

    name: str
    u: np.ndarray
    y: np.ndarray
    residuals: np.ndarray

    @staticmethod
    def from_path(name: str, minutes: np.ndarray, price: np.ndarray, prev_close: float, fall_start: float
                  ) -> "IntradayTemplate":
        """Normalize a minute path.

        Parameters
        ----------
        name
            Label.
        minutes
            Minutes since the open of each price (increasing, one a minute).
        price
            The path (e.g. 1-minute closes).
        prev_close
            The previous session's close.
        fall_start
            Minute (since the open) the fall starts; the trough is the path's minimum after it.

        Raises
        ------
        DataError
            When the path never falls below its previous close after ``fall_start``.
        """
        minutes = np.asarray(minutes, dtype=float)
        x = np.log(np.asarray(price, dtype=float) / prev_close)
        after = minutes >= fall_start
        if not after.any() or x[after].min() >= 0:
            raise DataError("the path does not fall below its previous close after the fall start", where=name)
        k = int(np.argmin(np.where(after, x, np.inf)))
        scale = -x[k]
        ttr = max(minutes[k] - fall_start, 1.0)
        y = x / scale
        smooth = pd.Series(y).rolling(15, center=True, min_periods=1).mean().to_numpy()
        return IntradayTemplate(name, (minutes - fall_start) / ttr, smooth, np.diff(y - smooth))


def block_resample(increments: np.ndarray, block: int, uniforms: np.ndarray, length: int) -> np.ndarray:
    """``length`` increments made of blocks of ``block`` consecutive ``increments``, block starts
    chosen by ``uniforms`` (one per block, in [0, 1))."""
    increments = np.asarray(increments, dtype=float)
    if len(increments) < block:
        raise DataError(f"{len(increments)} increments cannot make blocks of {block}")
    nblocks = -(-length // block)
    if len(uniforms) < nblocks:
        raise DataError(f"block_resample needs {nblocks} uniforms, got {len(uniforms)}")
    starts = (np.asarray(uniforms[:nblocks]) * (len(increments) - block + 1)).astype(int)
    return np.concatenate([increments[s:s + block] for s in starts])[:length]


def krx_daily_templates(data_dir: Path | str, after: int = 5) -> tuple[DailyTemplate, ...]:
    """KOSPI level-1 circuit-breaker days with OHLC bars, each with up to ``after`` later sessions.

    Raises
    ------
    DataError
        When the catalogue or the KOSPI OHLC file is missing.
    """
    from backtests.scenarios.calibrate import read_ohlc
    from backtests.scenarios.events import halt_minutes

    data_dir = Path(data_dir)
    cat = data_dir / "events/krx_circuit_breakers.csv"
    if not cat.is_file():
        raise DataError("file not found", where=str(cat))
    ev = pd.read_csv(cat)
    ev = ev[(ev["kind"] == "circuit_breaker_level1") & (ev["market"] == "KOSPI")]
    o = read_ohlc(data_dir, "^KS11")
    out = []
    for _, row in ev.iterrows():
        d = pd.Timestamp(row["date"])
        if d not in o.index:
            continue
        i = o.index.get_loc(d)
        rows = o.iloc[i:i + 1 + after]
        base = np.log(rows[["open", "high", "low", "close"]].to_numpy() / rows[["prev"]].to_numpy())
        scale = -base[0, 2]
        if scale <= 0:
            continue
        out.append(DailyTemplate(f"KOSPI {d.date()}", str(d.date()), float(1 - np.exp(-scale)), base / scale,
                                 halt_minutes(row.get("time_kst") or "")))
    return tuple(out)


def _ramp(t: np.ndarray, knots: list[tuple[float, float]]) -> np.ndarray:
    """Piecewise-linear values through ``(minute, value)`` knots (flat outside)."""
    ks = sorted(knots)
    return np.interp(t, [k[0] for k in ks], [k[1] for k in ks])


def _day0(t: np.ndarray, end: float, tpl: np.ndarray, s: float, m0: float, ttr: float, half: float) -> np.ndarray:
    """Shock-day log ratios at minutes ``t``: open -> high at m0 -> low at m0 + ttr -> close."""
    o, h, lo, c = (tpl * s).tolist()
    m_tr = min(m0 + ttr, end)
    p_lo, p_c = np.exp(lo), np.exp(c)
    knots = [(0.0, np.exp(o))] + ([(m0, np.exp(h))] if m0 > 0 else []) + [(m_tr, p_lo)]
    before = _ramp(t, knots)
    span = max(end - m_tr, 1e-9)
    w = (1.0 - np.exp2(-(t - m_tr) / half)) / (1.0 - np.exp2(-span / half))
    after = p_lo + (p_c - p_lo) * np.clip(w, 0.0, 1.0)
    return np.log(np.where(t <= m_tr, before, after))


def _later(t: np.ndarray, end: float, day: np.ndarray, s: float) -> np.ndarray:
    """A later session's log ratios to its previous close: open, extremes at 1/3 and 2/3, close."""
    o, h, lo, c = (day * s).tolist()
    first, second = (lo, h) if c >= o else (h, lo)
    return np.log(_ramp(t, [(0.0, np.exp(o)), (end / 3, np.exp(first)), (2 * end / 3, np.exp(second)),
                            (end, np.exp(c))]))


def template_skeleton(family, grid: MarketGrid, shock_session: int, params: ParamTable, uniforms: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, int]:
    """The leader's skeleton from the family's templates (same contract as
    :func:`backtests.scenarios.shapes.skeleton`).

    ``params.template`` picks the template (``-1``: drawn with ``uniforms[:, 0]``); the later
    sessions' blocks are drawn with ``uniforms[:, 1:]``.
    """
    tpls = family.templates
    n = len(params)
    x, x_ref = pre_shock(grid, shock_session, params)
    m0 = shock_minutes(grid, shock_session, params)
    choice = np.where(params.template >= 0, params.template, np.floor(uniforms[:, 0] * len(tpls))).astype(int)
    lengths = (np.diff(grid.session_points) - 1).astype(float)
    for i in range(n):
        tpl = tpls[choice[i]]
        s = -np.log1p(-params.depth[i])
        if isinstance(tpl, IntradayTemplate):
            x[i] = _intraday_row(grid, shock_session, tpl, s, m0[i], params.time_to_trough[i], x[i], uniforms[i, 1:])
            continue
        level = 0.0
        days = _later_days(tpls, choice[i], uniforms[i, 1:], grid.n_sessions - shock_session - 1, family.block)
        for k in range(shock_session, grid.n_sessions):
            lo, hi = grid.session_points[k], grid.session_points[k + 1]
            t = grid.point_minute[lo:hi]
            if k == shock_session:
                vals = _day0(t, lengths[k], tpl.days[0], s, m0[i], params.time_to_trough[i], params.half_life[i])
            else:
                vals = level + _later(t, lengths[k], days[k - shock_session - 1], s)
            x[i, lo:hi] = vals
            level = vals[-1]
    return x, x_ref, 0


def _later_days(tpls, first: int, uniforms: np.ndarray, count: int, block: int) -> list[np.ndarray]:
    """``count`` later days: the chosen template's own while it has them, then blocks of
    ``block`` days from templates drawn by ``uniforms`` (two per block: template, start)."""
    own = [d for d in tpls[first].days[1:]] if isinstance(tpls[first], DailyTemplate) else []
    days = own[:count]
    pool = [t for t in tpls if isinstance(t, DailyTemplate) and len(t.days) > block]
    u = iter(uniforms.tolist())
    while len(days) < count:
        if not pool:
            raise DataError("no template has enough later days to resample blocks from")
        t = pool[int(next(u) * len(pool))]
        start = 1 + int(next(u) * (len(t.days) - block))
        days += list(t.days[start:start + block])
    return days[:count]


def _intraday_row(grid: MarketGrid, shock_session: int, tpl: IntradayTemplate, s: float, m0: float, ttr: float,
                  row: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """An intraday template rescaled to depth ``s`` (log) and fall time ``ttr`` from ``m0``: its
    smoothed shape plus its residual increments resampled in blocks of :data:`INTRADAY_BLOCK`."""
    tau = grid.trading_minutes()
    tau0 = tau[grid.session_points[shock_session]] + m0
    started = grid.point_session >= shock_session
    y = np.interp((tau - tau0) / ttr, tpl.u, tpl.y)
    k = int(started.sum())
    texture = np.concatenate([[0.0], np.cumsum(block_resample(tpl.residuals, INTRADAY_BLOCK, uniforms, k - 1))])
    out = row.copy()
    out[started] = s * (y[started] + texture)
    return out


__all__ = ["DailyTemplate", "IntradayTemplate", "krx_daily_templates", "template_skeleton", "block_resample"]
