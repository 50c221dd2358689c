"""StrategyContext: documented member by member (docs/strategies.md, "The context API"), and the
documented units, as-of rules and read-only roles hold on hand-built data."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtests.data.frames import daily_bars
from backtests.data.market_data import MarketData, SymbolInfo
from backtests.errors import DataError, StrategyError
from backtests.strategy import Role, Strategy, StrategyContext
from backtests.strategy.context import EVENT_COLUMNS
from backtests.time.calendars import sessions
from backtests.time.windows import load_builtin

DOCS = Path(__file__).resolve().parents[2] / "docs" / "strategies.md"


def _section(title: str) -> str:
    text = DOCS.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def _table_after(section: str, header: str) -> list[list[str]]:
    """Rows (cells) of the markdown table whose header line starts with ``header``."""
    lines = section[section.index(header):].splitlines()
    rows = []
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def _dates(market: str, start: str, end: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(sessions(market, start, end).index)


def _world(fx_from: str = "2025-03-04") -> MarketData:
    """A KRX stock in KRW (opens 99, 102, ..., closes 100, 103, ...), a Seoul-noon USD/KRW fixing
    (1000, 1010, ... KRW per USD from ``fx_from``, stamped 03:00 UTC), a USD ETF, a read-only index."""
    kd, nd = _dates("XKRX", "2025-03-04", "2025-03-14"), _dates("XNYS", "2025-03-03", "2025-03-14")
    step = 3.0 * np.arange(len(kd))
    krw = pd.DataFrame({"open": 99.0 + step, "close": 100.0 + step}, index=kd)
    fd = kd[kd >= pd.Timestamp(fx_from)]
    fix = pd.DataFrame({"close": 1000.0 + 10 * np.arange(len(fd))}, index=fd)
    ewy = pd.DataFrame({"open": 50.0, "close": 51.0}, index=nd)
    idx = pd.DataFrame({"close": 2500.0 + np.arange(len(kd))}, index=kd)
    return MarketData(
        bars={"005930.KS": daily_bars(krw, "XKRX"), "KRW=X": daily_bars(fix, "XKRX", close_time="12:00"),
              "EWY": daily_bars(ewy, "XNYS"), "^KS11": daily_bars(idx, "XKRX")},
        info={"005930.KS": SymbolInfo("005930.KS", "XKRX", "KRW"), "KRW=X": SymbolInfo("KRW=X", "XKRX", "USD", "fx"),
              "EWY": SymbolInfo("EWY", "XNYS"), "^KS11": SymbolInfo("^KS11", "XKRX", "KRW", "index")},
        fx={"KRW": "KRW=X"})


@pytest.fixture(scope="module")
def md() -> MarketData:
    return _world()


class ReadsIndex(Strategy):
    name = "reads_index"
    roles = {"stock": Role("005930.KS"), "etf": Role("EWY"), "index": Role("^KS11", traded=False)}


@pytest.fixture(scope="module")
def ctx(md) -> StrategyContext:
    s = ReadsIndex()
    return StrategyContext(md, s.symbols, load_builtin().frame(), traded=s.traded_symbols)


# ------------------------------------------------------------------------------ the docs
def _public_members(ctx: StrategyContext) -> set[str]:
    methods = {n for n, m in inspect.getmembers(StrategyContext)
               if (inspect.isfunction(m) or isinstance(m, property)) and not n.startswith("_")}
    return methods | {n for n in vars(ctx) if not n.startswith("_")}


def test_every_public_member_of_the_context_is_documented(ctx):
    section = _section("The context API")
    documented = {m for m in re.findall(r"`ctx\.(\w+)", section)}
    missing = sorted(_public_members(ctx) - documented)
    assert not missing, f"docs/strategies.md 'The context API' does not document ctx.{missing}"
    unknown = sorted(documented - _public_members(ctx))
    assert not unknown, f"docs/strategies.md documents ctx members that do not exist: {unknown}"
    # each member has its own row in the reference table
    rows = {cell for row in _table_after(section, "| member | returns |") for cell in row[:1]}
    for name in _public_members(ctx):
        assert any(f"`ctx.{name}" in cell for cell in rows), f"no row for ctx.{name}"


def test_documented_event_columns_are_exactly_what_events_and_known_events_return(ctx):
    rows = _table_after(_section("The context API"), "| column | type | meaning |")
    names = [r[0].strip("`") for r in rows]
    assert names == EVENT_COLUMNS
    ev = ctx.events()
    assert len(ev) > 0 and list(ev.columns) == names
    assert list(ctx.known_events("krx_circuit_breaker").columns) == names
    assert list(ctx.events("no_such_kind").columns) == names
    # and each documented type
    for (name, kind, _), col in zip(rows, names):
        dtype = ev[col].dtype
        if kind == "bool":
            assert dtype == bool, name
        elif kind.startswith("datetime64[ns, UTC]"):
            assert isinstance(dtype, pd.DatetimeTZDtype) and str(dtype.tz) == "UTC", name
        elif kind.startswith("datetime64"):
            assert pd.api.types.is_datetime64_dtype(dtype) and not isinstance(dtype, pd.DatetimeTZDtype), name
        else:
            assert kind.startswith("str") and pd.api.types.is_string_dtype(dtype), name
    # with no catalogue at all: the same columns
    assert list(StrategyContext(ctx.data, ctx.symbols).events().columns) == names


# ------------------------------------------------------------------------------ behaviour
def test_clock_is_the_union_of_every_roles_bars_read_only_included(ctx, md):
    want = md.bars["005930.KS"].index.union(md.bars["EWY"].index).union(md.bars["^KS11"].index)
    assert ctx.index.equals(want) and str(ctx.index.tz) == "UTC"
    assert ctx.market("stock") == "XKRX" and ctx.market("etf") == "XNYS"
    with pytest.raises(StrategyError, match="roles: stock, etf, index"):
        ctx.symbol("hedge")


def test_read_only_roles_get_no_weight_column(ctx):
    assert ctx.traded == ["005930.KS", "EWY"]
    w = ctx.empty_weights()
    assert list(w.columns) == ["005930.KS", "EWY"] and w.index.equals(ctx.index) and (w.to_numpy() == 0).all()
    assert list(ctx.empty_weights(columns=["EWY"]).columns) == ["EWY"]
    # the index is still readable
    assert ctx.close("index").iloc[0] == 2500.0


def test_bars_are_the_roles_own_stamps_in_its_currency(ctx):
    bars = ctx.bars("stock")
    assert bars.index[0] == pd.Timestamp("2025-03-04 06:30", tz="UTC")  # Seoul close (03-03 was a holiday)
    assert bars["open_time"].iloc[0] == pd.Timestamp("2025-03-04 00:00", tz="UTC")  # Seoul open
    assert not bars["close"].isna().any()  # no padding from New York stamps
    assert ctx.close("stock").iloc[0] == 100.0  # KRW


def test_usd_prices_use_the_fx_rate_known_at_each_stamp(ctx):
    usd = ctx.close("stock", usd=True)
    # closes (06:30 UTC) come after each day's fixing (03:00 UTC): 100 / 1000 and 103 / 1010
    assert usd.loc["2025-03-04 06:30+00:00"] == pytest.approx(100.0 / 1000.0)
    assert usd.loc["2025-03-05 06:30+00:00"] == pytest.approx(103.0 / 1010.0)
    # an open (00:00 UTC) is converted with the rate known at its open_time: the previous day's
    # fixing (102 / 1000), and NaN for the first open, before any fixing
    opens = ctx.open("stock", usd=True)
    assert np.isnan(opens.iloc[0])
    assert opens.loc["2025-03-05 06:30+00:00"] == pytest.approx(102.0 / 1000.0)
    assert (ctx.close("etf", usd=True) == ctx.close("etf")).all()  # USD: unchanged
    # a close before the first fixing is an error naming the FX series, never a later rate
    late = _world(fx_from="2025-03-05")
    with pytest.raises(DataError, match="no KRW=X rate known at or before 2025-03-04T06:30"):
        StrategyContext(late, {"s": "005930.KS"}).close("s", usd=True)


def test_known_at_is_the_last_observation_at_or_before_never_later(ctx):
    s = pd.Series([1.0, np.nan, 3.0], index=pd.DatetimeIndex(
        ["2025-03-04 06:30", "2025-03-05 06:30", "2025-03-06 06:30"], tz="UTC"))
    at = pd.DatetimeIndex(["2025-03-03 21:00", "2025-03-04 06:30", "2025-03-05 21:00", "2025-03-06 06:29",
                           "2025-03-06 06:30"], tz="UTC")
    got = ctx.known_at(s, at)
    assert got.index.equals(at)
    assert np.isnan(got.iloc[0]) and got.iloc[1:].tolist() == [1.0, 1.0, 1.0, 3.0]  # NaN skipped
    assert ctx.known_at(s).index.equals(ctx.index)


def test_events_are_point_in_time(ctx):
    ev = ctx.events("krx_circuit_breaker")
    assert (ev["kind"] == "krx_circuit_breaker").all() and ev["time_utc"].is_monotonic_increasing
    assert (ev["known_from_utc"] == ev["time_utc"]).all() and not ev["scheduled"].any()
    earn = ctx.events("micron_earnings")
    assert earn["scheduled"].all() and earn["known_from_utc"].isna().all()
    t = pd.Timestamp("2026-06-23 06:00", tz="UTC")
    public = ctx.events(known_at=t)
    assert (public["scheduled"] | (public["known_from_utc"] <= t)).all()
    assert set(earn["id"]) <= set(public["id"])  # scheduled: always
    idx = pd.DatetimeIndex(["2019-01-02 00:00", "2026-06-23 06:30", "2026-06-29 00:00"], tz="UTC")
    known = ctx.known_events("krx_circuit_breaker", index=idx)
    assert known.index.equals(idx)
    assert known.iloc[0].isna().all()  # before the first halt of the catalogue
    assert known["id"].iloc[1] == "krx_cb_2026_06_23" and known["id"].iloc[2] == "krx_cb_2026_06_26"
    assert ctx.known_events("micron_earnings", index=idx)["id"].isna().all()  # scheduled: left out
