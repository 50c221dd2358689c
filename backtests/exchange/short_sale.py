"""Short-sale availability: dated regulatory bans, plus per-symbol borrow-availability overrides.

Bans are local session dates, inclusive at both ends (docs/exchange.md cites each). A query asks,
for one symbol and many instants, whether a new short sale could have been placed; the answer is a
bool array and, where not, the id of the ban (or override) that forbids it.

Overrides are plain data (YAML or CSV rows: ``symbol, market, start, end, available, note``) read
through the project's bounded YAML loader; ``available: false`` forbids shorting the symbol in the
window (no borrow). An override cannot lift a regulatory ban.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from backtests.config.loader import safe_yaml
from backtests.errors import ConfigError, DataError
from backtests.exchange.rules import ShortSaleBan

_FSC_2008 = ("FSC 2009 release 'short selling of non-financial stocks from June 1' (fsc.go.kr/eng/pr010101/21855); "
             "Credit Suisse 'Korea - short selling notice' (ban effective 2008-10-01)")

SHORT_SALE_BANS: tuple[ShortSaleBan, ...] = (
    ShortSaleBan("krx_ban_2008_all", "2008-10-01", "2009-05-31", _FSC_2008, "XKRX", "all"),
    ShortSaleBan("krx_ban_2008_financials", "2008-10-01", "2013-11-13",
                 _FSC_2008 + "; lifted for financials 2013-11-13, trading from 2013-11-14 (Business Insider "
                 "2013-11-14; thetradenews.com 'Korea lifts short-selling ban'; globalcustodian.com)",
                 "XKRX", "financials"),
    ShortSaleBan("krx_ban_2011_all", "2011-08-10", "2011-11-09",
                 "FSC 'temporary ban on short selling' (financialservicescommission.wordpress.com 2011-08-25: "
                 "Aug. 10 - Nov. 9); FSC release fsc.go.kr/eng/pr010101/21973 (non-financials from Nov. 10)",
                 "XKRX", "all"),
    ShortSaleBan("krx_ban_2020_all", "2020-03-16", "2021-05-02",
                 "FSC 2020-03-13 (fsc.go.kr/eng/pr010101/22322: March 16 - September 15); extended to "
                 "2021-03-15 (fsc.go.kr/eng/pr010101/22494) and to 2021-05-02 (Reuters 2021-02-03)",
                 "XKRX", "all"),
    ShortSaleBan("krx_ban_2021_partial", "2021-05-03", "2023-11-05",
                 "Reuters 2021-02-03 and KBS 2021-05-03: short selling resumes from 2021-05-03 for KOSPI 200 "
                 "and KOSDAQ 150 constituents only", "XKRX", "all_but_index", ("KOSPI200", "KOSDAQ150")),
    ShortSaleBan("krx_ban_2023_all", "2023-11-06", "2025-03-30",
                 "KBS World 2023-11-06 (ban effective Monday 2023-11-06); extended to 2025-03-30 (Korea "
                 "Times copy, FSC vice chairman 2024-06-13); FSC 2025-03-21 (fsc.go.kr/eng/pr010101/84220): "
                 "full resumption from Monday 2025-03-31", "XKRX", "all"),
    ShortSaleBan("sec_ban_2008_financials", "2008-09-19", "2008-10-08",
                 "SEC Release 34-58592 (2008-09-18, effective 2008-09-19) on short selling in financial "
                 "companies; expired 11:59 p.m. ET 2008-10-08 (Foley Hoag on mondaq.com 2008-10-15; "
                 "Reuters 2008-10-03)", "XNYS", "financials"),
)

_TZ = {"XKRX": "Asia/Seoul", "XNYS": "America/New_York"}


@dataclass(frozen=True)
class BorrowOverride:
    """One row of the borrow-availability file: the symbol can (not) be borrowed in a date window."""

    symbol: str
    market: str
    start: str
    end: str
    available: bool
    note: str = ""
    where: str = ""


@dataclass(frozen=True)
class ShortSaleAnswer:
    """Per instant: whether a new short sale was allowed, and the ban/override id when not."""

    allowed: np.ndarray
    reason: np.ndarray

    def blocked(self) -> int:
        return int((~self.allowed).sum())


def _local_dates(market: str, instants: np.ndarray) -> np.ndarray:
    tz = _TZ.get(market)
    if tz is None:
        raise DataError(f"no short-sale rules for market {market!r} (known: {', '.join(sorted(_TZ))})")
    t = pd.to_datetime(np.asarray(instants, dtype=np.int64), utc=True).tz_convert(tz)
    return t.tz_localize(None).normalize().as_unit("ns").asi8


def _member(memberships: Collection[str] | Mapping[str, np.ndarray] | None, names: tuple[str, ...],
            n: int) -> np.ndarray:
    if memberships is None:
        return np.zeros(n, dtype=bool)
    if isinstance(memberships, Mapping):
        out = np.zeros(n, dtype=bool)
        for name in names:
            if name in memberships:
                arr = np.broadcast_to(np.asarray(memberships[name], dtype=bool), (n,))
                out |= arr
        return out
    return np.full(n, any(name in memberships for name in names))


def short_sale_allowed(symbol: str, market: str, instants: np.ndarray,
                       index_membership: Collection[str] | Mapping[str, np.ndarray] | None = None,
                       financial: bool = False, overrides: tuple[BorrowOverride, ...] = (),
                       bans: tuple[ShortSaleBan, ...] = SHORT_SALE_BANS) -> ShortSaleAnswer:
    """Could a new short sale of ``symbol`` have been placed at each instant?

    Parameters
    ----------
    symbol, market
        The stock and its market (``XKRX``, ``XNYS``; crypto has no short-sale bans: every instant
        is allowed).
    instants
        UTC int64 ns (order instants); each is judged on its market's local date.
    index_membership
        The symbol's index memberships: a collection (``{"KOSPI200"}``, constant over the query) or
        a mapping index -> bool array aligned with ``instants`` (membership changing over time).
        Needed for the 2021-05-03..2023-11-05 KRX partial ban.
    financial
        Whether the symbol is a financial company (the 2008 bans on financials).
    overrides
        Borrow-availability rows (:func:`load_borrow_overrides`).
    bans
        The ban table (defaults to :data:`SHORT_SALE_BANS`).

    Returns
    -------
    ShortSaleAnswer
        ``allowed`` (bool) and ``reason`` (ban or override id, ``""`` when allowed).
    """
    t = np.asarray(instants, dtype=np.int64)
    reason = np.full(len(t), "", dtype=object)
    if market == "CRYPTO":
        return ShortSaleAnswer(np.ones(len(t), dtype=bool), reason)
    days = _local_dates(market, t)
    for ban in bans:
        if ban.market != market:
            continue
        lo = pd.Timestamp(ban.effective_from).value if ban.effective_from else np.iinfo(np.int64).min
        hi = pd.Timestamp(ban.effective_to).value if ban.effective_to else np.iinfo(np.int64).max
        hit = (days >= lo) & (days <= hi)
        if ban.scope == "financials":
            hit &= financial
        elif ban.scope == "all_but_index":
            hit &= ~_member(index_membership, ban.exempt_indices, len(t))
        elif ban.scope != "all":
            raise DataError(f"short-sale ban {ban.id} has unknown scope {ban.scope!r}")
        reason[(reason == "") & hit] = ban.id
    for ov in overrides:
        if ov.symbol != symbol or ov.market != market or ov.available:
            continue
        hit = (days >= pd.Timestamp(ov.start).value) & (days <= pd.Timestamp(ov.end).value)
        reason[(reason == "") & hit] = f"borrow_unavailable{': ' + ov.note if ov.note else ''}"
    return ShortSaleAnswer(reason == "", reason)


_FIELDS = ("symbol", "market", "start", "end", "available")


def _override(row: Mapping, where: str) -> BorrowOverride:
    missing = [f for f in _FIELDS if row.get(f) in (None, "")]
    if missing:
        raise ConfigError(f"borrow override needs {', '.join(missing)}", where=where)
    extra = set(row) - set(_FIELDS) - {"note"}
    if extra:
        raise ConfigError(f"unknown borrow override field(s) {sorted(extra)}; allowed: {', '.join(_FIELDS)}, note",
                          where=where)
    avail = row["available"]
    if isinstance(avail, str):
        if avail.strip().lower() not in {"true", "false"}:
            raise ConfigError(f"available must be true or false (got {avail!r})", where=where)
        avail = avail.strip().lower() == "true"
    if not isinstance(avail, bool):
        raise ConfigError(f"available must be true or false (got {avail!r})", where=where)
    try:
        start, end = pd.Timestamp(str(row["start"])), pd.Timestamp(str(row["end"]))
    except (ValueError, TypeError):
        raise ConfigError(f"start/end must be dates YYYY-MM-DD (got {row['start']!r}, {row['end']!r})",
                          where=where) from None
    if end < start:
        raise ConfigError(f"end {end.date()} is before start {start.date()}", where=where)
    market = str(row["market"])
    if market not in _TZ:
        raise ConfigError(f"market must be one of {', '.join(sorted(_TZ))} (got {market!r})", where=where)
    return BorrowOverride(str(row["symbol"]), market, str(start.date()), str(end.date()), avail,
                          str(row.get("note") or ""), where)


def load_borrow_overrides(path: str | Path) -> tuple[BorrowOverride, ...]:
    """Read borrow-availability overrides from a YAML (``borrow: [rows]``) or CSV file.

    Raises
    ------
    ConfigError
        Unreadable file, bad YAML (bounded by :func:`backtests.config.loader.safe_yaml`), a missing
        or unknown field, a bad date or flag; the message names the file and line.
    """
    p = Path(path)
    name = str(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read borrow overrides: {exc}", where=name) from None
    if p.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        return tuple(_override(row, f"{name}:{i + 2}") for i, row in enumerate(reader))
    data, node = safe_yaml(text, name)
    if not isinstance(data, dict) or not isinstance(data.get("borrow"), list):
        raise ConfigError("a borrow-override YAML is a mapping with a list 'borrow:'", where=name)
    rows_node = next(v for k, v in node.value if k.value == "borrow")  # type: ignore[union-attr]
    lines = [n.start_mark.line + 1 for n in rows_node.value]
    out = []
    for i, row in enumerate(data["borrow"]):
        where = f"{name}:{lines[i]}" if i < len(lines) else name
        if not isinstance(row, dict):
            raise ConfigError("each borrow override is a mapping", where=where)
        out.append(_override(row, where))
    return tuple(out)
