"""SCENARIO generation: synthetic crash paths, run through the exchange rules, labelled as such.

The package sits just above :mod:`backtests.data` in the pipeline (it reads calendars, the exchange
rule model and MarketData; nothing below it imports it). docs/scenarios.md explains the model.

- :mod:`.params`: what a trader varies (:class:`ShockParams`, :class:`ParamTable`, :func:`grid`),
  each parameter with a unit and a range.
- :mod:`.family`: the structure of a study's scenarios (:class:`ScenarioFamily`: assets, the
  propagation chain, rule indices, the crypto cascade) and :class:`ScenarioSpec` (family +
  parameters + replicates + seed).
- :mod:`.defaults`: the KOSPI crash chain with numbers estimated by :mod:`.calibrate`.
- :mod:`.generate`: :func:`generate` / :func:`generate_chunks` -> :class:`ScenarioBatch`.
- :mod:`.marketdata`: a scenario as a ``MarketData``.
- :mod:`.templates`: real-day shapes (daily from ``../shared/data``; intraday when a user has them).
- :mod:`.events`: the real KRX shocks in the same parameter space.
- :mod:`.validate`: the generator against held-out real shock days, and the rule coupling.
"""

from backtests.scenarios.batch import AssetBars, ScenarioBatch
from backtests.scenarios.defaults import default_asset, default_links, kospi_crash_family
from backtests.scenarios.family import (SCENARIO, AssetSpec, HawkesSpec, Link, RuleIndex, ScenarioFamily,
                                        ScenarioSpec)
from backtests.scenarios.generate import generate, generate_chunks, merge_notices
from backtests.scenarios.marketdata import is_scenario, scenario_market_data, scenario_market_data_batch
from backtests.scenarios.params import PARAMETERS, ParamSpec, ParamTable, ShockParams, grid
from backtests.scenarios.templates import DailyTemplate, IntradayTemplate, block_resample, krx_daily_templates

__all__ = [
    "AssetBars", "ScenarioBatch", "default_asset", "default_links", "kospi_crash_family", "SCENARIO",
    "AssetSpec", "HawkesSpec", "Link", "RuleIndex", "ScenarioFamily", "ScenarioSpec", "generate",
    "generate_chunks", "merge_notices", "is_scenario", "scenario_market_data", "scenario_market_data_batch",
    "PARAMETERS", "ParamSpec", "ParamTable", "ShockParams", "grid", "DailyTemplate", "IntradayTemplate",
    "block_resample", "krx_daily_templates",
]
