"""Management methods (D:management_methods): optax-like bundles of pure functions that change
the learner during childhood. :mod:`bootstrap_rl.managers.base` defines the contract,
:mod:`bootstrap_rl.managers.combine` the combinators, and one module per method family the
methods.

Names are imported from their modules on first use, not when the package is imported: every
module here imports the contract from ``base``, and a package that imported its modules back
would form an import cycle with them. The learner, which needs only the contract, loads none
of the methods.
"""

from __future__ import annotations

import importlib

# name -> the module of this package that defines it
_SOURCES = {
    **dict.fromkeys(("AdamMoments", "Handover", "LossInputs", "Managed", "Manager", "ManagerReport", "StageStart",
                     "identity", "no_state", "no_targets", "nothing_to_report", "unchanged", "zero_loss"), "base"),
    **dict.fromkeys(("StagedState", "chain", "only_in_stages", "switch"), "combine"),
    **dict.fromkeys(("distral", "kickstarting"), "distillation"),
    **dict.fromkeys(("hypernetwork", "mixing"), "generation"),
    **dict.fromkeys(("meta_gradient", "stage_schedule"), "hyperparameters"),
    "pbt": "population_based",
    "episodic_memory": "memory",
    "routing": "connections",
}
_MODULES = ("base", "combine", "connections", "distillation", "generation", "hyperparameters", "memory",
            "population_based")

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
