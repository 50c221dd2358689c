"""Parameters arrive with their declared type: in the grid frame, in ``weights(**params)``, in a run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtests.config.model import RangeSpec
from backtests.data.synthetic import generate
from backtests.strategy import (BoolParam, ChoiceParam, FloatParam, IntParam, Role, Strategy, StrategyContext,
                                expand_grid)
from backtests.strategy.params import combo_records

HERE = Path(__file__).resolve().parent


class Mixed(Strategy):
    """Every parameter kind in one grid; records what each call received."""

    name = "mixed"
    roles = {"asset": Role("QQQ")}
    window = IntParam(3, low=1, high=50)
    level = FloatParam(0.5)
    enabled = BoolParam(True)
    side = ChoiceParam("long", choices=("long", "short"))

    def __init__(self, roles=None):
        super().__init__(roles)
        self.seen: list[dict] = []

    def weights(self, ctx, window, level, enabled, side):
        self.seen.append({"window": window, "level": level, "enabled": enabled, "side": side})
        close = ctx.close("asset")
        up = (close.rolling(window).mean() < close).astype(float) * level * (1.0 if side == "long" else -1.0)
        out = ctx.empty_weights()
        out[ctx.symbol("asset")] = up if enabled else 0.0
        return out


SPEC = {"window": [2, 5], "level": [0.25, 1], "enabled": [True, False], "side": ["long", "short"]}


@pytest.fixture(scope="module")
def data():
    return generate(start="2025-06-02", end="2025-09-30").select(["QQQ", "SPY"])


def test_grid_columns_have_the_declared_dtypes():
    grid = expand_grid(Mixed.params, SPEC, "mixed")
    assert grid.dtypes.map(str).to_dict() == {"window": "int64", "level": "float64", "enabled": "bool", "side": "str"}
    assert len(grid) == 16 and grid.index.name == "combo"
    # an int range from the config arrives as floats (2.0, 4.0, 6.0): the column is still int64
    grid = expand_grid(Mixed.params, {"window": RangeSpec(start=2, stop=6, step=2), "level": 1}, "mixed")
    assert grid["window"].dtype == np.int64 and grid["window"].tolist() == [2, 4, 6]
    assert grid["level"].dtype == np.float64 and grid["level"].tolist() == [1.0, 1.0, 1.0]


def test_combo_records_are_plain_python_values_of_the_declared_types():
    grid = expand_grid(Mixed.params, SPEC, "mixed")
    recs = combo_records(grid, Mixed.params)
    assert recs[0] == {"window": 2, "level": 0.25, "enabled": True, "side": "long"}
    for r in recs:
        assert [type(r[k]) for k in ("window", "level", "enabled", "side")] == [int, float, bool, str]
    # row-wise access is what casts: iterrows turns the int into a float on an all-numeric grid
    numeric = grid[["window", "level"]]
    assert type(next(numeric.iterrows())[1]["window"]) is not int
    assert [type(v) for v in combo_records(numeric, Mixed.params)[0].values()] == [int, float]


def test_default_target_weights_calls_weights_with_declared_types(data):
    s = Mixed()
    grid = expand_grid(Mixed.params, SPEC, "mixed")
    out = s.target_weights(StrategyContext(data, s.symbols), grid)
    assert len(s.seen) == 16
    assert {tuple(type(v) for v in seen.values()) for seen in s.seen} == {(int, float, bool, str)}
    assert [seen["window"] for seen in s.seen[:4]] == [2, 2, 2, 2]
    assert list(out.columns.get_level_values("combo").unique()) == list(range(16))
    # only int + float (the case): window is still an int, rolling(window) works
    s = Mixed()
    numeric = expand_grid(Mixed.params, {"window": [2, 5], "level": [0.25, 1.5]}, "mixed")
    s.target_weights(StrategyContext(data, s.symbols), numeric)
    assert {type(seen["window"]) for seen in s.seen} == {int}


TYPED_PLUGIN = """
import pandas as pd
from backtests.strategy import BoolParam, ChoiceParam, FloatParam, IntParam, Role, Strategy

WANT = {"window": "int64", "level": "float64", "enabled": "bool", "side": "str"}


class Typed(Strategy):
    name = "typed"
    roles = {"asset": Role("QQQ")}
    window = IntParam(3, low=1, high=50)
    level = FloatParam(0.5)
    enabled = BoolParam(True)
    side = ChoiceParam("long", choices=("long", "short"))

    def target_weights(self, ctx, grid):
        got = grid.dtypes.map(str).to_dict()
        if got != WANT:
            raise TypeError(f"grid dtypes {got}")
        if list(grid.index) != list(range(len(grid))):
            raise ValueError(f"grid index {list(grid.index)}")
        cols = {}
        for combo, row in zip(grid.index, grid.itertuples(index=False)):
            close = ctx.close("asset")
            up = (close.rolling(row.window).mean() < close).astype(float) * row.level
            cols[(combo, "QQQ")] = up if row.enabled else up * 0.0
        out = pd.DataFrame(cols, index=ctx.index)
        out.columns = pd.MultiIndex.from_tuples(list(out.columns), names=["combo", "symbol"])
        return out
"""


def test_vectorized_path_gets_the_grid_with_its_dtypes_in_every_chunk(cli, tmp_path, monkeypatch):
    (tmp_path / "typed_grid.py").write_text(TYPED_PLUGIN)
    (tmp_path / "typed.yaml").write_text(
        "name: typed\nwindows: [deepseek_r1]\nstrategies:\n  - name: typed_grid:Typed\n"
        "    params: {window: [2, 5], level: [0.25, 1], enabled: [true, false], side: [long, short]}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    code, _, err = cli("run", tmp_path / "typed.yaml", "--out", tmp_path / "out", "--no-progress", "--no-audit",
                       "--set", "executor.chunk_runs=3")
    assert code == 0, err
    m = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert len(m["runs"]) == 16
    kinds = {tuple(sorted((k, type(v).__name__) for k, v in r["params"].items())) for r in m["runs"]}
    assert kinds == {(("enabled", "bool"), ("level", "float"), ("side", "str"), ("window", "int"))}


def test_rsi_plugin_from_the_docs_runs_through_scare_run(cli, tmp_path, monkeypatch):
    """tests/strategy/rsi_dip.py (docs/strategies.md's example): int window + float level in one grid."""
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setenv("SCARE_CACHE_DIR", str(tmp_path / "cache"))
    code, out, err = cli("run", HERE / "rsi_dip.yaml", "--out", tmp_path / "out", "--no-progress")
    assert code == 0, err
    m = json.loads((tmp_path / "out" / "metrics.json").read_text())
    by: dict[str, dict] = {}
    for r in m["runs"]:
        assert type(r["params"]["window"]) is int and type(r["params"]["level"]) is float
        by.setdefault(r["strategy"], {})[(r["params"]["window"], r["params"]["level"], r["window"])] = r["metrics"]
    assert set(by) == {"rsi_dip:RsiDip", "rsi_dip:RsiDipFast", "rsi_dip:RsiDipFiltered"}
    assert set(by["rsi_dip:RsiDip"]) == {(w, lv, win) for w in (7, 14) for lv in (25.0, 35.5)
                                         for win in ("deepseek_r1", "kospi_crash_2026")}
    assert sum(x["n_trades"] > 0 for x in by["rsi_dip:RsiDip"].values()) >= 4
    assert sum(x["n_trades"] > 0 for x in by["rsi_dip:RsiDipFiltered"].values()) >= 1
    # one combination at a time and vectorized: the same decisions, the same results
    assert by["rsi_dip:RsiDip"] == by["rsi_dip:RsiDipFast"]
    # the read-only role (SPY) gets no weight column: ctx.empty_weights() holds the traded symbols only
    w = pd.read_parquet(tmp_path / "out" / "weights.parquet")
    assert set(w["symbol"].astype(str)) == {"QQQ"}


EVENTS = """events:
  - {id: l1_a, kind: circuit_breaker_level1, market: XKRX, date: 2026-06-23, label: Level-1 halt}
"""


def _study(tmp_path: Path, kind: str, with_file: bool = True) -> Path:
    (tmp_path / "halts.yaml").write_text(EVENTS)
    files = "events_files: [halts.yaml]\n" if with_file else ""
    cfg = tmp_path / "study.yaml"
    cfg.write_text(f"name: ek\n{files}windows: [kospi_crash_2026]\nstrategies:\n  - name: fade_kospi_halt\n"
                   f"    params: {{hold: [1, 2], event_kind: {kind}}}\n")
    return cfg


def test_event_kind_values_are_checked_against_the_study_catalogue(cli, tmp_path):
    code, out, err = cli("validate", _study(tmp_path, "circuit_breaker_level1"))
    assert code == 0 and "2 combinations" in out, err
    code, out, err = cli("validate", _study(tmp_path, "[krx_circuit_breaker, circuit_breaker_level1]"))
    assert code == 0 and "4 combinations" in out, err
    # a typo: one line, the config's line and field, and the closest kind
    code, out, err = cli("validate", _study(tmp_path, "circuit_breaker_levl1"))
    assert code == 2 and err.count("\n") == 1
    assert "study.yaml:6: strategies.0.params.event_kind" in err
    assert "no event of kind 'circuit_breaker_levl1' in the study's catalogue (did you mean 'circuit_breaker_level1'?)" in err
    # nothing close: the kinds are listed
    code, _, err = cli("validate", _study(tmp_path, "halts"))
    assert code == 2 and "(kinds: ai_shock, circuit_breaker_level1, crypto_liquidation, krx_circuit_breaker" in err
    # the file's kind exists only with the file
    code, _, err = cli("validate", _study(tmp_path, "circuit_breaker_level1", with_file=False))
    assert code == 2 and "no event of kind 'circuit_breaker_level1'" in err
    # not a string: rejected by the parameter itself
    code, _, err = cli("validate", _study(tmp_path, "3"))
    assert code == 2 and "'fade_kospi_halt.event_kind' expects event_kind, got 3" in err


def test_check_event_kinds_unit():
    from backtests.strategy import EventKindParam
    from backtests.strategy.params import check_event_kinds, grid_axes
    from backtests.errors import StrategyError

    class S(Strategy):
        name = "s"
        trigger = EventKindParam("krx_circuit_breaker", doc="what triggers")
        n = IntParam(1)

    axes = grid_axes(S.params, {"trigger": ["krx_circuit_breaker", "ai_shock"]}, "s")
    check_event_kinds(S.params, axes, ["ai_shock", "krx_circuit_breaker"], "s")
    with pytest.raises(StrategyError, match=r"did you mean 'ai_shock'"):
        check_event_kinds(S.params, grid_axes(S.params, {"trigger": "ai_shok"}, "s"), ["ai_shock"], "s")
    assert S.params["trigger"].describe()["type"] == "event_kind"
    assert expand_grid(S.params, {}, "s")["trigger"].dtype == "str"
