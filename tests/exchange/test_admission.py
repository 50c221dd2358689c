"""Order admission under a timeline: hand-worked cases, and a property test over 10^5 random orders."""

import numpy as np
import pandas as pd

from backtests.exchange.admission import FillKind, Reason, admit, fill_prices
from backtests.exchange.krx import krx_market_state, krx_price_limits, krx_symbol_state
from backtests.exchange.schedule import schedule
from backtests.exchange.states import ACCEPTING, AUCTIONS, NAT, Lock, State, overlay

from .paths import at, clock, linear_bars

K = "XKRX"
D = "2026-06-22"


def test_opening_call_overnight_and_closing_auction():
    tl = schedule(K, "2026-06-19", "2026-06-22")  # Friday and Monday
    orders = np.array([at(K, D, "08:45"), at(K, "2026-06-19", "20:00"), at(K, D, "15:25"), at(K, D, "11:00"),
                       at(K, D, "15:31"), at(K, "2026-06-19", "08:00")])
    adm = admit(tl, orders)
    assert [clock(K, t) for t in adm.fill_at] == ["09:00:00", "09:00:00", "15:30:00", "11:00:00", "NaT", "NaT"]
    assert pd.Timestamp(int(adm.fill_at[1]), tz="UTC").tz_convert("Asia/Seoul").date().isoformat() == D
    assert list(adm.kind) == [FillKind.AUCTION, FillKind.AUCTION, FillKind.AUCTION, FillKind.CONTINUOUS,
                              FillKind.NONE, FillKind.NONE]
    assert list(adm.reason[-2:]) == [Reason.OUTSIDE_TIMELINE] * 2


def test_us_open_is_an_auction_print():
    tl = schedule("XNYS", "2026-06-18", "2026-06-22")  # Thursday; Friday 06-19 is Juneteenth
    adm = admit(tl, np.array([at("XNYS", "2026-06-18", "18:00"), at("XNYS", D, "09:00")]))
    assert [clock("XNYS", t) for t in adm.fill_at] == ["09:30:00", "09:30:00"]
    assert list(adm.kind) == [FillKind.AUCTION] * 2


def test_crypto_is_always_continuous():
    tl = schedule("CRYPTO", "2026-06-20", "2026-06-21")
    t = np.array([int(pd.Timestamp("2026-06-20 03:17:05", tz="UTC").value), int(pd.Timestamp("2026-06-21 23:59", tz="UTC").value)])
    adm = admit(tl, t)
    assert (adm.fill_at == t).all() and (adm.kind == FillKind.CONTINUOUS).all()
    assert tl.segments(State.HALTED).size == 0 and len(tl) == 1


def test_limit_price_outside_the_daily_limits_is_rejected():
    tl = schedule(K, D, D)
    lo, hi = krx_price_limits(10000.0, D)
    adm = admit(tl, np.array([at(K, D, "10:00")] * 3), side=np.array([1, 1, -1]),
                limit_price=np.array([13500.0, 12000.0, np.nan]), lower=lo, upper=hi)
    assert list(adm.reason) == [Reason.PRICE_OUTSIDE_LIMITS, Reason.OK, Reason.OK]
    assert adm.counts()["price_outside_limits"] == 1
    assert [n.code for n in adm.notices("005930")] == ["order_price_outside_limits"]


def crash_day(seed: int):
    """A KOSPI crash day with rule-derived halts and a stock that locks limit-down."""
    rng = np.random.default_rng(seed)
    d = "2026-06-23"
    depth = rng.uniform(0.16, 0.19)   # deep enough for level 2
    kospi = linear_bars(K, d, "09:00", "15:30", lambda m: 9000.0 * (1 - depth * min(m, 150.0) / 150.0))
    market = krx_market_state(kospi, 9000.0, d)
    base = 100000.0
    lo, hi = krx_price_limits(base, d)
    walk = base * np.exp(np.cumsum(rng.normal(-0.004, 0.01, 390)))
    path = np.clip(walk, lo, hi)
    m = np.arange(391)
    stock = linear_bars(K, d, "09:00", "15:30", lambda x: float(np.interp(x, m, np.concatenate([[base], path]))))
    symbol = krx_symbol_state(stock, base, d, "000660", vi_class="kospi200")
    return overlay(market, symbol), stock, float(lo), float(hi)


def test_property_no_fill_in_a_halt_or_outside_the_limits():
    for seed in (1, 2):
        tl, stock, lo, hi = crash_day(seed)
        assert len(tl.segments(State.HALTED)) >= 2  # levels 1 and 2 derived from the bars
        rng = np.random.default_rng(100 + seed)
        n = 100_000
        t = rng.integers(tl.start - 3_600 * 10**9, tl.end + 3_600 * 10**9, n)
        side = rng.choice([-1, 1], n)
        limit = np.where(rng.random(n) < 0.2, rng.uniform(lo * 0.8, hi * 1.2, n), np.nan)
        adm = admit(tl, t, side=side, limit_price=limit, lower=lo, upper=hi)
        ok = adm.allowed
        seg = adm.segment[ok]
        # every fill is in a segment that trades (for an auction: the auction it prints in), and
        # its instant lies in that segment or at the auction's print
        assert np.isin(tl.codes[seg], np.asarray(ACCEPTING)).all()
        in_auction = np.isin(tl.codes[seg], np.asarray(AUCTIONS))
        assert (adm.fill_at[ok][in_auction] == tl.uncross[seg][in_auction]).all()
        f, sg = adm.fill_at[ok][~in_auction], seg[~in_auction]
        assert ((f >= tl.edges[sg]) & (f < tl.edges[sg + 1])).all()
        for s, e in tl.segments(State.HALTED, State.PAUSED):
            assert not ((adm.fill_at[ok] > s) & (adm.fill_at[ok] < e)).any()
        # auction fills are at an auction's print; continuous fills are at the order instant
        auction = adm.kind[ok] == FillKind.AUCTION
        prints = tl.uncross[np.isin(tl.codes, np.asarray(AUCTIONS))]
        starts_after_stop = tl.edges[:-1][np.isin(tl.codes, (State.CONTINUOUS,))]
        assert np.isin(adm.fill_at[ok][auction], np.concatenate([prints, starts_after_stop])).all()
        assert (adm.fill_at[ok][~auction] == t[ok][~auction]).all()
        assert (adm.fill_at[ok] >= t[ok]).all()
        # no buy into a lock-up, no sell into a lock-down
        lock = tl.locks[seg]
        assert not ((side[ok] > 0) & (lock == Lock.UP)).any() and not ((side[ok] < 0) & (lock == Lock.DOWN)).any()
        # prices: limit orders inside the limits only; fill prices (first print at or after) too
        assert not (np.isfinite(limit[ok]) & ((limit[ok] < lo) | (limit[ok] > hi))).any()
        starts = stock.index.as_unit("ns").asi8 - 60 * 10**9
        px = fill_prices(adm, starts, stock["open"].to_numpy())
        px = px[np.isfinite(px)]
        assert len(px) > 1000 and ((px >= lo - 1e-6) & (px <= hi + 1e-6)).all()
        # nothing fills after a halt that runs into the close, nothing in the wrong session
        assert (adm.fill_at[~ok] == NAT).all()
