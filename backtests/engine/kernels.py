"""Compiled kernels of the engine (plain arrays in and out).

``from_orders`` runs vectorbt's from-orders simulation kernel on its Rust engine (the
``vectorbt-rust`` package, vectorbt's own compiled engine) when it is installed at vectorbt's
version and the inputs are supported, and on vectorbt's numba kernel otherwise. Both give the same
order records, bit for bit (tests/engine/test_kernels.py).

The Rust path calls ``vectorbt_rust`` with the checks of vectorbt's own dispatcher
(``vectorbt.portfolio.dispatch.simulate_from_orders``: exact dtypes, flexible shapes, no random
rejections, vectorbt-rust at vectorbt's major.minor) and reports which engine ran. The Rust
extension itself imports ``vectorbt.portfolio.enums`` (for its record dtypes), so either path
imports the vectorbt package at the first kernel call, not before.
"""

from __future__ import annotations

import os
from importlib import metadata

import numpy as np

#: vectorbt enum values used by the engine (checked against ``vectorbt.portfolio.enums`` in tests).
SIZE_TARGET_PERCENT = 5
DIRECTION_BOTH = 2

#: Which engine ``from_orders`` uses: "auto" (Rust when available and supported), "rust" or
#: "numba". The environment variable ``SCARE_KERNEL`` overrides it (benchmarks, tests).
ENGINES = ("auto", "rust", "numba")

_rust_module = None
_rust_checked = False

# name -> (dtype, default) of the flexible per-element arguments, in vectorbt's positional order
_FLEX = (
    ("size", np.float64, np.inf),
    ("price", np.float64, np.inf),
    ("size_type", np.int64, 0),
    ("direction", np.int64, 2),
    ("fees", np.float64, 0.0),
    ("fixed_fees", np.float64, 0.0),
    ("slippage", np.float64, 0.0),
    ("min_size", np.float64, 0.0),
    ("max_size", np.float64, np.inf),
    ("size_granularity", np.float64, np.nan),
    ("reject_prob", np.float64, 0.0),
    ("lock_cash", np.bool_, False),
    ("allow_partial", np.bool_, True),
    ("raise_reject", np.bool_, False),
    ("log", np.bool_, False),
    ("val_price", np.float64, np.inf),
    ("close", np.float64, np.nan),
)


def _rust():
    """The ``vectorbt_rust.portfolio`` module when installed at vectorbt's major.minor, else None."""
    global _rust_module, _rust_checked
    if not _rust_checked:
        _rust_checked = True
        try:
            import vectorbt_rust
            import vectorbt_rust.portfolio as rs
        except ImportError:
            rs = None
        if rs is not None:
            want = metadata.version("vectorbt").rsplit(".", 1)[0]
            have = vectorbt_rust.__version__.rsplit(".", 1)[0]
            rs = rs if want == have else None  # vectorbt's own rule: numba on a version mismatch
        _rust_module = rs
    return _rust_module


def requested_engine() -> str:
    """The engine asked for by ``SCARE_KERNEL`` ("auto" when unset)."""
    name = os.environ.get("SCARE_KERNEL", "auto").strip().lower() or "auto"
    if name not in ENGINES:
        raise ValueError(f"SCARE_KERNEL must be one of {', '.join(ENGINES)}, not {name!r}")
    return name


def default_call_seq(shape: tuple[int, int], group_lens: np.ndarray) -> np.ndarray:
    """vectorbt's default call sequence (position of each column inside its group, every row).

    Same values and memory layout (Fortran order, writable) as ``vectorbt.portfolio.nb.build_call_seq``.
    """
    seq = np.ones(shape[1], dtype=np.int64)
    starts = np.cumsum(group_lens[:-1])
    seq[starts] -= group_lens[:-1]
    seq = np.cumsum(seq) - 1
    out = np.empty(shape, dtype=np.int64, order="F")
    out[:] = seq
    return out


def _rust_supported(shape: tuple[int, int], flex: dict[str, np.ndarray]) -> bool:
    """vectorbt's conditions for Rust dispatch, for arrays already at their exact dtypes."""
    if np.any(flex["reject_prob"] > 0):  # random rejections use numba's generator
        return False
    for name, dtype, _ in _FLEX:
        arr = flex[name]
        if arr.dtype != dtype or arr.ndim > 2:
            return False
        a2 = arr.reshape(1, -1) if arr.ndim == 1 else arr
        try:
            np.broadcast_shapes(a2.shape, shape)
        except ValueError:
            return False
    return True


def from_orders(
    shape: tuple[int, int],
    group_lens: np.ndarray,
    init_cash: np.ndarray,
    *,
    call_seq: np.ndarray | None = None,
    auto_call_seq: bool = True,
    ffill_val_price: bool = True,
    update_value: bool = False,
    max_orders: int | None = None,
    engine: str | None = None,
    **params: np.ndarray | float | bool | int,
) -> tuple[np.ndarray, str]:
    """Run vectorbt's ``simulate_from_orders`` kernel (cash shared within each group).

    Parameters
    ----------
    shape
        (rows, columns) of the simulation.
    group_lens
        (groups,) int64 columns per group; columns of a group share cash.
    init_cash
        (groups,) float64 initial cash per group, USD.
    call_seq
        (rows, columns) int64 call sequence, overwritten when ``auto_call_seq``; default:
        :func:`default_call_seq`.
    engine
        "auto", "rust" or "numba"; default :func:`requested_engine`. "rust" raises when the Rust
        engine is not installed or does not support the inputs.
    **params
        vectorbt's flexible arguments by name (``size``, ``price``, ``size_type``, ``fees``,
        ``slippage``, ``close``, ...): scalars, (columns,) rows or arrays broadcasting to ``shape``
        with vectorbt's ``flex_2d=True`` rules. Pass compact arrays: they are never broadcast here.

    Returns
    -------
    (records, engine)
        vectorbt's order records (``order_dt``: id, col, idx, size, price, fees, side) and the
        engine that produced them ("rust" or "numba").
    """
    unknown = set(params) - {name for name, _, _ in _FLEX}
    if unknown:
        raise TypeError(f"unknown kernel arguments: {sorted(unknown)}")
    flex = {name: np.asarray(params.get(name, default), dtype=dtype) for name, dtype, default in _FLEX}
    group_lens = np.asarray(group_lens, dtype=np.int64)
    init_cash = np.asarray(init_cash, dtype=np.float64)
    if call_seq is None:
        call_seq = default_call_seq(shape, group_lens)
    engine = requested_engine() if engine is None else engine
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    use_rust = False
    if engine != "numba":
        rs = _rust()
        ok = rs is not None and call_seq.dtype == np.int64 and _rust_supported(shape, flex)
        if engine == "rust" and not ok:
            raise ValueError("vectorbt's Rust engine is not installed at vectorbt's version or does not "
                             "support these inputs; use engine='numba'")
        use_rust = ok
    args = [flex[name] for name, _, _ in _FLEX]
    kwargs = dict(auto_call_seq=auto_call_seq, ffill_val_price=ffill_val_price, update_value=update_value,
                  max_orders=max_orders, max_logs=0, flex_2d=True)
    if use_rust:
        records, _ = _rust().simulate_from_orders_rs(shape, group_lens, init_cash, call_seq, *args, **kwargs)
        return records, "rust"
    from vectorbt.portfolio.nb import simulate_from_orders_nb

    records, _ = simulate_from_orders_nb(shape, group_lens, init_cash, call_seq, *args, **kwargs)
    return records, "numba"
