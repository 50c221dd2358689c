"""Shock events and the windows around them, counted in the defining market's sessions.

An :class:`Event` has a UTC instant (from its date, timing and optional local time). Its t = 0 is
the first session of its market that *closes at or after* that instant, i.e. the first session
that can react: an after-close earnings release on D has t = 0 on the next session; an intraday
crash has t = 0 on its own session. A :class:`Window` spans sessions t = -pre .. +post, from the
open of the first to the close of the last, in UTC.

Event times are never invented. An intraday event has a local time only when a source reports it
(``time_source`` says which, see docs/catalogue.md); without one it is stamped at the close of its
session, the first instant at which it is certainly known. ``before_open`` and ``after_close``
events are stamped one minute before the open / after the close of their date's session.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from backtests.bounded import load_yaml, parse_yaml, read_text
from backtests.names import MAX_LABEL, MAX_TEXT, label_problem
from backtests.time.calendars import (
    MARKETS, CalendarRangeError, LocalTimeError, get_market, localize, session_bounds, sessions,
)
from backtests.errors import WindowError

TIMINGS = ("before_open", "intraday", "after_close")
#: Largest events CSV read (an events YAML has the YAML bounds of :mod:`backtests.bounded`).
MAX_EVENTS_CSV_BYTES = 64 << 20
TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")


def parse_time_local(text: Any, where: str) -> str:
    """A local time ``HH:MM[:SS]`` (24 h), checked; a :class:`WindowError` naming ``where`` otherwise."""
    t = str(text).strip()
    if not TIME_RE.match(t):
        raise WindowError(f"time_local {t!r} is not a time of day HH:MM[:SS] (00:00..23:59)", where=where)
    return t


@dataclass(frozen=True)
class Event:
    """A dated shock in one market.

    Attributes
    ----------
    id, label, kind
        Identity (``kospi_crash_2026``), display name, and kind (``ai_shock``, ``micron_earnings``,
        ``krx_circuit_breaker``, ``crypto_liquidation`` or user-defined).
    market
        Market code whose sessions define the window.
    date
        Local date of the news in that market (naive Timestamp).
    timing
        ``before_open``, ``intraday`` or ``after_close``.
    time_local
        ``HH:MM[:SS]`` local time when a source reports it (intraday events). Without it an
        intraday event is stamped at its session's close (see :attr:`time_utc`).
    time_source
        Where :attr:`time_local` comes from (a citation, a user file, the config); ``None`` when
        the event has no reported time.
    shock
        Id of the shock this event belongs to when one shock is seen from several markets
        (DeepSeek R1 in New York on 2025-01-27 and in Seoul on 2025-01-31 share ``deepseek_r1``):
        events of one shock are one cluster for event-level statistics. ``None``: its own shock.
    attrs
        Extra attributes from the catalogue (e.g. ``verification`` of an earnings date).
    scheduled
        True when the date was public in advance (earnings): strategies may act before it.
        Unscheduled events (crashes, halts) may only be acted on from :attr:`time_utc` on.
    """

    id: str
    label: str
    kind: str
    market: str
    date: pd.Timestamp
    timing: str = "intraday"
    time_local: str | None = None
    description: str = ""
    attrs: tuple[tuple[str, str], ...] = ()
    scheduled: bool = False
    time_source: str | None = None
    shock: str | None = None

    @property
    def time_utc(self) -> pd.Timestamp:
        """The UTC instant the news is known in the market.

        The reported local time when there is one; else one minute before the open
        (``before_open``), one minute after the close (``after_close``), or the session close
        (``intraday`` with no reported time: known by then at the latest).
        """
        market = get_market(self.market)
        day = pd.DatetimeIndex([self.date])
        opens, closes = session_bounds(self.market, day)
        if self.time_local:
            h, m, *sec = (int(x) for x in self.time_local.split(":"))
            local = self.date + pd.Timedelta(hours=h, minutes=m, seconds=sec[0] if sec else 0)
            try:
                return localize(pd.DatetimeIndex([local]), market.tz)[0]
            except LocalTimeError as exc:
                raise WindowError(f"event {self.id!r}: time_local {self.time_local}: {exc.bare_message}; scare does "
                                  "not guess the instant: give a time that exists on that date") from None
        if self.timing == "before_open":
            return opens[0] - pd.Timedelta(minutes=1)
        if self.timing == "after_close":
            return closes[0] + pd.Timedelta(minutes=1)
        return closes[0]

    @property
    def time_rule(self) -> str:
        """How :attr:`time_utc` was set: ``reported``, ``before_open``, ``after_close`` or ``session_close``."""
        if self.time_local:
            return "reported"
        return self.timing if self.timing in ("before_open", "after_close") else "session_close"

    def attr(self, name: str, default: str | None = None) -> str | None:
        return dict(self.attrs).get(name, default)


def span_contains(start_utc: pd.Timestamp, end_utc: pd.Timestamp, stamps: Any) -> Any:
    """Which UTC ``stamps`` lie in the span ``(start_utc, end_utc]``: the window membership rule.

    A bar stamped at a window's start (the open of its first session) closed before the window
    began and is not in it; a bar stamped at its end (the close of its last session) is.
    :meth:`Window.contains` applies it to a window; spans that are not windows (the scoring
    stage's :class:`~backtests.scoring.calendar_time.Span`) call it directly.

    Parameters
    ----------
    start_utc, end_utc
        tz-aware UTC bounds.
    stamps
        :class:`pandas.DatetimeIndex` or int64 ns UTC array (any shape).

    Returns
    -------
    numpy.ndarray
        bool, the shape of ``stamps``.
    """
    if isinstance(stamps, pd.DatetimeIndex):
        stamps = stamps.as_unit("ns").asi8
    lo, hi = pd.Timestamp(start_utc).as_unit("ns").value, pd.Timestamp(end_utc).as_unit("ns").value
    return (stamps > lo) & (stamps <= hi)


@dataclass(frozen=True)
class Window:
    """Sessions t = -pre..+post of an event's market around its t = 0 session.

    Attributes
    ----------
    sessions
        Local session dates, one per event time t = -pre..+post.
    opens, closes
        UTC open and close instants of those sessions.
    start_utc, end_utc
        Open of the first session and close of the last: bars stamped in (start, end] belong to it.
    """

    id: str
    event: Event
    pre: int
    post: int
    sessions: pd.DatetimeIndex
    opens: pd.DatetimeIndex
    closes: pd.DatetimeIndex
    #: Selected by kind ("every event of this kind"): dropped, not an error, when the data does
    #: not cover it.
    by_kind: bool = False

    @property
    def market(self) -> str:
        return self.event.market

    @property
    def shock(self) -> str | None:
        """The shock this window's event belongs to (see :attr:`Event.shock`)."""
        return self.event.shock

    @property
    def start_utc(self) -> pd.Timestamp:
        return self.opens[0]

    @property
    def end_utc(self) -> pd.Timestamp:
        return self.closes[-1]

    @property
    def t0_session(self) -> pd.Timestamp:
        return self.sessions[self.pre]

    def contains(self, stamps: Any) -> Any:
        """Which UTC ``stamps`` belong to this window: those in ``(start_utc, end_utc]``.

        The one membership rule of the framework (engine rows, coverage, pooling, first fill), see
        :func:`span_contains`. ``stamps`` is a :class:`pandas.DatetimeIndex` or an int64 ns array;
        returns a bool array of the same length.
        """
        return span_contains(self.start_utc, self.end_utc, stamps)

    @property
    def event_times(self) -> range:
        return range(-self.pre, self.post + 1)

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id, "label": self.event.label, "kind": self.event.kind, "market": self.market,
            "event_date": self.event.date.date().isoformat(), "event_time_utc": self.event.time_utc.isoformat(),
            "timing": self.event.timing, "time_rule": self.event.time_rule,
            "time_source": self.event.time_source, "shock": self.event.shock, "pre": self.pre, "post": self.post,
            "t0_session": self.t0_session.date().isoformat(),
            "start_utc": self.start_utc.isoformat(), "end_utc": self.end_utc.isoformat(),
            "sessions": int(len(self.sessions)),
        }


@dataclass
class Catalogue:
    """Named events by id, in a stable order."""

    events: dict[str, Event] = field(default_factory=dict)

    def add(self, event: Event, where: str = "catalogue") -> None:
        if event.market not in MARKETS:
            raise WindowError(f"event {event.id!r} has unknown market {event.market!r}", where=where)
        if event.timing not in TIMINGS:
            raise WindowError(f"event {event.id!r} has unknown timing {event.timing!r}", where=where)
        if event.time_local:  # a reported time in a DST gap or repeated hour: refused where it is written
            try:
                event.time_utc  # noqa: B018 - computed for its check
            except WindowError as exc:  # a config's own window is located by the caller (its line)
                raise WindowError(exc.bare_message, where=None if where == "catalogue" else where) from None
        # A user file that lists an event the catalogue already has (same kind, market and date)
        # replaces it instead of doubling it.
        same = [k for k, e in self.events.items()
                if k != event.id and (e.kind, e.market, e.date) == (event.kind, event.market, event.date)]
        for k in same:
            del self.events[k]
        self.events[event.id] = event

    def get(self, event_id: str) -> Event:
        try:
            return self.events[event_id]
        except KeyError:
            hint = difflib.get_close_matches(event_id, list(self.events), n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else " (see: scare list windows)"
            raise WindowError(f"unknown window {event_id!r}{extra}") from None

    def kinds(self) -> list[str]:
        return sorted({e.kind for e in self.events.values()})

    def of_kind(self, kind: str) -> list[Event]:
        return sorted((e for e in self.events.values() if e.kind == kind), key=lambda e: (e.date, e.id))

    def frame(self) -> pd.DataFrame:
        """All events as a DataFrame (id, label, kind, market, date, timing, time_utc, ...)."""
        rows = [
            {"id": e.id, "label": e.label, "kind": e.kind, "market": e.market, "date": e.date,
             "timing": e.timing, "time_utc": e.time_utc, "scheduled": e.scheduled, "time_rule": e.time_rule,
             "time_source": e.time_source, "shock": e.shock, **dict(e.attrs)}
            for e in self.events.values()
        ]
        cols = ["id", "label", "kind", "market", "date", "timing", "time_utc", "scheduled", "time_rule",
                "time_source", "shock"]
        return pd.DataFrame(rows, columns=None if rows else cols)


def _event_from_mapping(item: dict[str, Any], where: str, defaults: dict[str, Any] | None = None,
                        time_source: str | None = None) -> Event:
    """An :class:`Event` from a catalogue/file mapping; ``time_source`` is the default provenance of
    a ``time_local`` that comes without its own ``time_source``."""
    d = {**(defaults or {}), **{k: v for k, v in item.items() if v not in (None, "")}}
    missing = [k for k in ("id", "kind", "market", "date") if k not in d]
    if missing:
        raise WindowError(f"event {d.get('id', '?')!r} is missing {', '.join(missing)}", where=where)
    for key in ("id", "label", "kind", "shock", "time_source", "description"):
        problem = label_problem(d[key], MAX_TEXT if key == "description" else MAX_LABEL,
                                "\n\t\r" if key == "description" else "") if isinstance(d.get(key), str) else None
        if problem:
            raise WindowError(f"event {key} {problem}", where=where)
    try:
        date = pd.Timestamp(str(d["date"])).normalize()
    except ValueError:
        raise WindowError(f"event {d['id']!r} has an unreadable date {d['date']!r}", where=where) from None
    known = {"id", "label", "kind", "market", "date", "timing", "time_local", "description", "scheduled",
             "time_source", "shock"}
    sched = d.get("scheduled", "earnings" in str(d["kind"]))
    if isinstance(sched, str):
        sched = sched.strip().lower() in {"1", "true", "yes"}
    time_local = parse_time_local(d["time_local"], where) if "time_local" in d else None
    source = str(d["time_source"]).strip() if "time_source" in d else (time_source if time_local else None)
    if time_local and not source:
        raise WindowError(f"event {d['id']!r} has time_local {time_local} without a time_source (where the time "
                          "comes from); drop the time to stamp the event at its session close", where=where)
    timing = "intraday" if time_local else str(d.get("timing", "intraday"))
    attrs = tuple(sorted((str(k), str(v)) for k, v in d.items() if k not in known))
    return Event(
        id=str(d["id"]), label=str(d.get("label", d["id"])), kind=str(d["kind"]), market=str(d["market"]),
        date=date, timing=timing, time_local=time_local,
        description=str(d.get("description", "")).strip(), attrs=attrs, scheduled=bool(sched),
        time_source=source, shock=str(d["shock"]) if "shock" in d else None,
    )


def _parse_timing(text: str) -> str:
    t = text.lower()
    if "after" in t or "pm" in t:
        return "after_close"
    if "before" in t or "pre-market" in t or "am" in t.split():
        return "before_open"
    return "intraday"


def load_builtin() -> Catalogue:
    """The catalogue shipped with scare (``backtests/catalogue/events.yaml``)."""
    text = resources.files("backtests").joinpath("catalogue/events.yaml").read_text(encoding="utf-8")
    cat = Catalogue()
    for item in parse_yaml(text, "built-in catalogue", WindowError)[0]["events"]:
        cat.add(_event_from_mapping(item, "built-in catalogue"))
    return cat


def load_event_file(
    cat: Catalogue, path: Path, kind: str | None = None, market: str | None = None,
    id_prefix: str | None = None, where: dict[str, Sequence[str]] | None = None,
    replace_kind: bool = True,
) -> int:
    """Merge events from a YAML (same shape as the built-in) or CSV file; returns how many.

    ``kind`` and ``market``, when given, override the rows' own columns (a file may label its
    market ``KOSPI`` where scare needs ``XKRX``); ``where`` filters on the rows' raw values first.
    A ``time_local`` or ``time_kst`` column (``HH:MM[:SS]``, ``~`` allowed) gives the local time.
    With ``kind`` and ``replace_kind``, catalogue events of that kind are dropped first, so the
    file *is* that kind's calendar (e.g. a filtered list of earnings dates).
    """
    name = str(path)
    if not path.exists():
        raise WindowError("events file not found", where=name)
    if kind and replace_kind:
        for k in [k for k, e in cat.events.items() if e.kind == kind]:
            del cat.events[k]
    forced = {k: v for k, v in {"kind": kind, "market": market}.items() if v}
    defaults: dict[str, Any] = {}
    added = 0
    if path.suffix.lower() in {".yaml", ".yml"}:
        # bounded like a study config: size before reading, nesting, aliases, duplicate keys
        doc = load_yaml(path, WindowError, what="events file")[0] or {}
        items = doc.get("events", []) if isinstance(doc, dict) else doc
        if not isinstance(items, list):
            raise WindowError("'events' must be a list of events", where=name)
        for item in items:
            if not isinstance(item, dict):
                raise WindowError("each event must be a mapping", where=name)
            cat.add(_event_from_mapping({**item, **forced}, name, defaults, time_source=f"user file {name}"),
                    where=name)
            added += 1
        return added
    text = read_text(path, MAX_EVENTS_CSV_BYTES, what="the events file", error=WindowError)
    with io.StringIO(text, newline="") as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames or []
        date_col = next((c for c in ("date", "announce_date", "event_date") if c in fields), None)
        if date_col is None:
            raise WindowError("no date column (date, announce_date or event_date)", where=name)
        for lineno, row in enumerate(reader, start=2):
            if where and any(row.get(col, "") not in allowed for col, allowed in where.items()):
                continue
            item: dict[str, Any] = {k: v for k, v in row.items() if k and v not in (None, "")}
            item["date"] = row[date_col]
            item.pop(date_col, None) if date_col != "date" else None
            if "timing" in item:
                item["timing"] = _parse_timing(item["timing"])
            if "event" in item and "label" not in item:
                item["label"] = item.pop("event")
            raw_time = item.pop("time_kst", None) or item.get("time_local")
            if raw_time:
                # "~12:40" (approximate) and "14:14:30" are read; the seconds are kept
                m = re.search(r"(\d{1,2}):(\d{2})(:\d{2})?", str(raw_time))
                item["time_local"] = f"{int(m.group(1)):02d}:{m.group(2)}{m.group(3) or ''}" if m else None
                if m:
                    item["timing"] = "intraday"
            item.update(forced)
            k = item.get("kind") or kind
            if "id" not in item:
                prefix = id_prefix or k or path.stem
                item["id"] = f"{prefix}_{re.sub(r'[^0-9]', '_', str(row[date_col]).strip())}"
            if "label" not in item:
                item["label"] = f"{k or path.stem} {row[date_col]}"
            src = f"user file {name}:{lineno}" + (f" ({item['source']})" if item.get("source") else "")
            cat.add(_event_from_mapping(item, f"{name}:{lineno}", time_source=src), where=f"{name}:{lineno}")
            added += 1
    return added


def make_window(event: Event, pre: int, post: int, window_id: str | None = None) -> Window:
    """The window of ``pre`` sessions before and ``post`` after the event's t = 0 session."""
    where = window_id or event.id
    if pre < 0 or post < 0:
        raise WindowError(f"pre and post count sessions and cannot be negative (pre={pre}, post={post})", where=where)
    try:
        when = event.time_utc
        span = pd.Timedelta(days=7 * (pre + post) // 4 + 30)
        sched = sessions(event.market, event.date - span, event.date + span)
    except (CalendarRangeError, OverflowError, pd.errors.OutOfBoundsDatetime) as exc:
        what = exc.bare_message if isinstance(exc, CalendarRangeError) else "dates out of range"
        raise WindowError(f"pre: {pre} and post: {post} sessions around {event.date.date()} reach outside the "
                          f"market calendar: {what}", where=where) from None
    after = sched.index[(pd.DatetimeIndex(sched["close"]) >= when)] if len(sched) else sched.index
    if len(after) == 0:
        raise WindowError(f"no session of {event.market} after {when.isoformat()} in the calendar", where=where)
    t0 = sched.index.get_loc(after[0])
    lo, hi = t0 - pre, t0 + post
    if lo < 0 or hi >= len(sched):
        raise WindowError(f"the {event.market} calendar does not cover {pre} sessions before and {post} after",
                          where=where)
    part = sched.iloc[lo : hi + 1]
    return Window(
        id=window_id or event.id, event=event, pre=pre, post=post,
        sessions=pd.DatetimeIndex(part.index), opens=pd.DatetimeIndex(part["open"]),
        closes=pd.DatetimeIndex(part["close"]),
    )


def windows_from_refs(refs: Iterable[Any], cat: Catalogue, default_pre: int, default_post: int) -> list[Window]:
    """Resolve config window references (catalogue ids, kinds, explicit events) to windows.

    Duplicate ids keep their first occurrence; the order of the config is kept.
    """
    out: dict[str, Window] = {}
    for ref in refs:
        pre = default_pre if ref.pre is None else ref.pre
        post = default_post if ref.post is None else ref.post
        time_local = getattr(ref, "time_local", None)
        given = parse_time_local(time_local, "time_local") if time_local else None
        if ref.kind is not None:
            events = cat.of_kind(ref.kind)
            if not events:
                raise WindowError(f"no catalogue event of kind {ref.kind!r} (kinds: {', '.join(cat.kinds())})")
        elif ref.date is not None:
            ev = Event(id=ref.id, label=ref.label or ref.id, kind="custom", market=ref.market,
                       date=pd.Timestamp(ref.date), timing="intraday" if given else ref.timing,
                       time_local=given, time_source="study config (windows)" if given else None,
                       shock=getattr(ref, "shock", None))
            cat.add(ev)
            events = [ev]
        else:
            events = [cat.get(ref.id)]
            if given:  # the user's own time replaces the catalogue's (or the session-close stamp)
                ev = replace(events[0], time_local=given, timing="intraday", time_source="study config (windows)")
                cat.events[ev.id] = ev
                events = [ev]
        for ev in events:
            if ev.id not in out:
                w = make_window(ev, pre, post)
                out[ev.id] = replace(w, by_kind=True) if ref.kind is not None else w
    return list(out.values())
