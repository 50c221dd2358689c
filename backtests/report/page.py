"""Page building blocks of the tearsheet: sections, tables, chart slots, the page's CSS and JS.

Charts are drawn when they come near the viewport (an IntersectionObserver; all at once before
printing, or when the page's URL ends in ``#draw-all``), so the first screen, which holds the
verdict and no chart, is ready before the charts further down are drawn.

Every chart goes through :meth:`Page.chart`, which writes the chart's title and the data label
(``SYNTHETIC DATA`` or the real sources) into the figure itself (its plotly title), so a chart
exported as PNG from the page keeps both.
"""

from __future__ import annotations

import copy
import traceback
from collections.abc import Callable
from typing import Any

import pandas as pd

from backtests.report.fmt import esc, slug

SYNTHETIC_COLOR = "#D55E00"


class Page:
    """Collects figures (one JSON blob) and section ids while sections render.

    ``data_label`` is stamped on every chart: plain text, escaped here.
    """

    def __init__(self, data_label: str = "", synthetic: bool = False) -> None:
        self.figures: dict[str, dict[str, Any]] = {}
        self.titles: dict[str, str] = {}  # figure id -> its title as given (plain text)
        self.names: dict[str, str] = {}  # figure id -> its name as given ("<strategy label>-equity")
        self.ids: set[str] = set()
        self.toc: list[tuple[str, str, int]] = []
        self.data_label = data_label
        self.synthetic = synthetic

    def chart(self, fig: dict[str, Any], name: str, title: str, cls: str = "") -> str:
        fid = slug(f"fig-{name}", self.ids)
        fig = copy.copy(fig)
        layout = dict(fig.get("layout") or {})
        color = SYNTHETIC_COLOR if self.synthetic else "#555"
        tag = f'<span style="color:{color};font-weight:bold">{esc(self.data_label)}</span>' if self.data_label else ""
        layout["title"] = {"text": f"<b>{esc(title)}</b>" + (f"  ·  {tag}" if tag else ""), "x": 0.005,
                           "xanchor": "left", "xref": "container", "y": 0.995, "yref": "container",
                           "yanchor": "top", "font": {"size": 12.5}}
        margin = dict(layout.get("margin") or {"l": 64, "r": 24, "t": 28, "b": 48})
        margin["t"] = max(int(margin.get("t", 28)), 64)
        # the plotly menu stands on the right edge, so it never covers the title and data label
        layout["modebar"] = {"orientation": "v", "bgcolor": "rgba(255,255,255,0.85)", "color": "#999"}
        layout["margin"] = margin
        fig["layout"] = layout
        self.figures[fid] = fig
        self.titles[fid] = title
        self.names[fid] = name
        height = layout.get("height")
        style = f' style="min-height:{int(height)}px"' if isinstance(height, (int, float)) else ""  # no jump when drawn late
        return (f'<div class="{"chart " + cls if cls else "chart"}" id="{fid}" data-fig="{fid}"{style} role="img" aria-label="{esc(title)}">'
                f'<noscript>Charts need JavaScript.</noscript></div>')

    def anchor(self, text: str, level: int = 2, short: str | None = None) -> str:
        sid = slug(f"s-{text}", self.ids)
        self.toc.append((sid, short or text, level))
        return sid


def section(title: str, explain: str, body: str, sid: str, level: int = 2, cls: str = "") -> str:
    return (f'<section id="{sid}" class="{cls}"><h{level}>{esc(title)}</h{level}>'
            f'<p class="explain">{explain}</p>{body}</section>')


def fold(summary: str, body: str, sid: str = "", open_: bool = False) -> str:
    """A collapsed block (``<details>``); charts inside redraw to full width when opened."""
    ident = f' id="{sid}"' if sid else ""
    return (f'<details class="fold"{ident}{" open" if open_ else ""}><summary>{summary}</summary>'
            f'<div class="fold-body">{body}</div></details>')


def grid(*cells: str) -> str:
    """Side-by-side blocks (two columns on a wide screen, one on a narrow one)."""
    return '<div class="grid">' + "".join(f'<div class="cell">{c}</div>' for c in cells if c) + "</div>"


def guarded(title: str, fn: Callable[[], str]) -> str:
    """Render a section; on an unexpected error show it in place instead of losing the page."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - the page must always render
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return (f'<div class="section-error"><strong>{esc(title)}: this part could not be drawn.</strong> '
                f'<code>{esc(tb)}</code></div>')


def table(headers: list[str], rows: list[list[str]], cls: str = "", num_from: int = 1,
          right: set[int] | None = None) -> str:
    """A table; cells are already-safe HTML. Columns from ``num_from`` (or those in ``right``)
    are right-aligned numbers."""
    def c(i: int) -> str:
        return "n" if (i in right if right is not None else i >= num_from) else ""

    head = "".join(f'<th class="{c(i)}" scope="col">{esc(h)}</th>' for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f'<td class="{c(i)}">{v}</td>' for i, v in enumerate(r)) + "</tr>" for r in rows)
    return f'<div class="scroll"><table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def na(why: str) -> str:
    """An empty-state note: a piece of the run that is not there, and why."""
    return f'<p class="empty">{why}</p>'


def when(ts: Any, tz: str | None = None, missing: str = "open") -> str:
    """A timestamp as 'YYYY-MM-DD HH:MM' in UTC, or in ``tz`` with its zone abbreviation."""
    if ts is None or (not isinstance(ts, str) and pd.isna(ts)):
        return f'<span class="na">{esc(missing)}</span>'
    t = pd.Timestamp(ts)
    if t.tzinfo is None:
        t = t.tz_localize("UTC")
    if tz:
        loc = t.tz_convert(tz)
        return f'<span class="nw">{esc(loc.strftime("%Y-%m-%d %H:%M ") + (loc.tzname() or tz))}</span>'
    return f'<span class="nw">{esc(t.tz_convert("UTC").strftime("%Y-%m-%d %H:%M"))}</span>'


def when_text(ts: Any, tz: str | None = None) -> str:
    """Plain-text version of :func:`when` for chart hover text ('' when missing)."""
    if ts is None or (not isinstance(ts, str) and pd.isna(ts)):
        return ""
    t = pd.Timestamp(ts)
    t = t.tz_localize("UTC") if t.tzinfo is None else t
    if tz and tz != "UTC":
        loc = t.tz_convert(tz)
        return f'{t.tz_convert("UTC").strftime("%Y-%m-%d %H:%M")} UTC ({loc.strftime("%m-%d %H:%M")} {loc.tzname()})'
    return t.tz_convert("UTC").strftime("%Y-%m-%d %H:%M UTC")


CSS = """
:root{--ink:#1d1d1d;--muted:#5a5a5a;--rule:#d9d9d9;--accent:#0072B2;--warn:#D55E00;--good:#006b4f}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--ink);margin:0;
 line-height:1.4;font-size:14.5px;background:#fff}
main{max-width:1400px;margin:0 auto;padding:.5rem 1.2rem 2rem}
h1{font-size:1.45rem;margin:.3rem 0 .1rem}h1 .sub{font-size:.95rem;color:var(--muted);font-weight:normal}
h2{font-size:1.25rem;border-bottom:2px solid var(--ink);padding-bottom:.15rem;margin:1.6rem 0 .3rem}
h3{font-size:1.02rem;margin:.9rem 0 .15rem}
.explain{color:var(--muted);margin:.05rem 0 .4rem;font-size:.88rem}
.note{font-size:.85rem;color:var(--muted);margin:.15rem 0}
.lede{font-size:.88rem;margin:.1rem 0 .1rem;color:#333}
.banner{background:#fff4e5;border:2px solid var(--warn);color:#000;padding:.3rem .7rem;margin:.3rem 0;font-size:.95rem}
.banner strong{color:var(--warn);letter-spacing:.04em}
.facts-line{font-size:.86rem;color:var(--muted);margin:.1rem 0 .3rem}.facts-line b{color:var(--ink);font-weight:600}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.1rem 1rem;margin:.3rem 0 .5rem;font-size:.88rem}
dl.facts dt{font-weight:600;color:var(--muted)}dl.facts dd{margin:0;overflow-wrap:anywhere}
details.fold{margin:.35rem 0;border-top:1px solid var(--rule);padding-top:.2rem}
details.fold>summary{cursor:pointer;color:var(--accent);font-weight:600;font-size:.92rem}
details.fold>summary .note{font-weight:normal}
.fold-body{padding:.2rem 0 .3rem}
pre{background:#f6f6f6;border:1px solid var(--rule);padding:.6rem;overflow:auto;max-height:32rem;font-size:.8rem}
code{font-size:.88em}
nav.toc{font-size:.85rem;margin:.6rem 0;color:var(--muted)}
nav.toc a{color:var(--accent);text-decoration:none}nav.toc a:hover{text-decoration:underline}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:.85rem;margin:.2rem 0 .4rem;font-variant-numeric:tabular-nums}
th,td{padding:.22rem .5rem;border-bottom:1px solid var(--rule);text-align:left;vertical-align:top}
th{border-bottom:2px solid #888;background:#fafafa;vertical-align:bottom}
td.n,th.n{text-align:right}td.n{white-space:nowrap}td{overflow-wrap:break-word}.nw{white-space:nowrap}
tbody tr:nth-child(even){background:#fbfbfb}table.verdict tbody tr{background:#fff}
table.verdict{font-size:.86rem;width:100%}table.verdict td{padding:.14rem .45rem}
table.verdict tr.main td{border-bottom:none}table.verdict tr.main td:first-child{max-width:30rem}
table.verdict tr.reading td{font-size:.84rem;color:#1d1d1d;padding:.05rem .45rem .25rem 1.2rem;border-bottom:1px dotted #ccc;font-style:italic}
table.verdict .params{font-size:.74rem}
table.verdict tr.base td{color:#555;background:#f3f3f3;border-bottom:2px solid #bbb;font-size:.8rem}
table.verdict tr.base td:first-child{padding-left:1.2rem}
.params{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.8rem;color:#333}
.na{color:#888}.empty{color:var(--muted);font-style:italic}.ok{color:var(--good)}
.pos{color:var(--good)}.neg{color:#b23c00}
.badge{display:inline-block;background:#fff4e5;border:1px solid var(--warn);color:#8a3b00;border-radius:3px;
 padding:0 .3rem;font-size:.75rem;margin-left:.3rem;white-space:nowrap}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:.2rem 1rem}
.cell{min-width:0}
.chart{width:100%;min-height:200px;margin:.1rem 0 .4rem}
.section-error{border:2px solid var(--warn);padding:.5rem;margin:.5rem 0;background:#fff4e5}
ul.warnings{margin:.2rem 0;padding-left:1.2rem;font-size:.85rem}ul.warnings li{color:#8a3b00}
.warnline{font-size:.88rem;margin:.3rem 0}
section.strategy{margin-top:1.6rem}
footer{margin-top:2rem;color:var(--muted);font-size:.82rem;border-top:1px solid var(--rule);padding-top:.5rem}
@media print{body{font-size:10.5pt}main{max-width:none;padding:0}nav.toc{display:none}
 .chart,table,section h3{break-inside:avoid}details>*{display:block}.banner{border-width:2px}}
"""

ERROR_HOOK = """(function(){var errs=[];window.__scareErrors=errs;function note(m){errs.push(String(m));
var b=document.body;if(b){b.setAttribute('data-js-errors',String(errs.length));}}
window.addEventListener('error',function(e){note(e.message||e);});
window.addEventListener('unhandledrejection',function(e){note(e.reason||'unhandled rejection');});
var ce=console.error;console.error=function(){note(Array.prototype.join.call(arguments,' '));return ce.apply(console,arguments);};})();"""

BOOT = """(function(){var figs=JSON.parse(document.getElementById('scare-figures').textContent);
var cfg={responsive:true,displaylogo:false,typesetMath:false,showLink:false,showSendToCloud:false,showEditInChartStudio:false,
 modeBarButtonsToRemove:['select2d','lasso2d'],toImageButtonOptions:{format:'png',scale:2}};
var divs=document.querySelectorAll('div.chart[data-fig]'),done=0,failed=0;
function finish(){var b=document.body;b.setAttribute('data-charts',divs.length+'/'+done+'/'+failed);
 b.setAttribute('data-js-errors',String((window.__scareErrors||[]).length));
 b.setAttribute('data-height',String(document.documentElement.scrollHeight));}
if(typeof Plotly==='undefined'){divs.forEach(function(d){d.textContent='Charts could not load (plotly.js missing).';});failed=divs.length;finish();return;}
function draw(div){if(div.getAttribute('data-state'))return;div.setAttribute('data-state','drawing');
 var f=figs[div.getAttribute('data-fig')];
 try{Plotly.newPlot(div,f.data,f.layout,cfg).then(function(){done++;div.setAttribute('data-drawn','1');finish();},
   function(e){failed++;div.textContent='Chart failed: '+e;console.error(e);finish();});}
 catch(e){failed++;div.textContent='Chart failed: '+e;console.error(e);finish();}}
var all=function(){divs.forEach(draw);};
if(location.hash.indexOf('draw-all')>=0||typeof IntersectionObserver==='undefined'){all();}
else{var io=new IntersectionObserver(function(es){es.forEach(function(e){if(e.isIntersecting){io.unobserve(e.target);draw(e.target);}});},
 {rootMargin:'800px 0px'});divs.forEach(function(d){io.observe(d);});}
window.addEventListener('beforeprint',all);window.__scareDrawAll=all;
document.querySelectorAll('details').forEach(function(d){d.addEventListener('toggle',function(){
 if(d.open){d.querySelectorAll('div.chart[data-drawn]').forEach(function(c){Plotly.Plots.resize(c);});}});});
finish();})();"""
