"""Write the metric table of docs/metrics.md from the metric registry (backtests/scoring/registry.py).

``python scripts/metric_docs.py`` rewrites the block between the registry markers in place;
``--check`` exits 1 when the file is out of date (tests/scoring/test_registry.py checks the same).
"""

from __future__ import annotations

import sys
from pathlib import Path

from backtests.scoring import registry

sys.path.insert(0, str(Path(__file__).resolve().parent))
from doc_blocks import rewrite  # noqa: E402 - the scripts folder's helper

DOC = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"


def rewritten(text: str) -> str:
    start, end = text.index(registry.DOCS_BEGIN), text.index(registry.DOCS_END) + len(registry.DOCS_END) + 1
    return text[:start] + registry.docs_block() + text[end:]


def main(argv: list[str]) -> int:
    return rewrite(DOC, rewritten, argv, "metric_docs.py")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
