"""``scare scenarios show STUDY`` and ``scare scenarios validate [DATA_DIR]``.

``show`` plans the study (both validation stages, no data loaded), prints its scenario grid and
draws one sample path of the family in the terminal: the leader and the strategies' symbols on
the shock session, one row per symbol and a mark where the exchange model halted the market, from
the first scenario of the grid's first point (or ``--scenario``). ``validate`` runs the generator's
validation against held-out real shock days (``backtests.scenarios.validate``): two-sample tests
with p-values and the rule coupling (every path held at or below the level-1 decline for a minute
in KRX hours must halt); exit 1 if any path breaks the coupling.
"""

from __future__ import annotations

import argparse

import numpy as np

from backtests.errors import ConfigError

BLOCKS = " ▁▂▃▄▅▆▇█"
WIDTH = 78


def add_scenarios_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scenarios", help="show a study's scenario grid and a sample path; validate the generator")
    ss = p.add_subparsers(dest="scenarios_command", parser_class=type(p))
    show = ss.add_parser("show", help="print the scenario grid of STUDY and draw a sample path of its family")
    show.add_argument("config", metavar="STUDY", help="study YAML with a scenarios: block")
    show.add_argument("--scenario", type=int, default=0, help="scenario index to draw (default 0)")
    show.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                      help="override a config field (repeatable)")
    val = ss.add_parser("validate", help="the generator against held-out real shock days (p-values, rule coupling)")
    val.add_argument("data_dir", nargs="?", default=None, help="../shared/data (default: SCARE_SHARED_DATA or "
                     "../shared/data next to the project)")
    val.add_argument("--n", type=int, default=4000, help="generated scenarios (default 4000)")
    val.add_argument("--seed", type=int, default=2026)


def sparkline(values: np.ndarray, width: int = WIDTH) -> str:
    """``values`` (NaN: no print) resampled to ``width`` columns as block characters (gaps as '·')."""
    v = np.asarray(values, dtype=float)
    if not len(v):
        return ""
    cols = np.array_split(np.arange(len(v)), min(width, len(v)))
    pts = np.array([np.nanmean(v[c]) if np.isfinite(v[c]).any() else np.nan for c in cols])
    ok = np.isfinite(pts)
    if not ok.any():
        return "·" * len(pts)
    lo, hi = np.nanmin(pts), np.nanmax(pts)
    scale = (pts - lo) / (hi - lo) if hi > lo else np.full(len(pts), 0.5)
    return "".join("·" if not o else BLOCKS[1 + int(round(s * (len(BLOCKS) - 2)))] for o, s in zip(ok, scale))


def show(args: argparse.Namespace) -> int:
    from backtests.config import load_config
    from backtests.config.plan import plan_study
    from backtests.scenarios.generate import generate

    plan = plan_study(load_config(args.config, args.overrides))
    sp = plan.scenarios
    if sp is None:
        raise ConfigError(f"{args.config}: the study has no scenarios: block")
    g = sp.grid
    rec = g.record()
    print(f"{rec['label']}  (generated paths, not market data)")
    print(f"family {rec['family']} on {rec['date']}, leader {rec['leader']}, {rec['bar']} bars, sessions "
          f"-{rec['sessions_before']}..+{rec['sessions_after']}; symbols {', '.join(rec['symbols'])}")
    for k, vals in rec["axes"].items():
        print(f"  {k:<15} {', '.join(f'{v:g}' for v in vals):<40} {rec['units'][k]}")
    print(f"{rec['grid_points']} grid points x {rec['replicates']} replicates = {rec['scenarios']} scenarios "
          f"(streams {rec['streams']}); surface {' x '.join(rec['surface'])}")
    print(f"strategies: {', '.join(f'{p.label} ({len(p.grid)} combinations)' for p in sp.strategies)}; "
          f"{sp.runs:,} runs")
    if not 0 <= args.scenario < len(g.spec):
        raise ConfigError(f"--scenario {args.scenario} is outside 0..{len(g.spec) - 1}")
    batch = generate(g.spec, args.scenario, args.scenario + 1)
    params = batch.params.row(0).record()
    print(f"\nsample path: scenario {args.scenario} ({', '.join(f'{k}={params[k]:g}' for k in rec['axes'])}), "
          "shock session, '·' no print (halt, auction, closed)")
    print(draw(batch))
    return 0


def draw(batch) -> str:
    """The shock session of every asset of row 0 as sparklines, with the rule events."""
    fam = batch.spec.family
    lines = []
    for a in fam.assets:
        ab = batch.bars[a.symbol]
        g = batch.grids[ab.market]
        s = min(fam.sessions_before, g.n_sessions - 1)
        m = g.session[np.searchsorted(g.starts, ab.starts)] == s
        c = ab.close[0, m]
        ok = np.isfinite(c)
        move = f"{c[ok][-1] / ab.reference - 1:+.1%} close, {np.nanmin(ab.low[0, m]) / ab.reference - 1:+.1%} low" \
            if ok.any() else "no print"
        lines.append(f"{a.symbol:>10} {sparkline(c)}  {move}")
    ev = batch.events(0)
    for r in ev.itertuples():
        lines.append(f"{'':>10} {r.market} {r.code} at {r.time.isoformat()}")
    if not len(ev):
        lines.append(f"{'':>10} no rule fired")
    return "\n".join(lines)


def validate(args: argparse.Namespace) -> int:
    from backtests.scenarios.validate import report, validate as run

    v = run(args.data_dir, args.n, args.seed)
    print(report(v))
    return 1 if v.coupling["mismatches"] else 0


def run_scenarios_command(args: argparse.Namespace) -> int:
    if args.scenarios_command == "show":
        return show(args)
    if args.scenarios_command == "validate":
        return validate(args)
    raise ConfigError("scare scenarios: say show STUDY or validate [DATA_DIR]")


__all__ = ["add_scenarios_parser", "run_scenarios_command", "sparkline", "draw"]
