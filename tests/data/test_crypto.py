"""The ccxt provider at 1 minute, on ccxt's own Binance code (offline).

Binance's ``GET /api/v3/klines`` answer is stubbed (rows ``[open ms, "o", "h", "l", "c", "v", close ms,
...]``, at most ``limit`` from ``startTime``, nothing before the pair's first bar); ccxt 4.5.90's
``binance.fetch_ohlcv`` runs for real (its 1,000-bar cap for spot, its parsing into
``[ms, open, high, low, close, volume]``), and so does the provider's paging.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.data.cache import Cache, fetch
from backtests.data.providers.crypto import CcxtProvider

ccxt = pytest.importorskip("ccxt")

MINUTE = 60_000
MARKET = {"id": "BTCUSDT", "symbol": "BTC/USDT", "base": "BTC", "quote": "USDT", "baseId": "BTC", "quoteId": "USDT",
          "type": "spot", "spot": True, "margin": False, "swap": False, "future": False, "option": False,
          "contract": False, "linear": None, "inverse": None, "active": True,
          "precision": {"amount": 0.00001, "price": 0.01}, "limits": {}, "info": {}}


class Klines:
    """Binance's kline store for one pair: 1-minute bars from ``first`` to ``last`` (UTC), minus ``outage``."""

    def __init__(self, first: str, last: str, outage: tuple[str, str] | None = None) -> None:
        opens = pd.date_range(first, last, freq="1min", tz="UTC", inclusive="left")
        if outage:
            a, b = (pd.Timestamp(x, tz="UTC") for x in outage)
            opens = opens[(opens < a) | (opens >= b)]
        self.opens = opens.as_unit("ms").asi8
        self.calls: list[dict] = []

    def __call__(self, request: dict, params: dict | None = None) -> list[list]:
        self.calls.append(dict(request))
        since, limit = int(request.get("startTime", self.opens[0])), int(request["limit"])
        pick = self.opens[self.opens >= since][:limit]
        px = 60000.0 + (pick - self.opens[0]) / MINUTE * 0.5
        return [[int(t), f"{p:.2f}", f"{p + 5:.2f}", f"{p - 5:.2f}", f"{p + 0.5:.2f}", "12.5", int(t) + MINUTE - 1,
                 "750000", 42, "6", "360000", "0"] for t, p in zip(pick, px)]


def _binance(klines: Klines):
    ex = ccxt.binance({"enableRateLimit": False})
    ex.set_markets([MARKET])
    ex.publicGetKlines = klines
    return ex


def _provider(klines: Klines, now: str, page_limit: int = 1000) -> CcxtProvider:
    return CcxtProvider("binance", client=_binance(klines), page_limit=page_limit, sleep=lambda s: None,
                        now=lambda: pd.Timestamp(now, tz="UTC"))


def test_one_minute_bars_are_paged_by_the_exchanges_limit_and_stamped_at_their_close():
    k = Klines("2026-06-23 00:00", "2026-06-25 00:00")
    got = _provider(k, "2026-06-24 17:30").fetch("BTC-USD", "bars", "1min", pd.Timestamp("2026-06-23"),
                                                 pd.Timestamp("2026-06-24"))
    f = got.frame
    # 1,440 minutes of the 23rd + 17 h 30 of the 24th closed by 17:30 (the 17:30 bar is still open)
    assert len(f) == 1440 + 17 * 60 + 30
    assert [c["startTime"] for c in k.calls][:3] == [int(pd.Timestamp(t, tz="UTC").value // 1e6) for t in
                                                    ("2026-06-23 00:00", "2026-06-23 16:40", "2026-06-24 09:20")]
    assert all(c["limit"] == 1000 for c in k.calls)
    assert f["open_time"].iloc[0] == pd.Timestamp("2026-06-23 00:00", tz="UTC")
    assert f.index[0] == pd.Timestamp("2026-06-23 00:01", tz="UTC")  # known at the bar's close
    assert f.index[-1] == pd.Timestamp("2026-06-24 17:30", tz="UTC")
    assert f.index.is_unique and (np.diff(f.index.asi8) == 60e9).all()
    assert got.source == "ccxt_binance" and got.warnings == []


def test_a_page_asked_above_the_exchanges_cap_is_cut_by_ccxt_and_paging_still_covers_the_range():
    k = Klines("2026-06-23 00:00", "2026-06-24 00:00")
    f = _provider(k, "2026-07-01", page_limit=1500).fetch("BTC-USD", "bars", "1min", pd.Timestamp("2026-06-23"),
                                                          pd.Timestamp("2026-06-23")).frame
    assert [c["limit"] for c in k.calls] == [1000, 1000]  # ccxt caps Binance spot at 1,000 a call
    assert len(f) == 1440


def test_an_exchange_outage_stays_a_gap():
    k = Klines("2026-06-23 00:00", "2026-06-24 00:00", outage=("2026-06-23 03:00", "2026-06-23 03:45"))
    f = _provider(k, "2026-07-01").fetch("BTC-USD", "bars", "1min", pd.Timestamp("2026-06-23"),
                                         pd.Timestamp("2026-06-23")).frame
    assert len(f) == 1440 - 45
    steps = pd.Series(f.index).diff().value_counts()
    assert steps[pd.Timedelta(minutes=46)] == 1  # the 02:59 bar, then the 03:45 bar: no bar made up between


def test_a_range_before_the_pairs_first_bar_is_served_from_it_and_says_so(tmp_path):
    k = Klines("2017-08-17 04:00", "2017-08-18 00:00")  # Binance's first BTC/USDT kline
    prov = _provider(k, "2026-07-01")
    got = prov.fetch("BTC-USD", "bars", "1min", pd.Timestamp("2017-08-01"), pd.Timestamp("2017-08-17"))
    assert got.frame["open_time"].iloc[0] == pd.Timestamp("2017-08-17 04:00", tz="UTC")
    (w,) = got.warnings
    assert "bars start 2017-08-17 04:00:00+00:00, after the requested 2017-08-01" in w and "[history_starts_late]" in w
    rep = fetch(Cache(tmp_path / "dc"), "BTC-USD", "bars", "1min", "2017-08-01", "2017-08-17", provider=prov)
    assert rep.key == "ccxt_binance/BTC-USD/bars/1min" and rep.warnings == [w]


def test_the_ccxt_answer_shape_is_what_the_stub_feeds_the_provider():
    k = Klines("2026-06-23 00:00", "2026-06-23 00:03")
    rows = _binance(k).fetch_ohlcv("BTC/USDT", "1m", since=int(pd.Timestamp("2026-06-23", tz="UTC").value // 1e6))
    assert rows[0] == [1782172800000, 60000.0, 60005.0, 59995.0, 60000.5, 12.5] and len(rows) == 3
