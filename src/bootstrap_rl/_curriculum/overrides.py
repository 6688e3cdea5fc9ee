"""Overrides: change a curriculum's fields by dotted path (``--set learner.learning_rate=3e-4``).

A key names a field of the ``Curriculum`` or, through dots, of the frozen dataclasses inside
it: ``seeds``, ``learner.num_envs``, ``evaluation.episodes``, ``adult.env_steps``,
``stages.<name or index>.env_steps``, ``controls.mixed``, ``library.slots``,
``prodigy_grid.learning_rate``. A value given as text is parsed with the field's type (int,
float, bool, str, tuples as ``a,b,c``, ``None`` where the field allows it); a value given from
Python is used as is. The changed dataclasses are then built again, so every override goes
through the very checks the module's own values went through (``__post_init__``, and
``Curriculum.validate()`` when the study runs); nothing else decides what is valid.

Overrides apply to the fields as the module wrote them (a stage given in ``intervals`` stays in
intervals, a total given as None stays the sum of the stages), as if the module had been edited.
The result remembers its overrides (:func:`overrides_of`), which ``study.json`` records.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from bootstrap_rl._curriculum.config import Curriculum
from bootstrap_rl.validation import ConfigError

_NONE_WORDS = ("none", "null")
_TRUE_WORDS = ("true", "yes", "on", "1")
_FALSE_WORDS = ("false", "no", "off", "0")


class OverrideError(ConfigError):
    """An override that names no field, or whose value cannot be read as the field's type."""

    def __init__(self, key: str, message: str):
        super().__init__(f"--set {key}", message)


def parse_assignment(text: str) -> tuple[str, str]:
    """``'learner.learning_rate=3e-4'`` -> ``('learner.learning_rate', '3e-4')``."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise OverrideError(text, "must be KEY=VALUE (e.g. learner.learning_rate=3e-4)")
    return key, value.strip()


def apply_overrides(curriculum: Curriculum, overrides: Mapping[str, Any] | Iterable[str] | None) -> Curriculum:
    """``curriculum`` with ``overrides`` applied: ``{'a.b': value}`` or ``['a.b=value', ...]``
    (a later key wins over an earlier one). Raises :class:`ConfigError` naming the key or the
    field; returns ``curriculum`` itself when there is nothing to apply."""
    pairs = list(overrides.items()) if isinstance(overrides, Mapping) else [
        parse_assignment(text) for text in (overrides or ())]
    if not pairs:
        return curriculum
    tree: dict = {}
    for key, value in pairs:
        _insert(tree, key, value)
    record: dict[str, Any] = {}
    changed = _apply(curriculum, tree, "", record)
    object.__setattr__(changed, "_overrides", {**overrides_of(curriculum), **record})
    return changed


def overrides_of(curriculum: Curriculum) -> dict[str, Any]:
    """The overrides a curriculum was made with, as JSON values (``{}``: none): what
    ``study.json`` records under ``overrides`` and a resume must repeat."""
    return dict(curriculum.__dict__.get("_overrides", {}))


def _insert(tree: dict, key: str, value) -> None:
    parts = key.split(".")
    if any(not part.strip() for part in parts):
        raise OverrideError(key, "has an empty name between dots")
    node = tree
    for depth, part in enumerate(parts[:-1]):
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise OverrideError(key, f"{'.'.join(parts[:depth + 1])} is also given a value of its own")
    if isinstance(node.get(parts[-1]), dict):
        raise OverrideError(key, "is given a value, and its fields are set too")
    node[parts[-1]] = value


def _as_written(obj, name: str):
    """A field as the module wrote it (a Curriculum keeps what it derived apart)."""
    given = obj.__dict__.get("_given", {}) if isinstance(obj, Curriculum) else {}
    return given.get(name, getattr(obj, name))


def _apply(obj, tree: dict, path: str, record: dict):
    """``obj`` (a dataclass instance) rebuilt with ``tree``'s changes, checked by its own
    construction; ``record`` gets each leaf as ``{dotted key: JSON value}``."""
    cls = type(obj)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    hints = typing.get_type_hints(cls)
    changes = {}
    for name, sub in tree.items():
        key = f"{path}{name}"
        if name not in names:
            raise OverrideError(key, f"{cls.__name__} has no field {name!r}; its fields: {', '.join(names)}")
        current = _as_written(obj, name)
        if isinstance(obj, Curriculum) and name == "stages":
            changes[name] = _apply_stages(current, sub, key, record)
        elif isinstance(obj, Curriculum) and name == "methods":
            raise OverrideError(key, "managers are built in the curriculum module; a method cannot be set "
                                     "from the command line")
        elif isinstance(sub, dict):
            changes[name] = _apply_nested(current, hints[name], sub, key, record)
        else:
            changes[name] = _value(sub, hints[name], key)
            record[key] = _jsonable(changes[name])
    try:
        if isinstance(obj, Curriculum):
            return obj.replace(**changes)  # keeps derived budgets derived
        return dataclasses.replace(obj, **changes)
    except ConfigError as error:
        raise _named(error, cls, path) from None


def _apply_stages(stages: tuple, tree, key: str, record: dict) -> tuple:
    if not isinstance(tree, dict):
        raise OverrideError(key, "set a stage's field: stages.<name or index>.<field> (e.g. stages.0.env_steps)")
    stages = list(stages)
    for ref, sub in tree.items():
        index = int(ref) if ref.isdigit() else next((i for i, s in enumerate(stages) if s.name == ref), None)
        if index is None or index >= len(stages):
            raise OverrideError(f"{key}.{ref}", f"no such stage; the stages: {', '.join(s.name for s in stages)} "
                                                f"(or their indices 0-{len(stages) - 1}; the adult stage is 'adult')")
        if not isinstance(sub, dict):
            raise OverrideError(f"{key}.{ref}", "set a stage's field: stages.<name or index>.<field>")
        stages[index] = _apply(stages[index], sub, f"{key}.{stages[index].name}.", record)
    return tuple(stages)


def _apply_nested(current, hint, tree: dict, key: str, record: dict):
    if dataclasses.is_dataclass(current):
        return _apply(current, tree, f"{key}.", record)
    kind = _dataclass_in(hint)
    if current is None and kind is not None:  # e.g. prodigy_grid=None: built from the fields given
        try:
            return _apply_fresh(kind, tree, f"{key}.", record)
        except ConfigError as error:
            raise _named(error, kind, f"{key}.") from None
    raise OverrideError(key, f"is not a group of fields (it holds {current!r}); give it a value: --set {key}=VALUE")


def _apply_fresh(kind, tree: dict, path: str, record: dict):
    """A dataclass that was None, built from the overrides' fields and its defaults."""
    names = [f.name for f in dataclasses.fields(kind) if f.init]
    hints = typing.get_type_hints(kind)
    values = {}
    for name, sub in tree.items():
        if name not in names:
            raise OverrideError(f"{path}{name}",
                                f"{kind.__name__} has no field {name!r}; its fields: {', '.join(names)}")
        if isinstance(sub, dict):
            raise OverrideError(f"{path}{name}", "is not a group of fields")
        values[name] = _value(sub, hints[name], f"{path}{name}")
        record[f"{path}{name}"] = _jsonable(values[name])
    return kind(**values)


def _named(error: ConfigError, cls, path: str) -> ConfigError:
    """A nested dataclass's error named by its full dotted key (``learning_rate`` of the
    learner -> ``learner.learning_rate``); errors that already say where they are stay."""
    field_names = {f.name for f in dataclasses.fields(cls)}
    if not path or error.field not in field_names:
        return error
    message = str(error)[len(error.field) + 2:]
    return ConfigError(f"{path}{error.field}", message)


def _dataclass_in(hint):
    """The dataclass of ``X | None`` (or ``X``), if any."""
    args = typing.get_args(hint) if _is_union(hint) else (hint,)
    return next((a for a in args if isinstance(a, type) and dataclasses.is_dataclass(a)), None)


def _is_union(hint) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _value(value, hint, key: str):
    """``value`` as the field's type: text is parsed; anything else is left to the
    dataclass's own checks."""
    if not isinstance(value, str):
        return value
    try:
        return _parse(value, hint)
    except ValueError as error:
        why = f" ({error})" if str(error) else ""
        raise OverrideError(key, f"cannot read {value!r} as {_type_name(hint)}{why}") from None


def _parse(text: str, hint):
    if hint is Any:  # an env id, a stage's task spec: a Python literal, or else the text itself
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text
    if _is_union(hint):
        args = typing.get_args(hint)
        if type(None) in args and text.lower() in _NONE_WORDS:
            return None
        # bool before the rest: in ``bool | tuple[str, ...]``, 'false' is the bool.
        for arg in sorted((a for a in args if a is not type(None)), key=lambda a: a is not bool):
            try:
                return _parse(text, arg)
            except ValueError:
                continue
        raise ValueError("")
    if hint is bool:
        if text.lower() in _TRUE_WORDS:
            return True
        if text.lower() in _FALSE_WORDS:
            return False
        raise ValueError("")
    if hint is int:
        try:
            number = float(text.replace("_", ""))  # 5e5, 1_000_000
        except ValueError:
            raise ValueError("") from None
        if not number.is_integer():
            raise ValueError("not a whole number")
        return int(number)
    if hint is float:
        try:
            return float(text.replace("_", ""))
        except ValueError:
            raise ValueError("") from None
    if hint is str:
        return text
    if typing.get_origin(hint) is tuple:
        element = typing.get_args(hint)[0]
        inner = text.strip()
        if inner[:1] in "([" and inner[-1:] in ")]":
            inner = inner[1:-1]
        items = [item.strip() for item in inner.split(",")]
        if items and not items[-1]:  # '32,' is the tuple (32,)
            items.pop()
        return tuple(_parse(item, element) for item in items)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        raise ValueError("set its fields instead: KEY.<field>=VALUE")
    raise ValueError(f"a field of type {_type_name(hint)} cannot be set from text")


def _type_name(hint) -> str:
    if _is_union(hint):
        return " or ".join(_type_name(a) for a in typing.get_args(hint))
    if hint is type(None):
        return "None"
    if typing.get_origin(hint) is tuple:
        return f"a tuple of {_type_name(typing.get_args(hint)[0])} (a,b,c)"
    return getattr(hint, "__name__", str(hint))


def _jsonable(value):
    return json.loads(json.dumps(value, default=str))
