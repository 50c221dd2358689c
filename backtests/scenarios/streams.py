"""Random numbers per scenario: one stream per key, so chunking never changes a path.

Scenario ``i`` draws from ``Generator(PCG64(SeedSequence(seed, spawn_key=(key,))))`` where ``key``
is the scenario's stream key (:meth:`~backtests.scenarios.family.ScenarioSpec.keys`). Each
stream fills three blocks in a fixed order (standard normals, standard exponentials, uniforms on
[0, 1)), whose layout depends only on the family, never on which other scenarios are generated
with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Layout:
    """Where each consumer's numbers sit in a scenario's draws.

    Attributes
    ----------
    normals, exponentials, uniforms
        ``{name: (start, stop)}`` column ranges of each block.
    """

    normals: dict[str, tuple[int, int]]
    exponentials: dict[str, tuple[int, int]]
    uniforms: dict[str, tuple[int, int]]

    @staticmethod
    def build(requests: list[tuple[str, str, int]]) -> "Layout":
        """A layout from ``(block, name, count)`` requests, in request order."""
        blocks: dict[str, dict[str, tuple[int, int]]] = {"normals": {}, "exponentials": {}, "uniforms": {}}
        pos = {k: 0 for k in blocks}
        for block, name, count in requests:
            blocks[block][name] = (pos[block], pos[block] + int(count))
            pos[block] += int(count)
        return Layout(blocks["normals"], blocks["exponentials"], blocks["uniforms"])

    def size(self, block: str) -> int:
        table = getattr(self, block)
        return max((stop for _, stop in table.values()), default=0)


@dataclass(frozen=True)
class Draws:
    """The random numbers of a chunk of scenarios (one row per scenario)."""

    layout: Layout
    normals: np.ndarray
    exponentials: np.ndarray
    uniforms: np.ndarray

    def get(self, block: str, name: str) -> np.ndarray:
        """Columns of ``name`` in ``block`` (a view, shape ``(n, count)``)."""
        lo, hi = getattr(self.layout, block)[name]
        return getattr(self, block)[:, lo:hi]


def scenario_rng(seed: int, key: int) -> np.random.Generator:
    """The generator of stream ``key`` under ``seed`` (independent of every other key)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed), spawn_key=(int(key),))))


def draw(seed: int, keys: np.ndarray, layout: Layout) -> Draws:
    """Fill the draws of scenarios with stream ``keys`` (rows in ``keys`` order).

    Scenarios sharing a key (common random numbers) share their rows; each distinct key is drawn once.
    """
    keys = np.asarray(keys, dtype=np.int64)
    n = len(keys)
    out = {b: np.empty((n, layout.size(b)), dtype=np.float64) for b in ("normals", "exponentials", "uniforms")}
    first: dict[int, int] = {}
    for i, k in enumerate(keys.tolist()):
        j = first.get(k)
        if j is not None:
            for b in out:
                out[b][i] = out[b][j]
            continue
        first[k] = i
        rng = scenario_rng(seed, k)
        rng.standard_normal(out=out["normals"][i])
        rng.standard_exponential(out=out["exponentials"][i])
        rng.random(out=out["uniforms"][i])
    return Draws(layout, out["normals"], out["exponentials"], out["uniforms"])


__all__ = ["Layout", "Draws", "scenario_rng", "draw"]
