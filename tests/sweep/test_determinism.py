"""metrics.json is byte-identical for any chunking, executor and RAM size, on the default study.

Chunks of 1, 5 and 20 runs, one chunk per strategy, a memory limit of half a megabyte (chunks of a
few combinations: the default chunk size depends on the machine's RAM), and the Dask executor (where the test environment has ``distributed``) must give
the same bytes: the notices each chunk states are aggregated after assembly (one per code,
strategy, window and symbol), and the rest is assembled in a canonical order.
"""

from __future__ import annotations

import pytest

from backtests.config import load_config
from backtests.jsonfmt import dumps
from backtests.orchestration.runner import run_study
from backtests.outputs.documents import metrics_document
from tests.conftest import ROOT

DEFAULT_STUDY = ROOT / "configs" / "scare_trades.yaml"


def _metrics(*overrides: str) -> str:
    loaded = load_config(DEFAULT_STUDY, list(overrides))
    study = run_study(loaded, write=False, progress=False, audit=False)
    return dumps(metrics_document(study))


@pytest.fixture(scope="module")
def unchunked() -> str:
    return _metrics("executor.chunk_runs=1000000000")


@pytest.mark.slow
@pytest.mark.parametrize("overrides", [("executor.chunk_runs=1",), ("executor.chunk_runs=5",),
                                       ("executor.chunk_runs=20",), ("executor.memory_limit_gb=0.0005",)],
                         ids=["chunks_of_1", "chunks_of_5", "chunks_of_20", "half_a_megabyte"])
def test_metrics_json_is_byte_identical_whatever_the_chunking(unchunked, overrides):
    assert _metrics(*overrides) == unchunked


@pytest.mark.slow
def test_metrics_json_is_byte_identical_on_dask(unchunked):
    pytest.importorskip("distributed")
    assert _metrics("executor.kind=dask", "executor.chunk_runs=100") == unchunked


def test_the_default_study_meets_the_notices_that_chunking_used_to_split(unchunked):
    """The study really exercises the case: chunk-stated notices are in it, one per window."""
    import json

    warnings = json.loads(unchunked)["warnings"]
    dropped = [w for w in warnings if w["code"] == "carried_target_dropped"]
    # the engine states the count in `count`, not in the message, so chunks merge (engine.results)
    assert dropped and all(w["count"] >= 1 and not w["message"][:1].isdigit() for w in dropped)
    keys = [(w["code"], w["strategy"], w["window"], w["symbol"]) for w in warnings if w["code"] != "data"]
    assert len(keys) == len(set(keys))
