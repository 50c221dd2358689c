"""One generated scenario as an episode a study runs: its data, its window, its own events.

A scenario study runs every scenario through the *same* strategy call, engine and scoring as market
data (``backtests.sweep.scenarios``). What it needs from a scenario is what a real episode has:

- :func:`episode_data`: a :class:`~backtests.data.market_data.MarketData` shaped like real data
  with intraday bars (the replay studies with intraday CSVs): one bar per session (the daily bars,
  the reference session first) and the generated 1- or 5-minute bars as ``intraday`` for every
  exchange-traded and crypto asset, so a strategy written for real data runs on it unchanged, and
  the engine derives the exchange state from the same minute bars it derives it from on real days;
- :func:`episode_window`: the scenario's window (its own id ``scenario-<i>``, its own cluster:
  ``shock`` is None), from the first generated session of the leader's market to the last, the
  event stamped at the scenario's ``shock_time``;
- :func:`episode_events`: the scenario's *own* catalogue: the market-wide halts the exchange model
  derived from its path (kind ``krx_circuit_breaker`` for KRX level 1, as the built-in catalogue
  names the real ones; ``scenario_halt`` for the other levels and markets), never the real
  catalogue (a real halt on the family's date would otherwise leak into every scenario).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from backtests.data.market_data import MarketData
from backtests.scenarios.batch import ScenarioBatch
from backtests.scenarios.marketdata import BatchFrames
from backtests.time.calendars import get_market
from backtests.time.windows import Catalogue, Event, Window, make_window

#: Catalogue kind of a generated KRX level-1 halt (what the built-in catalogue calls the real ones).
KRX_LEVEL1_KIND = "krx_circuit_breaker"
#: Catalogue kind of every other generated market-wide halt.
HALT_KIND = "scenario_halt"


def episode_id(scenario: int) -> str:
    """The window / cluster id of scenario ``scenario``."""
    return f"scenario-{int(scenario)}"


def episode_data(batch: ScenarioBatch, j: int) -> MarketData:
    """Row ``j`` of ``batch`` as daily bars with the generated bars as intraday (module docstring)."""
    return BatchFrames(batch).market_data(j, "1D", intraday=True)


def _clock(instant_ns: int, tz: str) -> tuple[pd.Timestamp, str]:
    local = pd.Timestamp(int(instant_ns), tz="UTC").tz_convert(tz)
    return local.tz_localize(None).normalize(), local.strftime("%H:%M:%S")


def episode_window(batch: ScenarioBatch, j: int) -> Window:
    """The episode of row ``j``: the leader's generated sessions, the event at the shock instant."""
    return Episodes(batch).window(j)


def episode_events(batch: ScenarioBatch, j: int) -> pd.DataFrame:
    """The halts the exchange model derived for row ``j`` as a catalogue frame (module docstring)."""
    cat = Catalogue()
    scenario = int(batch.index[j])
    for k, (market, level, t) in enumerate(_halts(batch, j)):
        date, clock = _clock(t, get_market(market).tz)
        kind = KRX_LEVEL1_KIND if (market == "XKRX" and level == 1) else HALT_KIND
        ev = Event(id=f"{episode_id(scenario)}-halt-{k}", label=f"SCENARIO {market} level-{level} halt",
                   kind=kind, market=market, date=date, timing="intraday", time_local=clock,
                   time_source=f"derived by the exchange model from the generated path ({batch.label})",
                   attrs=(("level", str(level)),))
        cat.events[ev.id] = ev
    return cat.frame()


def _halts(batch: ScenarioBatch, j: int) -> list[tuple[str, int, int]]:
    """``(market, level, instant)`` of every market-wide halt of row ``j``, in time order."""
    out = []
    for market, days in batch.day_timelines.items():
        for day in days:
            for e in day[j].events:
                if e.level is not None and not e.code.endswith("excluded"):
                    out.append((market, int(e.level), int(e.instant)))
    return sorted(out, key=lambda x: (x[2], x[0], x[1]))


class Episodes:
    """The episodes of a batch's rows (:func:`episode_data`, :func:`episode_window`,
    :func:`episode_events`), with what the rows share made once: the frames' stamps and session
    aggregates (:class:`~backtests.scenarios.marketdata.BatchFrames`) and the window of each shock
    time (the rows share the family's sessions; a row's window is that window under its own id and
    event)."""

    def __init__(self, batch: ScenarioBatch) -> None:
        self.batch = batch
        self.frames = BatchFrames(batch)
        self._windows: dict[str, Window] = {}

    def data(self, j: int) -> MarketData:
        return self.frames.market_data(j, "1D", intraday=True)

    def events(self, j: int) -> pd.DataFrame:
        return episode_events(self.batch, j)

    def window(self, j: int) -> Window:
        batch = self.batch
        fam = batch.spec.family
        market = fam.asset(fam.leader).market
        minutes = float(batch.params.shock_time[j])
        date = pd.Timestamp(fam.date)
        clock = f"{int(minutes // 60):02d}:{int(minutes % 60):02d}:{int(round(minutes * 60)) % 60:02d}"
        scenario = int(batch.index[j])
        ev = Event(id=episode_id(scenario), label=f"SCENARIO {fam.name} #{scenario}", kind="scenario",
                   market=market, date=date, timing="intraday", time_local=clock,
                   time_source=f"scenario parameter shock_time ({batch.label})")
        if clock not in self._windows:
            self._windows[clock] = make_window(ev, fam.sessions_before, fam.sessions_after, episode_id(scenario))
        return replace(self._windows[clock], id=episode_id(scenario), event=ev)


def halt_table(batch: ScenarioBatch) -> pd.DataFrame:
    """First KRX level-1 halt instant of each row (``NaT``: none): what the result tables show."""
    first = np.full(len(batch), np.iinfo(np.int64).min, dtype=np.int64)
    levels = np.zeros(len(batch), dtype=np.int64)
    for j in range(len(batch)):
        h = _halts(batch, j)
        if h:
            first[j] = h[0][2]
            levels[j] = max(x[1] for x in h)
    return pd.DataFrame({"scenario": batch.index, "first_halt_utc": pd.to_datetime(first, utc=True),
                         "max_halt_level": levels})


__all__ = ["Episodes", "episode_data", "episode_window", "episode_events", "episode_id", "halt_table", "KRX_LEVEL1_KIND",
           "HALT_KIND"]
