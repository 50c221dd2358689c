"""The seed strategies' study configs validate, and the strategies are discovered by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from backtests.config import load_config
from backtests.strategy import expand_grid
from backtests.strategy.registry import discover, resolve

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ("fade_kospi_halt", "memory_pair_earnings", "stablecoin_rotation")


@pytest.mark.parametrize("name", SEEDS)
def test_config_validates_and_its_grids_pass_check_params(name):
    loaded = load_config(ROOT / "configs" / f"{name}.yaml")
    cfg = loaded.config
    assert cfg.name == name and cfg.data.source == "synthetic"
    specs = [s for s in cfg.strategies if s.name == name]
    assert specs
    for spec in specs:
        cls = resolve(spec.name)
        grid = expand_grid(cls.params, spec.params, cls.name)
        assert 1 < len(grid) <= 1000
        for combo in grid.to_dict("records"):
            cls.check_params(combo)
        cls(spec.roles)  # roles resolve


@pytest.mark.parametrize("name", SEEDS)
def test_config_plans(name):
    plan_mod = pytest.importorskip("backtests.config.plan")
    plan = plan_mod.plan_study(load_config(ROOT / "configs" / f"{name}.yaml"))
    assert any(sp.strategy.name == name for sp in plan.strategies)
    assert plan.windows


def test_seed_strategies_are_discovered_and_documented():
    found = discover()
    for name in SEEDS:
        cls = found[name]
        doc = (cls.__module__ and __import__(cls.__module__, fromlist=["_"]).__doc__) or ""
        for section in ("Thesis", "Signals", "Parameters", "Where it fails"):
            assert section in doc, f"{name}: module docstring lacks {section!r}"
        for pname, p in cls.params.items():
            assert p.doc, f"{name}.{pname} has no doc"
        d = cls.describe()
        assert d["roles"] and d["params"]
