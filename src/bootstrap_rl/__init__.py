"""bootstrap-rl: does a childhood of self-built subsystems beat direct RL at an equal budget?

The Python API (see :mod:`bootstrap_rl.api`): :func:`train`, :func:`run_study`,
:func:`load_study`, :func:`load_curriculum`; the env registry: :func:`make`,
:func:`register`, :func:`registered_ids`.
"""

__version__ = "0.1.0"

# name -> the module that defines it. Imported on first use: importing gymnax (which the
# registry does) starts JAX's backends, and a distributed study must call
# jax.distributed.initialize before that happens.
_LAZY = {
    "make": "registry", "register": "registry", "registered_ids": "registry", "UnknownEnvError": "registry",
    "train": "api", "run_study": "api", "load_study": "api", "load_curriculum": "api",
    "StudyResults": "api", "TrainResult": "api",
    "PPOConfig": "ppo.config", "ConfigError": "validation",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"bootstrap_rl.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'bootstrap_rl' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_LAZY])
