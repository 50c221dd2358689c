"""The verdict's reading: plain sentences generated from the numbers they cite.

Each sentence kind is one function of the metrics.json values it cites, read through their JSON
pointers (:class:`Reader`), and every number it prints is a ``<span class="v" data-key="POINTER"
data-kind="KIND">`` formatted by the verdict cells' one rule (:func:`fmt_value`), so a test (or a
reader with the file) can resolve each cited number and check that the words agree with it: sign
words ("stays negative", "turns positive") follow the value as printed, "beats"/"trails" the
printed difference, and "excludes zero" appears only when the interval excludes zero **and** the
test at the same level rejects. A sentence is wrapped in ``<span class="sentence"
data-sentence="KIND">``. Nothing here computes a statistic: a comparison the reading states (a
difference to a baseline) is a number scoring wrote.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from backtests.report.fmt import esc, pct

#: Fewer clusters than this: the reading says there are too few to be sure.
FEW_CLUSTERS = 5
#: DSR below this and PBO above that: the reading warns.
DSR_WARN, PBO_WARN = 0.95, 0.5


def resolve(doc: Any, pointer: str) -> Any:
    """The value at a JSON pointer (RFC 6901) in ``doc``; KeyError/IndexError when absent."""
    cur = doc
    for part in pointer.lstrip("/").split("/") if pointer else []:
        part = part.replace("~1", "/").replace("~0", "~")
        cur = cur[int(part)] if isinstance(cur, list) else cur[part]
    return cur


def fmt_value(v: Any, kind: str, signed: bool = False) -> str:
    """The one formatting rule of the verdict's cells and readings (the tests format metrics.json
    with it): ``pct`` a percentage, ``pts`` the size of a difference in percentage points (no
    sign: the words say which way), ``count``, ``p`` a p-value, ``num`` two decimals."""
    if kind == "pct":
        return pct(v, signed=signed)
    if kind == "pts":
        return f"{abs(float(v)) * 100:,.2f}"
    if kind == "count":
        return f"{int(round(float(v))):,d}"
    if kind == "p":
        return f"{float(v):.3f}" if float(v) >= 0.001 else "<0.001"
    return f"{float(v):,.2f}"


def shown(v: float, kind: str) -> float:
    """The value as printed (rounded as :func:`fmt_value` prints it): sign words follow this, so
    +0.00% is never called negative."""
    if kind in ("pct", "pts"):
        return round(float(v) * 100, 2) / 100
    if kind == "count":
        return float(round(float(v)))
    return round(float(v), 3 if kind == "p" else 2)


def sign_of(v: float, kind: str) -> int:
    """-1, 0 or 1: the sign of ``v`` as printed."""
    s = shown(v, kind)
    return (s > 0) - (s < 0)


class Reader:
    """Reads metrics.json values by JSON pointer and prints them as spans that name their source."""

    def __init__(self, metrics: dict[str, Any]) -> None:
        self.metrics = metrics

    def get(self, pointer: str) -> Any:
        try:
            return resolve(self.metrics, pointer)
        except (KeyError, IndexError, TypeError, ValueError):
            return None

    def num(self, pointer: str) -> float | None:
        """A finite number at ``pointer`` (None for null, absent, garbage or a bool)."""
        v = self.get(pointer)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return None
        return float(v) if math.isfinite(float(v)) else None

    def cite(self, pointer: str, kind: str = "pct", signed: bool = False) -> str:
        """The value at ``pointer`` printed as a span carrying its pointer (call only when defined)."""
        v = self.num(pointer)
        assert v is not None, pointer
        return (f'<span class="v" data-key="{esc(pointer)}" data-kind="{kind}">'
                f"{esc(fmt_value(v, kind, signed))}</span>")


@dataclass(frozen=True)
class Pointers:
    """Where one verdict row's numbers live in metrics.json.

    ``el``: the EventLevel of the shown combination; ``loco``: its out-of-sample block; ``trust``:
    its pooled record's trust block; ``pbo``: the strategy's PBO; ``matched``: its matched
    baseline block (None when the run has none), ``contract``: the contract baseline's EventLevel.
    """

    el: str
    loco: str
    trust: str
    pbo: str
    matched: str | None = None
    contract: str | None = None
    contract_symbol: str | None = None


Sentence = Callable[[Reader, Pointers], "str | None"]


def _wrap(kind: str, text: str) -> str:
    return f'<span class="sentence" data-sentence="{kind}">{text}.</span>'


def traded(r: Reader, p: Pointers) -> str | None:
    """How many events traded, in how many clusters, and how many of the traded ones won."""
    n, k, g = r.num(p.el + "/n_events"), r.num(p.el + "/n_traded"), r.num(p.el + "/n_clusters")
    if n is None or k is None:
        return None
    if k == 0:
        return _wrap("traded", f"Never traded in its {r.cite(p.el + '/n_events', 'count')} events")
    text = f"Traded {r.cite(p.el + '/n_traded', 'count')} of {r.cite(p.el + '/n_events', 'count')} events"
    if g is not None:
        text += f" ({r.cite(p.el + '/n_clusters', 'count')} cluster{'' if g == 1 else 's'})"
    if r.num(p.el + "/win_rate") is not None:
        text += f", {r.cite(p.el + '/win_rate')} of them won"
    return _wrap("traded", text)


def excluded(r: Reader, p: Pointers) -> str | None:
    """Windows left out of the event statistics (their signal series missing throughout)."""
    n = r.num(p.el + "/n_excluded")
    if not n:
        return None
    return _wrap("excluded", f"{r.cite(p.el + '/n_excluded', 'count')} window{'' if n == 1 else 's'} left out of "
                             "these statistics: a signal series the strategy declares is missing throughout "
                             "(signal_missing)")


def test(r: Reader, p: Pointers) -> str | None:
    """The leading test: the mean per event, its cluster-robust p-value and what it says at the level."""
    mean, pv = r.num(p.el + "/mean"), r.num(p.el + "/p_value")
    if mean is None:
        return None
    conf = r.num(p.el + "/ci_confidence") or 0.95
    text = f"Mean {r.cite(p.el + '/mean', signed=True)} per event"
    if pv is None:
        why = r.get(p.el + "/nan_reason")
        return _wrap("test", text + (f"; no test ({esc(why)})" if why else "; no test"))
    level = f"{(1 - conf) * 100:g}%"
    df = f", {r.cite(p.el + '/df', 'count')} df" if r.num(p.el + "/df") is not None else ""
    said = (f"different from zero at the {level} level" if pv < 1 - conf
            else f"not distinguishable from zero at the {level} level")
    return _wrap("test", f"{text}, p = {r.cite(p.el + '/p_value', 'p')} (cluster t{df}): {said}")


def interval(r: Reader, p: Pointers) -> str | None:
    """The interval of the mean, and whether it excludes zero: only when the test agrees."""
    lo, hi, pv = r.num(p.el + "/ci_low"), r.num(p.el + "/ci_high"), r.num(p.el + "/p_value")
    if lo is None or hi is None:
        return None
    conf = r.num(p.el + "/ci_confidence") or 0.95
    text = (f"{conf * 100:g}% interval {r.cite(p.el + '/ci_low', signed=True)} to "
            f"{r.cite(p.el + '/ci_high', signed=True)}")
    outside = lo > 0 or hi < 0
    if outside and pv is not None and pv < 1 - conf:
        word = "excludes zero (above it)" if lo > 0 else "excludes zero (below it)"
    elif outside:
        word = ("lies on one side of zero while the cluster t test does not reject at the same level: "
                "inconclusive")
    else:
        word = "includes zero"
    return _wrap("interval", f"{text} {word}")


def few(r: Reader, p: Pointers) -> str | None:
    """Too few clusters to be sure of anything."""
    g = r.num(p.el + "/n_clusters")
    if g is None or not 0 < g < FEW_CLUSTERS:
        return None
    return _wrap("few", f"Only {r.cite(p.el + '/n_clusters', 'count')} independent cluster{'' if g == 1 else 's'}: "
                        "too few to be sure")


def oos(r: Reader, p: Pointers) -> str | None:
    """Out of sample (leave one cluster out) against the in-sample best on the same clusters."""
    o, i = r.num(p.loco + "/mean"), r.num(p.loco + "/in_sample_mean")
    if o is None:
        why = r.get(p.loco + "/nan_reason")
        return _wrap("oos", f"No out-of-sample result ({esc(why)})") if isinstance(why, str) and why else None
    cited = f"{r.cite(p.loco + '/mean', signed=True)} per held-out cluster"
    if i is None:
        return _wrap("oos", f"Out of sample (each cluster held out) {cited}")
    against = f"{cited} against {r.cite(p.loco + '/in_sample_mean', signed=True)} in sample"
    so, si = sign_of(o, "pct"), sign_of(i, "pct")
    if si > 0:
        if so < 0:
            word = "reverses"
        elif so == 0:
            word = "is gone"
        else:
            word = "shrinks" if shown(o, "pct") < 0.75 * shown(i, "pct") else "holds"
    elif si < 0:
        word = {1: "turns positive", 0: "is flat", -1: "stays negative"}[so]
    else:
        word = {1: "turns positive", 0: "stays flat", -1: "turns negative"}[so]
    return _wrap("oos", f"Out of sample it {word}: {against}")


def baseline(r: Reader, p: Pointers) -> str | None:
    """Against the matched baseline (the same vehicles over the same spans): the difference scoring
    wrote, and its test; without one, the contract baseline's mean beside the strategy's."""
    if p.matched is not None and r.num(p.matched + "/difference/mean") is not None:
        d = r.num(p.matched + "/difference/mean")
        word = {1: "beats", 0: "matches", -1: "trails"}[sign_of(d, "pts")]
        what = r.get(p.matched + "/label")
        what = esc(what) if isinstance(what, str) else "holding the same vehicles over the same spans"
        text = f"It {word} {what}"
        text += f" by {r.cite(p.matched + '/difference/mean', 'pts')} points per event" if word != "matches" else \
            f" ({r.cite(p.matched + '/difference/mean', 'pts')} points per event)"
        pv = r.num(p.matched + "/difference/p_value")
        if pv is not None:
            conf = r.num(p.matched + "/difference/ci_confidence") or 0.95
            text += (f" (p = {r.cite(p.matched + '/difference/p_value', 'p')}: "
                     + ("a difference" if pv < 1 - conf else "no difference") + f" at {(1 - conf) * 100:g}%)")
        return _wrap("baseline", text)
    if p.contract is None:
        return None
    b, m = r.num(p.contract + "/mean"), r.num(p.el + "/mean")
    if b is None or m is None:
        return None
    sym = esc(p.contract_symbol or "the asset")
    word = {1: "above", 0: "level with", -1: "below"}[(shown(m, "pct") > shown(b, "pct")) - (shown(m, "pct") < shown(b, "pct"))]
    return _wrap("contract", f"Its mean {r.cite(p.el + '/mean', signed=True)} is {word} holding {sym} over the "
                             f"same windows ({r.cite(p.contract + '/mean', signed=True)} per event)")


def dsr(r: Reader, p: Pointers) -> str | None:
    d = r.num(p.trust + "/dsr")
    if d is None or d >= DSR_WARN:
        return None
    n = f" over {r.cite(p.trust + '/n_trials', 'count')} distinct trials" if r.num(p.trust + "/n_trials") is not None else ""
    return _wrap("dsr", f"DSR {r.cite(p.trust + '/dsr', 'num')}{n}: could be the luck of the best of many trials")


def pbo(r: Reader, p: Pointers) -> str | None:
    v = r.num(p.pbo)
    if v is None or v <= PBO_WARN:
        return None
    return _wrap("pbo", f"PBO {r.cite(p.pbo, 'num')}: likely overfit")


#: The sentence kinds, in the order they are read.
SENTENCES: tuple[Sentence, ...] = (traded, excluded, test, interval, few, oos, baseline, dsr, pbo)


def reading(r: Reader, p: Pointers) -> str:
    """The reading of one verdict row as HTML: its sentences, each from the numbers it cites."""
    if r.num(p.el + "/n_events") is None:
        return "No event-level results in this run."
    if r.num(p.el + "/n_traded") == 0:
        return traded(r, p) or ""
    return " ".join(s for s in (f(r, p) for f in SENTENCES) if s)
