"""bootstrap-rl: does a childhood of self-built subsystems beat direct RL at an equal budget?

The Python API (see :mod:`bootstrap_rl.api`): :func:`train`, :func:`run_study`,
:func:`load_study`, :func:`load_curriculum`; the env registry: :func:`make`,
:func:`register`, :func:`registered_ids`.

Names are imported on first use: importing gymnax (which the registry does) starts JAX's
backends, and a distributed study must call ``jax.distributed.initialize`` before that.
"""

from bootstrap_rl._lazy import lazy_exports

__version__ = "0.1.0"

lazy_exports(globals(), {
    "registry": ("make", "register", "registered_ids", "UnknownEnvError"),
    "api": ("train", "run_study", "load_study", "load_curriculum", "StudyResults", "TrainResult"),
    "ppo.config": ("PPOConfig",),
    "validation": ("ConfigError",),
})
