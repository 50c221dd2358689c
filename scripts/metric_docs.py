"""Write the metric table of docs/metrics.md from the metric registry (backtests/scoring/registry.py).

``python scripts/metric_docs.py`` rewrites the block between the registry markers in place;
``--check`` exits 1 when the file is out of date (tests/scoring/test_registry.py checks the same).
"""

from __future__ import annotations

import sys
from pathlib import Path

from backtests.scoring import registry

DOC = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"


def main(argv: list[str]) -> int:
    text = DOC.read_text(encoding="utf-8")
    start, end = text.index(registry.DOCS_BEGIN), text.index(registry.DOCS_END) + len(registry.DOCS_END) + 1
    new = text[:start] + registry.docs_block() + text[end:]
    if "--check" in argv:
        print(f"{DOC}: {'up to date' if new == text else 'out of date: run python scripts/metric_docs.py'}")
        return 0 if new == text else 1
    if new != text:
        DOC.write_text(new, encoding="utf-8")
    print(f"{DOC}: {'updated' if new != text else 'already up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
