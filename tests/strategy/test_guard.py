"""The plug-in call guard (backtests.strategy.guard): a plug-in's mistake is one error at its own line."""

from __future__ import annotations

import importlib.util
import json
import sys
import textwrap

import pytest

from backtests.errors import DataError, StrategyError
from backtests.strategy.guard import definition_line, guard, plugin_call, strategy_files

BODY = """\
from backtests.errors import DataError
from backtests.strategy import Role, Strategy


def helper(x):
    return 1 / x


class Plug(Strategy):
    name = "plug"
    roles = {"asset": Role("QQQ")}

    def divide(self, x):
        return helper(x)

    def leave(self):
        raise SystemExit(3)

    def own_check(self):
        raise DataError("no bars for QQQ")
"""


@pytest.fixture(scope="module")
def plug(tmp_path_factory):
    path = tmp_path_factory.mktemp("plug") / "guard_plugin.py"
    path.write_text(textwrap.dedent(BODY))
    spec = importlib.util.spec_from_file_location("guard_plugin", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["guard_plugin"] = mod
    spec.loader.exec_module(mod)
    yield mod, str(path)
    sys.modules.pop("guard_plugin", None)


def test_an_exception_points_at_the_last_line_in_the_plugins_file(plug):
    mod, path = plug
    s = mod.Plug()
    assert guard(s, "p", "divide()", s.divide, 2) == 0.5
    with pytest.raises(StrategyError) as info:
        guard(s, "p", "divide()", s.divide, 0)
    assert str(info.value) == f"{path}:6: strategy 'p' failed in divide(): ZeroDivisionError: division by zero"
    assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_sys_exit_is_an_error_naming_the_plugin_not_the_end_of_the_process(plug):
    mod, path = plug
    with pytest.raises(StrategyError, match=r"strategy 'p' called sys.exit\(3\) in leave\(\)") as info:
        guard(mod.Plug(), "p", "leave()", mod.Plug().leave)
    assert str(info.value).startswith(f"{path}:17:")


def test_ctrl_c_is_left_to_the_runner():
    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        with plugin_call("module 'x'", "import", []):
            interrupted()


def test_scares_own_errors_keep_their_message_and_gain_the_plugins_line(plug):
    mod, path = plug
    with pytest.raises(DataError) as info:
        guard(mod.Plug(), "p", "own_check()", mod.Plug().own_check)
    assert str(info.value) == f"{path}:20: strategy 'p': no bars for QQQ"


def test_without_a_frame_in_the_plugin_the_methods_def_line_is_named(plug):
    mod, path = plug
    assert definition_line(mod.Plug.divide) == f"{path}:13"
    assert strategy_files(mod.Plug) == [path]  # scare's own base class is not the plug-in's file

    # the call fails inside the standard library, called straight from scare: no frame of the plug-in
    with pytest.raises(StrategyError) as info:
        guard(mod.Plug(), "p", "weights()", json.loads, "{", at=mod.Plug.divide)
    assert str(info.value).startswith(f"{path}:13: strategy 'p' failed in weights(): JSONDecodeError")
