"""Exchange state from the published rules: halts, call auctions, price limits, short-sale bans.

The package sits between :mod:`backtests.time` and :mod:`backtests.data` in the pipeline: it reads
calendars, takes plain frames and arrays, and returns plain data the engine can consume.

- :mod:`.rules`: every rule as a frozen regime object with its effective dates and source.
- :mod:`.states`: the :class:`~.states.Timeline` (state segments over UTC int64 ns) and its algebra.
- :mod:`.schedule`: each market's scheduled day (opening/closing call auctions, continuous trading).
- :mod:`.bars`: how an instant is read off bars (the latest instant consistent with them).
- :mod:`.krx`: KRX circuit breakers, sidecars, price limits, volatility interruptions, daily state.
- :mod:`.us`: US market-wide circuit breakers and Limit Up-Limit Down.
- :mod:`.admission`: when and how orders can fill under a timeline (vectorized).
- :mod:`.compare`: derived state vs the catalogue and the bars, as named notices.
- :mod:`.short_sale`: dated short-sale bans and borrow-availability overrides.
- :mod:`.membership`: index membership (KOSPI 200 / KOSDAQ 150), LULD tiers; :func:`shortable`.
- :mod:`.history`: the rules run over many sessions (a symbol's effective timeline, its checks,
  its short-sale intervals), as the engine reads them.

Crypto has no halts, price limits or call auctions here: its timeline is continuous every day.
docs/exchange.md cites every rule and lists the notice codes.
"""

from backtests.exchange.admission import Admission, FillKind, Reason, admit, fill_prices
from backtests.exchange.compare import catalogue_halts, compare_bars, compare_daily_halts, compare_halts
from backtests.exchange.membership import INDEX_MEMBERSHIP, membership, shortable
from backtests.exchange.krx import (krx_daily_symbol_state, krx_halt_from_catalogue, krx_market_state,
                                    krx_price_limits, krx_sidecar_events, krx_symbol_state)
from backtests.exchange.schedule import schedule
from backtests.exchange.short_sale import SHORT_SALE_BANS, load_borrow_overrides, short_sale_allowed
from backtests.exchange.states import NAT, Lock, State, StateEvent, Timeline, concat, overlay, with_events
from backtests.exchange.us import luld_bands, luld_state, us_market_state

__all__ = [
    "Admission", "FillKind", "Reason", "admit", "fill_prices", "catalogue_halts", "compare_bars",
    "compare_daily_halts", "compare_halts", "krx_daily_symbol_state", "krx_halt_from_catalogue", "krx_market_state",
    "krx_price_limits", "krx_sidecar_events", "krx_symbol_state", "with_events", "schedule",
    "SHORT_SALE_BANS", "load_borrow_overrides", "short_sale_allowed", "NAT", "Lock", "State",
    "StateEvent", "Timeline", "concat", "overlay", "luld_bands", "luld_state", "us_market_state",
    "INDEX_MEMBERSHIP", "membership", "shortable",
]
