"""Every metric that empyrical-reloaded (or the scipy function in its stats list) also computes
agrees with it to 1e-9 relative, on a Series and on an ndarray, on seeded and on real returns.

Deliberate differences are tested explicitly at the bottom and written down in docs/metrics.md.
"""

from __future__ import annotations

import empyrical as ep
import numpy as np
import pandas as pd
import pytest
import scipy.stats as st

from backtests import scoring as sc

RTOL = 1e-9
PPY = 252

# (our call, reference call), both taking the returns r (Series or ndarray)
SINGLE = {
    "total_return": (sc.total_return, ep.cum_returns_final),
    "annual_return": (lambda r: sc.annual_return(r, PPY), lambda r: ep.annual_return(r, annualization=PPY)),
    "annual_return_365": (lambda r: sc.annual_return(r, 365), lambda r: ep.annual_return(r, annualization=365)),
    "annual_volatility": (lambda r: sc.annual_volatility(r, PPY), lambda r: ep.annual_volatility(r, annualization=PPY)),
    "sharpe": (lambda r: sc.sharpe(r, PPY), lambda r: ep.sharpe_ratio(r, annualization=PPY)),
    "sharpe_rf": (lambda r: sc.sharpe(r, PPY, risk_free=0.0002), lambda r: ep.sharpe_ratio(r, risk_free=0.0002, annualization=PPY)),
    "sortino": (lambda r: sc.sortino(r, PPY), lambda r: ep.sortino_ratio(r, annualization=PPY)),
    "sortino_req": (lambda r: sc.sortino(r, PPY, required_return=0.001), lambda r: ep.sortino_ratio(r, required_return=0.001, annualization=PPY)),
    "calmar": (lambda r: sc.calmar(r, PPY), lambda r: ep.calmar_ratio(r, annualization=PPY)),
    "omega": (sc.omega, ep.omega_ratio),
    "omega_rf": (lambda r: sc.omega(r, risk_free=0.0003), lambda r: ep.omega_ratio(r, risk_free=0.0003)),
    "tail_ratio": (sc.tail_ratio, ep.tail_ratio),
    "max_drawdown": (sc.max_drawdown, ep.max_drawdown),
    "value_at_risk": (sc.value_at_risk, ep.value_at_risk),
    "value_at_risk_1pct": (lambda r: sc.value_at_risk(r, 0.01), lambda r: ep.value_at_risk(r, 0.01)),
    "conditional_value_at_risk": (sc.conditional_value_at_risk, ep.conditional_value_at_risk),
    "skew": (sc.skew, st.skew),
    "excess_kurtosis": (sc.excess_kurtosis, st.kurtosis),
}

PAIRED = {
    "alpha": (lambda r, b: sc.alpha(r, b, PPY), lambda r, b: ep.alpha(r, b, annualization=PPY)),
    "alpha_rf": (lambda r, b: sc.alpha(r, b, PPY, 0.0001), lambda r, b: ep.alpha(r, b, risk_free=0.0001, annualization=PPY)),
    "beta": (sc.beta, ep.beta),
}


def _cases(request: pytest.FixtureRequest, source: str) -> tuple[pd.Series, pd.Series]:
    return request.getfixturevalue(source)


def _as(kind: str, s: pd.Series):
    return s if kind == "series" else s.to_numpy()


@pytest.mark.parametrize("kind", ["series", "ndarray"])
@pytest.mark.parametrize("source", ["seeded_pair", pytest.param("real_pair", marks=pytest.mark.shared_data)])
@pytest.mark.parametrize("name", sorted(SINGLE))
def test_single_metric_matches_reference(request, source, kind, name):
    r, _ = _cases(request, source)
    ours, ref = SINGLE[name]
    got = ours(_as(kind, r))
    want = ref(_as(kind, r))
    assert isinstance(got, float)
    np.testing.assert_allclose(got, float(want), rtol=RTOL, atol=0)


@pytest.mark.parametrize("kind", ["series", "ndarray"])
@pytest.mark.parametrize("source", ["seeded_pair", pytest.param("real_pair", marks=pytest.mark.shared_data)])
@pytest.mark.parametrize("name", sorted(PAIRED))
def test_benchmark_metric_matches_reference(request, source, kind, name):
    r, b = _cases(request, source)
    ours, ref = PAIRED[name]
    got = ours(_as(kind, r), _as(kind, b))
    np.testing.assert_allclose(got, float(ref(_as(kind, r), _as(kind, b))), rtol=RTOL, atol=0)


@pytest.mark.parametrize("kind", ["series", "ndarray"])
@pytest.mark.parametrize("source", ["seeded_pair", pytest.param("real_pair", marks=pytest.mark.shared_data)])
def test_information_ratio_is_annualized_excess_sharpe(request, source, kind):
    """Deliberate difference: empyrical's excess_sharpe is not annualized; ours is."""
    r, b = _cases(request, source)
    got = sc.information_ratio(_as(kind, r), _as(kind, b), PPY)
    want = ep.excess_sharpe(_as(kind, r), _as(kind, b)) * np.sqrt(PPY)
    np.testing.assert_allclose(got, float(want), rtol=RTOL, atol=0)


@pytest.mark.parametrize("kind", ["series", "ndarray"])
@pytest.mark.parametrize("source", ["seeded_pair", pytest.param("real_pair", marks=pytest.mark.shared_data)])
def test_excess_return_is_difference_of_total_returns(request, source, kind):
    r, b = _cases(request, source)
    got = sc.excess_return(_as(kind, r), _as(kind, b))
    want = ep.cum_returns_final(_as(kind, r)) - ep.cum_returns_final(_as(kind, b))
    np.testing.assert_allclose(got, float(want), rtol=RTOL, atol=0)


@pytest.mark.parametrize("kind", ["series", "ndarray"])
@pytest.mark.parametrize("source", ["seeded_pair", pytest.param("real_pair", marks=pytest.mark.shared_data)])
def test_kurtosis_is_raw_not_excess(request, source, kind):
    """Deliberate difference: scipy.stats.kurtosis (empyrical's list) is excess; ours is raw."""
    r, _ = _cases(request, source)
    got = sc.kurtosis(_as(kind, r))
    np.testing.assert_allclose(got, st.kurtosis(_as(kind, r), fisher=False), rtol=RTOL, atol=0)
    np.testing.assert_allclose(got - 3.0, st.kurtosis(_as(kind, r)), rtol=RTOL, atol=0)


@pytest.mark.parametrize("kind", ["series", "ndarray"])
def test_profit_factor_equals_omega_at_zero(seeded_pair, kind):
    r, _ = seeded_pair
    np.testing.assert_allclose(sc.profit_factor(_as(kind, r)), ep.omega_ratio(_as(kind, r)), rtol=RTOL)


def test_omega_threshold_is_per_period_not_annual(seeded_pair):
    """Deliberate difference: empyrical's required_return is annual, our threshold per period."""
    r, _ = seeded_pair
    annual = 0.10
    per_period = (1 + annual) ** (1 / 252) - 1
    np.testing.assert_allclose(
        sc.omega(r, threshold=per_period), ep.omega_ratio(r, required_return=annual), rtol=RTOL
    )


def test_sortino_without_downside_is_nan_not_inf():
    """Deliberate difference: empyrical gives inf when no return is below the threshold."""
    r = np.array([0.01, 0.02, 0.0, 0.03])
    assert np.isinf(ep.sortino_ratio(r))
    assert np.isnan(sc.sortino(r, PPY))


def test_volatility_uses_ddof_1(seeded_pair):
    r, _ = seeded_pair
    np.testing.assert_allclose(
        sc.annual_volatility(r, PPY), r.std(ddof=1) * np.sqrt(PPY), rtol=RTOL
    )


# ------------------------------------------------------------------ shapes: frames and 2-D arrays


def _frame(seeded_pair) -> pd.DataFrame:
    r, b = seeded_pair
    df = pd.DataFrame({"a": r, "b": b, "c": r * -0.5 + 0.001})
    df.iloc[:37, 1] = np.nan  # a shorter run
    return df


@pytest.mark.parametrize("name", sorted(SINGLE))
def test_frame_and_2d_array_are_per_column(seeded_pair, name):
    df = _frame(seeded_pair)
    ours, ref = SINGLE[name]
    got_frame = ours(df)
    got_array = ours(df.to_numpy())
    assert isinstance(got_frame, pd.Series) and list(got_frame.index) == list(df.columns)
    assert isinstance(got_array, np.ndarray) and got_array.shape == (3,)
    want = [float(ref(df[c].dropna().to_numpy())) for c in df]
    np.testing.assert_allclose(got_frame.to_numpy(), want, rtol=RTOL, atol=0)
    np.testing.assert_allclose(got_array, want, rtol=RTOL, atol=0)


def test_frame_benchmark_metrics_use_overlap_only(seeded_pair):
    df = _frame(seeded_pair)
    bench = seeded_pair[1]
    got = sc.beta(df, bench)
    want = [ep.beta(df[c].dropna(), bench[df[c].notna()]) for c in df]
    np.testing.assert_allclose(got.to_numpy(), want, rtol=RTOL)


def test_metrics_table_matches_single_functions(seeded_pair):
    df = _frame(seeded_pair)
    table, reasons = sc.metrics_table(df, PPY, benchmark=seeded_pair[1])
    assert list(table.columns) == [*sc.METRIC_KEYS, *sc.BENCHMARK_KEYS]
    # column b *is* the benchmark (on its own rows): no tracking error, so no information ratio
    assert reasons == {"b": {"information_ratio": "zero tracking error"}}
    np.testing.assert_allclose(table["sharpe"], sc.sharpe(df, PPY), rtol=0)
    np.testing.assert_allclose(table["sortino"], sc.sortino(df, PPY), rtol=0)
    np.testing.assert_allclose(table["alpha"], sc.alpha(df, seeded_pair[1], PPY), rtol=0)
    assert table["n_periods"].tolist() == [500, 463, 500]


@pytest.mark.shared_data
def test_real_data_table(real_pair):
    mu, qqq = real_pair
    table, reasons = sc.metrics_table(mu.to_frame(), PPY, benchmark=qqq)
    assert reasons == {}
    np.testing.assert_allclose(table.loc["MU", "sharpe"], ep.sharpe_ratio(mu), rtol=RTOL)
    np.testing.assert_allclose(table.loc["MU", "beta"], ep.beta(mu, qqq), rtol=RTOL)


def test_omega_needs_a_loss_not_two_observations():
    """Deliberate difference: empyrical's omega is NaN below 2 observations."""
    assert np.isnan(ep.omega_ratio(np.array([-0.01])))
    assert sc.omega(np.array([-0.01])) == 0.0
    assert np.isnan(sc.omega(np.array([0.01])))


def test_periods_per_year_is_required():
    """Deliberate difference: empyrical defaults to 252 periods a year."""
    with pytest.raises(TypeError):
        sc.sharpe(np.array([0.01, 0.02]))  # type: ignore[call-arg]
