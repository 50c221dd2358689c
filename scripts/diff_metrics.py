"""Every value that differs between two metrics.json files, by JSON path.

    python scripts/diff_metrics.py OLD/metrics.json NEW/metrics.json [--max N] [--summary] [--noise REL]

Records of the ``runs`` and ``pooled`` lists are matched by their ``id`` (``strategies`` by
``label``), so a change of one run reads as that run's path, not as a shifted list. Numbers are
compared exactly (a byte-identical file prints nothing). ``--summary`` prints one line per path
pattern (ids and list positions replaced by ``*``) with the number of changed values. ``--noise
REL`` sets apart numbers that differ by at most ``REL`` relative (float rounding, e.g. ``1e-12``):
they are counted, not listed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

KEYED = {"runs": "id", "pooled": "id", "strategies": "label"}


def _keyed(items: list[Any], key: str) -> dict[str, Any] | None:
    if all(isinstance(x, dict) and key in x for x in items):
        out = {str(x[key]): x for x in items}
        return out if len(out) == len(items) else None
    return None


def diff(a: Any, b: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """``(path, old, new)`` for every leaf that differs (missing: ``<absent>``)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if k not in a:
                yield f"{path}.{k}", "<absent>", b[k]
            elif k not in b:
                yield f"{path}.{k}", a[k], "<absent>"
            else:
                yield from diff(a[k], b[k], f"{path}.{k}")
        return
    if isinstance(a, list) and isinstance(b, list):
        name = path.rsplit(".", 1)[-1]
        if name in KEYED:
            ka, kb = _keyed(a, KEYED[name]), _keyed(b, KEYED[name])
            if ka is not None and kb is not None:
                yield from diff(ka, kb, path)
                return
        if len(a) != len(b):
            yield f"{path}[len]", len(a), len(b)
        for i, (x, y) in enumerate(zip(a, b)):
            yield from diff(x, y, f"{path}[{i}]")
        return
    if a != b or type(a) is not type(b) and not (isinstance(a, (int, float)) and isinstance(b, (int, float))):
        yield path, a, b


def is_noise(a: Any, b: Any, rel: float) -> bool:
    """Both finite numbers (not bools) within ``rel`` of each other, relative to the larger."""
    if rel <= 0 or isinstance(a, bool) or isinstance(b, bool):
        return False
    if not (isinstance(a, (int, float)) and isinstance(b, (int, float))):
        return False
    return abs(a - b) <= rel * max(abs(a), abs(b))


def pattern(path: str, labels: dict[str, str] | None = None) -> str:
    """The path with list positions replaced by ``*`` and run/pooled ids by ``<strategy label>:*``
    (``labels``: id -> label) or ``*``."""
    labels = labels or {}
    path = re.sub(r"\.(runs|pooled)\.([0-9a-f]{12})",
                  lambda m: f".{m.group(1)}.{labels[m.group(2)] + ':' if m.group(2) in labels else ''}*", path)
    return re.sub(r"\[\d+\]", "[*]", path)


def record_labels(*docs: Any) -> dict[str, str]:
    """Run and pooled record id -> strategy label, from the documents."""
    return {str(r["id"]): str(r.get("strategy")) for d in docs for k in ("runs", "pooled")
            for r in (d.get(k) or []) if isinstance(r, dict) and "id" in r}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old", type=Path)
    ap.add_argument("new", type=Path)
    ap.add_argument("--max", type=int, default=200, help="print at most this many differences (default 200)")
    ap.add_argument("--summary", action="store_true", help="count differences per path pattern")
    ap.add_argument("--noise", type=float, default=0.0, help="relative difference counted as float noise")
    args = ap.parse_args(argv)
    a, b = json.loads(args.old.read_text()), json.loads(args.new.read_text())
    found = list(diff(a, b))
    noise = [d for d in found if is_noise(d[1], d[2], args.noise)]
    found = [d for d in found if not is_noise(d[1], d[2], args.noise)]
    if noise:
        worst = max(abs(x - y) / max(abs(x), abs(y)) for _, x, y in noise)
        print(f"{len(noise)} difference(s) within {args.noise:g} relative (largest {worst:.2e}), e.g. "
              f"{', '.join(sorted({pattern(p) for p, _, _ in noise})[:6])}", file=sys.stderr)
    if args.summary:
        labels = record_labels(a, b)
        for pat, n in sorted(Counter(pattern(p, labels) for p, _, _ in found).items()):
            print(f"{n:6d}  {pat}")
    else:
        for p, x, y in found[: args.max]:
            print(f"{p}: {json.dumps(x)[:120]} -> {json.dumps(y)[:120]}")
        if len(found) > args.max:
            print(f"... {len(found) - args.max} more")
    print(f"{len(found)} difference(s)", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
