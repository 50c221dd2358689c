"""``scare``: the command line.

Exit codes: 0 success; 2 bad input (config, data, arguments, a plug-in's error) with one line on
stderr naming the file, field or symbol; 130 interrupted. Anything else is a bug and keeps its
traceback. ``SCARE_DEBUG=1`` also prints the traceback behind a one-line error.
``scare --help``, ``validate``, ``list`` and ``schema`` never import vectorbt.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from backtests.errors import Interrupted, ScareInputError, one_line


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's default prints usage and exits 2 too
        raise ScareInputError(f"{self.prog}: {message}")


def _add_overrides(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                   help="override a config field, e.g. --set execution.fill=close (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="scare", description="Backtest AI scare trades over shock windows.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    run = sub.add_parser("run", help="run a study config and write results + tearsheet")
    run.add_argument("config", help="study YAML (e.g. configs/scare_trades.yaml)")
    run.add_argument("--out", help="output folder (default: output.dir of the config)")
    run.add_argument("--cache", metavar="DIR",
                     help="data cache folder for data.source 'cache' (overrides data.cache_dir; "
                          "default: $SCARE_DATA_CACHE or ./data_cache)")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    run.add_argument("--resume", action="store_true",
                     help="finish an interrupted run: reuse the chunks it completed")
    run.add_argument("--executor", choices=["local", "dask"], help="where chunks run (overrides executor.kind)")
    run.add_argument("--offline", action="store_true",
                     help="never touch the network; name exactly what is missing from the cache")
    run.add_argument("--no-audit", action="store_true",
                     help="skip the look-ahead audit of strategies not audited before (the manifest says so)")
    run.add_argument("--audit-budget", type=float, default=None, metavar="SECONDS",
                     help="time for the look-ahead audit of the whole study (default 10)")
    _add_overrides(run)

    aud = sub.add_parser(
        "audit", help="check a study's strategies for look-ahead (truncate the data at many cuts, compare decisions)",
        description="Re-run every strategy of STUDY on the data truncated at cuts chosen where look-ahead hides "
                    "(before every catalogue event, before the largest moves, where any decision changes, seeded "
                    "random stamps) and compare its decisions up to each cut with the full run. Prints the verdict, "
                    "the first changed decision and the data channel responsible; exit 2 when a strategy looks "
                    "ahead. Verdicts are cached, so the next `scare run` does not audit again.")
    aud.add_argument("config", metavar="STUDY", help="study YAML (e.g. configs/scare_trades.yaml)")
    aud.add_argument("--strategy", action="append", default=[], metavar="LABEL",
                     help="audit only this strategy label (repeatable; default: all)")
    aud.add_argument("--budget", type=float, default=20.0, metavar="SECONDS",
                     help="time per strategy (default 20); the report says how many cuts it covered")
    aud.add_argument("--cuts", type=int, default=None, metavar="N",
                     help="check exactly the first N cuts in priority order instead of a time budget")
    aud.add_argument("--seed", type=int, default=0, help="seed of the random cuts and of the cut order (default 0)")
    aud.add_argument("--json", action="store_true", help="machine-readable reports")
    aud.add_argument("--offline", action="store_true", help="never touch the network")
    _add_overrides(aud)

    val = sub.add_parser("validate", help="check a study config without running it")
    val.add_argument("config", help="study YAML to check (schema, strategies, grids, windows, limits)")
    _add_overrides(val)

    sub.add_parser("schema", help="print the JSON Schema of study configs")

    lst = sub.add_parser("list", help="list available strategies or windows")
    lst.add_argument("what", choices=["strategies", "windows"],
                     help="strategies (with roles and parameters) or windows (the built-in event catalogue)")
    lst.add_argument("--json", action="store_true", help="machine-readable output")
    lst.add_argument("--config", metavar="STUDY",
                     help="also list this study's module:Class plug-ins (strategies) or the events of its "
                          "events_files (windows)")

    rep = sub.add_parser("report", help="regenerate tearsheet.html from a run folder")
    rep.add_argument("run_dir", help="a run folder written by `scare run` (holds metrics.json)")

    from backtests.orchestration.data_cli import add_data_parser  # `scare data ...` lives with the data package

    add_data_parser(sub)
    return parser


def cmd_run(args: argparse.Namespace) -> int:
    import gc

    from backtests.audit.stage import audit_line
    from backtests.config import load_config
    from backtests.orchestration.runner import run_study

    gc.freeze()  # the modules just imported live until exit: keep them out of every collection

    overrides = list(args.overrides) + ([f"executor.kind={args.executor}"] if args.executor else [])
    loaded = load_config(args.config, overrides)
    if args.cache:
        loaded = with_cache_dir(loaded, args.cache)
    out = Path(args.out) if args.out else None
    audit = {"audit": not args.no_audit}
    if args.audit_budget is not None:
        audit["audit_budget"] = args.audit_budget
    study = run_study(loaded, out, progress=None if not args.no_progress else False, offline=args.offline,
                      resume=args.resume, **audit)
    n_runs = sum(len(r.runs) for r in study.strategies)
    tag = " (SYNTHETIC data)" if study.data.synthetic else ""
    print(f"{study.plan.config.name}: {n_runs} runs over {len(study.plan.windows)} windows in "
          f"{study.elapsed:.1f} s{tag}")
    print(audit_line(study.audit))
    print(f"results:   {study.out_dir}")
    print(f"tearsheet: {study.out_dir / 'tearsheet.html'}")
    return 0


def with_cache_dir(loaded: Any, cache: str) -> Any:
    """``loaded`` with ``data.cache_dir`` replaced by ``--cache`` (errors about it name ``--cache``)."""
    from dataclasses import replace

    cfg = loaded.config
    config = cfg.model_copy(update={"data": cfg.data.model_copy(update={"cache_dir": cache})})
    loaded.source.overridden.add(("data", "cache_dir"))
    return replace(loaded, config=config)


def cmd_audit(args: argparse.Namespace) -> int:
    from backtests.config import load_config
    from backtests.orchestration.audit_command import audit_config

    if args.cuts is not None and args.cuts < 1:
        raise ScareInputError(f"--cuts must be at least 1, got {args.cuts}")
    if args.budget <= 0:
        raise ScareInputError(f"--budget must be positive, got {args.budget:g}")
    reports = audit_config(load_config(args.config, args.overrides), budget=args.budget, max_cuts=args.cuts,
                           seed=args.seed, only=args.strategy or None, offline=args.offline)
    if args.json:
        print(json.dumps([r.record() for r in reports], indent=2, default=str))
    else:
        for r in reports:
            print(r.text())
    bad = [r for r in reports if r.verdict in ("fail", "nondeterministic")]
    if bad:
        print(f"scare: error: {bad[0].line()}", file=sys.stderr)
        return 2
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from backtests.config import load_config
    from backtests.orchestration.prepare import prepare_offline

    study = prepare_offline(load_config(args.config, args.overrides))
    plan = study.plan
    print(f"{args.config}: OK - {len(plan.strategies)} strategies, {study.combinations} combinations, "
          f"{len(plan.windows)} windows, {study.runs} runs"
          + (" (windows not checked against the data)" if study.unchecked else ""))
    for n in study.coverage_notices:
        print(f"  {n.code}: {n.message}")
    if study.unchecked:
        print(f"  not checked against the data (a run loads it first, and may drop or trim windows it does "
              f"not cover): {study.unchecked}")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from backtests.config import json_schema

    print(json.dumps(json_schema(), indent=2, sort_keys=True))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    if args.what == "strategies":
        return _list_strategies(args)
    return _list_windows(args)


def _list_strategies(args: argparse.Namespace) -> int:
    """Built-in (and entry-point) strategies; with ``--config`` also the study's ``module:Class`` plug-ins."""
    from backtests.strategy.registry import discover

    items = [cls.describe() for _, cls in sorted(discover().items())]
    plugins: list[dict[str, Any]] = []
    builtins: list[str] = []
    if args.config:
        from backtests.config import load_config
        from backtests.config.plan import plan_study

        for sp in plan_study(load_config(args.config)).strategies:  # the study must validate
            if ":" not in sp.spec.name:
                builtins.append(sp.label)
                continue
            known = next((d for d in plugins if d["path"] == sp.spec.name), None)
            if known is None:
                known = {**type(sp.strategy).describe(), "path": sp.spec.name, "study": {}}
                plugins.append(known)
            known["study"][sp.label] = {"roles": dict(sp.strategy.symbols), "combinations": len(sp.grid)}
    if args.json:
        print(json.dumps(items + plugins, indent=2, default=str))
        return 0
    for d in items:
        _print_strategy(d["name"], d)
    if args.config:
        also = f" (and built-ins: {', '.join(builtins)})" if builtins else ""
        print(f"\n{args.config}: {len(plugins) or 'no'} module:Class plug-in{'s' if len(plugins) != 1 else ''}{also}")
        for d in plugins:
            uses = "; ".join(f"{'' if lab == d['path'] else f'as {lab!r}, '}{u['combinations']} combination"
                             f"{'s' if u['combinations'] != 1 else ''}" for lab, u in d["study"].items())
            _print_strategy(f"{d['path']} (name {d['name']!r}; in the study: {uses})", d)
            for lab, u in d["study"].items():
                moved = {r: sym for r, sym in u["roles"].items() if sym != d["roles"][r]["default"]}
                if moved:
                    print(f"    {lab}: roles " + ", ".join(f"{r} = {sym}" for r, sym in moved.items()))
    return 0


def _print_strategy(title: str, d: dict[str, Any]) -> None:
    print(f"{title}: {d['summary']}")
    for role, r in d["roles"].items():
        extra = f" needs {', '.join(r['series'])}" if r["series"] != ["close"] else ""
        print(f"    role {role} = {r['default']}{'' if r['traded'] else ' (signal only)'}{extra}")
    for name, p in d["params"].items():
        rng = f" range {p['range']}" if "range" in p else ""
        ch = f" choices {p['choices']}" if "choices" in p else ""
        unit = f" [{p['unit']}]" if p.get("unit") else ""
        print(f"    {name}: {p['type']} = {p['default']!r}{rng}{ch}{unit}  {p.get('doc', '')}".rstrip())


def _list_windows(args: argparse.Namespace) -> int:
    """The built-in event catalogue; with ``--config`` the study's catalogue (its events_files merged)."""
    from backtests.time.windows import load_builtin

    builtin = load_builtin()
    cat = builtin
    if args.config:
        from backtests.config import load_config
        from backtests.config.plan import build_catalogue

        cat = build_catalogue(load_config(args.config))
    rows = [{"id": e.id, "kind": e.kind, "market": e.market, "date": e.date.date().isoformat(),
             "timing": e.timing, "label": e.label, "time_utc": e.time_utc.isoformat(), "time_rule": e.time_rule,
             "time_source": e.time_source, "shock": e.shock,
             **({"source": "built-in" if builtin.events.get(e.id) == e else "events_files"} if args.config else {})}
            for e in sorted(cat.events.values(), key=lambda e: (e.kind, e.date))]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for src in ("built-in", "events_files"):
        chosen = [r for r in rows if r.get("source", "built-in") == src]
        if src == "events_files":
            if not args.config:
                break
            print(f"\n{args.config}: {len(chosen)} event{'s' if len(chosen) != 1 else ''} from its events_files")
        width = max([26, *(len(r["id"]) for r in chosen)])
        for r in chosen:
            print(f"{r['id']:<{width}} {r['kind']:<20} {r['market']:<7} {r['date']}  {r['timing']:<12} {r['label']}")
    if args.config:
        gone = [k for k in builtin.events if k not in cat.events]
        if gone:
            print(f"built-in events the study's events_files replace: {', '.join(gone)}")
        print(f"event kinds in the study: {', '.join(cat.kinds())}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from backtests.outputs.regenerate import regenerate

    path = regenerate(Path(args.run_dir))
    print(f"tearsheet: {path}")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from backtests.orchestration.data_cli import run_data_command

    return run_data_command(args)


COMMANDS = {"run": cmd_run, "audit": cmd_audit, "validate": cmd_validate, "schema": cmd_schema, "list": cmd_list,
            "report": cmd_report, "data": cmd_data}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.version:
            from importlib.metadata import version

            print(f"scare {version('scare')}")
            return 0
        if not args.command:
            parser.print_help()
            return 2
        return COMMANDS[args.command](args)
    except ScareInputError as exc:
        if os.environ.get("SCARE_DEBUG"):
            import traceback

            traceback.print_exception(exc.__cause__ or exc, file=sys.stderr)
        message = one_line(str(exc))  # one line, control characters escaped, whatever the message holds
        if isinstance(exc, Interrupted):
            print(f"scare: {message}", file=sys.stderr)
            return 130
        print(f"scare: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("scare: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and closed: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def entry() -> None:
    """The ``scare`` console script: :func:`main`, then exit without the interpreter's teardown.

    Once the command has returned, its files are closed and written; what is left is flushing
    stdout/stderr and running the ``atexit`` handlers (logging, executors, temporary folders),
    done here, then a final garbage collection of every object the imports made, which takes a
    noticeable share of a short command and is skipped with ``os._exit``. Only here, never in
    :func:`main` (tests and embedders call that in-process). A command that raises keeps the
    normal exit and its traceback.
    """
    code = main()
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):  # closed pipe or stream: nothing left to write
            pass
    os._exit(0 if code is None else int(code))


if __name__ == "__main__":
    entry()
