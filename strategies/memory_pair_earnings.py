"""Micron vs SK Hynix around Micron's earnings: trade the dislocation of the pair's spread.

Thesis
------
The two HBM makers share one fundamental driver; around Micron's report the spread between them
dislocates and mean-reverts. The sequence matters: Micron reports after the New York close; Seoul
trades first (Hynix reacts on the next KRX session, hours before Micron's next New York session), so
a decision at the Seoul close can already act on Hynix's reaction while MU has not traded yet.

Signals
-------
Both legs in USD (``hynix`` through USD/KRW as known at each of its stamps). The decision clock is
the union of both legs' close stamps; at each stamp ``t`` the latest known prices are used.

* Hedge ratio ``b``: OLS slope of Hynix log returns on MU log returns over the last ``lookback``
  returns sampled at MU's close stamps, the window ending at the last MU stamp strictly *before*
  ``t`` (so the decision bar itself never enters its own estimate).
* Spread ``s = log(hynix_usd) - b * log(mu)``; z-score ``z = (s_t - mean) / std`` with mean and
  standard deviation of ``s`` (same ``b``) over the same window.
* Entry window around each catalogue event of kind ``micron_earnings`` (scheduled, so public in
  advance; load your own calendar with the config's ``events_files``), counted in the sessions of
  the event's market (XNYS): decisions after the close of session ``t = -K - 1`` and before the close
  of session ``t = M - 1``, with ``t = 0`` the first session closing after the release (so ``K = 0``
  means "only after the report", and the first eligible decision is Seoul's reaction close).
* Entry when ``|z| > entry_z``: long the cheap leg, short the rich one (``z > 0``: Hynix rich).
  Exit when ``z`` crosses ``exit_z`` back towards zero (``-sign * z <= exit_z``), at the window's
  end, or on a stop when the dislocation widens to ``stop_z`` (no re-entry in that window after a
  stop). Shorts pay borrow (engine).
* Legging: ``default_legs = "before_event"``: with ``execution.legs: auto`` an entry decided before
  the report fills each leg at its own market's last close before the report (Hynix at the Seoul
  close, MU at the New York close of the report day), so the pair is on before the news in both
  markets; decisions after the report fill each leg at its own next bar (docs/strategies.md).
* Short-sale bans: with ``short_bans: skip`` (the default) no entry is taken whose short leg the
  exchange rules forbid to short (KRX 2008, 2011, 2020-03..2021-05, 2023-11..2025-03 and, for
  stocks outside KOSPI 200 / KOSDAQ 150, 2021-05..2023-11; US 2008 financials:
  :func:`backtests.exchange.shortable`). The leg is checked on its market's local date of the
  decision, of its next session and, before the report, of its last session before the report:
  the fill is on one of them whatever the legging, so the engine never meets a banned short from
  this strategy (borrow overrides of the study, ``execution.borrow_file``, are the engine's).
  ``short_bans: engine`` sends those entries and lets the engine refuse them (an error, or with
  ``execution.on_unfillable: clip`` the short leg is not filled: a one-legged episode).
* Sizing: ``gross`` of portfolio value across both legs; ``dollar`` neutral = ``gross/2`` long and
  ``gross/2`` short; ``beta`` neutral = Hynix ``gross/(1+b)``, MU ``gross*b/(1+b)`` with ``b`` frozen
  at entry and clipped to [0.2, 5].

Parameters (units)
------------------
lookback : MU sessions of returns in the regression and z-score window.
entry_z, exit_z, stop_z : standard deviations of the spread (stop_z 0 = off).
pre_sessions (K), post_sessions (M) : XNYS sessions before / after the report.
neutral : ``dollar`` or ``beta``.
gross : fraction of portfolio value (1.0 = 0.5 long + 0.5 short).
short_bans : ``skip`` (no entry whose short leg is banned) or ``engine`` (leave it to the engine).

Where it fails
--------------
* The "shared driver" breaks (company-specific news, one leg's HBM qualification): the spread
  trends instead of reverting; the z-stop limits but does not prevent the loss.
* Asynchronous closes bias the same-date beta towards zero (Hynix reacts to MU a day late): the
  spread then carries MU's last move; a long lookback helps little.
* FX: Hynix's USD price moves with USD/KRW; a KRW shock looks like a spread move.
* Earnings dates: a wrong date (``volume_only`` rows of a calendar) puts the window in the wrong place.
* Borrow on Korean shares is costly and sometimes unavailable; the engine charges a flat rate. During
  the KRX bans (about 40% of Micron's releases since 2010 fall in one) only the trades that are long
  Hynix remain.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from backtests.exchange import shortable
from backtests.time.calendars import sessions
from backtests.strategy import ChoiceParam, FloatParam, IntParam, Role, Strategy, StrategyContext

EARNINGS_KIND = "micron_earnings"
BETA_CLIP = (0.2, 5.0)


class MemoryPairEarnings(Strategy):
    """Mean-reversion of the MU / SK Hynix spread around Micron's earnings."""

    name = "memory_pair_earnings"
    summary = "Long the cheap, short the rich of MU / SK Hynix when their spread dislocates around Micron's report."
    roles = {
        "mu": Role("MU", doc="Micron (New York): reports after the close.", series=("close",)),
        "hynix": Role("000660.KS", doc="SK Hynix (Seoul): reacts on the next KRX session; valued in USD.",
                      series=("close",)),
    }
    windows = (EARNINGS_KIND,)
    episode_entry = "change"  # a position comes from an entry signal: never carried into a later window
    paired_legs = True  # long one leg, short the other: a pair (execution.legs, legs traded, legging gap)
    default_legs = "before_event"  # execution.legs: auto -> both legs on before the report

    lookback = IntParam(60, low=10, high=750, unit="sessions", doc="Regression and z-score window (MU sessions).")
    entry_z = FloatParam(2.0, low=0.1, high=10.0, unit="std dev", doc="Enter when |z| exceeds this.")
    exit_z = FloatParam(0.5, low=-5.0, high=10.0, unit="std dev", doc="Exit when z crosses back to this (towards zero).")
    stop_z = FloatParam(4.0, low=0.0, high=100.0, unit="std dev", doc="Stop when |z| widens to this (0 = off).")
    pre_sessions = IntParam(1, low=0, high=30, unit="sessions", doc="K: window opens K XNYS sessions before the report.")
    post_sessions = IntParam(3, low=0, high=30, unit="sessions", doc="M: window closes M XNYS sessions after the report.")
    neutral = ChoiceParam("dollar", choices=("dollar", "beta"), doc="Dollar-neutral or beta-neutral legs.")
    gross = FloatParam(1.0, low=0.01, high=4.0, unit="fraction of value", doc="Gross exposure of both legs together.")
    short_bans = ChoiceParam("skip", choices=("skip", "engine"),
                             doc="skip: no entry whose short leg is under a short-sale ban; engine: let the engine refuse it.")

    @classmethod
    def check_params(cls, combo: Mapping[str, Any]) -> None:
        entry, exit_ = float(combo.get("entry_z", 2.0)), float(combo.get("exit_z", 0.5))
        stop = float(combo.get("stop_z", 4.0))
        if exit_ >= entry:
            raise ValueError(f"exit_z ({exit_:g}) must be below entry_z ({entry:g}): the position would exit as it enters")
        if stop != 0.0 and stop <= entry:
            raise ValueError(f"stop_z ({stop:g}) must be above entry_z ({entry:g}), or 0 for no stop")
        if int(combo.get("pre_sessions", 1)) + int(combo.get("post_sessions", 3)) < 1:
            raise ValueError("pre_sessions + post_sessions must be at least 1: the entry window is empty")
        if int(combo.get("lookback", 60)) < 10:
            raise ValueError("lookback must be at least 10 sessions")

    # ------------------------------------------------------------------------------ signal
    def spread_stats(self, ctx: StrategyContext, lookbacks: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """z-score and hedge ratio on ``ctx.index`` for each lookback: two (T, n_lookbacks) arrays."""
        mu = ctx.close("mu", usd=True).astype("float64")
        hy = ctx.close("hynix", usd=True).astype("float64")
        grid = mu.index
        lmu = np.log(mu.to_numpy())
        lhy = np.log(ctx.known_at(hy, grid).to_numpy())
        rmu = pd.Series(np.diff(lmu, prepend=np.nan), index=grid)
        rhy = pd.Series(np.diff(lhy, prepend=np.nan), index=grid)
        Lmu, Lhy = pd.Series(lmu, index=grid), pd.Series(lhy, index=grid)
        # statistics of the window ending at the last MU stamp strictly before each decision stamp
        k = np.searchsorted(grid.asi8, ctx.index.asi8, side="left") - 1
        ok = k >= 0
        kk = np.clip(k, 0, None)
        x_mu = np.log(ctx.known_at(mu).to_numpy())
        x_hy = np.log(ctx.known_at(hy).to_numpy())
        zs = np.full((len(ctx.index), len(lookbacks)), np.nan)
        bs = np.full_like(zs, np.nan)
        for j, L in enumerate(lookbacks):
            beta = (rhy.rolling(L).cov(rmu) / rmu.rolling(L).var()).to_numpy()
            m_mu, m_hy = Lmu.rolling(L).mean().to_numpy(), Lhy.rolling(L).mean().to_numpy()
            v_mu, v_hy = Lmu.rolling(L).var().to_numpy(), Lhy.rolling(L).var().to_numpy()
            c = Lhy.rolling(L).cov(Lmu).to_numpy()
            b = np.where(ok, beta[kk], np.nan)
            mean = m_hy[kk] - b * m_mu[kk]
            var = v_hy[kk] - 2 * b * c[kk] + b * b * v_mu[kk]
            sd = np.sqrt(np.where(var > 1e-18, var, np.nan))
            zs[:, j] = (x_hy - b * x_mu - mean) / sd
            bs[:, j] = b
        return zs, bs

    def event_sessions(self, ctx: StrategyContext) -> list[tuple[np.ndarray, int]]:
        """For each earnings event: the UTC closes (int64 ns) of its market's sessions around it and
        the position of its t = 0 session (first close after the release). From the exchange
        calendar, which is public in advance, never from the bars."""
        ev = ctx.events(EARNINGS_KIND)
        out: list[tuple[np.ndarray, int]] = []
        if len(ev) == 0 or len(ctx.index) == 0:
            return out
        when = pd.DatetimeIndex(ev["time_utc"]).tz_convert("UTC").as_unit("ns")
        days = pd.DatetimeIndex(pd.to_datetime(ev["date"])).tz_localize(None).normalize()
        pad = pd.Timedelta(days=70)  # > 30 sessions (the parameters' maximum) either side
        near = (when >= ctx.index[0] - 2 * pad) & (when <= ctx.index[-1] + 2 * pad)
        for market in sorted(set(ev["market"][near])):
            m = near & (ev["market"] == market).to_numpy()
            sched = sessions(market, days[m].min() - pad, days[m].max() + pad)
            closes = pd.DatetimeIndex(sched["close"]).as_unit("ns").asi8
            for t in when[m].asi8:
                out.append((closes, int(np.searchsorted(closes, t, side="right"))))
        return out

    def entry_windows(self, ctx: StrategyContext, pre: int, post: int,
                      ev_sessions: list[tuple[np.ndarray, int]] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """For each stamp of ``ctx.index``: inside an entry window (bool) and that window's number (-1 outside).

        A window is open for decisions stamped after the close of session ``t = -pre - 1`` and before
        the close of session ``t = post - 1``; the decision at that close (or the first after it) exits.
        """
        if ev_sessions is None:
            ev_sessions = self.event_sessions(ctx)
        stamps = ctx.index.asi8
        inside = np.zeros(len(stamps), dtype=bool)
        wid = np.full(len(stamps), -1, dtype="int64")
        for n, (closes, t0) in enumerate(ev_sessions):
            lo_i, hi_i = t0 - pre - 1, t0 + post - 1
            if lo_i < 0 or hi_i >= len(closes):
                continue
            a = np.searchsorted(stamps, closes[lo_i], side="right")
            b = np.searchsorted(stamps, closes[hi_i], side="left")
            inside[a:b] = True
            wid[a:b] = n
        return inside, wid

    def short_blocked(self, ctx: StrategyContext, role: str) -> np.ndarray:
        """Per stamp of ``ctx.index``: a new short sale of the role's symbol would meet a ban on the
        local date of the decision, of the market's next session, or (before a report) of the
        market's last session before the report (from the calendar and the dated bans: public)."""
        sym, market = ctx.symbol(role), ctx.market(role)
        t = ctx.index.asi8
        if not len(t):
            return np.zeros(0, dtype=bool)
        first = pd.Timestamp(t[0], tz="UTC").tz_localize(None) - pd.Timedelta(days=7)
        last = pd.Timestamp(t[-1], tz="UTC").tz_localize(None) + pd.Timedelta(days=100)
        closes = pd.DatetimeIndex(sessions(market, first, last)["close"]).as_unit("ns").asi8
        nxt = closes[np.clip(np.searchsorted(closes, t, side="right"), 0, len(closes) - 1)]
        blocked = ~shortable(sym, market, t) | ~shortable(sym, market, nxt)
        ev = ctx.events(EARNINGS_KIND)
        if len(ev):
            when = np.sort(pd.DatetimeIndex(ev["time_utc"]).tz_convert("UTC").as_unit("ns").asi8)
            k = np.searchsorted(when, t, side="right")
            ahead = k < len(when)
            e = when[np.clip(k, 0, len(when) - 1)]
            before = closes[np.clip(np.searchsorted(closes, e, side="left") - 1, 0, len(closes) - 1)]
            blocked |= ahead & ~shortable(sym, market, before)
        return blocked

    # ------------------------------------------------------------------------------ weights
    def target_weights(self, ctx: StrategyContext, grid: pd.DataFrame) -> pd.DataFrame:
        for combo in grid.to_dict("records"):
            self.check_params(combo)
        symbols = self.traded_symbols
        col_mu, col_hy = symbols.index(ctx.symbol("mu")), symbols.index(ctx.symbol("hynix"))
        n_t, n_c = len(ctx.index), len(grid)

        lookbacks = sorted(int(x) for x in grid["lookback"].unique())
        zs, bs = self.spread_stats(ctx, lookbacks)
        lb_col = np.searchsorted(lookbacks, grid["lookback"].to_numpy(dtype="int64"))
        Z, B = zs[:, lb_col], bs[:, lb_col]

        km = sorted({(int(a), int(b)) for a, b in zip(grid["pre_sessions"], grid["post_sessions"])})
        ev_sessions = self.event_sessions(ctx)
        win = {key: self.entry_windows(ctx, *key, ev_sessions) for key in km}
        km_col = [km.index((int(a), int(b))) for a, b in zip(grid["pre_sessions"], grid["post_sessions"])]
        INW = np.stack([win[key][0] for key in km], axis=1)[:, km_col]
        WID = np.stack([win[key][1] for key in km], axis=1)[:, km_col]

        entry = grid["entry_z"].to_numpy(dtype="float64")
        exit_ = grid["exit_z"].to_numpy(dtype="float64")
        stop = grid["stop_z"].to_numpy(dtype="float64")
        stop = np.where(stop > 0, stop, np.inf)
        gross = grid["gross"].to_numpy(dtype="float64")
        beta_n = (grid["neutral"] == "beta").to_numpy()
        skip = (grid["short_bans"] == "skip").to_numpy() if "short_bans" in grid else np.ones(n_c, dtype=bool)
        hy_blocked = self.short_blocked(ctx, "hynix") if skip.any() else np.zeros(n_t, dtype=bool)
        mu_blocked = self.short_blocked(ctx, "mu") if skip.any() else np.zeros(n_t, dtype=bool)

        pos = np.zeros(n_c)
        b_in = np.ones(n_c)
        stopped = np.zeros(n_c, dtype=bool)
        last_wid = np.full(n_c, -1, dtype="int64")
        POS = np.zeros((n_t, n_c))
        BIN = np.ones((n_t, n_c))
        for i in range(n_t):
            z, inw, wid = Z[i], INW[i], WID[i]
            new_win = wid != last_wid
            stopped[new_win] = False
            last_wid = wid
            dev = -pos * z  # > 0: the dislocation we bet against; shrinks as it reverts
            out = (pos != 0) & (~inw | (dev <= exit_) | (dev >= stop))
            stopped |= (pos != 0) & (dev >= stop)
            pos[out] = 0.0
            enter = (pos == 0) & inw & ~stopped & (np.abs(z) > entry)
            # z > 0: Hynix rich, so short Hynix; z < 0: short MU
            enter &= ~(skip & np.where(z > 0, hy_blocked[i], mu_blocked[i]))
            pos[enter] = -np.sign(z[enter])
            b_in[enter] = np.clip(B[i, enter], *BETA_CLIP)
            POS[i], BIN[i] = pos, b_in

        w_hy = np.where(beta_n, gross / (1 + BIN), gross / 2) * POS
        w_mu = -np.where(beta_n, gross * BIN / (1 + BIN), gross / 2) * POS
        out = np.zeros((n_t, n_c, len(symbols)))
        out[:, :, col_hy] += w_hy
        out[:, :, col_mu] += w_mu
        cols = pd.MultiIndex.from_product([grid.index, symbols], names=["combo", "symbol"])
        return pd.DataFrame(out.reshape(n_t, -1), index=ctx.index, columns=cols)

