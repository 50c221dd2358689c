"""Plug-ins get read-only data: a write through any accessor of the context either raises or stays in
the plug-in's own copy (pandas 3 copy-on-write), never reaching scare's MarketData.

Every accessor is tried with every kind of write a plug-in might make: pandas-level (column
assignment, ``.loc``/``.iloc``/``.at``/``.iat``, ``inplace=True`` methods) and numpy-level (into
``.values``, ``np.asarray``, ``to_numpy``, the arrays of pandas' own blocks, the index's ``asi8``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from backtests.data.market_data import MarketData, SymbolInfo
from backtests.data.synthetic import generate
from backtests.strategy.context import StrategyContext
from backtests.time.windows import load_builtin

SYMBOLS = {"stock": "000660.KS", "etf": "EWY", "index": "^KS11"}


@pytest.fixture(scope="module")
def data() -> MarketData:
    return generate(start="2026-06-01", end="2026-07-31").select(["000660.KS", "EWY", "^KS11"])


ACCESSORS = {
    "bars": lambda c: c.bars("stock"),
    "close": lambda c: c.close("stock"),
    "close_usd": lambda c: c.close("stock", usd=True),
    "open": lambda c: c.open("etf"),
    "high": lambda c: c.high("etf"),
    "low": lambda c: c.low("etf", usd=True),
    "series": lambda c: c.series("stock", "close"),
    "intraday": lambda c: c.intraday("index"),
    "data.bars": lambda c: c.data.bars["EWY"],
    "data.require": lambda c: c.data.require("EWY"),
    "data.series": lambda c: c.data.series("EWY", "close"),
    "data.panel": lambda c: c.data.panel("close"),
    "data.to_usd": lambda c: c.data.to_usd("000660.KS"),
    "data.intraday": lambda c: c.data.intraday.get("^KS11"),
    "known_at": lambda c: c.known_at(c.close("stock")),
}


def _writes(obj: pd.DataFrame | pd.Series) -> dict[str, object]:
    """Write operations on a frame or a series; each a callable doing one write."""
    if isinstance(obj, pd.Series):
        return {
            "iloc": lambda: obj.__setitem__(obj.index[0], -1.0),
            "loc": lambda: obj.loc.__setitem__(obj.index[0], -1.0),
            "iat": lambda: obj.iat.__setitem__(0, -1.0),
            "mask": lambda: obj.mask(obj > 0, -1.0, inplace=True),
            "fillna": lambda: obj.fillna(-1.0, inplace=True),
            "values": lambda: obj.values.__setitem__(0, -1.0),
            "asarray": lambda: np.asarray(obj).__setitem__(0, -1.0),
            "to_numpy": lambda: obj.to_numpy().__setitem__(0, -1.0),
            "array": lambda: obj.array._ndarray.__setitem__(0, -1.0),
            "index": lambda: obj.index.asi8.__setitem__(0, 0),
        }
    col = "close" if "close" in obj.columns else obj.columns[0]
    return {
        "column": lambda: obj.__setitem__(col, obj[col] * 0.1),
        "imul": lambda: obj.__setitem__(col, obj[col].__imul__(0.1)),
        "loc": lambda: obj.loc.__setitem__((obj.index[0], col), -1.0),
        "iloc": lambda: obj.iloc.__setitem__((0, list(obj.columns).index(col)), -1.0),
        "at": lambda: obj.at.__setitem__((obj.index[0], col), -1.0),
        "chained": lambda: obj[col].__setitem__(obj.index[0], -1.0),
        "drop": lambda: obj.drop(columns=[col], inplace=True),
        "values": lambda: obj[col].values.__setitem__(0, -1.0),
        "to_numpy": lambda: obj.to_numpy().__setitem__((0, 0), -1.0),
        "blocks": lambda: [b.values.__setitem__(..., 1) for b in obj._mgr.blocks if isinstance(b.values, np.ndarray)],
        "open_time": lambda: obj["open_time"].array._ndarray.__setitem__(0, 0) if "open_time" in obj else None,
        "index": lambda: obj.index.asi8.__setitem__(0, 0),
    }


def _cases():
    for name in ACCESSORS:
        probe = pd.Series([1.0]) if name in {"close", "close_usd", "open", "high", "low", "series", "data.series",
                                             "data.to_usd", "known_at"} else pd.DataFrame({"close": [1.0]})
        for write in _writes(probe):
            yield name, write


@pytest.mark.parametrize(("accessor", "write"), list(_cases()))
def test_a_write_through_any_accessor_raises_or_stays_in_the_plugins_copy(data, accessor, write):
    before = data.fingerprint()
    intraday = {s: f.copy(deep=True) for s, f in data.intraday.items()}
    ctx = StrategyContext(data, SYMBOLS, load_builtin().frame(), traded=list(SYMBOLS.values()))
    clock = ctx.index.copy(deep=True)
    first = ACCESSORS[accessor](ctx)
    if first is None:
        pytest.skip(f"{accessor}: no such data here")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas' ChainedAssignmentError is a warning; the check is below
        try:
            _writes(first)[write]()
        except ValueError as exc:
            assert "read-only" in str(exc), exc
    # nothing reached scare's data, the clock, or what the next access returns
    assert data.fingerprint() == before and not data.unchanged()
    for s, f in intraday.items():
        pd.testing.assert_frame_equal(data.intraday[s], f)
    assert ctx.index.equals(clock)
    again = ACCESSORS[accessor](ctx)
    fresh = ACCESSORS[accessor](StrategyContext(data, SYMBOLS, load_builtin().frame()))
    if isinstance(again, pd.DataFrame):
        pd.testing.assert_frame_equal(again, fresh)
    else:
        pd.testing.assert_series_equal(again, fresh)


def test_numpy_level_writes_raise_read_only(data):
    ctx = StrategyContext(data, SYMBOLS)
    bars = ctx.bars("stock")
    for target in (bars["close"].values, np.asarray(ctx.close("etf")), ctx.index.asi8,
                   next(b.values for b in bars._mgr.blocks if isinstance(b.values, np.ndarray))):
        with pytest.raises(ValueError, match="read-only"):
            target[0] = 0
    with pytest.raises(AttributeError):
        ctx.index = ctx.index[:1]
    with pytest.raises(TypeError):
        ctx.data.bars["EWY"] = bars
    with pytest.raises(TypeError):
        ctx.symbols["stock"] = "EWY"


def test_pandas_level_writes_stay_in_the_copy_the_plugin_holds(data):
    """Copy-on-write: a strategy may modify what it was handed for its own computation."""
    ctx = StrategyContext(data, SYMBOLS)
    bars = ctx.bars("stock")
    bars.loc[bars.index[0], "close"] = -1.0
    bars["close"] *= 2
    assert bars["close"].iloc[0] == -2.0
    assert ctx.bars("stock")["close"].iloc[0] == data.bars["000660.KS"]["close"].iloc[0] > 0


def test_unchanged_names_the_symbols_whose_bytes_changed():
    idx = pd.date_range("2026-01-05", periods=4, freq="D", tz="UTC")
    frame = pd.DataFrame({"close": [1.0, 2.0, 3.0, 4.0], "open_time": idx - pd.Timedelta(hours=6)}, index=idx)
    md = MarketData({"A": frame, "B": frame.copy()}, {"A": SymbolInfo("A", "XNYS"), "B": SymbolInfo("B", "XNYS")})
    assert md.unchanged() == []  # no fingerprint taken yet: nothing to compare with
    md.fingerprint()
    md.bars["B"]["close"].array._ndarray[1] = 9.0  # the way around copy-on-write
    assert md.unchanged() == ["B"]


def test_the_view_costs_one_copy_of_the_strategys_data_not_one_per_access(data):
    view = data.read_only()
    assert view.bars["EWY"] is not view.bars["EWY"]  # a new shallow copy per access
    a, b = view.bars["EWY"], view.bars["EWY"]
    assert np.shares_memory(a["close"].to_numpy(), b["close"].to_numpy())  # over one private copy
    assert not np.shares_memory(a["close"].to_numpy(), data.bars["EWY"]["close"].to_numpy())
