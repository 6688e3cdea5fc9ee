"""Curricula: ordered childhood stages, an adult stage, one budget — checked before any compile.

A curriculum is a config module in ``curricula/`` that exports ``CURRICULUM`` (and optionally
``PRESETS``, a dict of smaller or larger variants)::

    CURRICULUM = Curriculum(
        name="playroom_ladder",
        env="Playroom-Treasure-v0",                  # the task family (a registered env id)
        stages=(Stage("turn", tasks="turn", env_steps=1_000_000), ...),
        adult=Stage("treasure", tasks="treasure", env_steps=4_000_000),
        total_env_steps=8_000_000,                   # or None: the sum of the stages' budgets
        learner=PPOConfig(num_envs=64, num_steps=64, ...),
        evaluation=Evaluation(every_env_steps=200_000, episodes=64),
    )

A stage's budget is ``env_steps``, or ``intervals`` of ``evaluation.every_env_steps``. Its
``tasks`` is its task distribution: a ``key -> env params`` sampler, preferably a
``jax.tree_util.Partial`` of one function with stage-specific arrays, so every stage runs
through one compiled program; or a task-kind spec (a kind name, a list of names, or a dict of
weights) that the family (a :class:`~bootstrap_rl.family.TaskFamily`) turns into such a
sampler through its ``task_distribution`` hook.

Construction is pure Python: it checks every field but neither looks the env up nor traces
anything, so importing a curriculum module is cheap. ``Curriculum.validate()`` checks the env
and the tasks (it traces and compiles a little); ``family``, ``sampler``, ``episode_limit``
and ``to_dict`` call it on first use. The implementation lives in :mod:`bootstrap_rl._curriculum`.
"""

from __future__ import annotations

import warnings

from bootstrap_rl._curriculum.config import Controls, Curriculum, Evaluation, ProdigyGrid, Stage
from bootstrap_rl._curriculum.load import (ENTRY_POINT_GROUP, UnknownCurriculumError, available, describe, load,
                                           presets)
from bootstrap_rl._curriculum.tasks import describe_sampler
from bootstrap_rl.ued.config import UEDConfig

__all__ = [
    "Controls", "Curriculum", "Evaluation", "ProdigyGrid", "Stage", "UEDConfig", "available", "load", "presets",
    "describe", "describe_sampler", "UnknownCurriculumError", "ENTRY_POINT_GROUP",
]


def __getattr__(name: str):
    # Population was ProdigyGrid's name; curricula outside the repository may still import it.
    if name == "Population":
        warnings.warn("bootstrap_rl.curriculum.Population is deprecated: use ProdigyGrid (and the Curriculum field "
                      "prodigy_grid)", DeprecationWarning, stacklevel=2)
        return ProdigyGrid
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
