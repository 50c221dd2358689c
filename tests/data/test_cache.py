"""The cache: atomic checksummed writes, only-missing fetches, safe names, offline reads, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtests.time.calendars import sessions
from backtests.orchestration.cli import main
from backtests.config.model import DataConfig
from backtests.data import cache as cache_mod
from backtests.data import store as store_mod
from backtests.data.cache import Cache, fetch, load_market_data, missing_ranges, validate_symbol
from backtests.data.frames import daily_bars
from backtests.data.upkeep import data_files, verify
from backtests.data.providers import Fetched, Meta, guess_meta
from backtests.errors import DataError


class FakeProvider:
    """Deterministic daily bars (close = 100 + days since 2024-01-01), recording every request."""

    name = "yfinance"
    source = "yfinance"

    def __init__(self):
        self.calls: list[tuple[str, str, str, pd.Timestamp, pd.Timestamp]] = []

    def fetch(self, symbol, series, frequency, start, end, meta=None):
        self.calls.append((symbol, series, frequency, pd.Timestamp(start), pd.Timestamp(end)))
        meta = meta or guess_meta(symbol)
        days = sessions(meta.market, start, end).index
        base = (days - pd.Timestamp("2024-01-01")).days.to_numpy(dtype=float) + 100.0
        table = pd.DataFrame({"open": base - 0.5, "high": base + 1, "low": base - 1, "close": base,
                              "volume": 1e6}, index=days)
        return Fetched(daily_bars(table, meta.market), meta, "yfinance", "fake 1.0", f"fake {symbol}")


def cfg(root: Path, symbols, start="2025-01-02", end="2025-03-31", **kw) -> DataConfig:
    return DataConfig(source="cache", cache_dir=str(root), symbols=tuple(symbols), start=start, end=end, **kw)


def D(s: str) -> pd.Timestamp:
    return pd.Timestamp(s)


# ---------------------------------------------------------------------------- names
@pytest.mark.parametrize("bad", ["../x", "/etc/passwd", "a/b", "..", "a..b", "x\x00y", "", ".hidden", "a\\b",
                                 "C:evil", "x" * 65, None, 5])
def test_symbols_that_could_escape_the_cache_are_refused(tmp_path, bad):
    with pytest.raises(DataError, match="invalid symbol"):
        validate_symbol(bad)
    c = Cache(tmp_path / "c")
    frame = FakeProvider().fetch("MU", "bars", "1D", D("2025-01-02"), D("2025-01-10")).frame
    with pytest.raises(DataError):
        c.store("yfinance", bad, "bars", "1D", frame, Meta("XNYS"), [(D("2025-01-02"), D("2025-01-10"))], "v", "o")
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and "c" not in p.relative_to(tmp_path).parts[:1]]
    assert outside == []


@pytest.mark.parametrize("good", ["^KS11", "KRW=X", "000660.KS", "BTC-USD", "000660.KS_SKHynix", "oi_agg_usd_BTC"])
def test_real_symbols_are_accepted(good):
    assert validate_symbol(good) == good


def test_bad_source_series_or_frequency_cannot_make_paths(tmp_path):
    c = Cache(tmp_path)
    frame = FakeProvider().fetch("MU", "bars", "1D", D("2025-01-02"), D("2025-01-10")).frame
    for source, series, freq in (("../up", "bars", "1D"), ("yfinance", "../bars", "1D"), ("yfinance", "bars", "4/h")):
        with pytest.raises(DataError):
            c.store(source, "MU", series, freq, frame, Meta("XNYS"), [], "v", "o")


# --------------------------------------------------------------------------- writes
def test_store_read_roundtrip_and_manifest(tmp_path):
    c = Cache(tmp_path / "data_cache")
    prov = FakeProvider()
    rep = fetch(c, "MU", "bars", "1D", "2025-01-02", "2025-01-31", provider=prov)
    assert rep.action == "new" and rep.rows == 20
    (key, e), = c.entries().items()
    assert key == "yfinance/MU/bars/1D"
    assert e["covered"] == [["2025-01-02", "2025-01-31"]] and e["market"] == "XNYS" and e["currency"] == "USD"
    assert e["source_version"] == "fake 1.0" and e["fetched_at"] and len(e["sha256"]) == 64
    assert e["file"].startswith("yfinance/MU/bars-1D.") and e["file"].endswith(".parquet")
    frame = c.read(e)
    assert frame.index.tz is not None and frame.index[0] == pd.Timestamp("2025-01-02 21:00", tz="UTC")
    assert list(frame.columns) == ["open", "high", "low", "close", "volume", "open_time"]


def test_only_missing_ranges_are_fetched(tmp_path):
    c = Cache(tmp_path)
    prov = FakeProvider()
    fetch(c, "MU", "bars", "1D", "2025-01-02", "2025-03-31", provider=prov)
    fetch(c, "MU", "bars", "1D", "2024-12-02", "2025-06-30", provider=prov)
    assert [(a.date().isoformat(), b.date().isoformat()) for _, _, _, a, b in prov.calls] == [
        ("2025-01-02", "2025-03-31"), ("2024-12-02", "2024-12-31"), ("2025-04-01", "2025-06-30")]
    rep = fetch(c, "MU", "bars", "1D", "2025-01-02", "2025-06-30", provider=prov)
    assert rep.action == "up to date" and len(prov.calls) == 3
    e = c.entries()["yfinance/MU/bars/1D"]
    assert e["covered"] == [["2024-12-02", "2025-06-30"]]
    f = c.read(e)
    assert f.index.is_unique and f.index.is_monotonic_increasing and len(f) == len(sessions("XNYS", "2024-12-02", "2025-06-30"))
    # a holiday at the edge is not "missing": 2025-01-01 is no NYSE session
    assert missing_ranges([(D("2025-01-02"), D("2025-06-30"))], "XNYS", D("2025-01-01"), D("2025-01-03")) == []


def test_a_write_killed_halfway_keeps_the_old_data(tmp_path, monkeypatch):
    c = Cache(tmp_path)
    prov = FakeProvider()
    fetch(c, "MU", "bars", "1D", "2025-01-02", "2025-01-31", provider=prov)
    before = json.loads(c.manifest_path.read_text())
    old_frame = c.read(c.entries()["yfinance/MU/bars/1D"])

    class Killed(BaseException):
        pass

    def half(fh, data):  # the process dies with half the bytes on disk
        fh.write(data[: len(data) // 2])
        fh.flush()
        raise Killed()

    monkeypatch.setattr(store_mod, "_write_bytes", half)  # the one place bytes hit the disk
    with pytest.raises(Killed):
        fetch(c, "MU", "bars", "1D", "2025-01-02", "2025-02-28", provider=prov)
    monkeypatch.undo()
    assert json.loads(c.manifest_path.read_text()) == before
    pd.testing.assert_frame_equal(c.read(c.entries()["yfinance/MU/bars/1D"]), old_frame)
    assert [p for p in data_files(c) if ".tmp-" in p.name] == []  # cleaned up when the process survives
    assert verify(c) == []

    # a hard kill (no cleanup) leaves a half temporary file: never read, reported, removable
    good = c.path_of(c.entries()["yfinance/MU/bars/1D"])
    stray = good.parent / f".{good.name}.tmp-12345"
    stray.write_bytes(good.read_bytes()[:100])
    probs = verify(c)
    assert [(p.level, Path(p.path).name) for p in probs] == [("orphan", stray.name)]
    assert "interrupted write" in probs[0].message
    md = load_market_data(cfg(tmp_path, ["MU"], "2025-01-02", "2025-01-31"), offline=True)
    assert len(md.bars["MU"]) == 20
    # scare cannot prove a half-written temporary file is its own (its bytes are checked against
    # nothing): --fix names it and leaves it
    fixed = verify(c, fix=True)
    assert [(p.level, Path(p.path).name) for p in fixed] == [("left", stray.name)]
    assert "not deleted: scare cannot prove it wrote it" in fixed[0].message and stray.exists()


def test_killed_between_data_file_and_manifest_keeps_the_previous_entry(tmp_path, monkeypatch):
    c = Cache(tmp_path)
    prov = FakeProvider()
    fetch(c, "MU", "bars", "1D", "2025-01-02", "2025-01-31", provider=prov)
    e_old = c.entries()["yfinance/MU/bars/1D"]

    def die(self, doc):
        raise KeyboardInterrupt

    monkeypatch.setattr(Cache, "_write_manifest", die)
    with pytest.raises(KeyboardInterrupt):
        fetch(c, "MU", "bars", "1D", "2025-01-02", "2025-02-28", provider=prov)
    monkeypatch.undo()
    assert c.entries()["yfinance/MU/bars/1D"] == e_old
    assert len(c.read(e_old)) == 20  # the old file was not touched
    probs = verify(c)
    assert [p.level for p in probs] == ["orphan"] and "not in the manifest" in probs[0].message
    # a complete file carrying scare's name, hash prefix and embedded entry is proven scare's: --fix deletes it
    orphan = Path(probs[0].path)
    assert [p.level for p in verify(c, fix=True)] == ["orphan"] and not orphan.exists() and verify(c) == []
    # the next fetch simply redoes the missing range
    fetch(c, "MU", "bars", "1D", "2025-01-02", "2025-02-28", provider=prov)
    assert c.entries()["yfinance/MU/bars/1D"]["covered"] == [["2025-01-02", "2025-02-28"]]


def test_a_corrupt_file_is_named_by_verify_and_never_used(tmp_path, capsys):
    c = Cache(tmp_path)
    prov = FakeProvider()
    fetch(c, "MU", "bars", "1D", "2025-01-02", "2025-03-31", provider=prov)
    fetch(c, "NVDA", "bars", "1D", "2025-01-02", "2025-03-31", provider=prov)
    e = c.entries()["yfinance/MU/bars/1D"]
    path = c.path_of(e)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))

    assert main(["data", "verify", "--cache", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert f"BAD     {path}: checksum mismatch" in out and str(path) in err
    assert "1 bad" in out

    with pytest.raises(DataError, match="checksum mismatch") as exc:
        load_market_data(cfg(tmp_path, ["MU", "NVDA"]), offline=True)
    assert str(path) in str(exc.value)

    # --fix drops the entry but leaves the file: its bytes are not the ones scare wrote
    assert main(["data", "verify", "--cache", str(tmp_path), "--fix"]) == 0
    out = capsys.readouterr().out
    assert f"LEFT    {path}: not deleted: scare cannot prove it wrote it" in out and path.exists()
    assert "yfinance/MU/bars/1D" not in c.entries()
    # online, the refetched data would land on the damaged file's name: refused, never overwritten
    with pytest.raises(DataError, match="scare does not overwrite what it cannot prove it wrote") as exc:
        load_market_data(cfg(tmp_path, ["MU", "NVDA"]), offline=False, providers={"yfinance": prov})
    assert str(path) in str(exc.value) and path.read_bytes() == bytes(raw)
    # once the user moved it away, the refetch fills the entry again; the other symbol was never lost
    path.unlink()
    md = load_market_data(cfg(tmp_path, ["MU", "NVDA"]), offline=False, providers={"yfinance": prov})
    assert md.bars["MU"]["close"].iloc[0] == 100.0 + (D("2025-01-02") - D("2024-01-01")).days
    assert verify(c) == []


def test_lost_manifest_is_rebuilt_from_the_files(tmp_path):
    c = Cache(tmp_path)
    fetch(c, "MU", "bars", "1D", "2025-01-02", "2025-01-31", provider=FakeProvider())
    before = c.entries()
    c.manifest_path.write_text("{ not json")
    assert verify(c)[0].level == "bad"
    # an unreadable manifest is not provably scare's: --fix asks for it to be moved away first
    with pytest.raises(DataError, match="move it away, then `scare data verify --fix` rebuilds it from the 1 file"):
        verify(c, fix=True)
    assert c.manifest_path.read_text() == "{ not json"
    c.manifest_path.unlink()
    assert [p.level for p in verify(c, fix=True)] == ["bad", "fixed"]
    after = c.entries()
    assert set(after) == set(before)
    k = "yfinance/MU/bars/1D"
    assert {f: after[k][f] for f in ("sha256", "covered", "market", "file")} == \
        {f: before[k][f] for f in ("sha256", "covered", "market", "file")}


# ---------------------------------------------------------------------------- reads
def test_offline_names_exactly_what_is_missing(tmp_path):
    c = Cache(tmp_path)
    prov = FakeProvider()
    fetch(c, "MU", "bars", "1D", "2025-01-02", "2025-01-31", provider=prov)
    with pytest.raises(DataError) as exc:
        load_market_data(cfg(tmp_path, ["MU", "NVDA"], "2025-01-02", "2025-02-28"), offline=True)
    msg = str(exc.value)
    assert "missing from the cache (offline)" in msg
    assert "MU bars 1D from yfinance 2025-02-03..2025-02-28" in msg
    assert "NVDA bars 1D 2025-01-02..2025-02-28 (not cached)" in msg
    assert len(prov.calls) == 1  # offline touched no provider

    md = load_market_data(cfg(tmp_path, ["MU", "NVDA"], "2025-01-02", "2025-02-28"), providers={"yfinance": prov})
    assert len(md.bars["NVDA"]) == len(sessions("XNYS", "2025-01-02", "2025-02-28"))
    assert [c[0] for c in prov.calls[1:]] == ["MU", "NVDA"]
    assert (prov.calls[1][3], prov.calls[1][4]) == (D("2025-02-03"), D("2025-02-28"))


def test_study_reads_symbols_adds_fx_clips_excludes_and_merges_extras(tmp_path):
    c = Cache(tmp_path)
    prov = FakeProvider()
    fetch(c, "000660.KS", "bars", "1D", "2024-12-02", "2025-03-31", provider=prov)
    fx_days = pd.date_range("2024-12-01", "2025-03-31", freq="D")
    fx = daily_bars(pd.DataFrame({"close": 1450.0}, index=fx_days), "CRYPTO")
    c.store("yfinance", "KRW=X", "bars", "1D", fx, guess_meta("KRW=X"), [(fx_days[0], fx_days[-1])], "v", "o")
    md = load_market_data(cfg(tmp_path, ["000660.KS"], "2025-01-02", "2025-01-31", exclude_dates=("2025-01-03",)),
                          offline=True)
    assert set(md.bars) == {"000660.KS", "KRW=X"} and md.fx == {"KRW": "KRW=X"}
    hx = md.bars["000660.KS"]
    local = hx.index.tz_convert("Asia/Seoul").normalize().tz_localize(None)
    assert local.min() == D("2025-01-02") and D("2025-01-03") not in local and local.max() == D("2025-01-31")
    assert md.info["000660.KS"].currency == "KRW" and md.to_usd("000660.KS").iloc[0] == pytest.approx(
        hx["close"].iloc[0] / 1450.0)

    # extras of the same frequency become columns
    btc_days = pd.date_range("2025-01-01", "2025-01-31", freq="D")
    btc = daily_bars(pd.DataFrame({"close": np.linspace(90e3, 100e3, len(btc_days))}, index=btc_days), "CRYPTO")
    liq = daily_bars(pd.DataFrame({"long_liquidations_usd": 1e7, "short_liquidations_usd": 2e6}, index=btc_days[:-1]),
                     "CRYPTO")
    meta = guess_meta("BTC-USD")
    c.store("import", "BTC-USD", "bars", "1D", btc, meta, [(btc_days[0], btc_days[-1])], "v", "o")
    c.store("import", "BTC-USD", "liquidations", "1D", liq, meta, [(btc_days[0], btc_days[-2])], "v", "o")
    md = load_market_data(cfg(tmp_path, ["BTC-USD"], "2025-01-01", "2025-01-31"), offline=True)
    assert {"long_liquidations_usd", "short_liquidations_usd"} <= set(md.bars["BTC-USD"].columns)
    assert any("liquidations (import) missing on 1 of 31 bars" in w for w in md.warnings)


def test_cache_dir_is_relative_to_the_working_directory_or_env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(cache_mod.ENV_DIR, raising=False)
    assert cache_mod.resolve_root("data_cache") == tmp_path / "data_cache"
    monkeypatch.setenv(cache_mod.ENV_DIR, str(tmp_path / "elsewhere"))
    assert cache_mod.resolve_root("data_cache") == tmp_path / "elsewhere"
    assert cache_mod.resolve_root("mine") == tmp_path / "mine"


# ------------------------------------------------------------------------------ CLI
def test_cli_fetch_list_clear(tmp_path, monkeypatch, capsys):
    prov = FakeProvider()
    monkeypatch.setattr(cache_mod, "provider_for", lambda *a, **k: prov)
    root = str(tmp_path / "dc")
    assert main(["data", "fetch", "MU", "^KS11", "--start", "2025-01-02", "--end", "2025-01-31", "--cache", root]) == 0
    out = capsys.readouterr().out
    assert "new       yfinance/MU/bars/1D fetched 2025-01-02..2025-01-31 (20 rows)" in out
    assert main(["data", "fetch", "MU", "--start", "2025-01-02", "--end", "2025-01-31", "--cache", root]) == 0
    assert "up to date" in capsys.readouterr().out
    (tmp_path / "dc" / "README.md").write_text("keep me")
    assert main(["data", "list", "--cache", root]) == 0
    out = capsys.readouterr().out
    assert "^KS11" in out and "2025-01-02..2025-01-31" in out and "KB" in out and "2 entries" in out
    assert main(["data", "list", "--cache", root, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["symbol"] for r in rows} == {"MU", "^KS11"}
    assert main(["data", "clear", "MU", "--cache", root]) == 0
    assert set(Cache(root).entries()) == {"yfinance/^KS11/bars/1D"}
    assert main(["data", "clear", "--cache", root]) == 2  # needs symbols, --source or --all
    assert main(["data", "clear", "--all", "--cache", root]) == 0
    assert Cache(root).entries() == {} and (tmp_path / "dc" / "README.md").read_text() == "keep me"
    assert [p for p in (tmp_path / "dc").rglob("*.parquet")] == []
    assert main(["data", "fetch", "../evil", "--cache", root]) == 2
    assert main(["data"]) == 2


def test_cli_fetch_config_fetches_what_the_study_needs(tmp_path, monkeypatch, capsys):
    prov = FakeProvider()
    monkeypatch.setattr(cache_mod, "provider_for", lambda *a, **k: prov)
    repo = Path(__file__).resolve().parents[2]
    cfg_path = repo / "configs" / "replay_micron_earnings.yaml"
    assert main(["data", "fetch", "--config", str(cfg_path), "--cache", str(tmp_path)]) == 0
    asked = {c[0] for c in prov.calls}
    assert {"MU", "000660.KS", "SOXX", "SPY", "KRW=X"} <= asked
    assert all(c[3] == D("2025-01-22") and c[4] == D("2026-08-20") for c in prov.calls)


# ----------------------------------------------------------------------- intraday channel
def test_a_cache_study_reads_cached_minutes_as_its_intraday_channel(tmp_path):
    from backtests.data.frames import intraday_bars

    root = tmp_path / "c"
    c = Cache(root)
    prov = FakeProvider()
    for sym in ("^KS11", "MU"):
        got = prov.fetch(sym, "bars", "1D", D("2025-02-03"), D("2025-02-07"))
        c.store("yfinance", sym, "bars", "1D", got.frame, got.meta, [(D("2025-02-03"), D("2025-02-07"))], "v", "q")
    opens = pd.date_range("2025-02-05 09:00", periods=390, freq="1min", tz="Asia/Seoul")
    opens = opens[(opens.hour != 10)]  # a stretch without prints: kept as a gap
    px = 2500 + np.arange(len(opens)) * 0.1
    minutes = intraday_bars(pd.DataFrame({"open": px, "high": px + 1, "low": px - 1, "close": px, "volume": 10.0},
                                         index=opens), "1min", market="XKRX")
    c.store("yfinance", "^KS11", "bars", "1min", minutes, guess_meta("^KS11"), [(D("2025-02-05"), D("2025-02-05"))],
            "v", "q")
    md = load_market_data(cfg(root, ["^KS11", "MU"], start="2025-02-03", end="2025-02-07", fx={}, intraday="1min"),
                          offline=True)
    assert list(md.intraday) == ["^KS11"] and len(md.intraday["^KS11"]) == 330
    (n,) = [w for w in md.warnings if getattr(w, "code", "") == "intraday_missing"]
    assert "MU" in n.message and "--frequency 1min" in n.message
    none = load_market_data(cfg(root, ["^KS11"], start="2025-02-03", end="2025-02-07", fx={}), offline=True)
    assert none.intraday == {}
