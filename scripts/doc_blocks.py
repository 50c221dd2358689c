"""Rewrite a doc's generated blocks in place, or check them (``--check``: exit 1 when stale): the
one loop behind scripts/metric_docs.py and scripts/api_docs.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def rewrite(doc: Path, rewritten: Callable[[str], str], argv: list[str], script: str) -> int:
    text = doc.read_text(encoding="utf-8")
    new = rewritten(text)
    if "--check" in argv:
        print(f"{doc}: {'up to date' if new == text else f'out of date: run python scripts/{script}'}")
        return 0 if new == text else 1
    if new != text:
        doc.write_text(new, encoding="utf-8")
    print(f"{doc}: {'updated' if new != text else 'already up to date'}")
    return 0
