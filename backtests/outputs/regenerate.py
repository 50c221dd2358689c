"""``scare report RUN_DIR``: redraw tearsheet.html from a run folder's saved results.

Nothing is re-run or recomputed and no absolute paths are needed, so a folder copied from another
machine works. A folder written by scare 0.2 has no pooled.parquet: the page is drawn from
metrics.json alone and names the charts it omits, and one line on stderr says so. returns.parquet
and pooled.parquet are read in either layout (long from scare 0.3, one column per run before:
:func:`~backtests.report.view.read_returns`), and only for the combinations the page draws (each
strategy's best and default), so a 100,000-combination folder is not decoded whole. A missing or
unreadable file raises :class:`~backtests.errors.ScareInputError` naming it (the CLI prints one
line and exits 2). ``metrics.json`` and ``manifest.json`` are read through the bounded JSON reader
(size checked before reading, nesting bounded) and their top-level structure is checked; a
tearsheet that cannot be drawn from a ``metrics.json`` scare cannot prove it wrote (its SHA-256 is
not the marker's) is blamed on that file, in one line. The new page is written to a temporary file beside the
old one and swapped in with ``os.replace``: if rendering or writing fails, the previous
tearsheet stays as it was.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from backtests.bounded import load_json, open_regular
from backtests.errors import ScareInputError
from backtests.notices import note
from backtests.outputs.folder import MARKER, file_sha256, read_marker, write_atomically
from backtests.report.view import NO_POOLED_FILE, SavedRun, is_long, read_pooled, read_returns, shown_ids

#: (file, required): what the page reads. Optional files may be absent (older runs); when present
#: they must be readable. weights.parquet and benchmark.parquet are not read: the page draws
#: nothing from per-bar weights, and the pooled benchmark it draws is in pooled_benchmark.parquet.
FILES = (("metrics.json", True), ("manifest.json", True), ("returns.parquet", True),
         ("pooled.parquet", False), ("pooled_benchmark.parquet", False), ("orders.parquet", False))
METRICS_KEYS = ("study", "strategies", "pooled", "runs")


#: Largest metrics.json / manifest.json read back (a large sweep keeps its runs in runs.parquet).
MAX_DOCUMENT_BYTES = 256 << 20
#: Top-level fields of metrics.json and what they hold (lists hold objects).
METRICS_TYPES = {"study": str, "strategies": list, "pooled": list, "runs": list, "windows": list,
                 "warnings": list, "data": dict}


def _json(path: Path) -> dict[str, Any]:
    doc = load_json(path, MAX_DOCUMENT_BYTES, what="the document")
    if not isinstance(doc, dict):
        raise ScareInputError("is not a JSON object", where=str(path))
    return doc


def _check_metrics(metrics: dict[str, Any], path: Path) -> None:
    """The structure scare writes at the top of metrics.json (a hand-edited file is named, not drawn)."""
    missing = [k for k in METRICS_KEYS if k not in metrics]
    if missing:
        raise ScareInputError(f"is not a scare metrics file (no {', '.join(missing)})", where=str(path))
    for key, kind in METRICS_TYPES.items():
        value = metrics.get(key)
        if key in metrics and not isinstance(value, kind):
            raise ScareInputError(f"field {key!r} is {type(value).__name__}, not {kind.__name__}: not the metrics "
                                  "file scare writes", where=str(path))
        if isinstance(value, list):
            bad = next((i for i, item in enumerate(value) if not isinstance(item, dict)), None)
            if bad is not None:
                raise ScareInputError(f"field {key}[{bad}] is {type(value[bad]).__name__}, not an object: not the "
                                      "metrics file scare writes", where=str(path))


def _parquet(path: Path, read: Any = None) -> pd.DataFrame:
    os.close(open_regular(path))  # a FIFO or a device is refused, never read
    try:
        return read() if read is not None else pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for a damaged file
        msg = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ScareInputError(f"is not a readable parquet file ({msg})", where=str(path)) from None


#: Tables of a run folder the page does not draw, read with ``load_run(..., tables=True)`` (the
#: Python API): all optional (runs.parquet exists only for large sweeps).
MORE_FILES = ("weights.parquet", "benchmark.parquet", "runs.parquet")


def load_run(run_dir: Path, tables: bool = False) -> SavedRun:
    """Read a run folder into what :func:`~backtests.report.tearsheet.render_tearsheet` draws; with
    ``tables``, also :data:`MORE_FILES` (``SavedRun.weights``, ``benchmark``, ``runs``). Nothing
    in the folder is written or changed."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise ScareInputError("run folder does not exist", where=str(run_dir))
    if not run_dir.is_dir():
        raise ScareInputError("is not a folder (give the run folder that holds metrics.json)", where=str(run_dir))
    for name, required in FILES:
        if required and not (run_dir / name).is_file():
            raise ScareInputError("is missing: not a complete scare run folder", where=str(run_dir / name))
    metrics = _json(run_dir / "metrics.json")
    _check_metrics(metrics, run_dir / "metrics.json")
    manifest = _json(run_dir / "manifest.json")
    runs, pooled = (None, None) if tables else shown_ids(metrics)  # tables: every run and pooled id
    readers = {"returns.parquet": lambda p: read_returns(p, runs), "pooled.parquet": lambda p: read_pooled(p, pooled)}
    frames: dict[str, pd.DataFrame | None] = {}
    for name, _ in FILES[2:]:
        path = run_dir / name
        read = readers.get(name)
        frames[name] = (_parquet(path, (lambda r=read, q=path: r(q)) if read else None)) if path.is_file() else None
    for name in ("returns.parquet", "pooled.parquet", "pooled_benchmark.parquet"):
        frame = frames[name]
        long = name == "pooled.parquet" and is_long(frame, "id")
        if frame is not None and len(frame.columns) and not long and not isinstance(frame.index, pd.DatetimeIndex):
            raise ScareInputError("has no time index (expected period ends in UTC)", where=str(run_dir / name))
    for name in MORE_FILES if tables else ():
        path = run_dir / name
        frames[name] = _parquet(path) if path.is_file() else None
    empty_orders = pd.DataFrame(columns=["run", "window", "time", "symbol", "side", "size", "price", "fees"])
    return SavedRun(metrics, manifest, frames["returns.parquet"],
                    frames["orders.parquet"] if frames["orders.parquet"] is not None else empty_orders,
                    frames["pooled.parquet"], frames["pooled_benchmark.parquet"],
                    weights=frames.get("weights.parquet"), benchmark=frames.get("benchmark.parquet"),
                    runs=frames.get("runs.parquet"))


def write_replacing(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and ``os.replace``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _written_by_scare(run_dir: Path) -> bool:
    """True when the marker proves scare wrote metrics.json and manifest.json as they are."""
    try:
        marker = read_marker(run_dir)
        return marker is not None and all(
            marker["sha256"].get(name) == file_sha256(run_dir / name) for name in ("metrics.json", "manifest.json"))
    except ScareInputError:
        return False


def regenerate(run_dir: Path) -> Path:
    """Redraw ``run_dir/tearsheet.html`` from the saved results and return its path."""
    from backtests.report.tearsheet import render_tearsheet

    run_dir = Path(run_dir)
    saved = load_run(run_dir)
    if saved.pooled is None and saved.metrics.get("pooled"):
        note(f"{run_dir}: {NO_POOLED_FILE}")
    try:
        html = render_tearsheet(saved)
    except (TypeError, AttributeError, KeyError, ValueError, IndexError) as exc:
        if _written_by_scare(run_dir):
            raise  # scare's own documents: a renderer bug keeps its traceback
        raise ScareInputError(f"the tearsheet cannot be drawn from it ({type(exc).__name__}: {exc}); it is not the "
                              f"file scare wrote (its SHA-256 is not the one in {MARKER}): restore it or re-run the "
                              "study", where=str(run_dir / "metrics.json")) from exc
    out = run_dir / "tearsheet.html"
    try:
        if (run_dir / MARKER).exists():  # a run folder: under its lock, and listed in its marker
            write_atomically(run_dir, {out.name: lambda p: p.write_text(html, encoding="utf-8")}, update=True)
        else:  # a folder copied without its hidden marker, or from scare 0.1
            write_replacing(out, html)
    except OSError as exc:
        raise ScareInputError(f"cannot be written: {exc.strerror or exc}", where=str(out)) from None
    return out
