"""The canonical JSON of metrics.json and manifest.json (orjson): Python's json.dumps(indent=2,
sort_keys=True) except the documented forms of floats below 1e-4; NaN as null; numpy scalars as
their Python values."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from backtests.jsonfmt import dumps, encode


def _python(obj: object) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_the_form_of_python_s_encoder_for_ordinary_documents():
    doc = {"b": [1, 2.5, -0.0, True, None, "é \u2028 \n \"q\""], "a": {"z": [], "y": {}, "x": 1e16, "w": 1e-4},
           "c": [[1, {"k": 0.1}]], "n": -123456789012345678}
    assert dumps(doc) == _python(doc)
    assert encode(doc) == _python(doc).encode("utf-8")


@pytest.mark.parametrize("value, text", [(2.5e-05, "0.000025"), (1e-05, "0.00001"), (3e-07, "3e-7"),
                                         (-1.2345e-09, "-1.2345e-9"), (1e-10, "1e-10"), (1e-4, "0.0001"),
                                         (1.5e16, "1.5e+16"), (5e-324, "5e-324")])
def test_floats_below_1e_4_in_the_documented_form(value, text):
    assert encode([value]) == f"[\n  {text}\n]\n".encode()
    assert json.loads(encode([value]))[0] == value  # the same float read back


def test_nan_and_infinities_are_null_numpy_scalars_python_values():
    doc = {"nan": math.nan, "inf": -math.inf, "i": np.int64(3), "f": np.float64(0.1), "b": np.bool_(True),
           "h": np.float32(0.1)}
    back = json.loads(encode(doc))
    assert back == {"nan": None, "inf": None, "i": 3, "f": 0.1, "b": True, "h": float(np.float32(0.1))}


def test_keys_that_are_not_text_become_text_sorted_as_text():
    assert json.loads(encode({10: "a", 2: "b"})) == {"10": "a", "2": "b"}
    assert encode({10: "a", 2: "b"}).index(b'"10"') < encode({10: "a", 2: "b"}).index(b'"2"')


def test_the_same_document_gives_the_same_bytes():
    rng = np.random.default_rng(0)
    doc = {"x": (rng.standard_normal(5000) * 10.0 ** rng.integers(-12, 12, 5000)).tolist()}
    assert encode(doc) == encode(json.loads(encode(doc)))
