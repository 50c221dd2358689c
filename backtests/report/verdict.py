"""The verdict: one table on the first screen answering "does this trade work across shocks, and
how sure am I", and the run's named warnings next to it.

Every number in the table is read from metrics.json, never recomputed here: each cell carries
the JSON pointer of its source (``data-key="/strategies/0/event_level/3/mean"``) so a test (or a
reader with the file) can check it. Missing keys (an older run, a statistic that could not be
computed) show a dash with the reason, never a made-up figure.
"""

from __future__ import annotations

import json
from typing import Any

from backtests.report.fmt import DASH, esc, is_missing, params_text, pct
from backtests.report.page import Page, fold, section, table
from backtests.report.readings import Pointers, Reader, fmt_value, reading, resolve
from backtests.report.view import StudyView

NOT_IN_RUN = "not available in this run (metrics.json has no event-level results: run it with scare 0.2)"

__all__ = ["Cells", "NOT_IN_RUN", "audit_block", "fmt_value", "reading", "resolve", "verdict", "verdict_rows",
           "warnings_block", "warnings_table"]


class Cells(Reader):
    """Formats values read from metrics.json into cells that name their source."""

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


def strategy_rows(cells: Cells, view: StudyView, r: dict[str, Any], state: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """The verdict rows of one strategy: its numbers, its reading, its baselines (the matched one,
    the same vehicles over the same spans, first; then the contract's; then buy-and-hold runs)."""
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
    matched_p = f"/strategies/{si}/matched_baseline/{combo}"
    matched = _dict(cells.get(matched_p))
    reason_el = (el or {}).get("nan_reason") if isinstance(el, dict) else None
    rows.append(("main", [
        f'{name}<br><span class="note">{esc(which)}: </span><span class="params">{params}</span>',
        f'{cells.cell(el_p + "/n_traded", "count")} / {cells.cell(el_p + "/n_events", "count")}'
        f'<br><span class="note">{cells.cell(el_p + "/n_clusters", "count")} cluster{"" if cells.get(el_p + "/n_clusters") == 1 else "s"}</span>'
        + excluded_note(cells, el_p),
        cells.cell(el_p + "/mean", signed=True, reason=reason_el),
        f'{cells.cell(el_p + "/ci_low", signed=True, reason=reason_el)} to {cells.cell(el_p + "/ci_high", signed=True, reason=reason_el)}'
        + ci_note(cells, el_p),
        cells.cell(el_p + "/median", signed=True, reason=reason_el),
        cells.cell(el_p + "/win_rate"),
        cells.cell(el_p + "/p_value", "p", reason=reason_el),
        f'{cells.cell(loco_p + "/mean", signed=True, reason=cells.get(loco_p + "/nan_reason"))}'
        f'<br><span class="note">in sample {cells.cell(loco_p + "/in_sample_mean", signed=True)}'
        f' · won {cells.cell(loco_p + "/win_rate")}</span>',
        cells.cell(loco_p + "/gap", "pct", reason=cells.get(loco_p + "/nan_reason")),
        f'{cells.cell(trust_p + "/dsr", "num", reason=cells.get(trust_p + "/notes"))}<br><span class="note">{n_text}</span>',
        cells.cell(f"/strategies/{si}/pbo", "num", reason="one parameter set: nothing to overfit" if len(sv.pooled) <= 1 else None),
    ]))
    # baselines: matched (same vehicles, same spans), the contract's block (long the first traded
    # symbol over the same episodes), then the buy-and-hold strategies of the config on the same windows
    bases: list[tuple[str, str]] = []  # (label html, pointer of an EventLevel)
    if matched is not None and not sv.is_baseline:
        bases.append((f'matched: <span title="{esc(matched.get("rule") or "")}">{esc(matched.get("label") or "same vehicles, same spans")}</span>',
                      matched_p + "/event_level"))
    if isinstance(base, dict) and not sv.is_baseline:
        bases.append((f'baseline: <span title="{esc(base.get("rule") or "")}">long {esc(base.get("symbol") or "?")}, '
                      'same windows</span>', f"/strategies/{si}/baseline/event_level"))
    strat_index = {str(x.get("label", x.get("name"))): i for i, x in enumerate(view.metrics.get("strategies") or [])}
    for b in sv.baselines:
        bi, bc = strat_index.get(b.label), (b.best if b.best is not None else b.default)
        if bi is not None and bc is not None and _dict(cells.get(f"/strategies/{bi}/event_level/{bc}")):
            bases.append((f'baseline: {esc(b.label)} <span class="note">(buy_and_hold, same windows)</span>',
                          f"/strategies/{bi}/event_level/{bc}"))
    ptrs = Pointers(el=el_p, loco=loco_p, trust=trust_p, pbo=f"/strategies/{si}/pbo",
                    matched=matched_p if matched is not None and not sv.is_baseline else None,
                    contract=f"/strategies/{si}/baseline/event_level" if isinstance(base, dict) and not sv.is_baseline else None,
                    contract_symbol=str((base or {}).get("symbol") or "") or None)
    rows.append(("reading", [reading(cells, ptrs)]))
    for lab, bp in bases:
        rows.append(("base", [
            lab, f'{cells.cell(bp + "/n_traded", "count")} / {cells.cell(bp + "/n_events", "count")}',
            cells.cell(bp + "/mean", signed=True), f'{cells.cell(bp + "/ci_low", signed=True)} to {cells.cell(bp + "/ci_high", signed=True)}',
            cells.cell(bp + "/median", signed=True), cells.cell(bp + "/win_rate"), cells.cell(bp + "/p_value", "p"),
            "", "", "", "",
        ]))
    return rows


def excluded_note(cells: Cells, el_p: str) -> str:
    """Windows left out of the event statistics (``signal_missing``), on the row itself."""
    n = cells.num(el_p + "/n_excluded")
    if not n:
        return ""
    wins = [str(x.get("window")) for x in cells.get(el_p + "/excluded") or [] if isinstance(x, dict)]
    return (f'<br><span class="warnline" title="{esc(", ".join(wins))}">{cells.cell(el_p + "/n_excluded", "count")} '
            f'left out: signal_missing</span>')


def ci_note(cells: Cells, el_p: str) -> str:
    """How the interval was made: the t interval's degrees of freedom, or the cluster bootstrap."""
    method = cells.get(el_p + "/ci_method")
    if not isinstance(method, str):
        return ""
    if cells.num(el_p + "/df") is not None and "t interval" in method:
        return f'<br><span class="note" title="{esc(method)}">t, {cells.cell(el_p + "/df", "count")} df</span>'
    if "bootstrap" in method:
        return f'<br><span class="note" title="{esc(method)}">bootstrap</span>'
    return ""  # no interval: the dash says why


def verdict(page: Page, view: StudyView, warnings_html: str, audit_html: str = "") -> str:
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
        return section("Verdict", "No strategy produced results.", warnings_html + audit_html, page.anchor("Verdict"))
    headers = ["Strategy and set", "Traded / events", "Mean per event", f"{pct(conf).replace('.00', '')} interval",
               "Median", "Win rate", "p: mean = 0", "Out of sample (LOCO, per cluster)", "In − out gap", "DSR", "PBO"]
    body = verdict_table(headers, rows)
    note = ("" if any_events else f'<p class="note">Event-level columns: {esc(NOT_IN_RUN)}.</p>')
    explain = ("Each strategy's best-ranked set judged shock by shock: simple return per event (window); the p-value "
               "that leads is the cluster-robust t test of \"mean return per event = 0\" (overlapping windows or one "
               "shock in two markets = one cluster; Student t with clusters − 1 df) and the interval is that test's "
               "(a cluster bootstrap from 30 clusters on); out of sample: each cluster held out, parameters chosen on "
               "the rest (mean of the clusters' returns, against the in-sample best's on the same clusters). DSR "
               "deflates for N distinct sets tried; PBO: chance the in-sample best is below median out of sample. "
               "Grey: baselines, the matched one (same vehicles, same holding spans) first.")
    return section("Verdict", explain, warnings_html + audit_html + body + note, page.anchor("Verdict"))


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


# ---------------------------------------------------------------------- audit
def audit_block(manifest: dict[str, Any]) -> str:
    """The look-ahead audit's verdict per strategy (manifest.json ``audit``): exhaustive or partial,
    cuts checked of candidates, reused from the cache or not; skipped under ``--no-audit``."""
    audit = manifest.get("audit") if isinstance(manifest.get("audit"), dict) else None
    if audit is None:
        return '<p class="warnline">Look-ahead audit: not recorded in this run\'s manifest.json.</p>'
    if not audit.get("enabled", True):
        return (f'<p class="warnline" style="color:#8a3b00">Look-ahead audit: skipped '
                f'({esc(audit.get("note") or "--no-audit")}).</p>')
    parts, warn = [], False
    for r in audit.get("strategies") or []:
        if not isinstance(r, dict):
            continue
        status = r.get("status") or r.get("verdict") or "?"
        partial = r.get("verdict") == "pass" and r.get("exhaustive") is False
        bad = r.get("verdict") not in (None, "pass")
        warn = warn or partial or bad
        text = (f'<b>{esc(r.get("strategy"))}</b> {esc(status)}'
                + (" – the other cuts are checked on the next run" if partial else "")
                + (' <span class="note">(cached verdict)</span>' if r.get("cached") else ""))
        parts.append(f'<span style="color:#8a3b00">{text}</span>' if partial or bad else text)
    if not parts:
        return '<p class="warnline">Look-ahead audit: no strategy audited.</p>'
    return (f'<p class="warnline{"" if warn else " ok"}">Look-ahead audit (cuts checked of candidates): '
            + " · ".join(parts) + "</p>")


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
