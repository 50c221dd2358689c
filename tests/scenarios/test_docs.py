"""docs/scenarios.md states every parameter and every chain estimate as the code has them."""

from __future__ import annotations

from pathlib import Path

from backtests.scenarios import PARAMETERS
from backtests.scenarios.defaults import LINK_ESTIMATES

DOC = (Path(__file__).resolve().parents[2] / "docs" / "scenarios.md").read_text()


def _rows() -> dict[str, list[str]]:
    return {c[0].strip("` "): [x.strip() for x in c] for c in
            (line.strip("|").split("|") for line in DOC.splitlines() if line.startswith("| `"))}


def test_every_parameter_is_documented_with_its_unit_range_and_default():
    rows = _rows()
    for p in PARAMETERS:
        cells = rows[p.name]
        assert cells[1] == p.unit, p.name
        assert cells[2] == f"{p.low:g} .. {p.high:g}", p.name
        assert cells[3] == f"{p.default:g}", p.name


def test_the_chain_table_matches_the_shipped_estimates():
    lines = [line for line in DOC.splitlines() if line.startswith("| `^") or line.startswith("| `EWY` |")
             or line.startswith("| `MU` |")]
    for lead, fol, beta, se, r2, n in LINK_ESTIMATES:
        hit = [x for x in lines if x.startswith(f"| `{lead}` | `{fol}`")]
        assert hit, (lead, fol)
        cells = [c.strip() for c in hit[0].strip("|").split("|")]
        assert (float(cells[2]), float(cells[3]), float(cells[4]), int(cells[5])) == (beta, se, r2, n)
