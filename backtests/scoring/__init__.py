"""Scoring: risk-adjusted metrics per run and pooled across windows, and how far to trust them.

Pure functions on plain data (no I/O, no vectorbt). Conventions are documented in
``docs/metrics.md``; in short: per-period simple returns in, NaN = "no observation",
``periods_per_year`` explicit, undefined metrics are NaN with a reason (never ``inf`` or 0).

Every public name is loaded on first use (PEP 562): ``import backtests.scoring.registry`` (which
config validation reads) costs no numpy, numba, scipy or arch. The metric functions
(``scoring.sharpe``, ...) are the registered metrics of :mod:`backtests.scoring.registry`.
"""

from __future__ import annotations

import sys
from importlib import import_module
from types import ModuleType
from typing import Any

from backtests.scoring import registry

#: Public name -> the submodule that defines it.
_NAMES: dict[str, str] = {
    **dict.fromkeys(("Clusters", "Distinct", "Span", "calendar_pool", "distinct_columns", "event_clusters",
                     "open_mask", "spans_from_returns", "spans_of"), "calendar_time"),
    **dict.fromkeys(("EVENT_KEYS", "MIN_BOOTSTRAP_CLUSTERS", "ClusterMeanTest", "cluster_bootstrap_ci", "cluster_means",
                     "cluster_mean_test", "cluster_robust_t", "cluster_sign_test", "event_level", "event_table",
                     "mean_interval", "out_of_sample", "shock_slope"), "episodes"),
    **dict.fromkeys(("EventStudyResult", "event_study"), "event_study"),
    **dict.fromkeys(("BENCHMARK_KEYS", "METRIC_KEYS", "metrics_table"), "metrics"),
    **dict.fromkeys((m.key for m in registry.METRICS if m.compiled and m.function), "metrics"),
    **dict.fromkeys(("POOLED_KEYS", "calendar_returns", "chain_windows", "pool_returns", "pooled_metrics"), "pooled"),
    **dict.fromkeys(("PooledView", "drawdown", "drawdown_periods", "pooled_view", "rolling_beta", "rolling_periods",
                     "rolling_volatility", "wealth"), "paths"),
    "rank_sweep": "ranking",
    **dict.fromkeys(("BOOTSTRAP_COLUMNS", "PBOResult", "bootstrap_ci", "deflated_sharpe_ratio", "expected_max_sharpe",
                     "probabilistic_sharpe_ratio", "probability_of_backtest_overfitting"), "trust"),
}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_NAMES))


#: Public functions named like the submodule that defines them (``scoring.event_study``).
_SAME_NAME = frozenset(name for name, module in _NAMES.items() if name == module)


class _Package(ModuleType):
    """Importing a submodule binds its name on the package; for a public function of the same name
    (``event_study``) the function stays what ``scoring.<name>`` means, as when it was imported
    eagerly."""

    def __getattribute__(self, name: str) -> Any:
        value = super().__getattribute__(name)
        if name in _SAME_NAME and isinstance(value, ModuleType):
            value = getattr(value, name)
            super().__setattr__(name, value)
        return value


sys.modules[__name__].__class__ = _Package
