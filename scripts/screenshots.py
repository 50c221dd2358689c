"""Screenshots of the tearsheet for the README and docs/tearsheet.md, with headless Chromium.

    python scripts/screenshots.py [--out docs/img] [--keep RUNS_DIR] [--data-cache DIR]

Runs the default study (synthetic data, a few seconds) and, when a data cache is given
(``--data-cache`` or ``SCARE_DATA_CACHE``; build one with ``scare data import ../shared/data
--cache DIR``), the KOSPI crash replay on real data, into a temporary folder, then photographs
their first screens (1400 x 900, what a reader sees on opening the page) and parts of the default
study. To show one part of a long page, a copy of the page gets a style that hides everything else
(Chromium's --screenshot always captures from the top). Needs Debian's ``chromium``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backtests.orchestration.cli import main as scare  # noqa: E402
from backtests.report.browser import find_chromium, screenshot  # noqa: E402

REPLAY = "replay_kospi_crash_2026"
# (png name, study config, window size, what to keep: None = the page from its top,
#  else (section id, [its child section ids] or None for all of it) )
SHOTS = [
    ("tearsheet-top.png", "scare_trades", (1400, 900), None),
    ("tearsheet-replay-top.png", REPLAY, (1400, 900), None),
    ("tearsheet-events.png", "scare_trades", (1400, 1020),
     ("s-strategy-fade-kospi-halt", ["s-fade-kospi-halt-shock-by-shock"])),
    ("tearsheet-risk.png", "scare_trades", (1400, 1250),
     ("s-strategy-fade-kospi-halt", ["s-fade-kospi-halt-returns-and-risk", "s-fade-kospi-halt-sweep"])),
    ("tearsheet-data.png", "scare_trades", (1400, 700), ("s-data", None)),
    ("tearsheet-scenarios.png", "scare_trades", (1400, 720), ("s-scenario-results", None)),
]


def focus(html: str, keep: tuple[str, list[str] | None]) -> str:
    """The page with everything but one section (and some of its child sections) hidden."""
    sec, subs = keep
    css = f"main>*{{display:none!important}}main>#{sec}{{display:block!important;margin-top:0}}"
    if subs:
        css += f"#{sec}>*{{display:none}}" + "".join(f"#{sec}>#{s}{{display:block}}" for s in subs)
    return html.replace("</head>", f"<style>{css}</style></head>", 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "img"), help="folder for the PNG files")
    ap.add_argument("--keep", help="write the study runs here instead of a temporary folder")
    ap.add_argument("--data-cache", default=os.environ.get("SCARE_DATA_CACHE"),
                    help="real-data cache for the replay study (default: $SCARE_DATA_CACHE; without one it is skipped)")
    args = ap.parse_args(argv)
    if find_chromium() is None:
        print("screenshots: no Chromium found (apt-get install -y chromium)", file=sys.stderr)
        return 2
    out = Path(args.out).resolve()
    os.chdir(ROOT)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="scare-shots-") as tmp:
        runs = Path(args.keep) if args.keep else Path(tmp)
        done: dict[str, Path] = {}
        for name, study, window, keep in SHOTS:
            if study == REPLAY and not args.data_cache:
                print(f"screenshots: {name} skipped (no --data-cache / SCARE_DATA_CACHE for the replay study)",
                      file=sys.stderr)
                continue
            if study not in done:
                run = runs / study
                # a path relative to the repository, as a user would type it (the page shows it)
                cmd = ["run", f"configs/{study}.yaml", "--out", str(run.resolve()), "--no-progress"]
                if study == REPLAY:
                    os.environ["SCARE_DATA_CACHE"] = str(args.data_cache)
                    cmd.append("--offline")
                code = scare(cmd)
                if code:
                    return code
                done[study] = run
            page = done[study] / "tearsheet.html"
            if keep is not None:
                focused = Path(tmp) / f"focus-{name}.html"
                focused.write_text(focus(page.read_text(encoding="utf-8"), keep), encoding="utf-8")
                page = focused
            png = screenshot(page, out / name, window=window)
            print(f"{png} ({png.stat().st_size / 1024:,.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
