"""Curricula: ordered childhood stages, an adult stage, one budget — validated before any compile.

A curriculum is a config module in ``curricula/`` that exports ``CURRICULUM`` (and optionally
``PRESETS``, a dict of smaller or larger variants)::

    CURRICULUM = Curriculum(
        name="playroom_ladder",
        env="Playroom-Treasure-v0",                  # the task family (a registered env id)
        stages=(Stage("turn", tasks="turn", env_steps=1_000_000), ...),
        adult=Stage("treasure", tasks="treasure", env_steps=4_000_000),
        total_env_steps=8_000_000,
        learner=PPOConfig(num_envs=64, num_steps=64, ...),
        evaluation=Evaluation(every_env_steps=200_000, episodes=64),
    )

A stage's ``tasks`` is its task distribution: a ``key -> env params`` sampler, preferably a
``jax.tree_util.Partial`` of one function with stage-specific arrays, so every stage runs
through one compiled program; or a task-kind spec (a kind name, a list of names, or a dict of
weights) that the family turns into such a sampler through its ``task_distribution`` method.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.metadata
import importlib.util
import numbers
import pkgutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import numpy as np

from bootstrap_rl.library import LibrarySpec
from bootstrap_rl.managers import Manager
from bootstrap_rl.ppo.config import ConfigError, PPOConfig

ENTRY_POINT_GROUP = "bootstrap_rl.curricula"
_DISCOVERY_KEY = jax.random.PRNGKey(0)
_TASKS_CHECKED = 64  # concrete tasks drawn per stage to validate their values


def _positive_int(value, name: str) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # accept 2e6 in config modules
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ConfigError(name, f"must be a positive integer, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Evaluation:
    """When and how arms are evaluated during training.

    Every ``every_env_steps`` env steps (and at step 0), each seed's current policy plays
    ``episodes`` episodes of the adult task and of every childhood stage's tasks (retention).
    ``success_threshold``: an episode whose return exceeds it counts as a success (the
    ``success`` metric; ``None``: no success metric). ``probe_observations``: how many
    observations of each stage's tasks form the fixed probe set on which policy drift is
    measured.
    """

    every_env_steps: int
    episodes: int = 32
    greedy: bool = False
    success_threshold: float | None = None
    probe_observations: int = 256

    def __post_init__(self):
        object.__setattr__(self, "every_env_steps", _positive_int(self.every_env_steps, "evaluation.every_env_steps"))
        object.__setattr__(self, "episodes", _positive_int(self.episodes, "evaluation.episodes"))
        object.__setattr__(
            self, "probe_observations", _positive_int(self.probe_observations, "evaluation.probe_observations")
        )
        if self.success_threshold is not None and not (
            isinstance(self.success_threshold, numbers.Real) and np.isfinite(self.success_threshold)
        ):
            raise ConfigError("evaluation.success_threshold", f"must be a finite number or None, got {self.success_threshold!r}")


@dataclass(frozen=True)
class Stage:
    """A task distribution, an env-step budget, and the management methods active in it.

    ``methods``: names of the curriculum's ``methods`` that run during this stage (``None``:
    all of them). Ignored by the ``direct`` and ``curriculum`` arms, which have no manager.
    """

    name: str
    tasks: Any  # key -> env params (a Partial), or a task-kind spec for the family
    env_steps: int
    methods: tuple[str, ...] | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ConfigError("name", f"a stage name must be a Python identifier (it names a table split), got {self.name!r}")
        object.__setattr__(self, "env_steps", _positive_int(self.env_steps, f"stage {self.name!r}: env_steps"))
        if isinstance(self.methods, str):
            raise ConfigError(f"stage {self.name!r}: methods", f"must be a tuple of method names, got the string {self.methods!r} (write ({self.methods!r},))")
        if self.methods is not None:
            object.__setattr__(self, "methods", tuple(self.methods))


@dataclass(frozen=True)
class Population:
    """A D:prodigy population: a grid of direct-arm configurations.

    ``learning_rate`` and ``ent_coef`` are data (vmapped with the seeds, one compile);
    each ``width`` (hidden units per layer, as many layers as the learner's ``hidden_sizes``)
    compiles once.
    """

    learning_rate: tuple[float, ...] = ()
    ent_coef: tuple[float, ...] = ()
    width: tuple[int, ...] = ()

    def __post_init__(self):
        for name in ("learning_rate", "ent_coef", "width"):
            values = tuple(getattr(self, name))
            object.__setattr__(self, name, values)
            for v in values:
                if not isinstance(v, numbers.Real) or isinstance(v, bool) or not np.isfinite(v) or v < 0:
                    raise ConfigError(f"population.{name}", f"values must be finite and >= 0, got {v!r}")
            if name != "ent_coef" and any(v <= 0 for v in values):
                raise ConfigError(f"population.{name}", f"values must be positive, got {values!r}")
            if name == "width" and any(int(v) != v for v in values):
                raise ConfigError("population.width", f"widths must be integers, got {values!r}")
            if len({f"{v:.6g}" for v in values}) != len(values):
                raise ConfigError(f"population.{name}", f"values must be distinct (to 6 significant digits), got {values!r}")
        if not (self.learning_rate or self.ent_coef or self.width):
            raise ConfigError("population", "give at least one of learning_rate, ent_coef, width")


@dataclass(frozen=True)
class Curriculum:
    """Ordered childhood ``stages``, the ``adult`` stage, and the budget every arm gets.

    Construction validates everything a study needs before anything compiles: budgets that
    add up and divide into PPO updates and evaluation intervals, unique stage names, known
    methods, and that every stage's tasks are valid params of the family with the same
    observation and action spaces. Errors name the field.
    """

    name: str
    env: Any  # a registered env id (str) or a gymnax Environment: the task family
    stages: tuple[Stage, ...]
    adult: Stage
    total_env_steps: int
    learner: PPOConfig = field(default_factory=PPOConfig)
    evaluation: Evaluation | None = None
    methods: Mapping[str, Manager] = field(default_factory=dict)
    seeds: int = 10
    population: Population | None = None
    description: str = ""
    # The subsystem library (``bootstrap_rl.library``) every arm's network is built on; None:
    # the learner's plain actor-critic MLPs. Managers that route, generate, freeze or remember
    # need it.
    library: LibrarySpec | None = None

    def __post_init__(self):
        if self.library is not None and not isinstance(self.library, LibrarySpec):
            raise ConfigError("library", f"must be a LibrarySpec or None, got {type(self.library).__name__}")
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError("name", f"must be a non-empty string, got {self.name!r}")
        object.__setattr__(self, "stages", tuple(self.stages))
        object.__setattr__(self, "methods", dict(self.methods))
        for i, stage in enumerate(self.stages):
            if not isinstance(stage, Stage):
                raise ConfigError(f"stages[{i}]", f"must be a Stage, got {type(stage).__name__}")
        if not isinstance(self.adult, Stage):
            raise ConfigError("adult", f"must be a Stage, got {type(self.adult).__name__}")
        if not isinstance(self.learner, PPOConfig):
            raise ConfigError("learner", f"must be a PPOConfig, got {type(self.learner).__name__}")
        object.__setattr__(self, "total_env_steps", _positive_int(self.total_env_steps, "total_env_steps"))
        object.__setattr__(self, "seeds", _positive_int(self.seeds, "seeds"))
        if self.evaluation is None:
            object.__setattr__(self, "evaluation", Evaluation(every_env_steps=self.total_env_steps // 20))
        if self.stages and self.learner.anneal_lr:
            raise ConfigError(
                "learner.anneal_lr",
                "must be False in a curriculum with childhood stages: the anneal spans each arm's "
                "whole budget, so the curriculum arms' adult stage would train with a smaller step "
                "size than direct_adult_steps at the same adult step, confounding the comparison",
            )
        if self.library is not None and self.library.hyper_dim and self.library.tasks < len(self.all_stages):
            raise ConfigError("library.tasks", f"must be at least the number of stages ({len(self.all_stages)}): "
                              f"the hypernetwork keeps a task embedding per stage, got {self.library.tasks}")
        self._check_names()
        self._check_budgets()
        self._check_methods()
        env = self.family  # resolves an id, or fails naming it
        samplers = tuple(self._resolve_tasks(env, f"{where}.tasks", stage.tasks) for where, stage in self._named_stages())
        object.__setattr__(self, "_samplers", samplers)
        object.__setattr__(self, "_episode_limit", self._check_tasks(env, samplers))

    # --- derived views ---------------------------------------------------------------

    @property
    def family(self):
        """The task family's gymnax ``Environment``."""
        if isinstance(self.env, str):
            from bootstrap_rl import registry

            try:
                env, _ = registry.make(self.env)
            except registry.UnknownEnvError as error:
                raise ConfigError("env", str(error)) from None
            return env
        if not hasattr(self.env, "step") or not hasattr(self.env, "reset"):
            raise ConfigError("env", f"must be a registered env id or a gymnax Environment, got {self.env!r}")
        return self.env

    @property
    def all_stages(self) -> tuple[Stage, ...]:
        """The childhood stages, then the adult stage."""
        return (*self.stages, self.adult)

    @property
    def episode_limit(self) -> int | None:
        """The shortest episode time limit among the tasks drawn during validation (a hint
        that sizes the learner's truncation handling; see ``make_ppo``)."""
        return self._episode_limit

    def sampler(self, stage_name: str):
        """The resolved task sampler (a ``Partial``) of a stage, by name."""
        for stage, sampler in zip(self.all_stages, self._samplers):
            if stage.name == stage_name:
                return sampler
        raise KeyError(stage_name)

    def replace(self, **changes) -> Curriculum:
        """A validated copy with ``changes`` (a preset is usually built this way)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """A JSON-able description (samplers and managers by name and data summary)."""

        def stage_dict(stage: Stage, sampler) -> dict:
            return {
                "name": stage.name,
                "env_steps": stage.env_steps,
                "methods": None if stage.methods is None else list(stage.methods),
                "tasks": describe_sampler(sampler),
            }

        return {
            "name": self.name,
            "description": self.description,
            "env": self.env if isinstance(self.env, str) else type(self.env).__name__,
            "stages": [stage_dict(s, p) for s, p in zip(self.stages, self._samplers)],
            "adult": stage_dict(self.adult, self._samplers[-1]),
            "total_env_steps": self.total_env_steps,
            "learner": self.learner.to_dict(),
            "evaluation": dataclasses.asdict(self.evaluation),
            "methods": sorted(self.methods),
            "seeds": self.seeds,
            "population": None if self.population is None else dataclasses.asdict(self.population),
            "library": None if self.library is None else dataclasses.asdict(self.library),
        }

    # --- validation ------------------------------------------------------------------

    def _named_stages(self):
        for i, stage in enumerate(self.stages):
            yield f"stages[{i}]", stage
        yield "adult", self.adult

    def _check_names(self):
        seen: dict[str, str] = {}
        for where, stage in self._named_stages():
            if stage.name in seen:
                raise ConfigError(f"{where}.name", f"{stage.name!r} is already the name of {seen[stage.name]}")
            if stage.name == "train":
                raise ConfigError(f"{where}.name", "'train' is reserved for training metrics")
            seen[stage.name] = where

    def _check_budgets(self):
        childhood = sum(s.env_steps for s in self.stages)
        if childhood + self.adult.env_steps != self.total_env_steps:
            parts = " + ".join(str(s.env_steps) for s in self.all_stages)
            raise ConfigError(
                "total_env_steps",
                f"{self.total_env_steps} does not equal the stages' budgets {parts} = "
                f"{childhood + self.adult.env_steps}",
            )
        batch = self.learner.batch_size
        every = self.evaluation.every_env_steps
        if every % batch:
            raise ConfigError(
                "evaluation.every_env_steps",
                f"{every} is not a multiple of one PPO update's batch "
                f"(learner.num_envs * learner.num_steps = {batch})",
            )
        for where, stage in self._named_stages():
            if stage.env_steps % every:
                raise ConfigError(
                    f"{where}.env_steps",
                    f"{stage.env_steps} is not a multiple of evaluation.every_env_steps = {every} "
                    "(stages end on evaluation points, so every arm is evaluated at the same steps)",
                )

    def _check_methods(self):
        for name, manager in self.methods.items():
            if not isinstance(name, str) or not name or "/" in name:
                raise ConfigError("methods", f"method names must be non-empty strings without '/', got {name!r}")
            if not isinstance(manager, Manager):
                raise ConfigError(f"methods[{name!r}]", f"must be a Manager, got {type(manager).__name__}")
            size = manager.population
            if size > 1:  # the members split the learner's envs (ppo.population)
                envs = self.learner.num_envs
                if envs % size or (envs // size * self.learner.num_steps) % self.learner.num_minibatches:
                    raise ConfigError(
                        f"methods[{name!r}]",
                        f"a population of {size} learners per seed splits learner.num_envs = {envs} among them: "
                        f"it must divide it, and each member's batch ({envs} / {size} envs x "
                        f"{self.learner.num_steps} steps) must divide into {self.learner.num_minibatches} minibatches",
                    )
        for where, stage in self._named_stages():
            for method in stage.methods or ():
                if method not in self.methods:
                    raise ConfigError(
                        f"{where}.methods",
                        f"{method!r} is not one of the curriculum's methods {sorted(self.methods)}",
                    )

    @staticmethod
    def _resolve_tasks(env, where: str, tasks):
        from bootstrap_rl.wrappers import as_task_sampler

        if isinstance(tasks, (str, list, tuple, dict)):
            make = getattr(env, "task_distribution", None)
            if make is None:
                raise ConfigError(where, f"{type(env).__name__} has no task_distribution method, so tasks must be a sampler (key -> params)")
            try:
                return make(tasks)
            except (ValueError, KeyError) as error:
                raise ConfigError(where, str(error)) from None
        if not callable(tasks):
            raise ConfigError(where, f"must be a sampler (key -> env params) or a task-kind spec, got {type(tasks).__name__}")
        return as_task_sampler(tasks)

    def _check_tasks(self, env, samplers) -> int | None:
        """Validate every stage's tasks; return the shortest time limit seen (or None)."""
        reference, limits = None, []
        expected = jax.tree.map(lambda x: jax.ShapeDtypeStruct(np.shape(x), np.asarray(x).dtype), env.default_params)
        for (where, _), sampler in zip(self._named_stages(), samplers):
            try:
                task = jax.eval_shape(sampler, _DISCOVERY_KEY)
            except Exception as error:
                raise ConfigError(f"{where}.tasks", f"the sampler fails on a key: {error}") from None
            if jax.tree.structure(task) != jax.tree.structure(expected):
                raise ConfigError(
                    f"{where}.tasks",
                    f"the sampler returns {jax.tree.structure(task)}, not the family's params {jax.tree.structure(expected)}",
                )
            obs, _ = jax.eval_shape(env.reset, _DISCOVERY_KEY, task)
            concrete = _draw_tasks(sampler, jax.random.split(_DISCOVERY_KEY, _TASKS_CHECKED))
            first = jax.tree.map(lambda x: x[0], concrete)
            spaces = (tuple(obs.shape), str(obs.dtype), _space_signature(env.action_space(first)))
            if reference is None:
                reference = (where, spaces)
            elif spaces != reference[1]:
                raise ConfigError(
                    f"{where}.tasks",
                    f"observation/action spaces {spaces} differ from {reference[0]}'s {reference[1]}",
                )
            shortest = getattr(env, "shortest_episode", lambda sampler: None)(sampler)
            if shortest is not None:  # exact: the family knows its distribution
                limits.append(int(shortest))
            elif hasattr(concrete, "max_steps_in_episode"):
                # Estimated from the draws: a rare shorter limit shows up as the training metric
                # unbootstrapped_truncations, not as silent bias.
                limits.append(int(np.min(np.asarray(concrete.max_steps_in_episode))))
            validate = getattr(env, "validate_params", None)
            if validate is not None:
                try:
                    validate(concrete)
                except ValueError as error:
                    raise ConfigError(f"{where}.tasks", f"the sampler drew an invalid task: {error}") from None
        first_def = jax.tree.structure(samplers[0])
        first_shapes = [(np.shape(x), np.asarray(x).dtype) for x in jax.tree.leaves(samplers[0])]
        for (where, _), sampler in zip(self._named_stages(), samplers):
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


# --- discovery: curricula by name, by path, by entry point ---------------------------------


class UnknownCurriculumError(ValueError):
    """A curriculum name or path that does not lead to a module exporting ``CURRICULUM``."""


def available() -> dict[str, str]:
    """Every curriculum name: those in ``curricula/`` and those of installed plug-ins."""
    from bootstrap_rl import curricula

    names = {m.name: f"{curricula.__name__}.{m.name}" for m in pkgutil.iter_modules(curricula.__path__)
             if not m.name.startswith("_")}
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        names.setdefault(entry_point.name, entry_point.value)
    return dict(sorted(names.items()))


def load(name_or_path: str, preset: str | None = None) -> Curriculum:
    """The ``CURRICULUM`` (or its ``PRESETS[preset]``) of a module named or at a path."""
    module = _import(name_or_path)
    curriculum = getattr(module, "CURRICULUM", None)
    if not isinstance(curriculum, Curriculum):
        raise UnknownCurriculumError(f"{name_or_path}: the module does not export CURRICULUM (a Curriculum)")
    if preset is None:
        return curriculum
    presets = getattr(module, "PRESETS", {}) or {}
    if preset not in presets:
        raise UnknownCurriculumError(
            f"{name_or_path}: no preset {preset!r}; it has {sorted(presets) or 'none'}"
        )
    if not isinstance(presets[preset], Curriculum):
        raise UnknownCurriculumError(f"{name_or_path}: PRESETS[{preset!r}] is not a Curriculum")
    return presets[preset]


def presets(name_or_path: str) -> list[str]:
    return sorted(getattr(_import(name_or_path), "PRESETS", {}) or {})


def _import(name_or_path: str):
    path = Path(name_or_path)
    if name_or_path.endswith(".py") or path.is_file():
        if not path.is_file():
            raise UnknownCurriculumError(f"{name_or_path}: no such file")
        # A stable name (not hash(), which Python salts per process): samplers are described
        # by module and name in study.json, and a resumed study must describe them the same.
        digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
        module_name = f"_bootstrap_rl_curriculum_{path.stem}_{digest}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # dataclasses and pickling look modules up here
        spec.loader.exec_module(module)
        return module
    names = available()
    if name_or_path not in names:
        raise UnknownCurriculumError(
            f"curriculum {name_or_path!r} not found; known: {', '.join(names) or 'none'} "
            "(or give a path to a .py file)"
        )
    target = names[name_or_path]
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute) if attribute else module


def describe(curriculum: Curriculum) -> str:
    """One line per stage, for ``bootstrap-rl list``."""
    stages = " -> ".join(f"{s.name} ({s.env_steps:,})" for s in curriculum.all_stages)
    return f"{stages}; methods: {', '.join(curriculum.methods) or 'none'}"


__all__ = [
    "Curriculum", "Evaluation", "Population", "Stage", "available", "load", "presets",
    "describe", "describe_sampler", "UnknownCurriculumError",
]
