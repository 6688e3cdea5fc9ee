"""Environment registry: one id -> (env, params), shared with gymnax.

Ids live in gymnax's own registry, so ``gymnax.make`` and ``bootstrap_rl.make`` agree.
Task families register themselves when their module is imported; discovery imports
every module in the ``bootstrap_rl.envs`` package (the repository's ``envs/`` folder) and
every module named by an installed package under the ``bootstrap_rl.envs`` entry-point
group. Discovery runs once, lazily, the first time an id is looked up.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import pkgutil
import warnings
from collections.abc import Callable
from typing import Any

import gymnax
from gymnax import registration as _gymnax_registration

ENTRY_POINT_GROUP = "bootstrap_rl.envs"

# id -> the module that registered it (for `bootstrap-rl list`); gymnax ids map to "gymnax".
_ORIGIN: dict[str, str] = {}
_discovered = False


class UnknownEnvError(ValueError):
    """An env id that no registered family provides."""


def register(env_id: str, factory: Callable[..., Any], *, origin: str | None = None) -> None:
    """Register ``factory`` (kwargs -> gymnax ``Environment``) under ``env_id``.

    Registering the same factory twice is a no-op, so a module may be imported again;
    registering a different factory under a taken id is an error.
    """
    existing = _gymnax_registration._registry.get(env_id)
    if existing is not None:
        if existing is factory:
            return
        raise ValueError(f"env id {env_id!r} is already registered by {_origin(env_id)}")
    gymnax.register(env_id, factory)
    _ORIGIN[env_id] = origin or getattr(factory, "__module__", "?")


def _origin(env_id: str) -> str:
    return _ORIGIN.get(env_id, "gymnax")


def discover() -> None:
    """Import every env module in ``envs/`` and in the entry-point group (once)."""
    global _discovered
    if _discovered:
        return
    from bootstrap_rl import envs as local_envs

    for module in pkgutil.iter_modules(local_envs.__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{local_envs.__name__}.{module.name}")
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            entry_point.load()
        except Exception as error:  # a broken plug-in must not take the library down
            warnings.warn(f"env plug-in {entry_point.name!r} failed to load: {error}")
    # Only now: a module that failed to import raises again on the next lookup, rather than
    # leaving its ids silently unregistered.
    _discovered = True


def registered_ids() -> dict[str, str]:
    """Every known env id, mapped to the module that provides it."""
    discover()
    return {env_id: _origin(env_id) for env_id in _gymnax_registration._registry}


def make(env_id: str, **env_kwargs: Any):
    """Return ``(env, env_params)`` for a registered id; unknown ids fail before any compile."""
    if not isinstance(env_id, str):
        raise UnknownEnvError(f"env_id must be a string, got {type(env_id).__name__}")
    discover()
    if env_id not in _gymnax_registration._registry:
        close = [i for i in _gymnax_registration._registry if env_id.lower() in i.lower()]
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownEnvError(
            f"env_id {env_id!r} is not registered.{hint} "
            "Run `bootstrap-rl list` to see every id."
        )
    return gymnax.make(env_id, **env_kwargs)
