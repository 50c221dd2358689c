"""Fuzz the config loader (hypothesis): no input leads to a traceback, a hang or unbounded memory.

The contract checked for every generated config: ``load_config`` (and, for configs built from the
schema's own keys, the second pass ``plan_study`` as ``scare validate`` runs it) either succeeds or
raises a :class:`ScareInputError`. Loading finishes within the hypothesis deadline (5 s per
example, on a loaded 2-core machine) and allocates under 64 MB (tracemalloc peak of
``load_config``). The bound is generous on purpose: a valid small config needs about 1 MB, the
alias bomb of issue 12 needed 21.8 GB before the limits.
"""

from __future__ import annotations

import string
import tracemalloc
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtests.errors import ScareInputError

MEMORY_BOUND = 64 * 2**20
SETTINGS = dict(deadline=5000, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

GOOD = """\
name: fuzz
data: {source: synthetic}
windows: [deepseek_r1, {id: mine, date: 2025-03-03, market: XNYS, pre: 3, post: 4}]
window_defaults: {pre: 5, post: 10}
strategies:
  - name: buy_and_hold
    roles: {asset: QQQ}
    params: {weight: [0.5, 1.0]}
  - name: ma_cross
    params: {fast: {start: 5, stop: 10, step: 5}, slow: 30}
execution: {init_cash: 1000000, fill: open}
scoring: {pbo_blocks: 8, bootstrap_samples: 200}
limits: {max_runs: 1000}
"""

TOKENS = ["&a ", "*a", "&b ", "*b", "<<: *a", "!!python/object:os.system ", "!!int ", "!!timestamp ",
          "!!binary ", "!!set ", "? ", ": ", "- ", "[", "]", "{", "}", ",", "'", '"', "\n", "  ", "#", "---\n",
          ".inf", "-.inf", ".nan", "1e400", "99999999999999999999999", "-1", "0", "2026-02-30", "null", "~",
          "yes", "\t", "|\n", ">\n", "%YAML 1.1\n", "\x00", "\ufeff", "é"]


def _warm() -> None:
    """Import and build once what validation needs (catalogue, calendars), outside the examples."""
    import tempfile

    from backtests.config import load_config
    from backtests.config.plan import plan_study

    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "good.yaml").write_text(GOOD)
        plan_study(load_config(Path(d) / "good.yaml"))


_warm()


def _load(tmp_path: Path, text: str | bytes, plan: bool = False) -> None:
    """Load (memory traced) and optionally plan ``text``; only one-line input errors may come out."""
    from backtests.config import load_config

    cfg = tmp_path / "fuzz.yaml"
    if isinstance(text, bytes):
        cfg.write_bytes(text)
    else:
        cfg.write_text(text, encoding="utf-8", errors="surrogatepass")
    tracemalloc.start()
    try:
        try:
            loaded = load_config(cfg)
        except ScareInputError as exc:
            assert str(exc).strip()
            return
        finally:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert peak < MEMORY_BOUND, f"{peak / 2**20:.0f} MB"
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()
    if plan:
        from backtests.data.sources import declared_series
        from backtests.config.plan import check_series, plan_study

        try:
            p = plan_study(loaded)
            check_series(p, declared_series(p.config.data, loaded.base_dir))
        except ScareInputError as exc:
            assert str(exc).strip()


@settings(max_examples=100, **SETTINGS)
@given(st.lists(st.sampled_from(TOKENS) | st.text(string.printable, max_size=6), max_size=60))
def test_token_soup(tmp_path, parts):
    _load(tmp_path, "".join(parts))


@settings(max_examples=100, **SETTINGS)
@given(st.data())
def test_mutated_good_config(tmp_path, data):
    """The good config with YAML tokens spliced in, characters deleted or lines duplicated."""
    text = GOOD
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(text)))
        op = data.draw(st.sampled_from(["insert", "delete", "dup"]))
        if op == "insert":
            text = text[:i] + data.draw(st.sampled_from(TOKENS)) + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + data.draw(st.integers(1, 12)):]
        else:
            lines = text.splitlines(keepends=True)
            j = data.draw(st.integers(0, len(lines) - 1))
            text = "".join(lines[: j + 1] + lines[j:])
    _load(tmp_path, text)


@settings(max_examples=30, **SETTINGS)
@given(st.binary(max_size=200))
def test_random_bytes(tmp_path, blob):
    _load(tmp_path, blob)


@settings(max_examples=20, **SETTINGS)
@given(st.integers(1, 12), st.integers(2, 12))
def test_alias_bombs(tmp_path, levels, width):
    """Nested aliases of every depth and width: refused (or loaded when small), never expanded."""
    lines = ["a0: &a0 [" + ", ".join(["x"] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    _load(tmp_path, GOOD + "anchors:\n" + "".join(f"  {line}\n" for line in lines))


# Values of every awkward type, placed at the schema's own keys, then validated and planned.
AWKWARD = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
    st.sampled_from(["2026-02-30", "1000-01-01", "9999-12-31", "2049-12-01", "25:00", "XNYS", "XKRX", "QQQ", "buy_and_hold", "{name}"]),
    st.dates().map(lambda d: d.isoformat()),
    st.lists(st.integers(-5, 10**6), max_size=3), st.dictionaries(st.sampled_from(["start", "stop", "step"]),
                                                                  st.floats(-1e6, 1e12), max_size=3),
)
FIELDS = [
    ("seed",), ("data", "seed"), ("data", "start"), ("data", "end"), ("data", "exclude_dates"),
    ("window_defaults", "pre"), ("window_defaults", "post"), ("windows", 1, "pre"), ("windows", 1, "post"),
    ("windows", 1, "date"), ("windows", 1, "market"), ("strategies", 0, "params", "weight"),
    ("strategies", 1, "params", "fast"), ("strategies", 1, "params", "slow"), ("execution", "init_cash"),
    ("scoring", "pbo_blocks"), ("scoring", "bootstrap_samples"), ("scoring", "risk_free"),
    ("scoring", "confidence"), ("scoring", "estimation_sessions"), ("limits", "max_runs"),
    ("executor", "chunk_runs"), ("executor", "memory_limit_gb"), ("costs", "long_yield", "QQQ"),
    ("benchmark",), ("strategies", 0, "roles", "asset"), ("strategies", 0, "windows"), ("name",),
]


# Planning may build an exchange calendar for a new century the first time (seconds, then cached):
# not a hang of the loader, so this test has no per-example deadline, only the suite's timeout.
@settings(max_examples=40, deadline=None, suppress_health_check=SETTINGS["suppress_health_check"])
@given(st.lists(st.tuples(st.sampled_from(FIELDS), AWKWARD), min_size=1, max_size=4))
def test_awkward_values_at_real_keys(tmp_path, edits):
    doc = yaml.safe_load(GOOD)
    for path, value in edits:
        cur = doc
        for key in path[:-1]:
            cur = cur.setdefault(key, {}) if isinstance(cur, dict) else cur[key]
        cur[path[-1]] = value
    _load(tmp_path, yaml.safe_dump(doc, allow_unicode=True), plan=True)
