"""The MU / SK Hynix pair over every Micron release since 2010 on the real data
(configs/memory_pair_all_releases.yaml; skipped without ../shared/data or $SCARE_SHARED_DATA).

With the exchange state and the strategy's defaults (``legs: before_event``, ``short_bans: skip``)
no Hynix short is entered inside a KRX short-sale ban and no pair episode has one leg filled before
the report and the other after it. The control run (state off, ``legs: together``, ``short_bans:
engine``: scare 0.2's behaviour) shows both faults, so the checks can fail.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
import yaml

from backtests.data.cache import ENV_DIR, Cache
from backtests.data.importer import import_path
from backtests.orchestration.cli import main

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("SCARE_SHARED_DATA") or REPO.parent / "shared" / "data")
HY = "000660.KS_SKHynix"

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]


def _checks():
    spec = importlib.util.spec_from_file_location("pair_checks", REPO / "scripts" / "pair_checks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.check


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    if not SHARED.is_dir():
        pytest.skip("../shared/data is absent")
    root = tmp_path_factory.mktemp("pair_cache")
    for part in ("equities/MU.csv", "equities/SOXX.csv", "equities/close_only/000660.KS_SKHynix.csv",
                 "fx/USDKRW_FRED_DEXKOUS.csv"):
        import_path(Cache(root), SHARED / part)
    cfg = yaml.safe_load((REPO / "configs" / "memory_pair_all_releases.yaml").read_text())
    cfg["events_files"][0]["path"] = str(SHARED / "events" / "micron_earnings_dates.csv")
    cfg["strategies"][0]["params"] = {"lookback": 60, "entry_z": [1.5, 2.0], "neutral": ["dollar", "beta"]}
    cfg["output"] = {"tearsheet": False}
    path = tmp_path_factory.mktemp("cfg") / "pair.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(ENV_DIR, str(root))
        for name, extra in (("state", []), ("control", ["--set", "execution.exchange_state=false", "--set",
                                                        "execution.legs=together", "--set",
                                                        "strategies.0.params.short_bans=engine"])):
            dest = tmp_path_factory.mktemp(name) / "o"
            assert main(["run", str(path), "--offline", "--no-progress", "--out", str(dest), *extra]) == 0
            out[name] = dest
    return out


def test_no_short_inside_a_ban_and_no_leg_after_the_report(runs):
    got = _checks()(runs["state"])
    assert got["legs"] == "before_event"
    assert got["symbols"][HY]["short_entries"] > 50 and got["symbols"][HY]["inside_bans"] == 0
    assert got["runs_both_legs"] > 50 and got["straddling"] == 0


def test_the_control_run_shows_both_faults(runs):
    got = _checks()(runs["control"])
    assert got["legs"] == "together"
    assert got["symbols"][HY]["inside_bans"] > 0
    assert got["straddling"] > 0
