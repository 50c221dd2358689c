"""The rule tables: every regime sourced, dated, non-overlapping; the right regime each day."""

import pandas as pd
import pytest

from backtests.errors import DataError
from backtests.exchange import rules as R
from backtests.exchange.short_sale import SHORT_SALE_BANS

TABLES = [R.KRX_CB, R.KOSDAQ_CB, R.US_MWCB, R.KRX_PRICE_LIMITS, R.KRX_VI, R.KRX_SIDECAR, R.KRX_SESSIONS,
          R.US_SESSIONS, R.US_LULD]


@pytest.mark.parametrize("table", TABLES)
def test_regimes_are_sourced_ordered_and_disjoint(table):
    for reg in table:
        assert reg.source.strip(), reg.id
    spans = [(pd.Timestamp(r.effective_from or "1900-01-01"), pd.Timestamp(r.effective_to or "2262-01-01")) for r in table
             if getattr(r, "futures", None) is None]
    for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
        assert a1 < b0


def test_bans_are_sourced():
    assert all(b.source and b.effective_from and b.effective_to for b in SHORT_SALE_BANS)


@pytest.mark.parametrize(("date", "rid", "first"), [
    ("2015-06-12", "krx_cb_1998", 0.10), ("2015-06-15", "krx_cb_2015", 0.08), ("2000-04-17", "krx_cb_1998", 0.10)])
def test_krx_cb_regime_by_date(date, rid, first):
    reg = R.krx_cb_regime(date)
    assert reg.id == rid and reg.levels[0].decline == first


def test_kosdaq_cb_starts_2001_10_15():
    assert R.krx_cb_regime("2001-10-12", "KOSDAQ") is None
    assert R.krx_cb_regime("2001-10-15", "KOSDAQ").index == "KOSDAQ"


def test_price_limit_history():
    assert [R.krx_price_limit(d) for d in ("1995-04-01", "1996-11-24", "1998-03-02", "1998-12-07", "2015-06-15")] == [
        0.06, 0.08, 0.12, 0.15, 0.30]
    with pytest.raises(DataError):
        R.krx_price_limit("1994-01-03")


def test_krx_level_timings():
    lv1, lv2, lv3 = R.krx_cb_regime("2026-06-23").levels
    assert (lv1.halt, lv1.reopen_auction, lv1.cutoff_before_close) == (R.minutes(20), R.minutes(10), R.minutes(40))
    assert lv2.extra_below_previous == 0.01 and lv3.halt is None and lv3.cutoff_before_close is None


def test_vi_rates():
    reg = R.regime_for(R.KRX_VI, "2026-06-23", "VI")
    assert (reg.static, reg.dynamic_rate("kospi200"), reg.dynamic_rate("other"), reg.dynamic_rate("kospi200", True)) == (
        0.10, 0.03, 0.06, 0.02)
    with pytest.raises(DataError):
        reg.dynamic_rate("kosdaq150x")
