"""The verdict: one table on the first screen answering "does this trade work across shocks, and
how sure am I", and the run's named warnings next to it.

Every number in the table is read from metrics.json, never recomputed here: each cell carries
the JSON pointer of its source (``data-key="/strategies/0/event_level/3/mean"``) so a test (or a
reader with the file) can check it. Missing keys (an older run, a statistic that could not be
computed) show a dash with the reason, never a made-up figure.
"""

from __future__ import annotations

import json
import math
from typing import Any

from backtests.report.fmt import DASH, esc, is_missing, num, params_text, pct
from backtests.report.page import Page, fold, section, table
from backtests.report.view import StrategyView, StudyView

NOT_IN_RUN = "not available in this run (metrics.json has no event-level results: run it with scare 0.2)"


def resolve(doc: Any, pointer: str) -> Any:
    """The value at a JSON pointer (RFC 6901) in ``doc``; KeyError/IndexError when absent."""
    cur = doc
    for part in pointer.lstrip("/").split("/") if pointer else []:
        part = part.replace("~1", "/").replace("~0", "~")
        cur = cur[int(part)] if isinstance(cur, list) else cur[part]
    return cur


class Cells:
    """Formats values read from metrics.json into cells that name their source."""

    def __init__(self, metrics: dict[str, Any]) -> None:
        self.metrics = metrics

    def get(self, pointer: str) -> Any:
        try:
            return resolve(self.metrics, pointer)
        except (KeyError, IndexError, TypeError, ValueError):
            return None

    def cell(self, pointer: str, kind: str = "pct", reason: str | None = None, signed: bool = False) -> str:
        v = self.get(pointer)
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            v = None if v is None else float("nan")
        if is_missing(v):
            why = reason or ("null in metrics.json" if self._present(pointer) else "not in this run's metrics.json")
            return f'<span class="na" data-key="{esc(pointer)}" title="{esc(why)}">{DASH}</span>'
        text = fmt_value(v, kind, signed)
        cls = ""
        if signed:
            cls = " pos" if float(v) > 0 else " neg" if float(v) < 0 else ""
        return f'<span class="v{cls}" data-key="{esc(pointer)}" data-kind="{kind}">{text}</span>'

    def _present(self, pointer: str) -> bool:
        head, _, last = pointer.rpartition("/")
        parent = self.get(head) if head else self.metrics
        return isinstance(parent, dict) and last in parent


def _dict(x: Any) -> dict[str, Any] | None:
    return x if isinstance(x, dict) else None


def _f(x: Any) -> float | None:
    """A finite float, or None (metrics.json values may be null, or garbage in a hand-edited file)."""
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def fmt_value(v: Any, kind: str, signed: bool = False) -> str:
    """The one formatting rule of the verdict cells (the tests format metrics.json with it)."""
    if kind == "pct":
        return pct(v, signed=signed)
    if kind == "count":
        return f"{int(round(float(v))):,d}"
    if kind == "p":
        return f"{float(v):.3f}" if float(v) >= 0.001 else "<0.001"
    return num(v)


# ---------------------------------------------------------------------- reading
def reading(el: dict[str, Any] | None, loco: dict[str, Any] | None, dsr: Any, pbo: Any,
            base: dict[str, Any] | None, base_symbol: str | None) -> str:
    """One plain-language line from the numbers of a verdict row (plain text)."""
    if not el or not _f(el.get("n_events")):
        return "No event-level results in this run."
    bits = []
    traded, nc = int(_f(el.get("n_traded")) or 0), int(_f(el.get("n_clusters")) or 0)
    if traded == 0:
        return f"Never traded in its {int(_f(el.get('n_events')) or 0)} windows."
    eps = [e for e in el.get("episodes") or [] if isinstance(e, dict) and e.get("traded")]
    cl = f"{nc} cluster{'s' if nc != 1 else ''}"
    rets = [_f(e.get("return")) for e in eps]
    win_rate = _f(el.get("win_rate"))
    if eps:
        wins = sum(1 for r in rets if r is not None and r > 0)
        bits.append(f"positive on {wins} of {traded} traded shocks ({cl})")
    elif win_rate is not None:
        bits.append(f"won {win_rate * 100:.0f}% of {traded} traded shocks ({cl})")
    lo, hi = _f(el.get("ci_low")), _f(el.get("ci_high"))
    if lo is not None and hi is not None:
        bits.append("interval excludes zero" if lo > 0 else "interval below zero" if hi < 0 else "interval includes zero")
    elif el.get("nan_reason"):
        bits.append(f"no interval ({el['nan_reason']})")
    if 0 < nc < 5:
        bits.append(f"only {cl}: too few to be sure")
    mean = _f(el.get("mean"))
    oos = _f((loco or {}).get("mean"))
    if oos is not None and mean is not None:
        ins = _f((loco or {}).get("in_sample_mean"))
        ins = mean if ins is None else ins
        if ins > 0:
            kept = oos / ins
            if oos <= 0:
                bits.append("out of sample it is gone" + (" and reversed" if oos < 0 else ""))
            elif kept < 0.75:
                bits.append(f"out of sample {(1 - kept) * 100:.0f}% of it is gone")
            else:
                bits.append("out of sample it mostly holds")
        else:
            bits.append("out of sample it turns positive" if oos > 0 else "out of sample it stays negative")
    elif loco and loco.get("nan_reason"):
        bits.append(f"no out-of-sample result ({loco['nan_reason']})")
    bmean = _f((base or {}).get("mean"))
    if bmean is not None and mean is not None:
        diff = mean - bmean
        bits.append(f"{'beats' if diff > 0 else 'trails'} holding {base_symbol or 'the asset'} by "
                    f"{abs(diff) * 100:.2f} points per event")
    d, p = _f(dsr), _f(pbo)
    if d is not None and d < 0.95:
        bits.append(f"DSR {d:.2f}: could be the luck of the best of many trials")
    if p is not None and p > 0.5:
        bits.append(f"PBO {p:.2f}: likely overfit")
    text = "; ".join(bits)
    return text[:1].upper() + text[1:] + "."


# ---------------------------------------------------------------------- table
def _index(metrics: dict[str, Any]) -> tuple[dict[str, int], dict[tuple[str, int], int]]:
    strat = {str(s.get("label", s.get("name"))): i for i, s in enumerate(metrics.get("strategies") or [])}
    pooled = {(str(p.get("strategy")), int(p.get("combo", -1))): i for i, p in enumerate(metrics.get("pooled") or [])}
    return strat, pooled


def verdict_rows(view: StudyView) -> list[dict[str, Any]]:
    """Per strategy that is not folded into another as its baseline: the pointers behind its row."""
    strat, pooled = _index(view.metrics)
    rows = []
    for sv in view.strategies:
        if sv.baseline_for:
            continue
        si = strat.get(sv.label)
        combo = sv.best if sv.best is not None else sv.default
        if si is None or combo is None:
            rows.append({"sv": sv, "si": si, "combo": combo, "pi": None})
            continue
        rows.append({"sv": sv, "si": si, "combo": combo, "pi": pooled.get((sv.label, combo))})
    return rows


def strategy_rows(cells: "Cells", view: StudyView, r: dict[str, Any], state: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """The verdict rows of one strategy: its numbers, its reading, its baseline."""
    rows: list[tuple[str, list[str]]] = []
    sv, si, combo, pi = r["sv"], r["si"], r["combo"], r["pi"]
    name = f'<a href="#{esc(sv.anchor)}"><b>{esc(sv.label)}</b></a>'
    if sv.is_baseline:
        name += ' <span class="note">(baseline)</span>'
    nwarn = view.warning_count(sv.label)
    if nwarn:
        name += f'<a class="badge" href="#{esc(sv.anchor)}-warnings" title="named warnings for this strategy">{nwarn} warning{"s" if nwarn > 1 else ""}</a>'
    if si is None or combo is None:
        rows.append(("main", [name] + [f'<span class="na">{DASH}</span>'] * 10))
        rows.append(("reading", ["No result for this strategy."]))
        return rows
    which = "best" if combo == sv.best else "default"
    if sv.best is not None and sv.best == sv.default:
        which = "best = default"
    params = esc(params_text(sv.params(combo), sv.swept() or None))
    el_p = f"/strategies/{si}/event_level/{combo}"
    el = _dict(cells.get(el_p))
    state["any_events"] = state["any_events"] or isinstance(el, dict)
    if isinstance(el, dict) and not is_missing(el.get("ci_confidence")):
        state["conf"] = float(el["ci_confidence"])
    loco_p = f"/strategies/{si}/oos/loco"
    trust_p = f"/pooled/{pi}/trust" if pi is not None else "/-"
    dsr_n = cells.get(f"{trust_p}/n_trials")
    n_raw = cells.get(f"{trust_p}/n_trials_raw")
    n_text = (f'N {cells.cell(f"{trust_p}/n_trials", "count")}'
              + (f' of {cells.cell(f"{trust_p}/n_trials_raw", "count")}' if n_raw is not None and n_raw != dsr_n else ""))
    base = _dict(cells.get(f"/strategies/{si}/baseline"))
    reason_el = (el or {}).get("nan_reason") if isinstance(el, dict) else None
    rows.append(("main", [
        f'{name}<br><span class="note">{esc(which)}: </span><span class="params">{params}</span>',
        f'{cells.cell(el_p + "/n_traded", "count")} / {cells.cell(el_p + "/n_events", "count")}'
        f'<br><span class="note">{cells.cell(el_p + "/n_clusters", "count")} cluster{"" if cells.get(el_p + "/n_clusters") == 1 else "s"}</span>',
        cells.cell(el_p + "/mean", signed=True, reason=reason_el),
        f'{cells.cell(el_p + "/ci_low", signed=True, reason=reason_el)} to {cells.cell(el_p + "/ci_high", signed=True, reason=reason_el)}',
        cells.cell(el_p + "/median", signed=True, reason=reason_el),
        cells.cell(el_p + "/win_rate"),
        cells.cell(el_p + "/p_value", "p"),
        f'{cells.cell(loco_p + "/mean", signed=True, reason=cells.get(loco_p + "/nan_reason"))}'
        f'<br><span class="note">in sample {cells.cell(loco_p + "/in_sample_mean", signed=True)}'
        f' · won {cells.cell(loco_p + "/win_rate")}</span>',
        cells.cell(loco_p + "/gap", "pct", reason=cells.get(loco_p + "/nan_reason")),
        f'{cells.cell(trust_p + "/dsr", "num", reason=cells.get(trust_p + "/notes"))}<br><span class="note">{n_text}</span>',
        cells.cell(f"/strategies/{si}/pbo", "num", reason="one parameter set: nothing to overfit" if len(sv.pooled) <= 1 else None),
    ]))
    # baselines: the contract's block (long the first traded symbol over the same episodes), then the
    # buy-and-hold strategies of the config that run on the same windows (their own event level)
    bases: list[tuple[str, str, str]] = []  # (label html, pointer of an EventLevel, symbol or label)
    if isinstance(base, dict) and not sv.is_baseline:
        bases.append((f'baseline: <span title="{esc(base.get("rule") or "")}">long {esc(base.get("symbol") or "?")}, '
                      'same episodes</span>', f"/strategies/{si}/baseline/event_level", str(base.get("symbol") or "")))
    strat_index = {str(x.get("label", x.get("name"))): i for i, x in enumerate(view.metrics.get("strategies") or [])}
    for b in sv.baselines:
        bi, bc = strat_index.get(b.label), (b.best if b.best is not None else b.default)
        if bi is not None and bc is not None and _dict(cells.get(f"/strategies/{bi}/event_level/{bc}")):
            bases.append((f'baseline: {esc(b.label)} <span class="note">(buy_and_hold, same windows)</span>',
                          f"/strategies/{bi}/event_level/{bc}", b.label))
    first = _dict(cells.get(bases[0][1])) if bases else None
    rows.append(("reading", [esc(reading(el, _dict(cells.get(loco_p)), cells.get(f"{trust_p}/dsr"),
                                         cells.get(f"/strategies/{si}/pbo"), first, bases[0][2] if bases else None))]))
    for lab, bp, _ in bases:
        rows.append(("base", [
            lab, f'{cells.cell(bp + "/n_traded", "count")} / {cells.cell(bp + "/n_events", "count")}',
            cells.cell(bp + "/mean", signed=True), f'{cells.cell(bp + "/ci_low", signed=True)} to {cells.cell(bp + "/ci_high", signed=True)}',
            cells.cell(bp + "/median", signed=True), cells.cell(bp + "/win_rate"), cells.cell(bp + "/p_value", "p"),
            "", "", "", "",
        ]))
    return rows


def verdict(page: Page, view: StudyView, warnings_html: str) -> str:
    cells = Cells(view.metrics)
    rows: list[tuple[str, list[str]]] = []
    state = {"conf": 0.95, "any_events": False}
    for r in verdict_rows(view):
        try:
            rows += strategy_rows(cells, view, r, state)
        except Exception as exc:  # noqa: BLE001 - one malformed strategy must not lose the verdict
            rows.append(("main", [f'<b>{esc(r["sv"].label)}</b>'] + [f'<span class="na">{DASH}</span>'] * 10))
            rows.append(("reading", [f'This row could not be read from metrics.json: {esc(type(exc).__name__)}: {esc(exc)}']))
    conf, any_events = state["conf"], state["any_events"]
    if not rows:
        return section("Verdict", "No strategy produced results.", warnings_html, page.anchor("Verdict"))
    headers = ["Strategy and set", "Traded / events", "Mean per event", f"{pct(conf).replace('.00', '')} interval",
               "Median", "Win rate", "p (cluster SE)", "Out of sample (LOCO, per cluster)", "In − out gap", "DSR", "PBO"]
    body = verdict_table(headers, rows)
    note = ("" if any_events else f'<p class="note">Event-level columns: {esc(NOT_IN_RUN)}.</p>')
    explain = ("Each strategy's best-ranked set judged shock by shock: simple return per event (window), the mean's "
               "cluster-bootstrap interval (overlapping windows or one shock in two markets = one cluster), and out "
               "of sample (each cluster held out, parameters chosen on the rest; mean of the clusters' returns, against "
               "the in-sample best's on the same clusters). DSR deflates for N distinct sets "
               "tried; PBO: chance the in-sample best is below median out of sample. Grey: buy-and-hold baseline.")
    return section("Verdict", explain, warnings_html + body + note, page.anchor("Verdict"))


def verdict_table(headers: list[str], rows: list[tuple[str, list[str]]]) -> str:
    """The verdict's rows: a strategy's numbers, its reading across the whole width, its baseline."""
    head = "".join(f'<th class="{"n" if i else ""}" scope="col">{esc(h)}</th>' for i, h in enumerate(headers))
    out = []
    for kind, cells in rows:
        if kind == "reading":
            out.append(f'<tr class="reading"><td colspan="{len(headers)}">{cells[0]}</td></tr>')
            continue
        tds = "".join(f'<td class="{"n" if i else ""}">{c}</td>' for i, c in enumerate(cells))
        out.append(f'<tr class="{kind}">{tds}</tr>')
    return (f'<div class="scroll"><table class="verdict"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(out)}</tbody></table></div>')


# ---------------------------------------------------------------------- warnings
def warnings_block(view: StudyView) -> str:
    """The top-level named warnings, counted by code, the list collapsed below."""
    ws = view.warnings
    if not ws:
        return '<p class="warnline ok">No named warnings in this run (metrics.json <code>warnings</code> is empty).</p>'
    by_code: dict[str, int] = {}
    for w in ws:
        by_code[str(w.get("code"))] = by_code.get(str(w.get("code")), 0) + int(w.get("count") or 1)
    summary = (f'<span style="color:#8a3b00">{len(ws):,d} named warning{"s" if len(ws) != 1 else ""}</span> '
               f'<span class="note">({", ".join(f"{esc(c)} × {n:,d}" for c, n in sorted(by_code.items()))}; '
               'per strategy in its section)</span>')
    return fold(summary, warnings_table(ws), sid="warnings")


def warnings_table(ws: list[dict[str, Any]]) -> str:
    rows = [[f"<code>{esc(w.get('code'))}</code>", esc(w.get("strategy") or ""), esc(w.get("window") or ""),
             esc(w.get("symbol") or ""), f'{int(w.get("count") or 1):,d}', esc(w.get("message") or json.dumps(w, default=str))]
            for w in ws]
    return table(["Code", "Strategy", "Window", "Symbol", "Count", "Message"], rows, right={4})
