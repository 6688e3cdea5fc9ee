"""Proximal policy optimisation: config, pure losses, the ``init``/``update`` learner, and
several learners per seed for managers that act across them.

Names are imported from their modules on first use, not when the package is imported, so
the modules here import one another without an import cycle through the package.
"""

from __future__ import annotations

import importlib

# name -> the module of this package that defines it
_SOURCES = {
    **dict.fromkeys(("ConfigError", "PPOConfig"), "config"),
    **dict.fromkeys(("gae", "permutation", "ppo_loss", "radix_permutation", "shuffle_into_minibatches"), "losses"),
    **dict.fromkeys(("Batch", "TrainState", "Transition"), "data"),
    **dict.fromkeys(("METRICS", "PPO", "make_ppo"), "train"),
    **dict.fromkeys(("MembersState", "make_members"), "members"),
}
_MODULES = ("config", "data", "losses", "members", "train")

__all__ = sorted(_SOURCES)


def __getattr__(name: str):
    if name in _SOURCES:
        value = getattr(importlib.import_module(f"{__name__}.{_SOURCES[name]}"), name)
    elif name in _MODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__) | set(_MODULES))
