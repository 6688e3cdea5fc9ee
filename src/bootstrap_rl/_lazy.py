"""Packages that export their modules' names on first use (PEP 562).

A package whose ``__init__`` imported its own modules would form a module-level import cycle
with every module that imports a sibling through the package; and importing the library must
not start JAX's backends before ``jax.distributed.initialize``. So each package's ``__init__``
only declares where its names live::

    lazy_exports(globals(), {"plan": ("Run", "expand_runs"), "driver": ("run_study",)})

and a name is imported from its module the first time it is looked up (then cached).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping


def lazy_exports(namespace: dict, exports: Mapping[str, Iterable[str]]) -> None:
    """Give the package whose ``globals()`` is ``namespace`` a ``__getattr__`` and ``__dir__``
    that load ``exports`` (module -> names it defines) on first use; every module named is
    also an attribute. A module is relative to the package unless it starts with
    ``bootstrap_rl.``. Sets ``__all__`` to the public names."""
    package = namespace["__name__"]
    modules = {module: module if module.startswith("bootstrap_rl.") else f"{package}.{module}"
               for module in exports}
    home = {name: modules[module] for module, names in exports.items() for name in names}
    submodules = {module: path for module, path in modules.items() if "." not in module}
    # Importing a submodule sets it as the package's attribute of that name, which would hide
    # an exported name spelled the same: refuse such a package layout outright.
    clashes = sorted(set(home) & set(submodules))
    if clashes:
        raise ImportError(f"{package}: exported names {clashes} are also module names; rename the modules")

    def __getattr__(name: str):
        if name in home:
            value = getattr(importlib.import_module(home[name]), name)
        elif name in submodules:
            value = importlib.import_module(submodules[name])
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(home) | set(submodules))

    namespace["__getattr__"] = __getattr__
    namespace["__dir__"] = __dir__
    namespace["__all__"] = sorted(name for name in home if not name.startswith("_"))
