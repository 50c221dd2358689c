"""``run`` and ``load_run``: a study in one call, a run folder in one call, the same :class:`Result`.

:func:`run` goes through exactly what ``scare run`` goes through: the config is loaded and
validated by the same loader, the study runs through the one preparation pipeline and the one
runner (:func:`backtests.orchestration.runner.run_study`: plan, checks, data, look-ahead audit,
sweep, scoring), and with ``out=`` the same output stage writes the run folder, so its
``metrics.json`` is byte for byte the one ``scare run CONFIG --out DIR`` writes. Without ``out=``
nothing is written: the result holds what the folder would (:func:`backtests.outputs.write.run_contents`).
:func:`load_run` reads a folder written by ``scare run`` (this version or 0.2) through the report's
reader (:func:`backtests.outputs.regenerate.load_run`), read-only.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from backtests.api.result import Result
from backtests.audit.stage import RUN_BUDGET
from backtests.config.loader import ConfigSource, LoadedConfig, apply_overrides, load_config, read_config, validate_data
from backtests.config.model import StudyConfig
from backtests.data.market_data import MarketData
from backtests.errors import ConfigError
from backtests.strategy.base import Strategy
from backtests.strategy.registry import class_name

#: Where a config given as a dict or a StudyConfig says it came from (in error lines).
IN_PYTHON = "<study given in Python>"


def run(study: str | os.PathLike[str] | Mapping[str, Any] | StudyConfig | LoadedConfig,
        strategies: Sequence[Any] | None = None, *, data: MarketData | Mapping[str, Any] | None = None,
        out: str | os.PathLike[str] | None = None, set: Sequence[str] = (), audit: bool = True,  # noqa: A002 - scare run --set
        audit_budget: float = RUN_BUDGET, offline: bool = False, resume: bool = False, progress: bool = False,
        **fields: Any) -> Result:
    """Run a study and return its :class:`Result`.

    Parameters
    ----------
    study
        A study config: a YAML path (as ``scare run`` takes it), a dict of the same keys, a
        :class:`~backtests.config.model.StudyConfig`, or a loaded config.
    strategies
        Replaces the study's ``strategies``: each a strategy **class** (defined anywhere, a
        notebook cell included: it is audited for look-ahead like a plug-in and refused when it
        looks ahead), a registered name or ``module:Class`` string, or a dict of a config's
        strategy entry whose ``name`` may be a class (``{"name": MyStrategy, "params": {...},
        "label": ..., "roles": {...}}``). A class stands in the config as ``module:QualName``
        and is labelled by its ``name`` (else its class name) unless a label is given.
    data
        A :class:`~backtests.data.market_data.MarketData` (e.g. :meth:`MarketData.from_frames`):
        the study runs on it (``data.source`` becomes ``frames``, ``data.frequency`` the data's);
        or a dict: overrides of the config's ``data`` section.
    out
        Write the run folder there as ``scare run --out`` does (same checks of the folder, same
        files); default: write nothing.
    set
        ``scare run --set`` overrides (``["execution.fill=close"]``), applied last.
    audit, audit_budget, offline, resume, progress
        As ``scare run``'s ``--no-audit``, the audit's seconds, ``--offline``, ``--resume`` (with
        ``out``) and the progress bar (off by default).
    **fields
        Top-level config keys to override (``windows=[...]``, ``execution={"fill": "close"}``):
        a mapping is merged into the config's mapping key by key, any other value replaces it.

    Raises
    ------
    ScareInputError
        Bad input (config, data, a plug-in's error), one line as ``scare run`` prints it;
        :class:`~backtests.audit.stage.LookAheadRefused` when a strategy looks ahead.
    """
    from backtests.orchestration.runner import run_study
    from backtests.outputs.write import run_contents

    given = data if isinstance(data, MarketData) else None
    if data is not None and given is None:
        if not isinstance(data, Mapping):
            raise ConfigError(f"data= takes a MarketData or a dict of data settings, not a {type(data).__name__}",
                              where=IN_PYTHON)
        fields = {**fields, "data": data}
    loaded = study_config(study, strategies, fields, set, given)
    target = Path(out) if out is not None else None
    result = run_study(loaded, target, progress=progress, write=target is not None, offline=offline, resume=resume,
                       audit=audit, audit_budget=audit_budget, data=given)
    if target is not None:
        return load_run(result.out_dir or target)
    return Result(run_contents(result))


def load_run(folder: str | os.PathLike[str]) -> Result:
    """Read a run folder written by ``scare run`` (or :func:`run` with ``out=``), of this version or
    of scare 0.2, into the same :class:`Result` as the run; nothing in the folder is written."""
    from backtests.outputs.regenerate import load_run as read_folder

    path = Path(folder)
    return Result(read_folder(path, tables=True), folder=path)


# ---------------------------------------------------------------------- the config
def study_config(study: Any, strategies: Sequence[Any] | None, fields: Mapping[str, Any], overrides: Sequence[str],
                 given: MarketData | None) -> LoadedConfig:
    """The :class:`LoadedConfig` of ``run``'s arguments. A YAML path with nothing to change is
    loaded exactly as ``scare run`` loads it (:func:`~backtests.config.loader.load_config`)."""
    if isinstance(overrides, str):
        overrides = [overrides]
    plain = strategies is None and not fields and given is None
    if isinstance(study, (str, os.PathLike)):
        if plain:
            return load_config(study, list(overrides))
        raw, source, base = read_config(study)
        if not isinstance(raw, dict):
            raise ConfigError("a study config must be a YAML mapping (key: value)", where=source.path)
    elif isinstance(study, LoadedConfig):
        raw, source, base = study.config.model_dump(mode="json"), study.source, study.base_dir
    elif isinstance(study, StudyConfig):
        raw, source, base = study.model_dump(mode="json"), ConfigSource(IN_PYTHON), Path.cwd()
    elif isinstance(study, Mapping):
        raw, source, base = copy.deepcopy(dict(study)), ConfigSource(IN_PYTHON), Path.cwd()
    else:
        raise ConfigError(f"a study is a YAML path, a dict or a StudyConfig, not a {type(study).__name__}",
                          where=IN_PYTHON)
    data = dict(raw)
    for key, value in fields.items():
        data[key] = _merged(data.get(key), value)
        source.overridden.add((key,))
    if strategies is not None:
        data["strategies"] = list(strategies)
        source.overridden.add(("strategies",))
    if given is not None:
        data["data"] = {**(data.get("data") or {}), "source": "frames", "frequency": given.frequency}
    data["strategies"], classes = _strategy_entries(data.get("strategies"))
    apply_overrides(data, source, list(overrides))
    return LoadedConfig(validate_data(data, source), source, base, classes)


def _merged(old: Any, new: Any) -> Any:
    """``new`` merged into ``old`` key by key when both are mappings; else ``new``."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out = dict(old)
        for k, v in new.items():
            out[k] = _merged(old.get(k), v)
        return out
    return copy.deepcopy(new) if isinstance(new, (Mapping, list)) else new


def _strategy_entries(entries: Any) -> tuple[Any, dict[str, type[Strategy]]]:
    """The config's strategy entries with classes replaced by their ``module:QualName`` (and a
    label), and those classes by name, for the plan to resolve."""
    if not isinstance(entries, list):
        return entries, {}
    classes: dict[str, type[Strategy]] = {}
    out = []
    for entry in entries:
        if isinstance(entry, type):
            entry = {"name": entry}
        if isinstance(entry, Mapping) and isinstance(entry.get("name"), type):
            cls = entry["name"]
            if not issubclass(cls, Strategy):
                raise ConfigError(f"{cls.__qualname__} is not a Strategy subclass (from backtests import Strategy)",
                                  where=IN_PYTHON)
            name = class_name(cls)
            if classes.get(name, cls) is not cls:
                raise ConfigError(f"two different classes are named {name!r}: give each its own name", where=IN_PYTHON)
            classes[name] = cls
            entry = {**entry, "name": name, "label": entry.get("label") or cls.name or cls.__name__}
        out.append(entry)
    return out, classes


__all__ = ["load_run", "run", "study_config"]
