"""Run records kept as columns (scoring/records.py): the records metrics.json holds, built on
demand, and the runs.parquet table built from the columns."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from backtests.engine.results import NEVER
from backtests.jsonfmt import clean_json
from backtests.scoring.records import RunRecords, frame_records, params_records


def _records() -> RunRecords:
    grid = pd.DataFrame({"hold": [1, 3], "level": [2.5, float("nan")]})
    table = pd.DataFrame({"total_return": [0.1, np.nan, -0.2, 0.0], "n_periods": np.array([5, 0, 5, 5], np.int64)})
    first = np.array([pd.Timestamp("2026-06-23 06:30", tz="UTC").value, NEVER, NEVER,
                      pd.Timestamp("2026-06-24 06:30", tz="UTC").value], dtype=np.int64)
    return RunRecords(["r0", "r1", "r2", "r3"], "fade", "fade_kospi_halt", ["w1", "w2"], params_records(grid), first,
                      table, {"r1": {"total_return": "no observations"}})


def test_records_are_the_run_records_of_metrics_json():
    rec = _records()
    assert len(rec) == 4
    assert rec[1] == {"id": "r1", "strategy": "fade", "strategy_name": "fade_kospi_halt", "params": {"hold": 1, "level": 2.5},
                      "combo": 0, "window": "w2", "first_fill_utc": None,
                      "metrics": {"total_return": None, "n_periods": 0}, "nan_reasons": {"total_return": "no observations"}}
    assert rec[3]["params"] == {"hold": 3, "level": None} and rec[3]["first_fill_utc"] == "2026-06-24T06:30:00+00:00"
    assert rec[-1] == rec[3] and list(rec) == rec[:] == [rec[i] for i in range(4)]
    assert [r["id"] for r in rec.of_combos([1])] == ["r2", "r3"]
    assert isinstance(rec[0]["metrics"]["n_periods"], int)
    json.dumps(list(rec), allow_nan=False)


def test_frame_is_runs_parquet_from_the_columns():
    rec = _records()
    f = rec.frame()
    assert list(f.columns) == ["id", "strategy", "strategy_name", "combo", "window", "first_fill_utc", "params",
                               "nan_reasons", "total_return", "n_periods"]
    assert f["combo"].tolist() == [0, 0, 1, 1] and f["window"].tolist() == ["w1", "w2", "w1", "w2"]
    assert [json.loads(p) for p in f["params"]] == [r["params"] for r in rec]
    assert [json.loads(p) for p in f["nan_reasons"]] == [r["nan_reasons"] for r in rec]
    assert f["first_fill_utc"].isna().tolist() == [False, True, True, False]
    assert f["n_periods"].dtype == np.int64 and np.isnan(f["total_return"].iloc[1])


def test_params_records_match_clean_json_of_each_row():
    grid = pd.DataFrame({"t": [8.0, -0.0, np.inf], "v": ["ewy", "k", "x"], "c": [True, False, True],
                         "o": pd.Series([1, None, "a"], dtype=object)})
    assert params_records(grid) == [clean_json(p) for p in grid.to_dict("records")]
    assert frame_records(pd.DataFrame({"a": [np.inf, 1.0]})) == [{"a": None}, {"a": 1.0}]


def test_params_text_from_the_grid_columns_is_the_text_of_each_dict():
    grid = pd.DataFrame({"vehicle": ["삼성", "ewy"], "threshold": [2.5e-05, -0.0], "on": [True, False]})
    table = pd.DataFrame({"total_return": [0.1, 0.2]})
    by_dicts = RunRecords(["r0", "r1"], "s", "s", ["w"], params_records(grid), None, table, {})
    by_grid = RunRecords(["r0", "r1"], "s", "s", ["w"], params_records(grid), None, table, {}, grid=grid)
    assert by_grid.frame()["params"].tolist() == by_dicts.frame()["params"].tolist() == [
        '{"on":true,"threshold":2.5e-05,"vehicle":"삼성"}', '{"on":false,"threshold":-0.0,"vehicle":"ewy"}']
