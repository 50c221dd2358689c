"""Write the column tables of docs/api.md from backtests/api/columns.py.

``python scripts/api_docs.py`` rewrites each frame's block between its markers in place; ``--check``
exits 1 when the file is out of date (tests/api/test_docs.py checks the same).
"""

from __future__ import annotations

import sys
from pathlib import Path

from backtests.api.columns import DOCS_BEGIN, DOCS_END, FRAMES, docs_table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from doc_blocks import rewrite  # noqa: E402 - the scripts folder's helper

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def rewritten(text: str) -> str:
    """``text`` with every frame's column table replaced by the one declared in columns.py."""
    for frame in FRAMES:
        begin, end = DOCS_BEGIN.format(frame=frame), DOCS_END.format(frame=frame)
        a, b = text.index(begin), text.index(end) + len(end)
        text = text[:a] + f"{begin}\n{docs_table(frame)}\n{end}" + text[b:]
    return text


def main(argv: list[str]) -> int:
    return rewrite(DOC, rewritten, argv, "api_docs.py")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
