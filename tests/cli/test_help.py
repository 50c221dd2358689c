"""Every command and argument explains itself in --help (issue 12, item 7)."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from backtests.orchestration.cli import build_parser


def _parsers(parser: argparse.ArgumentParser, path: str = "scare"):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


def test_every_positional_argument_has_help():
    missing = []
    for path, parser in _parsers(build_parser()):
        for action in parser._actions:
            if not action.option_strings and not isinstance(action, argparse._SubParsersAction):
                if not (action.help or "").strip():
                    missing.append(f"{path} {action.dest}")
    assert not missing, missing


def test_every_data_import_option_has_help():
    parsers = dict(_parsers(build_parser()))
    imp = parsers["scare data import"]
    undocumented = [a.option_strings[0] for a in imp._actions
                    if a.option_strings and a.option_strings[0] != "-h" and not (a.help or "").strip()]
    assert not undocumented, undocumented


def test_run_takes_a_cache_folder(tmp_path, cli):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(textwrap.dedent("""\
        name: c
        data: {source: cache, symbols: [QQQ]}
        windows: [deepseek_r1]
        benchmark: null
        strategies:
          - name: buy_and_hold
            roles: {asset: QQQ}
        """))
    mine = tmp_path / "my_cache"
    code, _, err = cli("run", cfg, "--cache", mine, "--offline", "--out", tmp_path / "out", "--no-progress")
    assert code == 2 and str(mine) in err and "QQQ" in err, err
    assert "--cache" in dict(_parsers(build_parser()))["scare run"].format_help()
    assert not (tmp_path / "out").exists() and not Path("data_cache/QQQ").exists()
