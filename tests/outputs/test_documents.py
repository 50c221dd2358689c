"""metrics.json `data.halts`: gaps in the intraday bars inside a session, not the schedule's call auctions."""

from __future__ import annotations

import pandas as pd

from backtests.data.synthetic import generate
from backtests.outputs.documents import intraday_gaps


def test_the_closing_call_auction_is_not_a_halt():
    """The synthetic 1-minute crash days: KOSPI prints nothing during each Level-1 halt and its
    reopening auction (30 minutes: 10:50-11:20 KST on 2026-06-23) nor during the closing call
    auction (15:20-15:30 KST, one print at its end). Only the first is a halt."""
    md = generate(intraday="1min")
    kospi = [g for g in intraday_gaps(md) if g["symbol"] == "^KS11"]
    assert [g["from_utc"][:10] for g in kospi] == ["2024-08-05", "2026-03-04", "2026-03-09", "2026-06-08",
                                                   "2026-06-23", "2026-06-26"]
    assert {g["minutes"] for g in kospi} == {30}
    day = next(g for g in kospi if g["from_utc"].startswith("2026-06-23"))
    assert (pd.Timestamp(day["from_utc"]), pd.Timestamp(day["to_utc"])) == \
        (pd.Timestamp("2026-06-23 01:50", tz="UTC"), pd.Timestamp("2026-06-23 02:20", tz="UTC"))
    assert not any(pd.Timestamp(g["from_utc"]).tz_convert("Asia/Seoul").strftime("%H:%M") == "15:20"
                   for g in intraday_gaps(md))
