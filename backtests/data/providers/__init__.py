"""Network data providers behind one small interface, and what every provider shares.

A provider turns "symbol, series, frequency, local date range" into a *stamped* bar frame (see
:mod:`backtests.data.frames`) and never writes anything itself: :mod:`backtests.data.cache` stores
what it returns. Providers:

=============  =====================================  ==========================================
name           series                                 module
=============  =====================================  ==========================================
``yfinance``   ``bars`` (adjusted), ``bars_unadj``    :mod:`~backtests.data.providers.yahoo`
``ccxt``       ``bars``, ``funding``                  :mod:`~backtests.data.providers.crypto`
``coinglass``  ``liquidations``                       :mod:`~backtests.data.providers.coinglass`
=============  =====================================  ==========================================

Every network call goes through :func:`with_retries`: a bounded number of attempts with
exponential backoff on timeouts, connection errors, rate limits and 5xx answers; an empty answer
or a 4xx is a :class:`ProviderError` at once, naming the provider, the symbol and what was asked.
A host name that does not resolve (no network, no DNS) is not transient: it is
:class:`NetworkUnavailable` at the first attempt, and ``scare data fetch`` stops there (without a
network it used to retry DNS for minutes).
"""

from __future__ import annotations

from typing import Any

from backtests.data.providers.common import (  # noqa: F401 - the package's public names
    EXTRA_SERIES,
    KNOWN,
    SERIES_COLUMNS,
    STABLECOINS,
    Fetched,
    Meta,
    NetworkUnavailable,
    Provider,
    ProviderError,
    TransientError,
    guess_meta,
    is_crypto,
    library_version,
    name_resolution_failure,
    need,
    with_retries,
)
from backtests.errors import DataError


def make_provider(name: str, **options: Any) -> Provider:
    """A provider by name: ``yfinance``, ``ccxt`` (``exchange=...``) or ``coinglass``."""
    if name == "yfinance":
        from backtests.data.providers.yahoo import YahooProvider

        return YahooProvider(**options)
    if name == "ccxt":
        from backtests.data.providers.crypto import CcxtProvider

        return CcxtProvider(**options)
    if name == "coinglass":
        from backtests.data.providers.coinglass import CoinGlassProvider

        return CoinGlassProvider(**options)
    raise DataError(f"unknown provider {name!r} (use yfinance, ccxt or coinglass)", where="provider")
