"""``scare data ...``: fetch, import, list, verify and clear the data cache.

::

    scare data fetch MU NVDA ^KS11 --start 2025-01-01 --end 2025-12-31     # yfinance, daily
    scare data fetch BTC-USD --frequency 4h --exchange binance             # ccxt
    scare data fetch BTC-USD --series funding --frequency 1D               # ccxt funding history
    scare data fetch BTC-USD --series liquidations                         # $COINGLASS_API_KEY
    scare data fetch --config configs/replay_deepseek_2025.yaml            # all a study needs
    scare data import ../shared/data                                       # a file or a folder
    scare data list [SYMBOL ...] [--json]
    scare data verify [--fix] [--quality]
    scare data clear (SYMBOL ... | --source import | --all)

The cache folder is ``--cache DIR``, else ``$SCARE_DATA_CACHE``, else ``./data_cache``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from backtests.errors import DataError, ScareInputError, printable


def _cache_opt(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cache", metavar="DIR", help="cache folder (default: $SCARE_DATA_CACHE or ./data_cache)")


def add_data_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``scare data`` and its subcommands on the main parser."""
    data = sub.add_parser("data", help="manage the market-data cache (data_cache/)",
                          description="Fetch, import, list, verify and clear cached market data.")
    acts = data.add_subparsers(dest="data_action", parser_class=type(data), metavar="ACTION")

    f = acts.add_parser("fetch", help="fetch symbols (only the missing date ranges) into the cache")
    f.add_argument("symbols", nargs="*", help="symbols, e.g. MU ^KS11 000660.KS KRW=X BTC-USD")
    f.add_argument("--config", help="fetch everything this study config needs (symbols, series, dates)")
    f.add_argument("--start", help="first local date (default: one year before --end)")
    f.add_argument("--end", help="last local date (default: yesterday)")
    f.add_argument("--frequency", default=None, help="bar frequency: 1D (default), 1h, 5min, 4h (crypto)")
    f.add_argument("--series", default="bars", choices=["bars", "funding", "liquidations"],
                   help="bars (default), funding (ccxt) or liquidations (CoinGlass-style API)")
    f.add_argument("--unadjusted", action="store_true", help="Yahoo: raw prices (+adj_close) as series bars_unadj")
    f.add_argument("--provider", choices=["yfinance", "ccxt", "coinglass"], help="force a provider")
    f.add_argument("--exchange", default=None, help="ccxt exchange id (default: binance)")
    f.add_argument("--refresh", action="store_true", help="refetch the whole range, not only what is missing")
    _cache_opt(f)

    i = acts.add_parser("import", help="import a CSV/parquet file or a whole folder")
    i.add_argument("path", help="a CSV or parquet file, or a folder (imported recursively; files the rules "
                                "do not recognise are listed as skipped)")
    i.add_argument("--symbol", help="symbol for a single file (default: recognised or the file name)")
    i.add_argument("--market", choices=["XKRX", "XNYS", "CRYPTO"],
                   help="calendar that stamps the bars (default: recognised from the symbol, e.g. .KS -> XKRX)")
    i.add_argument("--currency", help="quote currency, e.g. KRW (default: the market's, USD for XNYS/CRYPTO)")
    i.add_argument("--kind", choices=["equity", "etf", "index", "fx", "crypto", "stablecoin", "series"],
                   help="what the symbol is (default: recognised from the symbol; FRED files are 'series')")
    i.add_argument("--series", choices=["bars", "bars_unadj", "funding", "liquidations"],
                   help="which series of the symbol the file holds (default: bars)")
    i.add_argument("--frequency", help="bar frequency: 1D, 4h, 1h, 5min, 1min ... (default: from a _4h/_5m "
                                       "file-name suffix, else inferred from the spacing of the file's times)")
    i.add_argument("--layout", choices=["auto", "ohlcv", "yfinance", "close_only", "coinglass", "fred"],
                   help="column layout (default: auto, recognised from the header)")
    i.add_argument("--column", action="append", default=[], metavar="OURS=THEIRS",
                   help="column mapping, e.g. --column close='Adj Close' (repeatable)")
    i.add_argument("--close-time", metavar="HH:MM", help="local time a daily value is known (FRED fixings)")
    i.add_argument("--max-bytes", type=int, metavar="N", help="largest file read, in bytes (default 536870912 = "
                   "512 MiB, as a study's limits.max_data_bytes)")
    i.add_argument("--max-rows", type=int, metavar="N", help="most rows a file may hold (default 5000000, as a "
                   "study's limits.max_data_rows)")
    _cache_opt(i)

    ls = acts.add_parser("list", help="what is cached: ranges, rows, sizes")
    ls.add_argument("symbols", nargs="*", help="only these symbols (default: all)")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    _cache_opt(ls)

    v = acts.add_parser("verify", help="check every cached file's checksum; name bad and orphan files")
    v.add_argument("--fix", action="store_true", help="drop bad entries and orphan files (refetch/re-import them)")
    v.add_argument("--quality", action="store_true", help="also run the data-quality checks on every entry")
    _cache_opt(v)

    c = acts.add_parser("clear", help="remove cached data")
    c.add_argument("symbols", nargs="*", help="symbols to remove (or use --source / --all)")
    c.add_argument("--source", help="only entries of this source (yfinance, ccxt_binance, coinglass, import)")
    c.add_argument("--all", action="store_true", help="remove everything (keeps data_cache/README.md)")
    _cache_opt(c)


def _cache(args: argparse.Namespace, default: str | None = None) -> Any:
    from backtests.data.cache import Cache, resolve_root

    return Cache(resolve_root(args.cache or default))


def run_data_command(args: argparse.Namespace) -> int:
    action = getattr(args, "data_action", None)
    if not action:
        raise ScareInputError("scare data: give an action: fetch, import, list, verify or clear "
                              "(scare data --help)")
    return {"fetch": cmd_fetch, "import": cmd_import, "list": cmd_list, "verify": cmd_verify,
            "clear": cmd_clear}[action](args)


# ----------------------------------------------------------------------------------- fetch
def study_jobs(config: str) -> tuple[Any, list[tuple[str, str]], str | None, str | None, str]:
    """(cache_dir, [(symbol, series)], start, end, frequency) a study config needs: its plan (the
    first stages of :mod:`backtests.orchestration.prepare`, before any data loads) says which."""
    from backtests.config import load_config
    from backtests.data.cache import parse_spec
    from backtests.data.providers import guess_meta
    from backtests.orchestration.prepare import plan_checked

    plan = plan_checked(load_config(config, []))
    cfg = plan.config
    syms: dict[str, set[str]] = {}
    for spec in cfg.data.symbols:
        _, s, series = parse_spec(spec)
        syms.setdefault(s, set()).add(series)
    for sp in plan.strategies:
        for role, r in sp.strategy.roles.items():
            sym = sp.strategy.symbols[role]
            need = syms.setdefault(sym, {"bars"})
            if {"long_liquidations_usd", "short_liquidations_usd"} & set(r.series):
                need.add("liquidations")
            if "funding_rate" in r.series:
                need.add("funding")
        if sp.benchmark:
            syms.setdefault(sp.benchmark, {"bars"})
    for sym in list(syms):
        cur = guess_meta(sym).currency
        if cur != "USD" and cur in cfg.data.fx:
            syms.setdefault(cfg.data.fx[cur], {"bars"})
    jobs = [(s, series) for s in syms for series in sorted(syms[s], key=lambda x: x != "bars")]
    start = str(cfg.data.start) if cfg.data.start else None
    end = str(cfg.data.end) if cfg.data.end else None
    return cfg.data.cache_dir, jobs, start, end, cfg.data.frequency


def cmd_fetch(args: argparse.Namespace) -> int:
    from backtests.data.cache import fetch, norm_freq, provider_for, validate_symbol
    from backtests.data.providers import NetworkUnavailable, make_provider

    cache_dir = None
    start, end = args.start, args.end
    freq = args.frequency or "1D"
    if args.config:
        cache_dir, jobs, s0, e0, f0 = study_jobs(args.config)
        start, end = start or s0, end or e0
        freq = args.frequency or f0
        jobs = [(s, se) for s, se in jobs if not args.symbols or s in args.symbols]
    else:
        if not args.symbols:
            raise ScareInputError("scare data fetch: name symbols or give --config STUDY.yaml")
        series = "bars_unadj" if args.unadjusted and args.series == "bars" else args.series
        jobs = [(validate_symbol(s), series) for s in args.symbols]
    cache = _cache(args, cache_dir)
    freq = norm_freq(freq)
    failed: list[str] = []
    for sym, series in jobs:
        try:
            if args.provider:
                opts = {"exchange": args.exchange or "binance"} if args.provider == "ccxt" else {}
                prov = make_provider(args.provider, **opts)
            else:
                prov = provider_for(sym, "bars" if series == "bars_unadj" else series, freq, exchange=args.exchange)
            rep = fetch(cache, sym, series, freq, start, end, provider=prov, refresh=args.refresh)
        except NetworkUnavailable:
            raise  # no network: every other symbol would fail the same way
        except DataError as exc:
            failed.append(f"{sym} {series}: {exc}")
            print(f"failed    {sym} {series} {freq}: {exc}")
            continue
        spans = ", ".join(f"{a.date()}..{b.date()}" for a, b in rep.asked)
        print(f"{rep.action:<9} {rep.key}" + (f" fetched {spans} ({rep.rows} rows)" if rep.asked else ""))
        for w in rep.warnings:
            print(f"  ! {w}")
    print(f"cache: {cache.root}")
    if failed:
        raise DataError(f"{len(failed)} fetch(es) failed; first: {failed[0]}")
    return 0


# ---------------------------------------------------------------------------------- import
def cmd_import(args: argparse.Namespace) -> int:
    from backtests.data.importer import import_path

    cols = []
    for item in args.column:
        if "=" not in item:
            raise ScareInputError(f"--column {item!r}: use OURS=THEIRS, e.g. close='Adj Close'")
        ours, theirs = item.split("=", 1)
        cols.append((ours.strip(), theirs.strip()))
    overrides = {"symbol": args.symbol, "market": args.market, "currency": args.currency, "kind": args.kind,
                 "series": args.series, "frequency": args.frequency, "layout": args.layout,
                 "columns": tuple(cols), "close_time": args.close_time}
    cache = _cache(args)
    results = import_path(cache, args.path, overrides, limits=_import_limits(args))
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
        print(r.text())
        for w in r.warnings:
            print(f"          ! {w}")
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    print(f"{summary}; cache: {cache.root}")
    if counts.get("failed"):
        first = next(r for r in results if r.status == "failed")
        raise DataError(f"{counts['failed']} file(s) failed to import; first: {first.reason}", where=first.path)
    return 0


def _import_limits(args: argparse.Namespace) -> Any:
    from pydantic import ValidationError

    from backtests.config.model import LimitsConfig

    given = {k: v for k, v in (("max_data_bytes", args.max_bytes), ("max_data_rows", args.max_rows)) if v is not None}
    try:
        return LimitsConfig(**given)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        flag = "--max-bytes" if err["loc"][0] == "max_data_bytes" else "--max-rows"
        raise ScareInputError(f"scare data import {flag}: {err['msg']}") from None


# ------------------------------------------------------------------------------------ list
def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def cmd_list(args: argparse.Namespace) -> int:
    cache = _cache(args)
    rows = [e for _, e in sorted(cache.entries().items()) if not args.symbols or e["symbol"] in args.symbols]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"cache {cache.root} is empty" + (" for those symbols" if args.symbols else ""))
        return 0
    head = f"{'symbol':<28} {'series':<13} {'freq':<5} {'source':<13} {'covered':<23} {'rows':>6} {'size':>9}  market"
    print(head)
    total = 0
    for e in rows:
        cov = e["covered"]
        span = f"{cov[0][0]}..{cov[-1][1]}" + ("*" if len(cov) > 1 else "") if cov else "-"
        total += int(e.get("bytes", 0))
        print(f"{e['symbol']:<28} {e['series']:<13} {e['frequency']:<5} {e['source']:<13} {span:<23} "
              f"{e['rows']:>6} {_size(int(e.get('bytes', 0))):>9}  {e['market']} {e.get('currency', '')}")
    print(f"{len(rows)} entries, {_size(total)} in {cache.root}" + ("  (* = several covered ranges)"
                                                                     if any(len(e['covered']) > 1 for e in rows) else ""))
    return 0


# ---------------------------------------------------------------------------------- verify
def cmd_verify(args: argparse.Namespace) -> int:
    cache = _cache(args)
    from backtests.data.upkeep import verify

    problems = verify(cache, fix=args.fix)
    for p in problems:
        print(printable(p.text()))
    try:
        entries = cache.entries()
    except DataError:  # a damaged manifest or entry: reported above as bad
        entries = {}
    qerrors = _quality(cache, entries) if args.quality else []
    count = {level: sum(p.level == level for p in problems) for level in ("bad", "orphan", "left")}
    print(f"{len(entries)} entries checked in {cache.root}: {count['bad']} bad, {count['orphan']} orphan file(s)"
          + (f", {count['left']} file(s) left (scare cannot prove it wrote them)" if count["left"] else "")
          + (f", {len(qerrors)} quality error(s)" if args.quality else "")
          + (" (fixed: bad entries dropped, files scare wrote removed)" if args.fix and count["bad"] else ""))
    if count["bad"] and not args.fix:
        bad = next(p for p in problems if p.level == "bad")
        raise DataError(f"{count['bad']} bad cache entr(ies), first {bad.path}: {bad.message}; "
                        "`scare data verify --fix` drops them, then refetch or re-import")
    if qerrors:
        raise DataError(f"{len(qerrors)} data-quality error(s) (QERROR above), first {qerrors[0]}; a study refuses "
                        "these bars: fix or re-import the file, or start the data after the bad rows")
    return 0


def _quality(cache: Any, entries: dict[str, Any]) -> list[str]:
    """Print the quality findings of every bar entry (QERROR / QWARN lines); return the errors."""
    import pandas as pd

    from backtests.data.quality import check_bars

    errors = []
    for key, e in sorted(entries.items()):
        if e["series"] not in {"bars", "bars_unadj"}:
            continue
        try:
            frame = cache.read(e)
        except DataError:
            continue
        for f in check_bars(frame, e["symbol"], e["market"], e.get("kind", "equity"), e["frequency"],
                            now=pd.Timestamp.now(tz="UTC")):
            print(printable(f"{'QERROR' if f.level == 'error' else 'QWARN':7} {key}: {f.message} [{f.check}]"))
            if f.level == "error":
                errors.append(f"{key}: {f.message} [{f.check}]")
    return errors


# ----------------------------------------------------------------------------------- clear
def cmd_clear(args: argparse.Namespace) -> int:
    if not (args.symbols or args.source or args.all):
        raise ScareInputError("scare data clear: name symbols, --source SOURCE, or --all")
    cache = _cache(args)
    from backtests.data.upkeep import clear

    removed, left = clear(cache, args.symbols, args.source)
    for k in removed:
        print(f"removed   {k}")
    for p in left:
        print(printable(p.text()))
    print(f"{len(removed)} entries removed from {cache.root}"
          + (f"; {len(left)} file(s) left (scare cannot prove it wrote them)" if left else ""))
    return 0
