"""Fixtures for the scoring tests: seeded returns and, when available, real daily returns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _closes(symbol: str) -> pd.Series:
    path = SHARED_DATA / "equities" / f"{symbol}.csv"
    if not path.exists():
        pytest.skip(f"real data not available ({path})")
    frame = pd.read_csv(path, usecols=["date", "close"], parse_dates=["date"])
    return frame.set_index("date")["close"].sort_index()


@pytest.fixture(scope="session")
def real_pair() -> tuple[pd.Series, pd.Series]:
    """Daily MU and QQQ simple returns on their common dates."""
    closes = pd.concat({"MU": _closes("MU"), "QQQ": _closes("QQQ")}, axis=1, join="inner")
    rets = closes.pct_change().iloc[1:].dropna()
    return rets["MU"].rename("MU"), rets["QQQ"].rename("QQQ")


@pytest.fixture(scope="session")
def seeded_pair() -> tuple[pd.Series, pd.Series]:
    """500 fat-tailed daily returns and a correlated benchmark (seeded)."""
    rng = np.random.default_rng(20250127)
    bench = 0.0004 + 0.012 * rng.standard_t(4, 500) / np.sqrt(2.0)
    rets = 0.0006 + 1.3 * bench + 0.015 * rng.standard_t(5, 500) / np.sqrt(5 / 3)
    index = pd.date_range("2023-01-02", periods=500, freq="B", tz="UTC")
    return pd.Series(rets, index=index, name="strat"), pd.Series(bench, index=index, name="bench")
