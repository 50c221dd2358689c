"""Run and combination ids: built from the grid's columns (run_ids, combo_ids), the same ids as one
run_id / combo_id per row, whatever the column types."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.digest import combo_id, combo_ids, params_texts, run_id, run_ids
from backtests.jsonfmt import clean_json

GRIDS = {
    "ints": pd.DataFrame({"slow": [10, 20, 10, 30], "fast": [2, 2, 3, 3]}),
    "floats": pd.DataFrame({"threshold": [8.0, -0.0, 0.0, 2.5e-05, 3e-07, 1e16, float("nan"), float("inf")]}),
    "text and flags": pd.DataFrame({"vehicle": ["kodex200", "ewy", "삼성", "ewy"], "confirm": [True, False, True, False],
                                    "hold": [1, 2, 3, 5]}),
    "mixed objects": pd.DataFrame({"x": pd.Series([1, 1.0, True, "1", None, 2.5], dtype=object)}),
    "no parameters": pd.DataFrame(index=range(3)),
}


@pytest.mark.parametrize("name", GRIDS)
def test_ids_from_columns_equal_the_ids_row_by_row(name):
    grid = GRIDS[name]
    rows = [clean_json(p) for p in grid.to_dict("records")]
    windows = ["w1", "kospi crash é"]
    assert run_ids("fade é", grid, windows) == [run_id("fade é", p, w) for p in rows for w in windows]
    assert combo_ids("fade é", grid) == [combo_id("fade é", p) for p in rows]


def test_key_text_keeps_values_that_compare_equal_apart():
    # -0.0 == 0.0 and 1 == 1.0 == True in Python; their JSON texts (and ids) differ
    assert params_texts(GRIDS["floats"])[1:3] == ['{"threshold":-0.0}', '{"threshold":0.0}']
    assert params_texts(GRIDS["mixed objects"])[:4] == ['{"x":1}', '{"x":1.0}', '{"x":true}', '{"x":"1"}']
    assert len(set(combo_ids("s", GRIDS["mixed objects"]))) == 6


def test_key_text_is_the_json_of_the_sorted_parameters():
    assert params_texts(GRIDS["ints"])[0] == '{"fast":2,"slow":10}'
    assert params_texts(GRIDS["text and flags"])[2] == '{"confirm":true,"hold":3,"vehicle":"\\uc0bc\\uc131"}'
    big = pd.DataFrame({"a": np.arange(1000) % 7, "b": np.repeat(np.arange(10), 100) * 0.5})
    assert params_texts(big) == ['{"a":%d,"b":%r}' % (a, float(b)) for a, b in zip(big["a"], big["b"])]
