"""The one plug-in call path (backtests.strategy.calls): the sweep and the audit call a strategy,
and report its mistakes, the same way."""

from __future__ import annotations

import importlib.util
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from backtests.audit.compare import decisions
from backtests.data.synthetic import generate
from backtests.errors import StrategyError
from backtests.strategy import FloatParam, Role, Strategy
from backtests.strategy.calls import decide, params_checker
from backtests.time.windows import load_builtin, make_window


@pytest.fixture(scope="module")
def data():
    return generate(start="2025-01-02", end="2025-06-30").select(["QQQ"])


def plugin(tmp_path, body: str, name: str):
    """A plug-in module written to a file (so errors can point at its lines)."""
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod, path


class Hold(Strategy):
    name = "hold"
    roles = {"asset": Role("QQQ")}
    weight = FloatParam(1.0, low=0.0, high=1.0)

    def weights(self, ctx, weight):
        w = ctx.empty_weights() + weight
        if weight == 0.0:  # this combination never decides
            w[:] = np.nan
        return w


def test_the_strategy_sees_combinations_0_to_n_and_messages_name_the_sweeps_ids(data):
    grid = pd.DataFrame({"weight": [0.5, 1.0]}, index=pd.Index([10, 11], name="combo"))
    weights, notices = decide(Hold(), "hold", data, None, grid)
    assert weights.columns.get_level_values("combo").unique().tolist() == [0, 1]
    assert notices == {}
    np.testing.assert_array_equal(weights.xs(1, axis=1, level="combo").to_numpy(), 1.0)
    bad = pd.DataFrame({"weight": [0.5, 0.0]}, index=pd.Index([10, 11], name="combo"))
    with pytest.raises(StrategyError, match="combination 11 has only NaN weights"):
        decide(Hold(), "hold", data, None, bad)


def test_a_plugins_bug_is_the_same_line_from_the_sweep_and_from_the_audit(tmp_path, data):
    mod, path = plugin(tmp_path, """\
        from backtests.strategy import FloatParam, Role, Strategy

        class Broken(Strategy):
            name = "broken"
            roles = {"asset": Role("QQQ")}
            weight = FloatParam(1.0, low=0.0, high=1.0)

            def weights(self, ctx, weight):
                return ctx.empty_weights() + weight / 0
        """, "calls_broken_plugin")
    grid = pd.DataFrame({"weight": [1.0]})
    with pytest.raises(StrategyError) as run:
        decide(mod.Broken(), "b", data, None, grid)
    with pytest.raises(StrategyError) as audit:
        decisions(mod.Broken(), data, grid, None, "b")
    assert str(run.value) == str(audit.value)
    assert str(run.value).startswith(f"{path}:9: strategy 'b' failed in weights(): ZeroDivisionError")


def test_a_run_and_an_audit_report_a_broken_output_with_the_same_line(tmp_path, cli, monkeypatch):
    (tmp_path / "calls_vector_plugin.py").write_text(textwrap.dedent("""\
        import pandas as pd
        from backtests.strategy import Role, Strategy

        class Vector(Strategy):
            name = "vector"
            roles = {"asset": Role("QQQ")}

            def target_weights(self, ctx, grid):
                return pd.DataFrame(1.0, index=ctx.index, columns=["QQQ"])
        """))
    cfg = tmp_path / "s.yaml"
    cfg.write_text("name: t\ndata: {source: synthetic}\nwindows: [deepseek_r1]\nbenchmark: null\n"
                   "strategies:\n  - name: 'calls_vector_plugin:Vector'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    run = cli("run", cfg, "--out", tmp_path / "out", "--no-progress", "--no-audit")
    audit = cli("audit", cfg, "--cuts", "1")
    assert run[0] == audit[0] == 2
    assert run[2] == audit[2]
    # the vectorized method is named, and the error points at its def line
    assert run[2].startswith("scare: error: calls_vector_plugin.py:8: strategy 'calls_vector_plugin:Vector': "
                             "target_weights must return MultiIndex columns"), run[2]


def test_the_clock_is_checked_in_a_run_and_not_in_a_truncated_world(data):
    class Late(Hold):
        def weights(self, ctx, weight):
            w = ctx.empty_weights() + weight
            return w.set_axis(w.index + pd.Timedelta(days=400))

    grid = pd.DataFrame({"weight": [1.0]})
    with pytest.raises(StrategyError, match="after the last bar it can see"):
        decide(Late(), "late", data, None, grid)
    weights, _ = decide(Late(), "late", data, None, grid, check_clock=False)
    assert weights.index[-1] > data.bars["QQQ"].index[-1]


def test_windows_with_only_nan_get_their_named_notice(data):
    class StopEarly(Hold):
        episode_entry = "change"

        def weights(self, ctx, weight):
            w = ctx.empty_weights() + weight
            w.iloc[5:] = np.nan
            return w

    windows = [make_window(load_builtin().get("deepseek_r1"), 2, 5)]
    _, notices = decide(StopEarly(), "s", data, None, pd.DataFrame({"weight": [1.0]}), windows, entry="change")
    assert [r["code"] for r in notices["deepseek_r1"]] == ["weights_undecided"]


def test_check_params_may_be_a_classmethod_a_staticmethod_or_a_plain_method():
    from backtests.strategy import Strategy

    seen = []

    class C(Strategy):
        name = "c"

        @classmethod
        def check_params(cls, combo):
            seen.append(("cls", cls))

    class S(Strategy):
        name = "s"

        @staticmethod
        def check_params(combo):
            seen.append(("static", combo["x"]))

    class M(Strategy):
        name = "m"

        def check_params(self, combo):
            seen.append(("self", type(self)))

    for cls in (C, S, M):
        params_checker(cls, cls())({"x": 1})
    assert seen == [("cls", C), ("static", 1), ("self", M)]
    assert params_checker(Strategy, Strategy()) is None


