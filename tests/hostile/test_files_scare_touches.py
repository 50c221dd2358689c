"""Files scare touches and inputs it reads (issue 23, part A), as data: ``trees/NAME/``.

Each case is a folder ``trees/NAME/`` with a ``MANIFEST`` and an optional ``tree/`` copied into a
fresh work folder. The manifest's lines (``#`` comments ignored):

``setup: ACTION ...``
    Build what git cannot hold, in order (paths relative to the work folder):
    ``previous-run DIR`` (a copy of a finished run), ``symlink PATH -> TARGET`` (replacing PATH),
    ``fifo PATH``, ``device PATH`` (a character device like /dev/null: root only),
    ``hardlink PATH -> EXISTING``, ``sparse PATH SIZE`` (``2GiB``), ``deep-json PATH DEPTH``
    (a metrics.json nested DEPTH levels), ``json-set PATH KEY JSON`` (a top-level field),
    ``mkdir PATH``, ``write PATH TEXT``, or ``scare ARGS...`` (a scare command that must succeed).
``env: NAME=VALUE``
    Environment for the commands (``SCARE_DATA_CACHE`` defaults to ``{work}/cache``).
``command: ARGS...``
    A scare command (repeatable); ``{work}`` is the work folder, ``{case}`` the case folder.
``exit: N``
    Expected exit code (default 2: then stderr is exactly one ``scare: error:`` line).
``expect: TEXT`` / ``stdout: TEXT`` / ``stderr: TEXT``
    Fragments of the error line / of stdout / of stderr (exit 0 cases).
``may-change: GLOB``
    Paths (relative to the work folder, fnmatch) scare may change; everything else in the work
    folder, and beside it, must stay byte for byte (content, type, mode, link target, mtime).
``root-only``
    Skip unless running as root (devices).

Every command must exit as said, print no traceback, and leave every file it may not change as it
was: scare deletes, truncates or overwrites only what it can prove it wrote.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import shlex
import shutil
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.hostile.test_hostile import previous_run  # noqa: F401 - the finished run the corpus shares

HERE = Path(__file__).resolve().parent
TREES = HERE / "trees"
BIG = 64 << 20


@dataclass
class TreeCase:
    name: str
    folder: Path
    setup: list[list[str]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    exit: int = 2
    expect: list[str] = field(default_factory=list)
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    may_change: list[str] = field(default_factory=list)
    root_only: bool = False


def _parse(folder: Path) -> TreeCase:
    case = TreeCase(folder.name, folder)
    for raw in (folder / "MANIFEST").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line == "root-only":
            case.root_only = True
            continue
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "setup":
            case.setup.append(shlex.split(value))
        elif key == "env":
            name, _, val = value.partition("=")
            case.env[name] = val
        elif key == "command":
            case.commands.append(value)
        elif key == "exit":
            case.exit = int(value)
        elif key in ("expect", "stdout", "stderr"):
            getattr(case, key).append(value)
        elif key == "may-change":
            case.may_change.append(value)
        else:
            raise AssertionError(f"{folder.name}: unknown manifest line {raw!r}")
    assert case.commands, f"{folder.name}: no command"
    assert case.exit != 2 or case.expect, f"{folder.name}: an error case needs an 'expect:' line"
    return case


CASES = [_parse(p) for p in sorted(TREES.iterdir()) if p.is_dir()]


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry below ``root`` without following links: type, mode, content digest (size and
    mtime for very large sparse files), link target, device numbers; files also their mtime."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            st = os.lstat(p)
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", mode)
            elif stat.S_ISREG(st.st_mode):
                digest = (hashlib.sha256(p.read_bytes()).hexdigest() if st.st_size <= BIG
                          else f"{st.st_size} bytes")
                out[rel] = ("file", mode, digest, st.st_mtime_ns, st.st_nlink)
            elif stat.S_ISFIFO(st.st_mode):
                out[rel] = ("fifo", mode)
            else:
                out[rel] = ("device", mode, st.st_rdev)
    return out


def _size(text: str) -> int:
    units = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
    for unit, mult in units.items():
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * mult)
    return int(text)


def _build(case: TreeCase, work: Path, previous: Path, cli) -> None:
    for action, *args in case.setup:
        path = work / args[0] if args else work
        if action == "previous-run":
            shutil.copytree(previous, path, symlinks=True)
        elif action == "symlink":
            assert args[1] == "->", args
            if os.path.lexists(path):
                path.unlink()
            os.symlink(args[2], path)
        elif action == "fifo":
            os.mkfifo(path)
        elif action == "device":
            os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        elif action == "hardlink":
            assert args[1] == "->", args
            os.link(work / args[2], path)
        elif action == "sparse":  # extended with a hole (what is there stays at the start)
            with open(path, "ab") as fh:
                fh.truncate(_size(args[1]))
        elif action == "deep-json":
            depth = int(args[1])
            path.write_text('{"study": ' + "[" * depth + "]" * depth + ', "strategies": [], "pooled": [], '
                            '"runs": []}')
        elif action == "json-set":
            doc = json.loads(path.read_text())
            doc[args[1]] = json.loads(args[2])
            path.write_text(json.dumps(doc))
        elif action == "mkdir":
            path.mkdir(parents=True)
        elif action == "write":
            path.write_text(args[1] + "\n")
        elif action == "scare":
            code, out, err = cli(*[a.replace("{work}", str(work)).replace("{case}", str(case.folder))
                                   for a in args])
            assert code == 0, (case.name, args, out, err)
        else:
            raise AssertionError(f"{case.name}: unknown setup action {action!r}")


def _changed(before: dict[str, tuple], after: dict[str, tuple], allowed: list[str]) -> list[str]:
    names = sorted(set(before) | set(after))
    return [n for n in names if before.get(n) != after.get(n)
            and not any(fnmatch.fnmatchcase(n, g) for g in allowed)]


@pytest.fixture
def memo_synthetic(monkeypatch):
    from tests.hostile.test_hostile import _memo_synthetic

    _memo_synthetic(monkeypatch)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_files_scare_touches(case: TreeCase, tmp_path, previous_run, cli, monkeypatch, memo_synthetic):
    if case.root_only and os.geteuid() != 0:
        pytest.skip("needs root (mknod)")
    work = tmp_path / "work"
    if (case.folder / "tree").is_dir():
        shutil.copytree(case.folder / "tree", work, symlinks=True)
    else:
        work.mkdir()
    (tmp_path / "precious.txt").write_text("outside the work folder: never touched\n")
    monkeypatch.setenv("SCARE_DATA_CACHE", str(work / "cache"))
    for name, value in case.env.items():
        monkeypatch.setenv(name, value.replace("{work}", str(work)))
    monkeypatch.chdir(work)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    _build(case, work, previous_run, cli)
    before = snapshot(tmp_path)
    for kind in ("expect", "stdout", "stderr"):
        setattr(case, kind, [f.replace("{work}", str(work)) for f in getattr(case, kind)])
    for command in case.commands:
        argv = [a.replace("{work}", str(work)).replace("{case}", str(case.folder)) for a in shlex.split(command)]
        code, out, err = cli(*argv)
        where = f"{case.name}: scare {command}"
        assert "Traceback" not in err, f"{where}: {err}"
        assert code == case.exit, f"{where}: exit {code}, stderr {err!r}, stdout {out[-500:]!r}"
        if case.exit == 2:
            lines = err.splitlines()
            assert len(lines) == 1 and lines[0].startswith("scare: error: "), f"{where}: stderr {err!r}"
            assert lines[0].isprintable(), f"{where}: raw control characters: {lines[0]!r}"
            for fragment in case.expect:
                assert fragment in lines[0], f"{where}: {fragment!r} not in {lines[0]!r}"
        for fragment in case.stdout:
            assert fragment in out, f"{where}: {fragment!r} not in stdout {out[-2000:]!r}"
        for fragment in case.stderr:
            assert fragment in err, f"{where}: {fragment!r} not in stderr {err!r}"
        changed = _changed(before, snapshot(tmp_path), [f"work/{g}" for g in case.may_change])
        assert not changed, f"{where}: changed what it may not: {changed}"


def test_every_case_is_collected():
    assert len(CASES) >= 20 and len({c.name for c in CASES}) == len(CASES)



# ------------------------------------------------------------------- disk full, real processes
SMALL = ("name: small\ndata: {source: synthetic}\nwindows: [deepseek_r1]\nbenchmark: null\n"
         "strategies:\n  - {name: buy_and_hold, roles: {asset: QQQ}}\n")


def _one_error_line(code: int, err: str, *fragments: str) -> str:
    lines = err.splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("scare: error: "), (code, err)
    assert "Traceback" not in err and lines[0].isprintable()
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 24 MiB tmpfs (root only): a disk that really fills up."""
    import subprocess

    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("needs root and mount (a small tmpfs) to fill a disk for real")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _fill(folder: Path, leave: int) -> None:
    """Fill the file system of ``folder`` until ``leave`` bytes are free."""
    free = shutil.disk_usage(folder).free
    with open(folder / "filler.bin", "wb") as fh:
        block = b"\0" * (1 << 20)
        while free - leave > 0:
            fh.write(block[: min(len(block), free - leave)])
            free -= min(len(block), free - leave)


def _small_run(tmp_path: Path, out: Path, cli) -> Path:
    """Run the small study into ``out``; returns its config."""
    cfg = tmp_path / "small.yaml"
    cfg.write_text(SMALL)
    assert cli("run", cfg, "--out", out, "--no-progress", "--no-audit")[0] == 0
    return cfg


def test_disk_full_on_a_real_tmpfs_keeps_the_previous_run(small_tmpfs, tmp_path, cli, memo_synthetic):
    out = small_tmpfs / "run"
    cfg = _small_run(tmp_path, out, cli)
    before = snapshot(out)
    _fill(small_tmpfs, 256 << 10)
    code, _, err = cli("run", cfg, "--out", out, "--no-progress", "--no-audit",
                       "--set", "strategies.0.params.weight=[0.25, 0.5, 0.75]")
    line = _one_error_line(code, err)
    assert "No space left on device" in line or "no space left" in line, line
    assert snapshot(out) == before  # the previous run, byte for byte (no staging, no lock left)


def test_disk_full_while_writing_run_files_is_one_line(tmp_path, cli, monkeypatch, memo_synthetic):
    import errno

    from backtests.outputs import folder

    out = tmp_path / "run"
    cfg = _small_run(tmp_path, out, cli)
    before = snapshot(tmp_path)

    def full(path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(folder, "_sync_and_hash", full)
    code, _, err = cli("run", cfg, "--out", out, "--no-progress", "--no-audit")
    _one_error_line(code, err, "cannot be written: No space left on device",
                    "nothing of an earlier run was replaced: free space and run again")
    assert snapshot(tmp_path) == before


def test_disk_full_while_writing_the_cache_is_one_line(tmp_path, cli, monkeypatch):
    import errno

    from backtests.data import store

    csv = TREES / "cache_manifest_entry_is_5" / "tree" / "mu.csv"
    cache = tmp_path / "cache"
    assert cli("data", "import", csv, "--symbol", "MU", "--cache", cache)[0] == 0
    before = snapshot(tmp_path)

    def full(fh, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store, "_write_bytes", full)
    code, out, err = cli("data", "import", csv, "--symbol", "NVDA", "--cache", cache)
    _one_error_line(code, err, "No space left on device", "the cache keeps what it held before")
    assert snapshot(tmp_path) == before


def _peak_rss_kb(args: list[str], cwd: Path) -> tuple[int, str, int]:
    """Exit code, stderr and peak RSS (VmHWM, KB) of ``scare ARGS`` in a fresh process."""
    import subprocess

    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc/self/status (VmHWM) to measure the child's own peak memory")
    driver = ("import re, sys\nfrom backtests.orchestration.cli import main\ncode = main(sys.argv[1:])\n"
              "sys.stdout.write('VmHWM ' + re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))\n"
              "sys.exit(code)\n")
    env = {**os.environ, "PYTHONPATH": str(HERE.parents[1]), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-c", driver, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)
    return proc.returncode, proc.stderr, int(proc.stdout.rsplit("VmHWM ", 1)[1])


def test_a_2_gib_config_is_refused_in_a_few_megabytes(tmp_path):
    """As the shell sees it: issue 23 measured 4.3 GB RSS then a MemoryError traceback."""
    cfg = tmp_path / "study.yaml"
    with open(cfg, "wb") as fh:
        fh.truncate(2 << 30)
    code, err, peak = _peak_rss_kb(["validate", str(cfg)], tmp_path)
    _one_error_line(code, err, "YAML is 2 GiB, larger than 1 MiB")
    assert peak < 300 * 1024, f"peak RSS {peak / 1024:.0f} MB"


def test_an_events_alias_bomb_is_refused_in_a_few_megabytes(tmp_path):
    """issue 23: a 1 KB alias bomb in an events file reached 3 GB."""
    case = HERE / "cases" / "events_yaml_alias_bomb"
    shutil.copytree(case, tmp_path / "case")
    code, err, peak = _peak_rss_kb(["validate", str(tmp_path / "case" / "study.yaml")], tmp_path)
    _one_error_line(code, err, "YAML expands to more than 100,000 values")
    assert peak < 300 * 1024, f"peak RSS {peak / 1024:.0f} MB"


# ------------------------------------------------------------------- fetch offline, version
def test_fetch_without_a_network_fails_at_the_first_attempt(tmp_path, cli, monkeypatch):
    """Offline with a fixture (the message yfinance logs when a host does not resolve): one line,
    one attempt, no backoff sleeps, nothing written (issue 23: DNS retried for 142 s)."""
    import logging

    from backtests.data import cache as cache_mod
    from backtests.data.providers.yahoo import YahooProvider

    message = (HERE / "fixtures" / "yfinance_dns_failure.txt").read_text().strip()
    calls, sleeps = [], []

    def download(symbol, **kwargs):
        calls.append(symbol)
        logging.getLogger("yfinance").error(message)
        import pandas as pd

        return pd.DataFrame()

    prov = YahooProvider(download=download, sleep=sleeps.append)
    monkeypatch.setattr(cache_mod, "provider_for", lambda *a, **k: prov)
    code, out, err = cli("data", "fetch", "MU", "NVDA", "SPY", "--cache", tmp_path / "cache")
    _one_error_line(code, err, "cannot resolve query2.finance.yahoo.com: no network (or no DNS)",
                    "scare data import")
    assert calls == ["MU"] and sleeps == [] and not (tmp_path / "cache").exists()


def test_transient_http_errors_are_still_retried(tmp_path):
    from backtests.data.providers import ProviderError, TransientError, with_retries

    sleeps: list[float] = []
    tries = iter([TransientError("HTTP 503"), TransientError("HTTP 503"), "ok"])

    def call():
        got = next(tries)
        if isinstance(got, Exception):
            raise got
        return got

    assert with_retries(call, "what", sleep=sleeps.append) == "ok" and sleeps == [1.0, 2.0]
    with pytest.raises(ProviderError, match="gave up after 2 attempts: HTTP 503"):
        with_retries(lambda: (_ for _ in ()).throw(TransientError("HTTP 503")), "what", attempts=2,
                     sleep=sleeps.append)


def test_scare_version_is_the_release_version(cli):
    import tomllib

    want = tomllib.loads((HERE.parents[1] / "pyproject.toml").read_text())["project"]["version"]
    code, out, _ = cli("--version")
    import backtests

    assert code == 0 and out.strip() == f"scare {want}" and backtests.__version__ == want
