"""The input limits of a study: the run count (config.plan) and the YAML limits (config.loader)."""

from __future__ import annotations

import textwrap

import pytest

from backtests.errors import ConfigError

GOOD = textwrap.dedent("""\
    name: t
    data: {source: synthetic}
    windows: [deepseek_r1, {kind: micron_earnings}]
    strategies:
      - name: buy_and_hold
        roles: {asset: QQQ}
        params: {weight: [0.25, 0.5, 1.0]}
    """)


def _plan(tmp_path, text, *overrides):
    from backtests.config import load_config
    from backtests.config.plan import plan_study

    p = tmp_path / "s.yaml"
    p.write_text(text)
    return plan_study(load_config(p, list(overrides)))


def test_max_runs_is_exact_and_not_part_of_the_config_hash(tmp_path):
    plan = _plan(tmp_path, GOOD)
    runs = sum(len(sp.grid) * len(sp.windows) for sp in plan.strategies)
    assert runs == 3 * len(plan.windows)
    at_limit = _plan(tmp_path, GOOD, f"limits.max_runs={runs}")
    assert at_limit.config.config_hash() == plan.config.config_hash()
    with pytest.raises(ConfigError, match=f"has {runs:,} runs .* above limits.max_runs = {runs - 1:,}"):
        _plan(tmp_path, GOOD, f"limits.max_runs={runs - 1}")


def test_yaml_limits_are_exact(tmp_path, monkeypatch):
    from backtests import bounded
    from backtests.config import loader

    monkeypatch.setattr(bounded, "MAX_YAML_ALIASES", 3)  # every YAML is parsed in backtests.bounded
    monkeypatch.setattr(bounded, "MAX_YAML_DEPTH", 4)
    monkeypatch.setattr(bounded, "MAX_YAML_NODES", 40)
    assert loader.safe_yaml("a: &x 1\nb: [*x, *x, *x]\n", "f")[0] == {"a": 1, "b": [1, 1, 1]}
    with pytest.raises(ConfigError, match="f:2: more than 3 YAML aliases"):
        loader.safe_yaml("a: &x 1\nb: [*x, *x, *x, *x]\n", "f")
    assert loader.safe_yaml("a: [[[1]]]\n", "f")[0] == {"a": [[[1]]]}  # 4 levels with the root
    with pytest.raises(ConfigError, match="nested deeper than 4"):
        loader.safe_yaml("a: [[[[1]]]]\n", "f")
    with pytest.raises(ConfigError, match="nested deeper than 4 levels once aliases are followed"):
        loader.safe_yaml("a: &x [[1]]\nb: [[*x]]\n", "f")
    with pytest.raises(ConfigError, match="more than 40 values"):
        loader.safe_yaml("a: &x [1, 2, 3, 4, 5, 6, 7, 8, 9]\nb: [*x, *x, *x]\n", "f")


