"""Open a tearsheet in headless Chromium: rendered DOM, console messages, network requests,
screenshots. Used by the browser tests and ``scripts/screenshots.py``; not needed to write a
tearsheet.

Chromium runs with a fresh profile, no background services, and every host name mapped to
"not found", so nothing can leave the machine; the net log still records any request the page
*tried* to make (the page's requests carry a ``file://`` network-isolation key, the browser's own
housekeeping does not).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--hide-scrollbars", "--mute-audio",
         "--host-resolver-rules=MAP * ~NOTFOUND"]
CONSOLE = re.compile(r":CONSOLE(?:\(\d+\)|:\d+)?\]\s*(.*)")


def find_chromium() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageLoad:
    dom: str
    console: list[str] = field(default_factory=list)  # console messages and uncaught errors
    requests: list[str] = field(default_factory=list)  # URLs the page asked for (other than file:)
    stderr: str = ""


def _page_requests(net_log: Path) -> list[str]:
    try:
        doc = json.loads(net_log.read_text(encoding="utf-8", errors="replace"))
    except (OSError, json.JSONDecodeError):
        # Chromium may leave the log without its closing bracket when killed: repair and retry
        text = net_log.read_text(encoding="utf-8", errors="replace").rstrip().rstrip(",")
        doc = json.loads(text + "]}")
    names = {v: k for k, v in doc.get("constants", {}).get("logEventTypes", {}).items()}
    out = []
    for ev in doc.get("events", []):
        if names.get(ev.get("type")) != "URL_REQUEST_START_JOB":
            continue
        p = ev.get("params") or {}
        url = str(p.get("url", ""))
        if not url or url.startswith(("file:", "data:", "blob:", "about:", "chrome:")):
            continue
        # the browser's own traffic (updates, time sync) has no page origin
        if p.get("initiator") == "not an origin" and "file://" not in str(p.get("network_isolation_key", "")):
            continue
        out.append(url)
    return out


def load(html_path: Path, *, budget_ms: int = 15000, timeout: float = 120.0,
         window: tuple[int, int] = (1400, 1000), browser: str | None = None,
         screenshot_to: Path | None = None, fragment: str = "") -> PageLoad:
    """Load a local HTML file, run its scripts, and return the DOM, console and requests
    (and, with ``screenshot_to``, save a PNG of the top ``window`` pixels in the same load).
    ``fragment`` is appended to the URL (``draw-all``: the tearsheet draws every chart at once)."""
    exe = browser or find_chromium()
    if exe is None:
        raise FileNotFoundError("no Chromium found (install Debian's chromium package)")
    with tempfile.TemporaryDirectory(prefix="scare-chromium-") as tmp:
        net = Path(tmp) / "net.json"
        cmd = [exe, *FLAGS, f"--user-data-dir={tmp}/profile", f"--log-net-log={net}",
               "--enable-logging=stderr", "--v=0", f"--virtual-time-budget={budget_ms}",
               f"--window-size={window[0]},{window[1]}", "--dump-dom"]
        if screenshot_to is not None:
            Path(screenshot_to).parent.mkdir(parents=True, exist_ok=True)
            cmd.append(f"--screenshot={Path(screenshot_to).resolve()}")
        cmd.append(Path(html_path).resolve().as_uri() + (f"#{fragment}" if fragment else ""))
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, errors="replace")
        console = [m.group(1).strip() for line in proc.stderr.splitlines() if (m := CONSOLE.search(line))]
        requests = _page_requests(net) if net.exists() else []
        if proc.returncode != 0 and not proc.stdout:
            raise RuntimeError(f"chromium failed ({proc.returncode}): {proc.stderr[-2000:]}")
        return PageLoad(proc.stdout, console, requests, proc.stderr)


def screenshot(html_path: Path, png: Path, *, window: tuple[int, int] = (1400, 2400), budget_ms: int = 15000,
               timeout: float = 120.0, browser: str | None = None, fragment: str = "") -> Path:
    """Save a PNG of the page's top ``window`` pixels (or from the element ``#fragment``)."""
    exe = browser or find_chromium()
    if exe is None:
        raise FileNotFoundError("no Chromium found (install Debian's chromium package)")
    png = Path(png).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    url = Path(html_path).resolve().as_uri() + (f"#{fragment}" if fragment else "")
    with tempfile.TemporaryDirectory(prefix="scare-chromium-") as tmp:
        cmd = [exe, *FLAGS, f"--user-data-dir={tmp}/profile", f"--virtual-time-budget={budget_ms}",
               f"--window-size={window[0]},{window[1]}", f"--screenshot={png}", url]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, errors="replace")
        if not png.exists():
            raise RuntimeError(f"chromium wrote no screenshot ({proc.returncode}): {proc.stderr[-2000:]}")
    return png


class _ChartCounter(HTMLParser):
    """Counts, per ``div.chart``, the plotly SVG roots and drawn trace groups inside it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str | None]] = []  # (tag, chart id if this element opens a chart)
        self.charts: dict[str, dict[str, int]] = {}
        self.current: list[str] = []
        self.body: dict[str, str] = {}

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "body":
            self.body = a
        classes = a.get("class", "").split()
        opened = None
        if tag == "div" and "chart" in classes and a.get("data-fig"):
            opened = a.get("id") or a["data-fig"]
            self.charts[opened] = {"main_svg": 0, "traces": 0}
            self.current.append(opened)
        if self.current:
            c = self.charts[self.current[-1]]
            if tag == "svg" and "main-svg" in classes:
                c["main_svg"] += 1
            if "trace" in classes or "hm" in classes:
                c["traces"] += 1
        if tag not in self.VOID:
            self.stack.append((tag, opened))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        saved = self.stack[:]
        self.handle_starttag(tag, attrs)
        self.stack = saved

    def handle_endtag(self, tag: str) -> None:
        if not any(t == tag for t, _ in self.stack):
            return  # stray end tag
        while self.stack:
            t, opened = self.stack.pop()
            if opened is not None and self.current and self.current[-1] == opened:
                self.current.pop()
            if t == tag:
                break


def chart_report(dom: str) -> tuple[dict[str, dict[str, int]], dict[str, str]]:
    """({chart id: {"main_svg": n, "traces": n}}, body attributes) of a rendered DOM."""
    p = _ChartCounter()
    p.feed(dom)
    p.close()
    return p.charts, p.body
