"""Short-sale bans on both sides of every boundary, membership, overrides and their loader."""

import numpy as np
import pandas as pd
import pytest

from backtests.errors import ConfigError
from backtests.exchange.short_sale import load_borrow_overrides, short_sale_allowed


def kst(*days, clock="10:00"):
    return np.array([pd.Timestamp(f"{d} {clock}").tz_localize("Asia/Seoul").value for d in days], dtype=np.int64)


def allowed(days, **kw):
    ans = short_sale_allowed("000660", "XKRX", kst(*days), **kw)
    return list(ans.allowed)


@pytest.mark.parametrize(("before", "first", "last", "after", "kw"), [
    ("2008-09-30", "2008-10-01", "2009-05-29", "2009-06-01", {}),
    ("2011-08-09", "2011-08-10", "2011-11-09", "2011-11-10", {}),
    ("2020-03-13", "2020-03-16", "2021-04-30", "2021-05-03", {"index_membership": {"KOSPI200"}}),
    ("2021-05-03", "2023-11-06", "2025-03-28", "2025-03-31", {"index_membership": {"KOSPI200"}}),
    ("2008-09-30", "2008-10-01", "2013-11-13", "2013-11-14", {"financial": True}),
])
def test_krx_ban_boundaries(before, first, last, after, kw):
    assert allowed([before, first, last, after], **kw) == [True, False, False, True]


def test_2021_partial_ban_depends_on_membership():
    days = ["2021-05-03", "2023-11-03"]
    assert allowed(days) == [False, False]
    assert allowed(days, index_membership={"KOSDAQ150"}) == [True, True]
    # membership changing over time: a constituent only from 2023
    assert allowed(days, index_membership={"KOSPI200": np.array([False, True])}) == [False, True]
    assert short_sale_allowed("x", "XKRX", kst("2021-05-03")).reason[0] == "krx_ban_2021_partial"


def test_local_date_decides():
    # 2025-03-31 00:30 KST is 2025-03-30 15:30 UTC: Korea's 31 March, shorting allowed
    t = np.array([pd.Timestamp("2025-03-30 15:30", tz="UTC").value, pd.Timestamp("2025-03-30 14:30", tz="UTC").value])
    assert list(short_sale_allowed("x", "XKRX", t).allowed) == [True, False]


def test_us_2008_financials():
    t = np.array([pd.Timestamp(f"{d} 10:00").tz_localize("America/New_York").value
                  for d in ("2008-09-18", "2008-09-19", "2008-10-08", "2008-10-09")])
    assert list(short_sale_allowed("BAC", "XNYS", t, financial=True).allowed) == [True, False, False, True]
    assert short_sale_allowed("MU", "XNYS", t).allowed.all()


def test_crypto_has_no_bans():
    assert short_sale_allowed("BTC", "CRYPTO", kst("2020-03-16")).allowed.all()


def test_overrides_yaml_and_csv(tmp_path):
    y = tmp_path / "borrow.yaml"
    y.write_text("borrow:\n  - {symbol: '000660', market: XKRX, start: 2019-01-02, end: 2019-01-31, "
                 "available: false, note: no lender}\n")
    ov = load_borrow_overrides(y)
    ans = short_sale_allowed("000660", "XKRX", kst("2019-01-02", "2019-02-01"), overrides=ov)
    assert list(ans.allowed) == [False, True] and ans.reason[0] == "borrow_unavailable: no lender"
    c = tmp_path / "borrow.csv"
    c.write_text("symbol,market,start,end,available,note\n000660,XKRX,2019-01-02,2019-01-31,false,\n")
    assert load_borrow_overrides(c)[0].available is False
    # an override cannot lift a ban
    on = tmp_path / "on.csv"
    on.write_text("symbol,market,start,end,available\n000660,XKRX,2020-01-01,2020-12-31,true\n")
    assert not short_sale_allowed("000660", "XKRX", kst("2020-06-01"), overrides=load_borrow_overrides(on)).allowed[0]


@pytest.mark.parametrize(("text", "suffix", "fragment"), [
    ("symbol,market,start,end,available\n000660,XKRX,2019-01-02,2019-01-31,maybe\n", ".csv", "b.csv:2"),
    ("symbol,market,start,end\n000660,XKRX,2019-01-02,2019-01-31\n", ".csv", "needs available"),
    ("borrow:\n  - {symbol: a, market: XKRX, start: 2019-02-02, end: 2019-01-31, available: false}\n", ".yaml",
     "b.yaml:2"),
    ("borrow:\n  - {symbol: a, market: XXXX, start: 2019-01-02, end: 2019-01-31, available: false}\n", ".yaml",
     "market must be"),
    ("borrow: {a: 1}\n", ".yaml", "list 'borrow:'"),
    ("borrow:\n  - {symbol: a, market: XKRX, start: x, end: 2019-01-31, available: false, extra: 1}\n", ".yaml",
     "unknown borrow override field"),
])
def test_override_errors_name_file_and_line(tmp_path, text, suffix, fragment):
    p = tmp_path / f"b{suffix}"
    p.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_borrow_overrides(p)
    assert fragment in str(err.value)


def test_exact_table_dates_even_on_weekends():
    assert allowed(["2009-05-31", "2009-06-01"]) == [False, True]
    assert allowed(["2021-05-02", "2021-05-03"], index_membership={"KOSPI200"}) == [False, True]
    assert allowed(["2023-11-05", "2023-11-06"], index_membership={"KOSPI200"}) == [True, False]
    assert allowed(["2025-03-30", "2025-03-31"]) == [False, True]
