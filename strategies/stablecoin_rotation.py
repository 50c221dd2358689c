"""Rotate from crypto into a stablecoin when long liquidations spike; step back in when they calm.

Thesis
------
A cascade of forced long liquidations marks a risk-off regime; stepping into stablecoins until it
passes avoids the drawdown, and stepping back in catches the recovery.

Signals
-------
Computed on the risk sleeve's own bar clock (daily or 4-hour; crypto trades 24/7), then carried to
every decision stamp as known:

* ``L``: long liquidations in USD per bar (column ``long_liquidations_usd``), summed over the
  distinct symbols of the risk roles (``btc``, ``eth``); ``S`` = ``L`` summed over the last
  ``window`` bars.
* Score of ``S`` against its own history, the ``history`` bars *before* the current one:
  ``zscore`` = z-score of ``log(1 + S)`` (the log keeps one record bar from flattening the scale for
  months), or ``percentile`` = percent of those bars with a smaller ``S`` (0..100).
* Risk-off when the score reaches ``entry_level`` (and, with ``confirm``, the confirmation holds:
  ``drawdown`` = the ``btc`` close is ``drawdown_pct`` percent or more below its highest close of
  the last ``window`` + 1 bars; ``funding`` = the ``btc`` funding rate (column ``funding_rate``) is
  negative; ``rsi`` = ``ta`` RSI(14) of the ``btc`` close is below ``rsi_below``; ``any`` = one of
  them).
* Back to risk-on once the score has stayed below ``exit_level`` for ``cooldown`` consecutive bars
  (hysteresis: ``exit_level`` < ``entry_level``, so it does not flap; a new spike restarts the count).

Weights: risk-on = ``btc_weight`` in ``btc`` and ``eth_weight`` in ``eth`` (the rest is cash);
risk-off = their sum in the ``stable`` role (which may earn ``costs.long_yield`` in the engine).
Risk-on is its resting position (``resting_weights``): an episode counts as traded only when it rotated.
Map ``eth`` to the same symbol as ``btc`` (or set ``eth_weight: 0``) for a one-asset sleeve; roles
that share a symbol add up. Before the history is long enough the strategy is risk-on.

Parameters (units)
------------------
window : bars summed into ``S`` (1 on daily bars = one day; 6 on 4-hour bars = one day).
history : bars of history the score compares against.
method : ``zscore`` (levels in standard deviations of log USD) or ``percentile`` (levels in percent).
entry_level, exit_level : score levels (exit < entry).
cooldown : bars (>= 1) the score must stay below ``exit_level`` before stepping back in.
confirm : bool; confirm_with : ``drawdown``, ``funding``, ``rsi`` or ``any``.
drawdown_pct : percent; rsi_below : RSI points (0..100).
btc_weight, eth_weight : fractions of portfolio value (sum <= 1).

Where it fails
--------------
* Liquidations are reported after the fact and by exchange (CoinGlass Binance-only data misses most
  of the market): the signal fires on the bar the cascade happened, so the exit fills one bar late,
  after much of the drop; it pays off only when the stress persists.
* V-shaped recoveries: the cool-down keeps the sleeve in stablecoins through the rebound.
* Stablecoins are not riskless (USDC depegged in March 2023, USDT briefly in May 2022).
* A quiet history makes the z-score hair-trigger; a very long history adapts slowly to a new regime
  of leverage. Bars are counted, so daily and 4-hour studies need different window/history values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from ta.momentum import RSIIndicator

from backtests.errors import StrategyError
from backtests.strategy import BoolParam, ChoiceParam, FloatParam, IntParam, Role, Strategy, StrategyContext

LIQ = "long_liquidations_usd"
FUNDING = "funding_rate"
RISK_ROLES = ("btc", "eth")
RSI_WINDOW = 14


class StablecoinRotation(Strategy):
    """Hold BTC/ETH; switch to a stablecoin while long liquidations are abnormally high."""

    name = "stablecoin_rotation"
    episode_entry = "state"  # risk-on/off is a regime re-read at every bar
    summary = "Hold BTC/ETH; rotate into a stablecoin while long liquidations spike, back after a cool-down."
    roles = {
        "btc": Role("BTC-USD", doc="Lead risk asset: liquidations, price confirmations.", series=("close", LIQ)),
        "eth": Role("ETH-USD", doc="Second risk asset: liquidations add to the signal.", series=("close", LIQ)),
        "stable": Role("USDT-USD", doc="Safe sleeve (stablecoin).", series=("close",)),
    }
    windows = ("crypto_liquidation",)

    window = IntParam(6, low=1, high=500, unit="bars", doc="Bars of liquidations summed (6 x 4h = 1 day).")
    history = IntParam(540, low=10, high=10_000, unit="bars", doc="Bars of history the score compares against.")
    method = ChoiceParam("zscore", choices=("zscore", "percentile"), doc="Score: z-score of log USD, or percentile rank.")
    entry_level = FloatParam(3.0, low=-10.0, high=100.0, unit="std dev or percent", doc="Go risk-off at this score.")
    exit_level = FloatParam(1.0, low=-10.0, high=100.0, unit="std dev or percent", doc="Calm again below this score.")
    cooldown = IntParam(6, low=1, high=1_000, unit="bars", doc="Bars below exit_level before stepping back in.")
    confirm = BoolParam(False, doc="Require a price/funding confirmation to go risk-off.")
    confirm_with = ChoiceParam("drawdown", choices=("drawdown", "funding", "rsi", "any"), doc="Which confirmation.")
    drawdown_pct = FloatParam(5.0, low=0.0, high=100.0, unit="percent", doc="BTC drop from its high of the last window+1 bars.")
    rsi_below = FloatParam(30.0, low=0.0, high=100.0, unit="RSI points", doc="BTC RSI(14) below this confirms.")
    btc_weight = FloatParam(0.6, low=0.0, high=1.0, unit="fraction of value", doc="BTC weight when risk-on.")
    eth_weight = FloatParam(0.4, low=0.0, high=1.0, unit="fraction of value", doc="ETH weight when risk-on.")

    @classmethod
    def check_params(cls, combo: Mapping[str, Any]) -> None:
        entry, exit_ = float(combo.get("entry_level", 3.0)), float(combo.get("exit_level", 1.0))
        if exit_ >= entry:
            raise ValueError(f"exit_level ({exit_:g}) must be below entry_level ({entry:g}) (hysteresis)")
        if combo.get("method", "zscore") == "percentile" and not (0.0 <= exit_ and entry <= 100.0):
            raise ValueError("percentile levels must lie within 0..100")
        if int(combo.get("history", 540)) < 2 * int(combo.get("window", 6)):
            raise ValueError("history must be at least twice the window (bars)")
        total = float(combo.get("btc_weight", 0.6)) + float(combo.get("eth_weight", 0.4))
        if not 0.0 < total <= 1.0 + 1e-12:
            raise ValueError(f"btc_weight + eth_weight must be in (0, 1], got {total:g}")

    # ------------------------------------------------------------------------------ signal
    def risk_clock(self, ctx: StrategyContext) -> tuple[pd.DatetimeIndex, pd.Series]:
        """The risk sleeve's stamps and total long liquidations per bar on them."""
        syms = list(dict.fromkeys(ctx.symbol(r) for r in RISK_ROLES))
        idx = pd.DatetimeIndex([], tz="UTC").as_unit("ns")
        for s in syms:
            idx = idx.union(ctx.data.require(s).index)
        liq = pd.Series(0.0, index=idx)
        for s in syms:
            liq = liq.add(ctx.data.series(s, LIQ).astype("float64").reindex(idx).fillna(0.0), fill_value=0.0)
        return idx, liq

    @staticmethod
    def score(liq: pd.Series, window: int, history: int, method: str) -> np.ndarray:
        """Score of the rolling liquidation sum against the ``history`` bars before each bar."""
        s = liq.rolling(window, min_periods=window).sum()
        if method == "zscore":
            x = np.log1p(s.clip(lower=0.0))
            past = x.shift(1).rolling(history, min_periods=history)
            sd = past.std()
            return ((x - past.mean()) / sd.where(sd > 1e-12)).to_numpy()
        rank = s.rolling(history + 1, min_periods=history + 1).rank(method="min")  # 1 + number strictly below
        return (100.0 * (rank - 1.0) / history).to_numpy()

    def confirmations(self, ctx: StrategyContext, clock: pd.DatetimeIndex, kinds: set[str]) -> dict[str, Any]:
        px = ctx.known_at(ctx.close("btc").astype("float64"), clock)
        out: dict[str, Any] = {"price": px}
        if kinds & {"funding", "any"}:
            bars = ctx.bars("btc")
            if FUNDING not in bars:
                raise StrategyError(
                    f"confirm_with 'funding' needs a {FUNDING!r} series (percent per 8h) for {ctx.symbol('btc')!r}")
            f = ctx.known_at(bars[FUNDING].astype("float64"), clock).to_numpy()
            out["funding"] = f < 0
        if kinds & {"rsi", "any"}:
            raw = ctx.close("btc").astype("float64")
            rsi = RSIIndicator(raw, window=RSI_WINDOW).rsi() if len(raw) > RSI_WINDOW else raw * np.nan
            out["rsi"] = ctx.known_at(rsi, clock).to_numpy()
        return out

    def resting_weights(self, **params: Any) -> dict[str, float]:
        """Risk-on is where it rests: an episode in which it never rotated into the stablecoin is not
        a trade (scare counts an episode as traded only when a fill leaves this position)."""
        return {"btc": float(params["btc_weight"]), "eth": float(params["eth_weight"])}

    # ------------------------------------------------------------------------------ weights
    def target_weights(self, ctx: StrategyContext, grid: pd.DataFrame) -> pd.DataFrame:
        for combo in grid.to_dict("records"):
            self.check_params(combo)
        symbols = self.traded_symbols
        clock, liq = self.risk_clock(ctx)
        n_r, n_c = len(clock), len(grid)

        keys = list(zip(grid["window"].astype(int), grid["history"].astype(int), grid["method"]))
        uniq = sorted(set(keys))
        scores = np.column_stack([self.score(liq, w, h, m) for w, h, m in uniq]) if uniq else np.zeros((n_r, 0))
        SC = scores[:, [uniq.index(k) for k in keys]]  # (bars, combos)

        entry = grid["entry_level"].to_numpy(dtype="float64")
        exit_ = grid["exit_level"].to_numpy(dtype="float64")
        cool = grid["cooldown"].to_numpy(dtype="int64")
        E = SC >= entry[None, :]

        confirm = grid["confirm"].to_numpy(dtype=bool)
        if confirm.any():
            kinds = set(grid.loc[confirm, "confirm_with"])
            conf = self.confirmations(ctx, clock, kinds)
            ok = np.ones((n_r, n_c), dtype=bool)
            cw = grid["confirm_with"].to_numpy()
            px = conf["price"]
            dd_cols = confirm & np.isin(cw, ("drawdown", "any"))
            dd = np.zeros((n_r, n_c), dtype=bool)
            if dd_cols.any():
                for w in np.unique(grid["window"].to_numpy()[dd_cols]):
                    m = dd_cols & (grid["window"].to_numpy() == w)
                    hi = px.rolling(int(w) + 1, min_periods=1).max()
                    draw = (px / hi - 1.0).to_numpy() * 100.0
                    dd[:, m] = draw[:, None] <= -grid["drawdown_pct"].to_numpy(dtype="float64")[m][None, :]
            fu = conf["funding"][:, None] if "funding" in conf else np.zeros((n_r, 1), dtype=bool)
            rs = (conf["rsi"][:, None] < grid["rsi_below"].to_numpy(dtype="float64")[None, :]) if "rsi" in conf \
                else np.zeros((n_r, n_c), dtype=bool)
            fu = np.broadcast_to(fu, (n_r, n_c))
            sel = {"drawdown": dd, "funding": fu, "rsi": rs, "any": dd | fu | rs}
            for kind, arr in sel.items():
                m = confirm & (cw == kind)
                ok[:, m] = arr[:, m]
            E &= ok

        below = SC < exit_[None, :]  # NaN score: not calm
        run = _run_length(below)
        X = run >= cool[None, :]
        # latch: the most recent of (entry -> risk-off, exit -> risk-on); start risk-on
        mark = np.where(E, 1.0, np.where(X, 0.0, np.nan))
        off = _ffill(mark, 0.0).astype(bool)

        # carry the regime (known at each risk bar) to every decision stamp
        pos = np.searchsorted(clock.asi8, ctx.index.asi8, side="right") - 1
        valid = pos >= 0
        off_t = np.where(valid[:, None], off[np.clip(pos, 0, None)], False)

        bw = grid["btc_weight"].to_numpy(dtype="float64")
        ew = grid["eth_weight"].to_numpy(dtype="float64")
        out = np.zeros((len(ctx.index), n_c, len(symbols)))
        for role, w in (("btc", bw), ("eth", ew)):
            out[:, :, symbols.index(ctx.symbol(role))] += np.where(off_t, 0.0, w[None, :])
        out[:, :, symbols.index(ctx.symbol("stable"))] += np.where(off_t, (bw + ew)[None, :], 0.0)
        out[~valid] = np.nan  # before the first risk bar: no decision
        cols = pd.MultiIndex.from_product([grid.index, symbols], names=["combo", "symbol"])
        return pd.DataFrame(out.reshape(len(ctx.index), -1), index=ctx.index, columns=cols)


def _run_length(flag: np.ndarray) -> np.ndarray:
    """Consecutive True count ending at each row, per column."""
    n = flag.shape[0]
    c = np.cumsum(flag, axis=0)
    reset = np.where(~flag, c, 0)
    return c - np.maximum.accumulate(reset, axis=0) if n else c


def _ffill(a: np.ndarray, initial: float) -> np.ndarray:
    """Forward-fill NaN along rows (axis 0); leading NaN become ``initial``."""
    n = a.shape[0]
    idx = np.where(~np.isnan(a), np.arange(n)[:, None], -1)
    idx = np.maximum.accumulate(idx, axis=0)
    out = np.take_along_axis(a, np.clip(idx, 0, None), axis=0)
    return np.where(idx < 0, initial, out)
