"""Discovery: curricula by name (``curricula/``, entry points), by path, with presets.

Loading imports a module and returns its ``CURRICULUM`` (or a preset) as constructed: cheap,
since construction neither looks the env up nor compiles. Call ``validate()`` on the result
before anything compiles.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import pkgutil
import sys
import traceback
from pathlib import Path

from bootstrap_rl._curriculum.config import Curriculum
from bootstrap_rl.validation import ConfigError

ENTRY_POINT_GROUP = "bootstrap_rl.curricula"


class UnknownCurriculumError(ValueError):
    """A curriculum name or path that does not lead to a module exporting ``CURRICULUM``."""


def available() -> dict[str, str]:
    """Every curriculum name: those in ``curricula/`` and those of installed plug-ins."""
    from bootstrap_rl import curricula

    names = {m.name: f"{curricula.__name__}.{m.name}" for m in pkgutil.iter_modules(curricula.__path__)
             if not m.name.startswith("_")}
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        names.setdefault(entry_point.name, entry_point.value)
    return dict(sorted(names.items()))


def load(name_or_path: str, preset: str | None = None) -> Curriculum:
    """The ``CURRICULUM`` (or its ``PRESETS[preset]``) of a module named or at a path."""
    module = _import(name_or_path)
    curriculum = getattr(module, "CURRICULUM", None)
    if not isinstance(curriculum, Curriculum):
        raise UnknownCurriculumError(f"{name_or_path}: the module does not export CURRICULUM (a Curriculum)")
    if preset is None:
        return curriculum
    presets = getattr(module, "PRESETS", {}) or {}
    if preset not in presets:
        raise UnknownCurriculumError(
            f"{name_or_path}: no preset {preset!r}; it has {sorted(presets) or 'none'}"
        )
    if not isinstance(presets[preset], Curriculum):
        raise UnknownCurriculumError(f"{name_or_path}: PRESETS[{preset!r}] is not a Curriculum")
    return presets[preset]


def presets(name_or_path: str) -> list[str]:
    """The names of a curriculum module's ``PRESETS``."""
    return sorted(getattr(_import(name_or_path), "PRESETS", {}) or {})


def _import(name_or_path: str):
    path = Path(name_or_path)
    if name_or_path.endswith(".py") or path.is_file() or path.is_dir():
        if path.suffix != ".py" and path.exists():
            raise UnknownCurriculumError(f"{name_or_path}: not a curriculum (give a curriculum name, or a path to a "
                                         ".py file that exports CURRICULUM)")
        if not path.is_file():
            raise UnknownCurriculumError(f"{name_or_path}: no such file")
        # A stable name (not hash(), which Python salts per process): samplers are described
        # by module and name in study.json, and a resumed study must describe them the same.
        digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
        module_name = f"_bootstrap_rl_curriculum_{path.stem}_{digest}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # dataclasses and pickling look modules up here
        try:
            spec.loader.exec_module(module)
        except BaseException as error:
            del sys.modules[module_name]
            raise _import_failed(name_or_path, str(path.resolve()), error) from None
        return module
    names = available()
    if name_or_path not in names:
        raise UnknownCurriculumError(
            f"curriculum {name_or_path!r} not found; known: {', '.join(names) or 'none'} "
            "(or give a path to a .py file)"
        )
    target = names[name_or_path]
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except BaseException as error:
        raise _import_failed(name_or_path, None, error) from None
    return getattr(module, attribute) if attribute else module


def _import_failed(name_or_path: str, filename: str | None, error: BaseException) -> BaseException:
    """The error to raise when a curriculum module fails to import: a config error in it stays
    what it is (it names the field); anything else becomes one line naming the module and,
    where it can, the line (``KeyboardInterrupt`` and ``SystemExit`` pass through)."""
    if isinstance(error, (ConfigError, KeyboardInterrupt, SystemExit)):
        return error
    if isinstance(error, SyntaxError):
        return UnknownCurriculumError(f"{name_or_path}: syntax error at line {error.lineno}: {error.msg}")
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__)
             if filename is None or frame.filename == filename]
    where = f" at line {lines[-1]}" if lines and filename is not None else ""
    return UnknownCurriculumError(f"{name_or_path}: importing it failed{where}: {type(error).__name__}: {error}")


def describe(curriculum: Curriculum) -> str:
    """One line per stage, for ``bootstrap-rl list`` (needs no validation)."""
    stages = " -> ".join(f"{s.name} ({s.env_steps:,})" for s in curriculum.all_stages)
    return f"{stages}; methods: {', '.join(curriculum.methods) or 'none'}"
