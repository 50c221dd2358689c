"""The README's outside-author loop works as written: its files and commands, taken from the README's
own text, run in an empty folder outside scare's tree.

Files are the fenced blocks whose first line is ``# <path>``; "an empty `X`" in the text is an empty
file; commands are the ``$ `` lines of the other blocks, run in order in one shell with
``$SCARE`` pointing at this checkout (the README's ``export SCARE=~/scare`` is the one line
rewritten). Every command must exit 0; then the look-ahead the README describes (``shift(-1)``)
must be refused by the same audit command, as the README says.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SECTION = "### The whole loop for an outside author"
EXPORT = "$ export SCARE=~/scare"


def loop_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(SECTION)
    return text[start:text.index("\n## ", start)]


def blocks(section: str) -> list[str]:
    """The fenced blocks of the section, dedented."""
    out = []
    for m in re.finditer(r"^( *)```[a-z]*\n(.*?)^\1```", section, re.S | re.M):
        indent = len(m.group(1))
        out.append("\n".join(line[indent:] for line in m.group(2).splitlines()) + "\n")
    return out


def files_and_commands(section: str) -> tuple[dict[str, str], list[str]]:
    files: dict[str, str] = {name: "" for name in re.findall(r"an empty `([^`]+)`", section)}
    commands: list[str] = []
    for block in blocks(section):
        first = block.splitlines()[0]
        m = re.fullmatch(r"# (\S+\.(?:py|yaml))", first)
        if m:
            files[m.group(1)] = block
        else:
            commands += [line[2:] for line in block.splitlines() if line.startswith("$ ")]
    return files, commands


def test_the_section_holds_the_whole_loop():
    files, commands = files_and_commands(loop_section())
    assert set(files) == {"my_strategies/dip_buyer.py", "my_strategies/__init__.py", "dip.yaml", "test_dip_buyer.py"}
    assert EXPORT[2:] in commands
    assert [c.split()[1] for c in commands[1:]] == ["$SCARE/.venv/bin/scare", "$SCARE/.venv/bin/python",
                                                   "$SCARE/.venv/bin/scare"]
    assert not [c for c in commands if re.match(r"(PYTHONPATH=\S+ )?scare\b", c)], "bare `scare` is not on the PATH"


@pytest.mark.slow
def test_the_outside_author_loop_runs_as_written(tmp_path):
    files, commands = files_and_commands(loop_section())
    work = tmp_path / "author"
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    script = "set -e\n" + "\n".join(f"export SCARE={ROOT}" if c == EXPORT[2:] else c for c in commands) + "\n"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PATH="/usr/bin:/bin", SCARE_CACHE_DIR=str(tmp_path / "cache"), PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-2000:])
    assert "strategy 'my_strategies.dip_buyer:DipBuyer': no look-ahead found" in done.stdout
    assert "1 passed" in done.stdout
    assert (work / "runs" / "dip" / "metrics.json").is_file() and (work / "runs" / "dip" / "tearsheet.html").is_file()

    # "Replace close.pct_change() by close.pct_change().shift(-1) ... and both refuse it"
    module = work / "my_strategies" / "dip_buyer.py"
    module.write_text(module.read_text().replace("close.pct_change()", "close.pct_change().shift(-1)"))
    audit = next(c for c in commands if " audit " in c)
    refused = subprocess.run(["bash", "-c", f"export SCARE={ROOT}\n{audit}"], cwd=work, env=env,
                             capture_output=True, text=True, timeout=600)
    assert refused.returncode == 2 and "looks ahead" in refused.stderr.splitlines()[-1], refused.stderr
