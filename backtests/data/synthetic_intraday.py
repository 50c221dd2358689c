"""SYNTHETIC 1-minute bars of the replay's KRX crash days, printed under the exchange's rules.

Nothing here is market data. For every KOSPI level-1 circuit-breaker day the synthetic replay
reproduces (:data:`CRASH_DAYS`), this module draws 1-minute paths of KOSPI, KODEX 200, SK Hynix and
Samsung Electronics that are consistent with the replay's daily bars of that day, and lets the
exchange rules decide what prints:

1. **KOSPI's minute path** starts at the day's open, reaches its high before the fall (or inside
   the first minute when the fall starts at the open), crosses the level-1 decline (8% below the
   previous close) inside the minute before :attr:`CrashDay.halt`, lies entirely below it for the
   whole next minute, and after the reopening goes to the day's low and close (the close is the
   closing auction's print). The timing is the only thing set by hand; whether and when the market
   halts is **derived**: :func:`backtests.exchange.krx.krx_market_state` reads the generated bars
   (the 1-minute persistence rule: a run of bars lying entirely at or below the level, firing one
   minute after it starts), and generation stops with an internal error if the rule does not fire
   at the intended minute.
2. **KODEX 200** is KOSPI times the day's KODEX/KOSPI ratio of the daily replay (minute for
   minute). **SK Hynix and Samsung** follow KOSPI's shape between their own anchors (open, high,
   low, close of their daily bars): between two anchors a stock covers the same share of its move
   as KOSPI covers of its own, plus its own Brownian-bridge noise (zero at the anchors).
3. **What prints** is :mod:`backtests.exchange.prints` under the day's timeline: nothing during
   the 20-minute halt and the 10-minute reopening call auction, the first bar after it opens at
   the auction's print (the path's value at the uncross), the closing auction prints once at
   15:30; the volume of the silent minutes is carried into the bar that ends them. For the
   stock and the ETF the single-stock rules (static and dynamic volatility interruptions, limit
   locks: :func:`~backtests.exchange.krx.krx_symbol_state`) are derived from their printed bars,
   overlaid on the market's timeline and applied the same way, until the bars give the timeline
   they were printed under (a fixed point, reached in one or two passes).
4. The day's daily bar of each symbol is the aggregate of its printed minutes (first print, highest
   high, lowest low, last print, summed volume): equal to the replay's daily bar to rounding (a
   volatility interruption may hide an extreme that fell inside its two silent minutes; the
   calibrated KOSPI figures, closes and lows, are kept exactly).

Random numbers come from their own stream (``SeedSequence([seed, 19])``), so the rest of the
replay does not move when this module changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtests.errors import DataError
from backtests.exchange.krx import krx_market_state, krx_symbol_state
from backtests.exchange.prints import Printed, apply_masks, print_masks
from backtests.exchange.rules import krx_cb_regime
from backtests.exchange.schedule import session_bounds_ns
from backtests.exchange.states import State, Timeline, overlay

INDEX = "^KS11"
KODEX = "069500.KS"
STOCKS = ("000660.KS", "005930.KS")
SYMBOLS = (INDEX, KODEX, *STOCKS)
MINUTE = 60_000_000_000
#: Per-minute log sd of the paths' own noise (index, stocks): calm-market minute moves times the
#: volatility of a crash day (the scenario calibration's KRX shock-regime multiplier is 2.6).
NOISE = {INDEX: 0.0006, "000660.KS": 0.0012, "005930.KS": 0.0010}
#: A follower copies the leader's shape between two anchors only where the leader moves at least
#: this much (log) between them; elsewhere it moves linearly (plus its own noise).
SHAPE_MIN_MOVE = 0.005
#: How far below the level-1 decline the minute that proves it opens and closes (log).
BELOW = (0.001, 0.0025)


@dataclass(frozen=True)
class CrashDay:
    """A KOSPI level-1 day of the replay and the minute its halt starts.

    Attributes
    ----------
    date
        Local session date.
    halt
        Local ``HH:MM`` at which the 1-minute persistence rule fires on the generated bars (the
        first minute of the halt). A time reported between two minute marks becomes the next
        mark: minute bars prove the persistence at the end of the first whole minute below.
    source
        Where the time comes from.
    """

    date: str
    halt: str
    source: str


CRASH_DAYS: tuple[CrashDay, ...] = (
    CrashDay("2024-08-05", "14:15", "catalogue 14:14:30 (etoday.co.kr 2387555)"),
    CrashDay("2026-03-04", "11:19", "catalogue 11:19 (Korea Herald 10686698)"),
    CrashDay("2026-03-09", "10:32", "catalogue 10:31:52 (kmib.co.kr 0029498744)"),
    CrashDay("2026-06-08", "09:03", "catalogue 09:03 (ksinq.com, secondary)"),
    CrashDay("2026-06-23", "10:50", "no reported time (the halt is implied); the replay's 10:50 since 0.1"),
    CrashDay("2026-06-26", "12:40", "catalogue ~12:40 (rbtfl.xyz, trendkia.com)"),
)


@dataclass(frozen=True)
class CrashMinutes:
    """The generated crash days.

    Attributes
    ----------
    bars
        ``{symbol: DataFrame}`` of printed 1-minute bars of every crash day, indexed by the UTC bar
        open (columns open, high, low, close, volume): no row where nothing printed.
    daily
        ``{symbol: {date: (open, high, low, close, volume)}}``: the aggregate of each day's prints.
    timelines
        ``{date: {symbol: Timeline}}``: the market's timeline (``^KS11``) and each traded symbol's
        effective one (the market's overlaid with its own).
    """

    bars: dict[str, pd.DataFrame]
    daily: dict[str, dict[pd.Timestamp, tuple[float, float, float, float, float]]]
    timelines: dict[pd.Timestamp, dict[str, Timeline]]


# ------------------------------------------------------------------------------ paths
def _bridge(n: int, sd: float, z: np.ndarray) -> np.ndarray:
    """A Brownian bridge of ``n`` steps (``n + 1`` points, zero at both ends)."""
    w = np.concatenate([[0.0], np.cumsum(z[:n] * sd)])
    return w - np.linspace(0.0, 1.0, n + 1) * w[-1]


def _reflect(x: np.ndarray, lo: float | np.ndarray, hi: float | np.ndarray) -> np.ndarray:
    """``x`` folded back into ``lo..hi`` at the bounds (a path that would cross a bound turns back
    there instead of sticking to it: no flat stretch of equal prints)."""
    for _ in range(4):
        x = np.where(x > hi, 2 * hi - x, x)
        x = np.where(x < lo, 2 * lo - x, x)
    return np.clip(x, lo, hi)


def _through(anchors: dict[int, float], shape: np.ndarray | None, sd: float, z: np.ndarray) -> np.ndarray:
    """Points ``0..T`` passing exactly through ``anchors`` ({minute: value}).

    Between two anchors the path covers the share of the move that ``shape`` covers between the
    same minutes (linear where ``shape`` is ``None`` or flat there), plus a Brownian bridge.
    """
    keys = sorted(anchors)
    T = keys[-1]
    x = np.empty(T + 1)
    used = 0
    for a, b in zip(keys[:-1], keys[1:]):
        t = np.arange(a, b + 1)
        va, vb = anchors[a], anchors[b]
        if shape is not None and abs(shape[b] - shape[a]) > SHAPE_MIN_MOVE:
            share = np.clip((shape[t] - shape[a]) / (shape[b] - shape[a]), -0.25, 1.25)
        else:
            share = (t - a) / (b - a)
        x[a:b + 1] = va + (vb - va) * share + _bridge(b - a, sd, z[used:])
        used += b - a
    return x


def _index_path(day: tuple[float, ...], halt: int, closing: int, rng: np.random.Generator
                ) -> tuple[np.ndarray, dict[str, int]]:
    """KOSPI's log ratio to its previous close at minutes ``0..T`` and the minutes of its extremes."""
    xo, xh, xl, xc = day
    T = closing + 10
    l1 = float(np.log(0.92))
    fall = int(rng.integers(20, 61))
    f0 = max(0, halt - 1 - fall)
    anchors = {0: xo, halt - 1: l1 - BELOW[0], halt: l1 - BELOW[1], T: xc}
    marks = {"high": 0, "low": T}
    if f0 >= 3:
        m_h = int(rng.integers(1, f0))
        anchors[m_h] = xh
        anchors[f0] = xo + 0.3 * (xh - xo)
        marks["high"] = m_h
    reopen = halt + 30
    anchors[reopen] = l1 + 0.4 * (xl - l1)
    if xl < xc - 1e-12:
        m_l = int(rng.integers(reopen + 4, closing - 5))
        anchors[m_l] = xl
        marks["low"] = m_l
    anchors[closing] = min(xc + 0.02 * (xh - xl), xh)
    z = rng.standard_normal(T)
    before = np.arange(T + 1) <= halt - 2  # no whole minute below the level before the intended one
    x = _reflect(_through(anchors, None, NOISE[INDEX], z), np.where(before, l1 + 0.0005, xl), xh)
    for m, v in anchors.items():
        x[m] = v
    return x, marks


def _follower_path(target: tuple[float, ...], index: np.ndarray, marks: dict[str, int], halt: int, closing: int,
                   sd: float, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, int]]:
    """A stock's log ratio to its previous close, pinned to its own open/high/low/close."""
    so, sh, sl, sc = target
    T = closing + 10
    reopen = halt + 30
    pre = index[1:max(halt - 1, 2)]
    m_h = 1 + int(np.argmax(pre)) if halt - 1 > 2 and sh > so else 0
    post = index[reopen + 1:closing - 1]
    m_l = reopen + 1 + int(np.argmin(post)) if sl < sc - 1e-12 else T
    if m_l == T and marks["low"] < T:
        m_l = marks["low"]
    anchors = {0: so, T: sc}
    if m_h:
        anchors[m_h] = sh
    if m_l < T:
        anchors[m_l] = sl
    anchors[closing] = min(sc + 0.02 * (sh - sl), sh)
    z = rng.standard_normal(T)
    x = _reflect(_through(anchors, index, sd, z), sl, sh)
    for m, v in anchors.items():
        x[m] = v
    return x, {"high": m_h, "low": m_l}


def _bars(price: np.ndarray, hi: float, lo: float, sd: float, marks: dict[str, int], rng: np.random.Generator
          ) -> tuple[np.ndarray, ...]:
    """1-minute open/high/low/close from a price path, extremes inside ``lo..hi`` and reaching them
    on the bars of ``marks`` (a mark at minute ``m`` is the bar ending there, 0 = the first bar)."""
    o, c = price[:-1], price[1:]
    e = np.abs(rng.standard_normal((2, len(o)))) * 0.5 * sd
    h = np.clip(np.maximum(o, c) * np.exp(e[0]), None, hi)
    lw = np.clip(np.minimum(o, c) * np.exp(-e[1]), lo, None)
    h[max(marks["high"] - 1, 0)] = hi
    if marks["low"] < len(o):
        lw[max(marks["low"] - 1, 0)] = lo
    return o, np.maximum(h, np.maximum(o, c)), np.minimum(lw, np.minimum(o, c)), c


def _volume(total: float, T: int, halt: int, closing: int, rng: np.random.Generator) -> np.ndarray:
    """Integer volumes a minute summing to ``total``: heavy at the open, before the close and after
    the reopening (the silent minutes' share is carried into the auction bar that ends them)."""
    m = np.arange(T, dtype=float)
    reopen = halt + 30
    shape = (1.0 + 2.0 * np.exp(-m / 30.0) + 1.5 * np.exp(-(closing - m).clip(0) / 30.0)
             + 3.0 * np.exp(-(m - reopen).clip(0) / 8.0) * (m >= reopen))
    w = shape * np.exp(0.25 * rng.standard_normal(T))
    cum = np.round(np.cumsum(w) / w.sum() * round(total))
    return np.diff(np.concatenate([[0.0], cum]))


# ------------------------------------------------------------------------- the rules
def _frame(starts: np.ndarray, ends: np.ndarray, p: Printed | tuple[np.ndarray, ...]) -> pd.DataFrame:
    cols = ("open", "high", "low", "close") if isinstance(p, tuple) else None
    data = dict(zip(cols, p)) if cols else {"open": p.open, "high": p.high, "low": p.low, "close": p.close,
                                            "volume": p.volume}
    return pd.DataFrame(data, index=pd.to_datetime(ends, utc=True))


def _printed(latent: tuple[np.ndarray, ...], tl: Timeline, starts: np.ndarray, ends: np.ndarray, open_ns: int
             ) -> Printed:
    masks = print_masks(tl, starts, ends, open_ns)
    row = apply_masks(*(a[None, :] for a in latent), *(m[None, :] for m in masks))
    return Printed(*(getattr(row, f)[0] for f in ("open", "high", "low", "close", "volume", "auction")))


def _symbol_rules(latent: tuple[np.ndarray, ...], market: Timeline, base: float, date: pd.Timestamp, symbol: str,
                  starts: np.ndarray, ends: np.ndarray, open_ns: int) -> tuple[Printed, Timeline]:
    """Print a stock or ETF under the market's timeline overlaid with its own (VIs, limit locks)
    derived from its prints, until the prints give back the timeline they were printed under."""
    tl = market
    for _ in range(5):
        p = _printed(latent, tl, starts, ends, open_ns)
        ok = ~np.isnan(p.close)
        own = krx_symbol_state(_frame(starts, ends, p)[ok], base, date, symbol, bar="1min")
        nxt = overlay(market, own)
        if np.array_equal(nxt.edges, tl.edges) and np.array_equal(nxt.codes, tl.codes):
            return p, tl
        tl = nxt
    raise DataError(f"internal: the single-stock rules of {symbol} on {date.date()} do not settle", where="synthetic")


def _day(prev: dict[str, float], today: dict[str, tuple[float, ...]], crash: CrashDay, rng: np.random.Generator
         ) -> tuple[dict[str, pd.DataFrame], dict[str, tuple[float, ...]], dict[str, Timeline]]:
    date = pd.Timestamp(crash.date)
    open_ns, close_ns = session_bounds_ns("XKRX", date)
    T = (close_ns - open_ns) // MINUTE
    closing = T - 10  # the closing call auction: the last 10 minutes
    halt = int((pd.Timestamp(f"{crash.date} {crash.halt}").tz_localize("Asia/Seoul").value - open_ns) // MINUTE)
    starts = open_ns + MINUTE * np.arange(T, dtype=np.int64)
    ends = starts + MINUTE
    rel = {s: tuple(float(np.log(v / prev[s])) for v in today[s][:4]) for s in SYMBOLS}
    x_idx, marks = _index_path(rel[INDEX], halt, closing, rng)
    paths = {INDEX: (x_idx, marks)}
    ratio = today[KODEX][3] / today[INDEX][3]
    for s in STOCKS:
        paths[s] = _follower_path(rel[s], x_idx, marks, halt, closing, NOISE[s], rng)
    latent: dict[str, tuple[np.ndarray, ...]] = {}
    for s in (INDEX, *STOCKS):
        x, mk = paths[s]
        o, h, lo, c = (today[s][i] for i in range(4))
        px = prev[s] * np.exp(x)
        px[0], px[-1] = o, c
        latent[s] = (*_bars(px, h, lo, NOISE[s], mk, rng), _volume(today[s][4], T, halt, closing, rng))
    idx = latent[INDEX]
    latent[KODEX] = (*(a * ratio for a in idx[:4]), _volume(today[KODEX][4], T, halt, closing, rng))
    market = krx_market_state(_frame(starts, ends, idx[:4]), prev[INDEX], date, bar="1min")
    _check_halt(market, crash, date)
    printed = {INDEX: _printed(idx, market, starts, ends, open_ns)}
    timelines = {INDEX: market}
    for s in (KODEX, *STOCKS):
        printed[s], timelines[s] = _symbol_rules(latent[s], market, prev[s], date, s, starts, ends, open_ns)
    bars, daily = {}, {}
    for s, p in printed.items():
        ok = ~np.isnan(p.close)
        frame = pd.DataFrame({"open": p.open[ok], "high": p.high[ok], "low": p.low[ok], "close": p.close[ok],
                              "volume": p.volume[ok]}, index=pd.to_datetime(starts[ok], utc=True))
        bars[s] = frame
        daily[s] = (float(frame["open"].iloc[0]), float(frame["high"].max()), float(frame["low"].min()),
                    float(frame["close"].iloc[-1]), float(frame["volume"].sum()))
    return bars, daily, timelines


def _check_halt(tl: Timeline, crash: CrashDay, date: pd.Timestamp) -> None:
    """The rules must fire where the path was drawn to make them fire (else the generator is wrong)."""
    want = pd.Timestamp(f"{crash.date} {crash.halt}").tz_localize("Asia/Seoul").value
    got = [e.instant for e in tl.events if e.code == "cb_level1"]
    reg = krx_cb_regime(date, "KOSPI")
    if reg is None or got != [want] or State.HALTED not in tl.codes:
        raise DataError(f"internal: the synthetic KOSPI minutes of {crash.date} do not halt at {crash.halt} under "
                        f"the rules (fired at {[str(pd.Timestamp(g, tz='UTC')) for g in got]})", where="synthetic")


def crash_minutes(daily: dict[str, pd.DataFrame], seed: int) -> CrashMinutes:
    """Generate every crash day of :data:`CRASH_DAYS` from the replay's daily tables.

    Parameters
    ----------
    daily
        ``{symbol: DataFrame}`` indexed by local session date (naive) with open, high, low, close,
        volume, for the four :data:`SYMBOLS`; each crash day and its previous session must be there.
    seed
        The replay's seed (the minutes have their own stream derived from it).
    """
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), 19])))
    out: dict[str, list[pd.DataFrame]] = {s: [] for s in SYMBOLS}
    days: dict[str, dict[pd.Timestamp, tuple[float, ...]]] = {s: {} for s in SYMBOLS}
    timelines: dict[pd.Timestamp, dict[str, Timeline]] = {}
    for crash in CRASH_DAYS:
        d = pd.Timestamp(crash.date)
        prev, today = {}, {}
        for s in SYMBOLS:
            f = daily[s]
            i = f.index.get_loc(d)
            prev[s] = float(f["close"].iloc[i - 1])
            today[s] = tuple(float(f[c].iloc[i]) for c in ("open", "high", "low", "close", "volume"))
        bars, agg, tls = _day(prev, today, crash, rng)
        for s in SYMBOLS:
            out[s].append(bars[s])
            days[s][d] = agg[s]
        timelines[d] = tls
    return CrashMinutes({s: pd.concat(v) for s, v in out.items()}, days, timelines)


__all__ = ["CRASH_DAYS", "CrashDay", "CrashMinutes", "crash_minutes", "SYMBOLS"]
