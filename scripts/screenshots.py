"""Screenshots of the tearsheet for the README and docs/tearsheet.md, with headless Chromium.

    python scripts/screenshots.py [--out docs/img] [--keep RUNS_DIR]

Runs the default study and the fade_kospi_halt study (synthetic data, a few seconds each) into a
temporary folder, then photographs parts of their tearsheets. To show one part of a long page,
a copy of the page gets a style that hides everything else (Chromium's --screenshot always
captures from the top). Needs Debian's ``chromium`` (``apt-get install -y chromium``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backtests.cli import main as scare  # noqa: E402
from backtests.report.browser import find_chromium, screenshot  # noqa: E402

# (png name, study config, window size, sections to keep: None = the page from its top,
#  else (strategy section id, [its subsection ids]) )
SHOTS = [
    ("tearsheet-top.png", "scare_trades", (1400, 1250), None),
    ("tearsheet-strategy.png", "fade_kospi_halt", (1400, 1250),
     ("s-strategy-fade-kospi-halt", ["s-fade-kospi-halt-equity-and-drawdown", "s-fade-kospi-halt-around-the-event"])),
    ("tearsheet-sweep.png", "fade_kospi_halt", (1400, 1020),
     ("s-strategy-fade-kospi-halt", ["s-fade-kospi-halt-per-window", "s-fade-kospi-halt-parameter-sweep"])),
    ("tearsheet-trades.png", "fade_kospi_halt", (1400, 1100),
     ("s-strategy-fade-kospi-halt", ["s-fade-kospi-halt-top-10-parameter-sets", "s-fade-kospi-halt-trades"])),
    ("tearsheet-data.png", "scare_trades", (1400, 1300), ("s-data", None)),
]


def focus(html: str, keep: tuple[str, list[str] | None]) -> str:
    """The page with everything but one section (and some of its subsections) hidden."""
    sec, subs = keep
    css = f"main>*{{display:none!important}}main>#{sec}{{display:block!important;margin-top:0}}"
    if subs:
        css += f"#{sec}>section{{display:none}}" + "".join(f"#{sec}>#{s}{{display:block}}" for s in subs)
        css += f"#{sec}>dl.facts{{display:none}}"
    return html.replace("</head>", f"<style>{css}</style></head>", 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "img"), help="folder for the PNG files")
    ap.add_argument("--keep", help="write the study runs here instead of a temporary folder")
    args = ap.parse_args(argv)
    if find_chromium() is None:
        print("screenshots: no Chromium found (apt-get install -y chromium)", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="scare-shots-") as tmp:
        runs = Path(args.keep) if args.keep else Path(tmp)
        done: dict[str, Path] = {}
        for name, study, window, keep in SHOTS:
            if study not in done:
                run = runs / study
                code = scare(["run", str(ROOT / "configs" / f"{study}.yaml"), "--out", str(run), "--no-progress"])
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
