"""The checks a ``Curriculum`` runs at construction: pure Python, nothing traced or compiled.

Each raises :class:`~bootstrap_rl.validation.ConfigError` naming the field. The checks that
need the task family (env lookup, task draws, spaces) are in :mod:`.tasks` and run in
``Curriculum.validate()``.
"""

from __future__ import annotations

from collections.abc import Iterator

from bootstrap_rl.managers import Manager
from bootstrap_rl.validation import ConfigError

# A stage's tasks in spec form: what the family's ``task_distribution`` turns into a sampler.
SPEC_TYPES = (str, list, tuple, dict)


def named_stages(stages, adult) -> Iterator[tuple[str, object]]:
    """``(where, stage)`` for every stage, ``where`` as errors name it (``stages[0]``, ``adult``)."""
    for i, stage in enumerate(stages):
        yield f"stages[{i}]", stage
    yield "adult", adult


def check_names(stages, adult) -> None:
    """Stage names are unique and not the reserved split ``train``."""
    seen: dict[str, str] = {}
    for where, stage in named_stages(stages, adult):
        if stage.name in seen:
            raise ConfigError(f"{where}.name", f"{stage.name!r} is already the name of {seen[stage.name]}")
        if stage.name in ("train", "network"):
            raise ConfigError(f"{where}.name", f"{stage.name!r} is reserved for training and network metrics")
        seen[stage.name] = where


def check_budgets(curriculum) -> None:
    """The stages' budgets add up to the total and divide into evaluation intervals, and the
    interval into PPO updates."""
    c = curriculum
    childhood = sum(s.env_steps for s in c.stages)
    if childhood + c.adult.env_steps != c.total_env_steps:
        parts = " + ".join(str(s.env_steps) for s in c.all_stages)
        raise ConfigError(
            "total_env_steps",
            f"{c.total_env_steps} does not equal the stages' budgets {parts} = "
            f"{childhood + c.adult.env_steps}",
        )
    batch = c.learner.batch_size
    every = c.evaluation.every_env_steps
    if every % batch:
        raise ConfigError(
            "evaluation.every_env_steps",
            f"{every} is not a multiple of one PPO update's batch "
            f"(learner.num_envs * learner.num_steps = {batch})",
        )
    for where, stage in named_stages(c.stages, c.adult):
        if stage.env_steps % every:
            raise ConfigError(
                f"{where}.env_steps",
                f"{stage.env_steps} is not a multiple of evaluation.every_env_steps = {every} "
                "(stages end on evaluation points, so every arm is evaluated at the same steps)",
            )


def check_methods(curriculum) -> None:
    """Methods are named managers whose populations split the learner's envs, and every
    method a stage names is one of them."""
    c = curriculum
    for name, manager in c.methods.items():
        if not isinstance(name, str) or not name or "/" in name:
            raise ConfigError("methods", f"method names must be non-empty strings without '/', got {name!r}")
        if not isinstance(manager, Manager):
            raise ConfigError(f"methods[{name!r}]", f"must be a Manager, got {type(manager).__name__}")
        size = manager.members
        if size > 1:  # the members split the learner's envs (ppo.members)
            envs = c.learner.num_envs
            if envs % size or (envs // size * c.learner.num_steps) % c.learner.num_minibatches:
                raise ConfigError(
                    f"methods[{name!r}]",
                    f"a population of {size} learners per seed splits learner.num_envs = {envs} among them: "
                    f"it must divide it, and each member's batch ({envs} / {size} envs x "
                    f"{c.learner.num_steps} steps) must divide into {c.learner.num_minibatches} minibatches",
                )
    alone = c.controls.manager_alone
    for method in alone if isinstance(alone, tuple) else ():
        if method not in c.methods:
            raise ConfigError("controls.manager_alone", f"{method!r} is not one of the curriculum's methods {sorted(c.methods)}")
    for where, stage in named_stages(c.stages, c.adult):
        for method in stage.methods or ():
            if method not in c.methods:
                raise ConfigError(
                    f"{where}.methods",
                    f"{method!r} is not one of the curriculum's methods {sorted(c.methods)}",
                )


def check_task_forms(stages, adult) -> None:
    """Every stage's tasks is a sampler (a callable) or a task-kind spec; whether the family
    accepts it is checked by ``validate()``."""
    for where, stage in named_stages(stages, adult):
        if not isinstance(stage.tasks, SPEC_TYPES) and not callable(stage.tasks):
            raise ConfigError(
                f"{where}.tasks",
                f"must be a sampler (key -> env params) or a task-kind spec, got {type(stage.tasks).__name__}",
            )


def check_env_form(env) -> None:
    """A registered id (looked up by ``validate()``) or an object with gymnax's ``step`` and
    ``reset``."""
    if isinstance(env, str):
        if not env:
            raise ConfigError("env", "must be a registered env id or a gymnax Environment, got ''")
        return
    if not hasattr(env, "step") or not hasattr(env, "reset"):
        raise ConfigError("env", f"must be a registered env id or a gymnax Environment, got {env!r}")
