"""What an audit found, as plain JSON-ready data, one line for the CLI and a short text report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: verdicts: ``pass`` (no cut changed a decision), ``fail`` (look-ahead found), ``nondeterministic``
#: (two full runs disagree: the audit cannot judge), ``error`` (the strategy raised on every cut)
VERDICTS = ("pass", "fail", "nondeterministic", "error")


@dataclass
class Finding:
    """The first decision that changed when the data after a cut was removed.

    Attributes
    ----------
    cut_utc, cut_kind, cut_reasons
        The cut instant (ISO UTC; data stamped after it was removed), its kind and why it was chosen.
    stamp_utc
        Earliest decision stamp (ISO UTC, ``<= cut_utc``) that changed.
    combo, params
        The combination (grid row number and its parameter values) whose decision changed first.
    symbol
        The weight column that changed.
    full, truncated
        The weight in the full run and in the truncated one (None = no decision, NaN).
    changed
        How many (stamp, combination, symbol) decisions up to the cut changed.
    channels, channel_labels, attribution
        Channel ids responsible (``bars:<sym>``, ``intraday:<sym>``, ``fx:<sym>``, ``events``,
        ``nondeterminism``), their labels and how they were found (see
        :func:`backtests.audit.compare.attribute`).
    """

    cut_utc: str
    cut_kind: str
    cut_reasons: list[str]
    stamp_utc: str
    combo: int
    params: dict[str, Any]
    symbol: str
    full: float | None
    truncated: float | None
    changed: int
    channels: list[str]
    channel_labels: list[str]
    attribution: str


@dataclass
class AuditReport:
    """The verdict of one strategy's audit and what it cost.

    Attributes
    ----------
    strategy, source
        Strategy label and where its class is defined (``file:line``).
    verdict
        One of :data:`VERDICTS`.
    combinations, decision_stamps
        Size of the grid and of the full run's decision clock.
    cuts
        ``{kind: {"checked": n, "candidates": m}}`` for each kind of cut.
    skipped
        Cuts on which the strategy raised (``{"cut_utc", "error"}``): not evidence either way.
    calls, seconds, budget_seconds, max_cuts, seed
        Strategy calls made (full grid each), wall time, and the bounds the audit ran under.
    finding
        The first finding (``fail`` and ``nondeterministic`` only).
    cached
        True when the verdict came from the verdict cache (see :mod:`backtests.audit.verdicts`).
    cut_stamps
        The cuts checked (ISO UTC), in the order checked.
    """

    strategy: str
    source: str
    verdict: str
    combinations: int
    decision_stamps: int
    cuts: dict[str, dict[str, int]]
    skipped: list[dict[str, str]] = field(default_factory=list)
    calls: int = 0
    seconds: float = 0.0
    budget_seconds: float | None = None
    max_cuts: int | None = None
    seed: int = 0
    finding: Finding | None = None
    cached: bool = False
    cut_stamps: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    @property
    def checked(self) -> int:
        return sum(v["checked"] for v in self.cuts.values())

    @property
    def candidates(self) -> int:
        return sum(v["candidates"] for v in self.cuts.values())

    @property
    def exhaustive(self) -> bool:
        """Every candidate cut was checked (a pass on fewer is partial: no look-ahead found *so far*)."""
        return self.checked >= self.candidates

    def status(self) -> str:
        """The verdict in words with how much was checked: ``no look-ahead found in all 290 cuts``,
        ``no look-ahead found in 22 of 290 cuts (partial)``, ``look-ahead found``, ..."""
        if self.verdict == "pass":
            if self.exhaustive:
                return f"no look-ahead found in all {self.candidates} cuts"
            return f"no look-ahead found in {self.checked} of {self.candidates} cuts (partial)"
        return {"fail": "look-ahead found", "nondeterministic": "nondeterministic: the audit cannot judge",
                "error": "audit impossible: the strategy raised on every cut"}.get(self.verdict, self.verdict)

    def record(self) -> dict[str, Any]:
        """JSON-ready dict (the verdict cache and ``scare audit --json`` store exactly this)."""
        return asdict(self)

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> AuditReport:
        rec = dict(rec)
        f = rec.pop("finding", None)
        return cls(**rec, finding=Finding(**f) if f else None)

    def line(self) -> str:
        """One line: the verdict and, on failure, the first finding."""
        cost = f"{self.checked} of {self.candidates} cuts, {self.calls} calls, {self.seconds:.1f} s"
        if self.verdict == "pass":
            if self.exhaustive:
                return f"strategy {self.strategy!r}: no look-ahead found ({cost}: exhaustive)"
            return (f"strategy {self.strategy!r}: no look-ahead found in the cuts checked so far ({cost}: partial, "
                    f"the other {self.candidates - self.checked} are checked on the next run)")
        if self.verdict == "error":
            first = self.skipped[0] if self.skipped else {"cut_utc": "?", "error": "?"}
            return (f"strategy {self.strategy!r} ({self.source}): audit impossible, the strategy raised on every "
                    f"cut (first at {first['cut_utc']}: {first['error']})")
        f = self.finding
        assert f is not None
        params = ", ".join(f"{k}={v}" for k, v in f.params.items()) or "no parameters"
        if self.verdict == "nondeterministic":
            return (f"strategy {self.strategy!r} ({self.source}) is nondeterministic: two runs on the same data "
                    f"disagree at {f.stamp_utc} for {f.symbol} (combination {f.combo}: {params}): "
                    f"{_w(f.full)} then {_w(f.truncated)}; the audit cannot judge it")
        return (f"strategy {self.strategy!r} ({self.source}) looks ahead: its weight for {f.symbol} at "
                f"{f.stamp_utc} (combination {f.combo}: {params}) is {_w(f.full)} with all the data but "
                f"{_w(f.truncated)} with only the data known at {f.cut_utc} ({f.cut_kind} cut: {f.cut_reasons[0]}); "
                f"channel: {'; '.join(f.channel_labels)}")

    def text(self) -> str:
        """A few lines for ``scare audit``: the verdict, what was checked, what it cost."""
        lines = [self.line()]
        kinds = ", ".join(f"{k} {v['checked']}/{v['candidates']}" for k, v in self.cuts.items())
        bound = (f"max {self.max_cuts} cuts" if self.max_cuts is not None else
                 "no bound" if self.budget_seconds is None else f"budget {self.budget_seconds:.1f} s")
        lines.append(f"    cuts checked/candidates: {kinds} ({bound}, seed {self.seed})")
        lines.append(f"    {self.combinations} combinations x {self.decision_stamps} decision stamps; "
                     f"{self.calls} strategy calls in {self.seconds:.2f} s")
        if self.verdict == "pass" and self.checked < self.candidates:
            lines.append(f"    NOT exhaustive: {self.candidates - self.checked} candidate cuts left unchecked "
                         f"(raise --budget or --cuts)")
        if self.skipped:
            lines.append(f"    {len(self.skipped)} cut(s) skipped, the strategy raised: {self.skipped[0]['error']}")
        if self.finding is not None:
            f = self.finding
            lines.append(f"    {f.changed} decision(s) up to the cut changed; channel(s) found {f.attribution}: "
                         f"{', '.join(f.channels)}")
        return "\n".join(lines)


def _w(x: float | None) -> str:
    return "no decision (NaN)" if x is None else f"{x:g}"
