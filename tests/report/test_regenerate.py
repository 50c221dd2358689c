"""`scare report RUN_DIR`: redraw from saved results, anywhere; say which file is wrong; never lose
the old tearsheet."""

from __future__ import annotations

from pathlib import Path

import pytest

from backtests.orchestration.cli import main
from backtests.errors import ScareInputError
from backtests.outputs import regenerate as regen_mod
from backtests.outputs.regenerate import regenerate


def report(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["report", str(run_dir)])
    out, err = capsys.readouterr()
    return code, out, err


def test_report_on_a_copied_run_redraws_the_same_page(run_copy: Path, default_run: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    original = (default_run / "tearsheet.html").read_bytes()
    (run_copy / "tearsheet.html").unlink()
    code, out, err = report(run_copy, capsys)
    assert code == 0, err
    assert out.strip() == f"tearsheet: {run_copy / 'tearsheet.html'}"
    # same saved results -> the same page, byte for byte (nothing depends on the folder or the clock)
    assert (run_copy / "tearsheet.html").read_bytes() == original
    assert not list(run_copy.glob(".tearsheet.html.*"))  # no temp file left behind


@pytest.mark.parametrize(("name", "damage", "says"), [
    ("metrics.json", "delete", "is missing"),
    ("metrics.json", b"{not json", "is not valid JSON"),
    ("metrics.json", b"\xff\xfe\x00garbage", "is not UTF-8"),
    ("metrics.json", b'{"hello": 1}', "is not a scare metrics file"),
    ("manifest.json", "delete", "is missing"),
    ("returns.parquet", b"PAR1 this is not parquet", "is not a readable parquet file"),
    ("returns.parquet", "delete", "is missing"),
    ("orders.parquet", b"garbage", "is not a readable parquet file"),
    ("pooled.parquet", b"garbage", "is not a readable parquet file"),
    ("pooled_benchmark.parquet", b"garbage", "is not a readable parquet file"),
])
def test_bad_run_folder_names_the_file_and_exits_2(run_copy: Path, name: str, damage: object, says: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    before = (run_copy / "tearsheet.html").read_bytes()
    target = run_copy / name
    if damage == "delete":
        target.unlink()
    else:
        target.write_bytes(damage)  # type: ignore[arg-type]
    code, out, err = report(run_copy, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert str(target) in lines[0] and says in lines[0], lines[0]
    assert (run_copy / "tearsheet.html").read_bytes() == before  # the old page is untouched


def test_missing_run_folder_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = report(tmp_path / "nope", capsys)
    assert code == 2 and "run folder does not exist" in err and str(tmp_path / "nope") in err


def test_optional_files_may_be_absent(run_copy: Path) -> None:
    for name in ("benchmark.parquet", "weights.parquet", "orders.parquet"):  # the page reads none of them
        (run_copy / name).unlink()
    html = regenerate(run_copy).read_text(encoding="utf-8")
    assert "No orders saved." in html and 'class="section-error"' not in html


def test_failed_render_keeps_the_old_tearsheet(run_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = (run_copy / "tearsheet.html").read_bytes()

    def boom(*args: object, **kwargs: object) -> str:
        raise RuntimeError("renderer bug")

    import backtests.report.tearsheet as ts

    monkeypatch.setattr(ts, "render_tearsheet", boom)
    with pytest.raises(RuntimeError, match="renderer bug"):
        regenerate(run_copy)
    assert (run_copy / "tearsheet.html").read_bytes() == before


def test_failed_write_keeps_the_old_tearsheet(run_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = (run_copy / "tearsheet.html").read_bytes()

    def replace_fails(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(regen_mod.os, "replace", replace_fails)
    with pytest.raises(ScareInputError, match="tearsheet.html: cannot be written: No space left on device"):
        regenerate(run_copy)
    assert (run_copy / "tearsheet.html").read_bytes() == before
    assert not list(run_copy.glob(".tearsheet.html.*"))


def _rewrite_wide(run: Path) -> None:
    """Rewrite returns.parquet and pooled.parquet as earlier scare wrote them: one column per run
    (scare 0.2), one column per pooled id plus ``<id>|<path>`` columns (0.3 before the long layout)."""
    import pandas as pd

    from backtests.report.view import pooled_series, read_pooled, read_returns

    wide = read_returns(run / "returns.parquet")
    wide.to_parquet(run / "returns.parquet")
    long = read_pooled(run / "pooled.parquet")
    cols = {}
    for pid in pd.unique(long["id"].astype(str)):
        s = pooled_series(long, pid)
        cols[pid] = s["return"]
        cols.update({f"{pid}|{c}": s[c] for c in s.columns if c != "return"})
    pooled = pd.DataFrame(cols).sort_index()
    pooled.index.name = "time"
    pooled.to_parquet(run / "pooled.parquet")


def test_report_draws_the_same_page_from_the_wide_layouts_of_earlier_folders(run_copy: Path, default_run: Path,
                                                                             capsys: pytest.CaptureFixture[str]):
    import pyarrow.parquet as pq

    _rewrite_wide(run_copy)
    assert "run" not in pq.read_schema(run_copy / "returns.parquet").names  # one column per run now
    (run_copy / "tearsheet.html").unlink()
    code, _, err = report(run_copy, capsys)
    assert code == 0, err
    assert (run_copy / "tearsheet.html").read_bytes() == (default_run / "tearsheet.html").read_bytes()
