"""The look-ahead audit: every cheat kept as data under cheats/ is caught, on every seed, with the
channel it reads; honest controls and the built-in strategies pass; the helper, the verdict cache,
``scare audit`` and the audit inside ``scare run``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from audit_world import CHEATS, HONEST, load_plugin, world
from backtests.audit import audit_strategy
from backtests.audit.cuts import choose_cuts, decision_changes
from backtests.audit.truncate import prepare_events, truncate, truncate_events
from backtests.strategy import Role, Strategy, StrategyContext
from backtests.audit import LookAheadError, assert_no_lookahead

SEEDS = (0, 1, 2, 3, 4)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    """Verdicts go to a fresh folder (the exchange-calendar cache stays where it is)."""
    import backtests.audit.verdicts as verdicts

    monkeypatch.setattr(verdicts, "cache_folder", lambda: tmp_path / "audit")


def _id(p: Path) -> str:
    return p.stem


# ----------------------------------------------------------------------------- the cheats
def test_the_family_of_cheats_is_complete():
    names = {p.stem for p in CHEATS}
    assert {"shift_close", "full_sample_zscore", "month_end_bfill", "centred_window", "perfect_peek",
            "early_circuit_breaker", "big_day_peek", "tomorrow_open", "next_fx", "intraday_low",
            "earnings_surprise"} <= names


@pytest.mark.parametrize("path", CHEATS, ids=_id)
def test_every_cheat_is_caught_on_every_seed_with_its_channel(path):
    cls, expected = load_plugin(path)
    data, events = world()
    for seed in SEEDS:
        report = audit_strategy(cls(), data, None, events, budget=None, seed=seed)
        assert report.verdict == "fail", (seed, report.text())
        f = report.finding
        assert expected in f.channels, (seed, f.channels, report.text())
        assert pd.Timestamp(f.stamp_utc) <= pd.Timestamp(f.cut_utc)
        assert f.symbol in cls().traded_symbols
        assert "looks ahead" in report.line() and path.name in report.line()


@pytest.mark.parametrize("path", CHEATS, ids=_id)
def test_cheats_are_caught_within_a_small_cut_budget(path):
    """The round robin over cut kinds reaches each cheat within 12 cuts (the old helper's 5 random
    cuts caught the sparse ones in 1 of 20 seeds)."""
    cls, _ = load_plugin(path)
    data, events = world()
    for seed in SEEDS[:3]:
        assert audit_strategy(cls(), data, None, events, max_cuts=12, seed=seed).verdict == "fail", seed


@pytest.mark.parametrize("path", HONEST, ids=_id)
def test_honest_controls_pass_every_cut(path):
    cls, _ = load_plugin(path)
    data, events = world()
    for seed in SEEDS[:1]:  # exhaustive: every candidate cut is checked, whatever the seed
        report = audit_strategy(cls(), data, None, events, budget=None, seed=seed)
        assert report.verdict == "pass", report.text()
        assert report.checked == report.candidates > 10
        assert not report.skipped


def test_first_finding_names_stamp_combination_and_values():
    cls, _ = load_plugin(next(p for p in CHEATS if p.stem == "centred_window"))
    data, events = world()
    report = audit_strategy(cls(), data, {"window": [5, 9]}, events, budget=None, seed=0)
    f = report.finding
    assert f.combo in (0, 1) and f.params["window"] in (5, 9)
    assert f.full != f.truncated
    assert f.attribution == "alone" and f.channels == ["bars:AAA"]
    rec = json.loads(json.dumps(report.record()))
    assert rec["finding"]["channels"] == ["bars:AAA"]


def test_a_cheat_in_one_combination_only_is_found_in_that_combination():
    class Sometimes(Strategy):
        name = "sometimes"
        roles = {"asset": Role("AAA")}
        from backtests.strategy import BoolParam
        peek = BoolParam(False)

        def weights(self, ctx, peek):
            close = ctx.close("asset")
            sig = close.shift(-1) if peek else close.shift(1)
            return (sig > close).astype(float).to_frame("AAA")

    data, events = world()
    report = audit_strategy(Sometimes(), data, {"peek": [False, True]}, events, budget=None)
    assert report.verdict == "fail" and report.finding.params == {"peek": True}


def test_nondeterminism_is_reported_not_taken_for_lookahead():
    import numpy as np

    class Noisy(Strategy):
        name = "noisy"
        roles = {"asset": Role("AAA")}

        def weights(self, ctx):
            return pd.DataFrame(np.random.default_rng().random(len(ctx.index)), index=ctx.index, columns=["AAA"])

    data, events = world()
    report = audit_strategy(Noisy(), data, None, events, budget=None)
    assert report.verdict == "nondeterministic" and "nondeterministic" in report.line()


# ----------------------------------------------------------------------------- events point in time
def test_context_events_carry_known_from_and_known_events_is_point_in_time():
    data, events = world()
    ctx = StrategyContext(data, {"asset": "BBB"}, events)
    ev = ctx.events()
    sched = ev.set_index("id")["known_from_utc"]
    assert pd.isna(sched["aaa_q2"])  # scheduled: known in advance
    assert sched["cb_aug"] == pd.Timestamp("2024-08-05 02:10", tz="UTC")
    assert list(ctx.events(known_at=pd.Timestamp("2024-08-05 02:09", tz="UTC"))["id"]) == ["aaa_q2", "shock_jul"]
    known = ctx.known_events("krx_circuit_breaker")
    assert known.index.equals(ctx.index)
    before = known.loc[:pd.Timestamp("2024-08-05 02:09", tz="UTC"), "id"]
    assert before.isna().all()
    assert known.loc[pd.Timestamp("2024-08-05 06:30", tz="UTC"), "id"] == "cb_aug"
    assert known["id"].iloc[-1] == "cb_oct"


def test_truncated_events_drop_unscheduled_and_blank_scheduled_outcomes():
    _, events = world()
    ev = prepare_events(events)
    t = pd.Timestamp("2024-06-01", tz="UTC")
    cut = truncate_events(ev, t).set_index("id")
    assert list(cut.index) == ["aaa_q2"]
    assert cut.loc["aaa_q2", "surprise"] is None and cut.loc["aaa_q2", "label"] == "AAA earnings"
    late = truncate_events(ev, pd.Timestamp("2024-12-31", tz="UTC")).set_index("id")
    assert set(late.index) == set(events["id"]) and late.loc["aaa_q2", "surprise"] == "0.12"
    # the catalogue may say an event became public later than it happened
    ev2 = events.assign(known_from_utc=[pd.Timestamp("2024-08-06 00:00", tz="UTC"), None, None, None])
    ctx = StrategyContext(world()[0], {"asset": "BBB"}, ev2)
    assert ctx.events().set_index("id").loc["cb_aug", "known_from_utc"] == pd.Timestamp("2024-08-06", tz="UTC")


def test_truncate_one_channel_at_a_time():
    data, events = world()
    t = pd.Timestamp("2024-06-03 12:00", tz="UTC")
    d, ev = truncate(data, events, t, only=["fx:KRW=X"])
    assert d.bars["KRW=X"].index[-1] <= t and d.bars["AAA"].index.equals(data.bars["AAA"].index)
    assert len(ev) == len(events)
    d, ev = truncate(data, events, t, keep=["bars:AAA"])
    assert d.bars["AAA"].index.equals(data.bars["AAA"].index) and d.bars["BBB"].index[-1] <= t
    assert len(ev) < len(events)


def test_cut_kinds_and_order():
    data, events = world()
    cls, _ = load_plugin(next(p for p in CHEATS if p.stem == "big_day_peek"))
    ctx = StrategyContext(data, cls().symbols, events)
    w = cls().target_weights(ctx, pd.DataFrame(index=pd.RangeIndex(1, name="combo")))
    cuts = choose_cuts(w, data, events, ["AAA"], seed=3, n_random=4, n_moves=3)
    kinds = [c.kind for c in cuts]
    assert kinds[:4] == ["event", "move", "random", "decision"]  # round robin
    moves = {c.t for c in cuts if c.kind == "move"}
    close = data.series("AAA")
    for day in ("2024-03-12", "2024-05-21", "2024-09-17"):  # the close before each forced move
        i = close.index.get_indexer([close.index[close.index.normalize() == pd.Timestamp(day, tz="UTC")][0]])[0]
        assert close.index[i - 1] in moves
    assert {c.t for c in cuts if "a decision changes" in c.reasons} <= set(decision_changes(w))
    pre = {c.t for c in cuts if any("cb_aug" in r for r in c.reasons)}
    assert pre == {pd.Timestamp("2024-08-05 02:10", tz="UTC") - pd.Timedelta(1, "ns")}


def test_budget_bounds_the_cost_and_says_not_exhaustive():
    cls, _ = load_plugin(next(p for p in HONEST if p.stem == "momentum"))
    data, events = world()
    report = audit_strategy(cls(), data, {"window": list(range(2, 40))}, events, max_cuts=5)
    assert report.checked == 5 < report.candidates and "NOT exhaustive" in report.text()
    report = audit_strategy(cls(), data, None, events, budget=0.0)
    assert report.checked == 1  # at least one cut, then the budget stops it


# ----------------------------------------------------------------------------- the helper
def test_helper_raises_with_the_finding_and_passes_events_by_default():
    data, events = world()
    cheat, _ = load_plugin(next(p for p in CHEATS if p.stem == "early_circuit_breaker"))
    with pytest.raises(LookAheadError, match="events"):
        assert_no_lookahead(cheat(), data, events=events)
    honest, _ = load_plugin(next(p for p in HONEST if p.stem == "momentum"))
    cuts = assert_no_lookahead(honest(), data, {"window": [5, 20]})
    assert len(cuts) > 10 and all(isinstance(t, pd.Timestamp) for t in cuts)


# ----------------------------------------------------------------------------- built-in strategies
@pytest.fixture(scope="module")
def replay():
    from backtests.data.synthetic import generate
    from backtests.time.windows import load_builtin

    return generate(start="2026-01-02", end="2026-08-31"), load_builtin().frame()


@pytest.mark.parametrize("name,params", [
    ("fade_kospi_halt", {"entry": ["close", "ny_open"], "hold": [1, 3], "stop_loss": [0.0, 5.0]}),
    ("memory_pair_earnings", {"lookback": [20, 40], "neutral": ["dollar", "beta"]}),
    ("stablecoin_rotation", {"window": [1, 3], "method": ["zscore", "percentile"], "confirm": [False, True]}),
    ("buy_and_hold", {"weight": [0.5, 1.0]}),
    ("ma_cross", {"fast": [3, 10], "slow": [5, 30]}),
])
def test_builtin_strategies_pass(replay, name, params):
    from backtests.strategy.registry import resolve

    data, events = replay
    s = resolve(name)()
    report = audit_strategy(s, data.select(list(s.symbols.values())), params, events, budget=None, seed=1)
    assert report.verdict == "pass", report.text()
    assert report.checked == report.candidates and not report.skipped
