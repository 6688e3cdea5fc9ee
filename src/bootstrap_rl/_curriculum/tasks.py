"""What ``Curriculum.validate()`` checks: the task family and every stage's tasks.

This is the part of validation that needs JAX: it looks the env up in the registry (importing
the family's module), turns task-kind specs into samplers through the family's
:class:`~bootstrap_rl.family.TaskFamily` hooks, traces every sampler (``jax.eval_shape``) and
draws concrete tasks from it (one small compiled program shared by every stage).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import numpy as np

from bootstrap_rl._curriculum.checks import SPEC_TYPES, named_stages
from bootstrap_rl.family import TaskFamily, is_task_family
from bootstrap_rl.validation import ConfigError

TASKS_CHECKED = 64  # concrete tasks drawn per stage to validate their values


class Resolved(NamedTuple):
    """A validated curriculum's derived data."""

    family: Any  # the task family's gymnax Environment
    samplers: tuple  # one Partial per stage, the childhood stages then the adult stage
    episode_limit: int | None  # the shortest time limit among the stages' tasks


def resolve(curriculum) -> Resolved:
    """Resolve ``curriculum``'s env and task samplers and check them; ConfigError naming the
    field if anything is wrong."""
    env = resolve_family(curriculum.env)
    named = tuple(named_stages(curriculum.stages, curriculum.adult))
    samplers = tuple(resolve_tasks(env, f"{where}.tasks", stage.tasks) for where, stage in named)
    limit = check_tasks(env, [where for where, _ in named], samplers)
    return Resolved(env, samplers, limit)


def resolve_family(env):
    """The task family's gymnax ``Environment``: ``env`` itself, or the registered id's."""
    if isinstance(env, str):
        from bootstrap_rl import registry

        try:
            env, _ = registry.make(env)
        except registry.UnknownEnvError as error:
            raise ConfigError("env", str(error)) from None
        return env
    if not hasattr(env, "step") or not hasattr(env, "reset"):
        raise ConfigError("env", f"must be a registered env id or a gymnax Environment, got {env!r}")
    return env


def resolve_tasks(env, where: str, tasks):
    """A stage's tasks as a sampler ``Partial``: a spec through the family's
    ``task_distribution``, a callable as is (wrapped in a ``Partial`` if it is not one)."""
    from bootstrap_rl.wrappers import as_task_sampler

    if isinstance(tasks, SPEC_TYPES):
        if not is_task_family(env):
            raise ConfigError(where, f"{type(env).__name__} is not a TaskFamily with a task_distribution, "
                                     "so tasks must be a sampler (key -> params)")
        try:
            return env.task_distribution(tasks)
        except (ValueError, KeyError) as error:
            raise ConfigError(where, str(error)) from None
    if not callable(tasks):
        raise ConfigError(where, f"must be a sampler (key -> env params) or a task-kind spec, got {type(tasks).__name__}")
    return as_task_sampler(tasks)


def _family_hooks(env):
    """``(shortest_episode, validate_params)`` of ``env``; ``validate_params`` is None where
    no check exists."""
    if isinstance(env, TaskFamily):
        return env.shortest_episode, env.validate_params
    # A plain gymnax Environment: time limits are estimated from draws, params are not checked.
    return (lambda distribution: None), None


def check_tasks(env, wheres, samplers) -> int | None:
    """Validate every stage's tasks (``wheres[i]`` names stage ``i`` in errors); return the
    shortest time limit seen (or None)."""
    key = jax.random.PRNGKey(0)
    shortest_episode, validate_params = _family_hooks(env)
    reference, limits = None, []
    expected = jax.tree.map(lambda x: jax.ShapeDtypeStruct(np.shape(x), np.asarray(x).dtype), env.default_params)
    for where, sampler in zip(wheres, samplers):
        try:
            task = jax.eval_shape(sampler, key)
        except Exception as error:
            raise ConfigError(f"{where}.tasks", f"the sampler fails on a key: {error}") from None
        if jax.tree.structure(task) != jax.tree.structure(expected):
            raise ConfigError(
                f"{where}.tasks",
                f"the sampler returns {jax.tree.structure(task)}, not the family's params {jax.tree.structure(expected)}",
            )
        obs, _ = jax.eval_shape(env.reset, key, task)
        concrete = _draw_tasks(sampler, jax.random.split(key, TASKS_CHECKED))
        first = jax.tree.map(lambda x: x[0], concrete)
        spaces = (tuple(obs.shape), str(obs.dtype), _space_signature(env.action_space(first)))
        if reference is None:
            reference = (where, spaces)
        elif spaces != reference[1]:
            raise ConfigError(
                f"{where}.tasks",
                f"observation/action spaces {spaces} differ from {reference[0]}'s {reference[1]}",
            )
        shortest = shortest_episode(sampler)
        if shortest is not None:  # exact: the family knows its distribution
            limits.append(int(shortest))
        elif hasattr(concrete, "max_steps_in_episode"):
            # Estimated from the draws: a rare shorter limit shows up as the training metric
            # unbootstrapped_truncations, not as silent bias.
            limits.append(int(np.min(np.asarray(concrete.max_steps_in_episode))))
        if validate_params is not None:
            try:
                validate_params(concrete)
            except ValueError as error:
                raise ConfigError(f"{where}.tasks", f"the sampler drew an invalid task: {error}") from None
    first_def = jax.tree.structure(samplers[0])
    first_shapes = [(np.shape(x), np.asarray(x).dtype) for x in jax.tree.leaves(samplers[0])]
    for where, sampler in zip(wheres, samplers):
        shapes = [(np.shape(x), np.asarray(x).dtype) for x in jax.tree.leaves(sampler)]
        if jax.tree.structure(sampler) != first_def or shapes != first_shapes:
            raise ConfigError(
                f"{where}.tasks",
                "every stage's sampler must be the same function with same-shaped array data "
                f"(a jax.tree_util.Partial), so that all stages run through one compiled program "
                f"and are evaluated together; got {describe_sampler(sampler)['sampler']} with "
                f"data shapes {shapes}, but the first stage has "
                f"{describe_sampler(samplers[0])['sampler']} with {first_shapes}",
            )
    return min(limits) if limits else None


@jax.jit
def _draw_tasks(sampler, keys):
    # The sampler is an argument (a Partial: its arrays are data), so stages built from one
    # function share this compilation.
    return jax.vmap(sampler)(keys)


def _space_signature(space) -> tuple:
    if hasattr(space, "n"):
        return ("discrete", int(space.n))
    return (type(space).__name__, tuple(getattr(space, "shape", ())))


def describe_sampler(sampler) -> dict:
    """A JSON-able description of a task sampler: its function and its data."""
    func = getattr(sampler, "func", sampler)
    data = {}
    for name, value in getattr(sampler, "keywords", {}).items():
        data[name] = np.asarray(value).tolist()
    for i, value in enumerate(getattr(sampler, "args", ())):
        data[f"arg{i}"] = np.asarray(value).tolist()
    return {"sampler": f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', repr(func))}", "data": data}
