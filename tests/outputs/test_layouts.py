"""returns.parquet and pooled.parquet in the long layout: written from the in-memory panels in row
groups, read back (whole or for a few ids) into the same series; a scare 0.2 (wide) file reads the
same way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from backtests.outputs import write
from backtests.report.view import pooled_series, read_pooled, read_returns, wide_returns


def _panel(stamps: list[str], ids: list[str], seed: int, windows: int = 2) -> pd.DataFrame:
    """Runs of ``windows`` windows over ``stamps`` (each run NaN outside its window), F-ordered as
    the sweep assembles them."""
    rng = np.random.default_rng(seed)
    index = pd.DatetimeIndex(pd.to_datetime(stamps, utc=True).as_unit("ns"), name="time")
    values = np.full((len(ids), len(index)), np.nan)
    size = len(index) // windows
    for j in range(len(ids)):
        w = j % windows
        values[j, w * size:(w + 1) * size] = rng.normal(0, 0.01, size)
    values[0, 0] = -0.0
    return pd.DataFrame(values.T, index=index, columns=ids, copy=False)


@pytest.fixture
def panels() -> list[pd.DataFrame]:
    a = _panel([f"2026-06-{d:02d} 20:00" for d in range(1, 13)], [f"a{i}" for i in range(9)], 1)
    b = _panel([f"2026-06-{d:02d} 06:30" for d in range(3, 11)], [f"b{i}" for i in range(4)], 2)
    return [a, b]


@pytest.mark.parametrize("cells", [1 << 22, 7], ids=["one row group", "many row groups"])
def test_returns_round_trip(panels, tmp_path: Path, monkeypatch, cells):
    monkeypatch.setattr(write, "ROW_GROUP_CELLS", cells)
    path = tmp_path / "returns.parquet"
    write.write_long(path, panels, "run")
    long = pd.read_parquet(path)
    assert list(long.columns) == ["run", "time", "return"] and str(long["time"].dt.tz) == "UTC"
    assert not long["return"].isna().any()
    assert list(long["run"].cat.categories) == [*panels[0].columns, *panels[1].columns]
    want = pd.concat(panels, axis=1, sort=True)
    got = read_returns(path)
    assert list(got.columns) == list(want.columns)
    assert np.array_equal(got.to_numpy(), want.reindex(got.index).to_numpy(), equal_nan=True)
    assert got.index.equals(want.dropna(how="all").index)
    assert np.signbit(got["a0"].dropna().iloc[0])  # -0.0 kept
    few = read_returns(path, ["b2", "a4", "zz"])  # read with a filter: only those, in that order
    assert list(few.columns) == ["b2", "a4"]
    assert few["b2"].dropna().equals(panels[1]["b2"].dropna())
    if cells == 7:
        assert pq.ParquetFile(path).num_row_groups > 2


def test_pooled_round_trip_with_paths_null_where_absent(tmp_path: Path):
    cal = _panel([f"2026-06-{d:02d} 20:00" for d in range(1, 11)], ["p0", "p1", "p2"], 3, windows=1)
    r = cal["p1"].dropna()
    paths = pd.DataFrame({"wealth": np.cumprod(1 + r.to_numpy()), "drawdown": np.zeros(len(r)),
                          "rolling_volatility": np.r_[np.nan, np.nan, np.ones(len(r) - 2)]}, index=r.index)
    frame = pd.concat([cal, paths.add_prefix("p1|").reindex(cal.index)], axis=1)
    path = tmp_path / "pooled.parquet"
    write.write_long(path, [frame], "id", paths=True)
    long = pd.read_parquet(path)
    assert list(long.columns) == ["id", "time", "return", "wealth", "drawdown", "rolling_volatility", "rolling_beta"]
    stored = read_pooled(path)
    s1 = pooled_series(stored, "p1")
    assert list(s1.columns) == ["return", "wealth", "drawdown", "rolling_volatility"]  # no rolling_beta: null
    assert np.isnan(s1["rolling_volatility"].iloc[0])  # a NaN value of the path, not "no path"
    assert s1["wealth"].equals(paths["wealth"].rename("wealth"))
    assert list(pooled_series(stored, "p0").columns) == ["return"] and pooled_series(stored, "zz") is None
    assert list(pd.unique(read_pooled(path, ["p2"])["id"].astype(str))) == ["p2"]


def test_a_scare_0_2_wide_file_reads_the_same(panels, tmp_path: Path):
    wide = pd.concat(panels, axis=1, sort=True)
    wide.to_parquet(tmp_path / "old.parquet")  # 0.2: one column per run, index "time"
    write.write_long(tmp_path / "new.parquet", panels, "run")
    old, new = read_returns(tmp_path / "old.parquet", ["a3", "b1"]), read_returns(tmp_path / "new.parquet", ["a3", "b1"])
    assert list(old.columns) == list(new.columns) == ["a3", "b1"]
    o = old.dropna(how="all")
    assert np.array_equal(o.to_numpy(), new.reindex(o.index).to_numpy(), equal_nan=True)
    pooled = wide[["a1", "a2"]].assign(**{"a1|wealth": 1.0})
    pooled.to_parquet(tmp_path / "old_pooled.parquet")
    s = pooled_series(read_pooled(tmp_path / "old_pooled.parquet", ["a1"]), "a1")
    assert list(s.columns) == ["return", "wealth"] and len(s) == wide["a1"].notna().sum()
    assert wide_returns(None, ["x"]).empty


def test_an_empty_study_writes_an_empty_table(tmp_path: Path):
    write.write_long(tmp_path / "e.parquet", [pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC", name="time"))], "run")
    assert pd.read_parquet(tmp_path / "e.parquet").empty
