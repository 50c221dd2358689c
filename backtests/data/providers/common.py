"""What every provider shares: the interface (:class:`Provider`, :class:`Fetched`, :class:`Meta`),
the series a cache entry can hold, retries (:func:`with_retries`) and symbol facts (:func:`guess_meta`).

The providers (``yahoo``, ``crypto``, ``coinglass``) import from here, and the package's
:func:`~backtests.data.providers.make_provider` imports them: no import runs back.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import pandas as pd

from backtests.time.calendars import CRYPTO
from backtests.errors import DataError

T = TypeVar("T")

#: Series names a cache entry can hold, and the columns each contributes to a symbol's bars.
SERIES_COLUMNS: dict[str, tuple[str, ...]] = {
    "bars": ("open", "high", "low", "close", "volume"),
    "bars_unadj": ("open", "high", "low", "close", "adj_close", "volume"),
    "liquidations": ("long_liquidations_usd", "short_liquidations_usd"),
    "funding": ("funding_rate",),
}
#: Series that are extra columns of a symbol (merged into its ``bars``), not bars of their own.
EXTRA_SERIES = ("liquidations", "funding")


class ProviderError(DataError):
    """A provider could not deliver: network failure after retries, HTTP error, empty answer."""


class TransientError(Exception):
    """Raised inside a provider call for failures worth retrying (timeout, 429, 5xx)."""


class NetworkUnavailable(ProviderError):
    """A host name did not resolve: no network (or no DNS). Never retried."""


#: How the libraries say a host name did not resolve (curl, urllib3/requests, getaddrinfo, ccxt).
_NAME_RESOLUTION = ("could not resolve host", "name or service not known", "temporary failure in name resolution",
                    "nodename nor servname", "getaddrinfo failed", "failed to resolve", "nameresolutionerror",
                    "no address associated with hostname", "name does not resolve")
_HOST = re.compile(r"(?:resolve host:?|host=')\s*'?([A-Za-z0-9.-]+)")


def name_resolution_failure(exc: BaseException) -> str | None:
    """The host that did not resolve (``"?"`` when unnamed) if ``exc`` or its causes say so, else ``None``."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        text = str(cur)
        if isinstance(cur, socket.gaierror) or any(m in text.lower() for m in _NAME_RESOLUTION):
            m = _HOST.search(text)
            return m.group(1).rstrip(".") if m else "?"
        cur = cur.__cause__ or cur.__context__
    return None


@dataclass(frozen=True)
class Meta:
    """What a symbol is, stored in the cache manifest so a study only names symbols."""

    market: str
    currency: str = "USD"
    kind: str = "equity"
    name: str = ""


@dataclass
class Fetched:
    """A provider's answer: stamped bars plus where they came from."""

    frame: pd.DataFrame
    meta: Meta
    source: str
    source_version: str
    query: str
    warnings: list[str] = field(default_factory=list)
    close_time: str | None = None


class Provider(Protocol):
    name: str

    def fetch(self, symbol: str, series: str, frequency: str, start: pd.Timestamp,
              end: pd.Timestamp) -> Fetched: ...


# ----------------------------------------------------------------------------------- retries
def with_retries(call: Callable[[], T], what: str, attempts: int = 4, base_delay: float = 1.0,
                 sleep: Callable[[float], None] = time.sleep,
                 transient: tuple[type[BaseException], ...] = (TransientError,)) -> T:
    """Run ``call`` with up to ``attempts`` tries, sleeping ``base_delay * 2**k`` between them.

    Only exceptions in ``transient`` are retried; after the last attempt a :class:`ProviderError`
    names ``what`` and the last failure. A transient failure that is a host name not resolving is
    :class:`NetworkUnavailable` at once (no retry). Anything else propagates unchanged.
    """
    last: BaseException | None = None
    for k in range(attempts):
        try:
            return call()
        except transient as exc:  # noqa: PERF203 - a retry loop
            host = name_resolution_failure(exc)
            if host is not None:  # no network: waiting will not make the name resolve
                raise NetworkUnavailable(
                    f"cannot resolve {'the host' if host == '?' else host}: no network (or no DNS); fetching needs "
                    "the network: import files with `scare data import`, or run studies --offline from the cache",
                    where=what) from None
            last = exc
            if k + 1 < attempts:
                sleep(base_delay * (2 ** k))
    reason = str(last).splitlines()[0] if last is not None and str(last) else type(last).__name__
    raise ProviderError(f"gave up after {attempts} attempts: {reason}", where=what)


# ----------------------------------------------------------------------------- symbol facts
#: Instruments the built-in strategies use, with what they are (the rest is guessed by suffix).
KNOWN: dict[str, Meta] = {
    "^KS11": Meta("XKRX", "KRW", "index", "KOSPI Composite Index"),
    "^KQ11": Meta("XKRX", "KRW", "index", "KOSDAQ Composite Index"),
    "069500.KS": Meta("XKRX", "KRW", "etf", "KODEX 200 ETF"),
    "000660.KS": Meta("XKRX", "KRW", "equity", "SK Hynix"),
    "005930.KS": Meta("XKRX", "KRW", "equity", "Samsung Electronics"),
    "EWY": Meta("XNYS", "USD", "etf", "iShares MSCI South Korea ETF"),
    "MU": Meta("XNYS", "USD", "equity", "Micron Technology"),
    "NVDA": Meta("XNYS", "USD", "equity", "NVIDIA"),
    "SOXX": Meta("XNYS", "USD", "etf", "iShares Semiconductor ETF"),
    "QQQ": Meta("XNYS", "USD", "etf", "Invesco QQQ Trust"),
    "SPY": Meta("XNYS", "USD", "etf", "SPDR S&P 500 ETF"),
    "KRW=X": Meta(CRYPTO, "KRW", "fx", "USD/KRW (KRW per USD)"),
    "BTC-USD": Meta(CRYPTO, "USD", "crypto", "Bitcoin"),
    "ETH-USD": Meta(CRYPTO, "USD", "crypto", "Ether"),
    "USDT-USD": Meta(CRYPTO, "USD", "stablecoin", "Tether USD"),
    "USDC-USD": Meta(CRYPTO, "USD", "stablecoin", "USD Coin"),
}
STABLECOINS = {"USDT", "USDC", "DAI", "FDUSD", "TUSD", "BUSD"}
_CRYPTO_RE = re.compile(r"^([A-Z0-9]{2,10})-(USD|USDT|USDC)$")


def guess_meta(symbol: str) -> Meta:
    """Market, currency and kind of a Yahoo-style symbol.

    ``.KS``/``.KQ`` and ``^KS11``/``^KQ11``: Seoul (KRW); ``XXX=X``: an FX rate quoted per USD
    (stamped on UTC days, as Yahoo labels FX bars by the London day); ``BTC-USD``: crypto; anything
    else: New York (USD).
    """
    if symbol in KNOWN:
        return KNOWN[symbol]
    if symbol.endswith((".KS", ".KQ")) or symbol in {"^KS200"}:
        return Meta("XKRX", "KRW", "equity" if not symbol.startswith("^") else "index")
    if symbol.endswith("=X"):
        base = symbol[:-2]
        cur = base[3:] if len(base) == 6 and base.startswith("USD") else base[-3:]
        return Meta(CRYPTO, cur.upper(), "fx")
    m = _CRYPTO_RE.match(symbol)
    if m:
        return Meta(CRYPTO, "USD", "stablecoin" if m.group(1) in STABLECOINS else "crypto")
    if symbol.startswith("^"):
        return Meta("XNYS", "USD", "index")
    return Meta("XNYS", "USD", "equity")


def is_crypto(symbol: str) -> bool:
    return guess_meta(symbol).kind in {"crypto", "stablecoin"}


def library_version(dist: str) -> str:
    """``"<dist> <version>"`` for manifests, ``"<dist> (not installed)"`` otherwise."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{dist} {version(dist)}"
    except PackageNotFoundError:
        return f"{dist} (not installed)"


def need(module: str, pin: str) -> Any:
    """Import an optional provider library or fail with the install line."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ProviderError(f"this provider needs {pin} (pip install '{pin}')", where=module) from None
