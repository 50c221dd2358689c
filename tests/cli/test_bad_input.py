"""Bad input gives exit code 2, one line naming file/line/field, and leaves no output behind."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

GOOD = """\
name: t
data:
  source: synthetic
windows: [deepseek_r1]
strategies:
  - name: buy_and_hold
    roles: {asset: QQQ}
    params:
      weight: [0.5, 1.0]
"""


def write(tmp_path: Path, text: str, name: str = "study.yaml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


CASES = {
    "yaml syntax": (GOOD.replace("windows: [deepseek_r1]", "windows: [deepseek_r1"), ["YAML syntax error"]),
    "unknown key": (GOOD.replace("  source: synthetic", "  source: synthetic\n  sorce: x"),
                    [":4:", "data.sorce", "unknown key 'sorce'", "did you mean 'source'"]),
    "wrong type": (GOOD.replace("name: t", "name: t\nseed: many"), [":2:", "seed", "valid integer"]),
    "unknown strategy": (GOOD.replace("name: buy_and_hold", "name: buy_and_hodl"),
                         [":6:", "strategies.0.name", "unknown strategy 'buy_and_hodl'", "did you mean 'buy_and_hold'"]),
    "unknown window": (GOOD.replace("[deepseek_r1]", "[deepseek_r2]"), [":4:", "windows.0", "unknown window 'deepseek_r2'"]),
    "empty grid": (GOOD.replace("weight: [0.5, 1.0]", "weight: []"), [":9:", "strategies.0.params.weight", "empty"]),
    "unknown parameter": (GOOD.replace("weight: [0.5, 1.0]", "wieght: 1"), ["strategies.0.params.wieght", "no parameter"]),
    "parameter out of range": (GOOD.replace("weight: [0.5, 1.0]", "weight: 3"), ["weight", "<= 1.0"]),
    "unknown role": (GOOD.replace("{asset: QQQ}", "{assett: QQQ}"), ["strategies.0.roles", "no role 'assett'"]),
    "symbol not in data": (GOOD.replace("{asset: QQQ}", "{asset: AAPL}"), ["strategies.0.roles.asset", "'AAPL'"]),
    # scoring.rank_by is checked against the metric registry (it used to fall back to Sharpe silently)
    "rank_by typo": (GOOD + "scoring: {rank_by: sharp}\n",
                     [":10:", "scoring.rank_by", "unknown metric 'sharp'", "did you mean 'sharpe'"]),
    "rank_by lower is better": (GOOD + "scoring: {rank_by: annual_volatility}\n",
                                [":10:", "scoring.rank_by", "lower is better", "use one of: total_return"]),
    "rank_by needs a benchmark": (GOOD + "benchmark: null\nscoring: {rank_by: information_ratio}\n",
                                  [":11:", "scoring.rank_by", "needs a benchmark", "strategy 'buy_and_hold' has none"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_config_errors(case, tmp_path, cli):
    text, needles = CASES[case]
    cfg = write(tmp_path, text)
    out = tmp_path / "out"
    for cmd in (["validate", cfg], ["run", cfg, "--out", out, "--no-progress"]):
        code, stdout, stderr = cli(*cmd)
        assert code == 2, (case, stderr)
        lines = stderr.strip().splitlines()
        assert len(lines) == 1, stderr
        assert str(cfg) in lines[0]
        for n in needles:
            assert n in lines[0], (n, lines[0])
        assert "Traceback" not in stderr
    assert not out.exists()


def test_missing_config_file(tmp_path, cli):
    code, _, err = cli("run", tmp_path / "nope.yaml")
    assert code == 2 and "config file not found" in err


def test_bad_override(tmp_path, cli):
    cfg = write(tmp_path, GOOD)
    code, _, err = cli("validate", cfg, "--set", "execution.fill=sideways")
    assert code == 2 and "execution.fill" in err and "(--set)" in err


def test_bad_arguments_exit_2(cli):
    code, _, err = cli("run")
    assert code == 2 and err.count("\n") == 1


def _file_study(tmp_path: Path, frame: pd.DataFrame | None, extra: str = "", text: str | None = None) -> Path:
    csv = tmp_path / "mu.csv"
    if text is not None:
        csv.write_text(text)
    elif frame is not None:
        frame.to_csv(csv, index=False)
    return write(tmp_path, f"""\
        name: f
        data:
          source: files
          files:
            - {{path: mu.csv, symbol: MU, market: XNYS}}
        windows: [deepseek_r1]
        benchmark: null
        strategies:
          - name: buy_and_hold
            roles: {{asset: MU}}
        {extra}""")


def _mu_frame() -> pd.DataFrame:
    from backtests.time.calendars import sessions

    # NYSE sessions, not business days: a bar on Christmas is itself an error (closed_session)
    days = sessions("XNYS", "2024-12-02", "2025-02-28").index
    return pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "open": 100.0, "high": 101.0, "low": 99.0,
                         "close": 100.5, "volume": 1e6})


DATA_CASES = {
    "data file missing": (lambda f: None, ["mu.csv", "data file not found"]),
    "required column missing": (lambda f: f.drop(columns=["close"]), ["mu.csv", "'close' is missing"]),
    "non-numeric price": (lambda f: f.assign(close=f["close"].astype(object).where(f.index != 5, "12,5x")),
                          ["mu.csv", "non-numeric close '12,5x'"]),
    "negative price": (lambda f: f.assign(close=f["close"].where(f.index != 7, -3.0)), ["MU", "non-positive close -3"]),
    "duplicate timestamps": (lambda f: pd.concat([f.iloc[:10], f.iloc[9:]]), ["MU", "duplicate timestamp"]),
    "unsorted timestamps": (lambda f: pd.concat([f.iloc[10:20], f.iloc[:10], f.iloc[20:]]), ["MU", "not sorted"]),
}


@pytest.mark.parametrize("case", sorted(DATA_CASES))
def test_data_errors(case, tmp_path, cli):
    make, needles = DATA_CASES[case]
    cfg = _file_study(tmp_path, make(_mu_frame()))
    out = tmp_path / "out"
    code, _, err = cli("run", cfg, "--out", out, "--no-progress")
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1
    for n in needles:
        assert n in err, (n, err)
    assert not out.exists()


def test_window_without_sessions_in_the_data(tmp_path, cli):
    frame = _mu_frame()
    frame = frame[frame["date"] < "2025-01-15"]
    cfg = _file_study(tmp_path, frame)
    code, _, err = cli("run", cfg, "--out", tmp_path / "out", "--no-progress")
    assert code == 2
    assert "deepseek_r1" in err and "no sessions in the data" in err


def test_failed_run_keeps_earlier_results(tmp_path, cli):
    cfg = write(tmp_path, GOOD)
    out = tmp_path / "out"
    assert cli("run", cfg, "--out", out, "--no-progress")[0] == 0
    before = (out / "metrics.json").read_bytes()
    bad = write(tmp_path, GOOD.replace("[deepseek_r1]", "[nope]"), "bad.yaml")
    assert cli("run", bad, "--out", out, "--no-progress")[0] == 2
    assert (out / "metrics.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_refuses_to_overwrite_a_folder_that_is_not_a_run(tmp_path, cli):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("precious")
    code, _, err = cli("run", write(tmp_path, GOOD), "--out", out, "--no-progress")
    assert code == 2 and "not empty" in err
    assert (out / "notes.txt").read_text() == "precious"


def test_real_process_prints_one_line_and_no_traceback(tmp_path):
    cfg = write(tmp_path, GOOD.replace("[deepseek_r1]", "[deepseek_r2]"))
    proc = subprocess.run([sys.executable, "-m", "backtests", "run", str(cfg)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
