"""examples/scare_api.ipynb runs top to bottom (on the synthetic replay, no network) and is kept in
git without outputs, so it cannot rot and its diffs stay readable."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "examples" / "scare_api.ipynb"


def test_the_notebook_is_kept_without_outputs() -> None:
    doc = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    for cell in doc["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, "strip the notebook's outputs"


@pytest.mark.slow
def test_the_notebook_runs_top_to_bottom(tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    t0 = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - t0
    outputs = {i: cell.get("outputs", []) for i, cell in enumerate(nb.cells) if cell.cell_type == "code"}
    errors = [o for out in outputs.values() for o in out if o.get("output_type") == "error"]
    assert not errors, errors
    text = json.dumps([o for out in outputs.values() for o in out])
    assert "refused:" in text and "PeekingHaltDip" in text  # the look-ahead variant was refused
    assert "scare-result" in text  # the result's verdict was displayed as HTML
    print(f"notebook ran in {elapsed:.1f} s")
