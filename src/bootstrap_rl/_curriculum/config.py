"""The curriculum's frozen config dataclasses: ``Evaluation``, ``Stage``, ``ProdigyGrid``,
``Curriculum``.

Construction checks every field in pure Python (types, budgets, names, methods) and touches
neither the env nor JAX, so importing a curriculum module is cheap. ``Curriculum.validate()``
resolves the task family and checks the tasks (:mod:`.tasks`); the derived views call it.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bootstrap_rl._curriculum import checks, tasks
from bootstrap_rl.library import LibrarySpec
from bootstrap_rl.managers import Manager
from bootstrap_rl.ppo.config import PPOConfig
from bootstrap_rl.ued.config import UED_KINDS, UEDConfig
from bootstrap_rl.validation import ConfigError, is_finite_number, positive_int


@dataclass(frozen=True)
class Evaluation:
    """When and how arms are evaluated during training.

    Every ``every_env_steps`` env steps (and at step 0), each seed's current policy plays
    ``episodes`` episodes of the adult task and of every childhood stage's tasks (retention).
    ``success_threshold``: an episode whose return exceeds it counts as a success (the
    ``success`` metric; ``None``: no success metric). ``probe_observations``: how many
    observations of each stage's tasks form the fixed probe set on which policy drift is
    measured (a uniform sample of ``ceil(probe_observations / episodes)`` observations from
    each of the stage's evaluation episodes at its end).
    """

    every_env_steps: int
    episodes: int = 32
    greedy: bool = False
    success_threshold: float | None = None
    probe_observations: int = 256

    def __post_init__(self):
        for name in ("every_env_steps", "episodes", "probe_observations"):
            object.__setattr__(self, name, positive_int(getattr(self, name), f"evaluation.{name}"))
        if self.success_threshold is not None and not is_finite_number(self.success_threshold):
            raise ConfigError("evaluation.success_threshold", f"must be a finite number or None, got {self.success_threshold!r}")


@dataclass(frozen=True)
class Stage:
    """A task distribution, an env-step budget, and the management methods active in it.

    The budget is ``env_steps``, or ``intervals``: a number of evaluation intervals (the
    curriculum's ``evaluation.every_env_steps``, which must then be given). Give exactly one;
    a curriculum's stages carry the resolved ``env_steps``.

    ``methods``: names of the curriculum's ``methods`` that run during this stage (``None``:
    all of them). Ignored by the ``direct`` and ``curriculum`` arms, which have no manager.
    """

    name: str
    tasks: Any  # key -> env params (a Partial), or a task-kind spec for the family
    env_steps: int | None = None
    methods: tuple[str, ...] | None = None
    intervals: int | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ConfigError("name", f"a stage name must be a Python identifier (it names a table split), got {self.name!r}")
        if self.env_steps is not None and self.intervals is not None:
            raise ConfigError(f"stage {self.name!r}: intervals",
                              f"give the budget as env_steps or as intervals, not both (got env_steps={self.env_steps!r}, "
                              f"intervals={self.intervals!r})")
        if self.intervals is not None:
            object.__setattr__(self, "intervals", positive_int(self.intervals, f"stage {self.name!r}: intervals"))
        elif self.env_steps is None:
            raise ConfigError(f"stage {self.name!r}: env_steps",
                              "give the stage's budget: env_steps, or intervals (in evaluation intervals)")
        else:
            object.__setattr__(self, "env_steps", positive_int(self.env_steps, f"stage {self.name!r}: env_steps"))
        if isinstance(self.methods, str):
            raise ConfigError(f"stage {self.name!r}: methods", f"must be a tuple of method names, got the string {self.methods!r} (write ({self.methods!r},))")
        if self.methods is not None:
            object.__setattr__(self, "methods", tuple(self.methods))


@dataclass(frozen=True)
class ProdigyGrid:
    """A D:prodigy grid of direct-arm configurations (one direct arm per grid point).

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
            where = f"prodigy_grid.{name}"
            for v in values:
                if not is_finite_number(v) or v < 0:
                    raise ConfigError(where, f"values must be finite and >= 0, got {v!r}")
            if name != "ent_coef" and any(v <= 0 for v in values):
                raise ConfigError(where, f"values must be positive, got {values!r}")
            if name == "width" and any(int(v) != v for v in values):
                raise ConfigError(where, f"widths must be integers, got {values!r}")
            if len({f"{v:.6g}" for v in values}) != len(values):
                raise ConfigError(where, f"values must be distinct (to 6 significant digits), got {values!r}")
        if not (self.learning_rate or self.ent_coef or self.width):
            raise ConfigError("prodigy_grid", "give at least one of learning_rate, ent_coef, width")


@dataclass(frozen=True)
class Controls:
    """The control arms a study derives beside ``direct``, ``curriculum`` and the childhood arms,
    each at the same budget and on the same seeds (docs/curricula.md, "Controls").

    ``manager_alone``: a ``direct+<method>`` arm per method — the manager on the adult task
    alone, no childhood; with ``childhood/<method>``, ``curriculum`` and ``direct``, a 2 x 2 of
    childhood x manager. ``True``: every method; a tuple: those methods; ``False``: none.
    ``shuffled``: ``curriculum/shuffled``, the childhood stages in reverse order. ``mixed``:
    ``curriculum/mixed``, every childhood stage's tasks mixed (weighted by their budgets) for
    the whole childhood budget. ``capacity``: a direct arm as wide as needed to act with at
    least as many parameters as each childhood arm that acts with more than ``direct``
    (``direct/width=<w>``). ``shrink_perturb``: ``curriculum/shrink_perturb``, the curriculum
    arm with its weights shrunk and perturbed at the adult stage's start (Ash & Adams, 2020):
    a control for lost plasticity.

    ``ued``: the automatic-curriculum arms ``ued/dr``, ``ued/plr``, ``ued/accel`` (docs/ued.md),
    each spending the childhood budget on levels of the childhood stages' tasks, then the adult
    stage. ``None`` (default): all three where the env is a task family (its tasks are data
    built from specs), none on a plain gymnax env; ``True``: all three; a tuple: those kinds;
    ``False``: none. ``ued_config``: their buffer and replay settings.
    """

    manager_alone: bool | tuple[str, ...] = True
    shuffled: bool = True
    mixed: bool = True
    capacity: bool = True
    shrink_perturb: bool = True
    ued: bool | tuple[str, ...] | None = None
    ued_config: UEDConfig = field(default_factory=UEDConfig)

    def __post_init__(self):
        if not isinstance(self.ued, (bool, type(None))):
            if isinstance(self.ued, str) or not isinstance(self.ued, (tuple, list)) \
                    or any(kind not in UED_KINDS for kind in self.ued):
                raise ConfigError("controls.ued", f"must be None, True, False or a tuple of {UED_KINDS}, "
                                                  f"got {self.ued!r}")
            object.__setattr__(self, "ued", tuple(self.ued))
        if not isinstance(self.ued_config, UEDConfig):
            raise ConfigError("controls.ued_config", f"must be a UEDConfig, got {type(self.ued_config).__name__}")
        for name in ("shuffled", "mixed", "capacity", "shrink_perturb"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"controls.{name}", f"must be True or False, got {getattr(self, name)!r}")
        alone = self.manager_alone
        if isinstance(alone, str) or not isinstance(alone, (bool, tuple, list)):
            raise ConfigError("controls.manager_alone", f"must be True, False or a tuple of method names, got {alone!r}")
        if not isinstance(alone, bool):
            object.__setattr__(self, "manager_alone", tuple(alone))

    @classmethod
    def none(cls) -> Controls:
        """No control arm."""
        return cls(manager_alone=False, shuffled=False, mixed=False, capacity=False, shrink_perturb=False, ued=False)

    def replace(self, **changes) -> Controls:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Curriculum:
    """Ordered childhood ``stages``, the ``adult`` stage, and the budget every arm gets.

    Construction checks, in pure Python, everything a study needs that does not depend on
    the env: budgets that add up and divide into PPO updates and evaluation intervals, unique
    stage names, known methods. :meth:`validate` checks the rest — the env, and that every
    stage's tasks are valid params of the family with the same observation and action
    spaces — and the derived views (``family``, ``sampler``, ``episode_limit``,
    ``to_dict``) call it on first use. Errors name the field.

    ``total_env_steps=None``: the sum of the stages' budgets (``evaluation`` must then be
    given).
    """

    name: str
    env: Any  # a registered env id (str) or a gymnax Environment: the task family
    stages: tuple[Stage, ...]
    adult: Stage
    total_env_steps: int | None = None
    learner: PPOConfig = field(default_factory=PPOConfig)
    evaluation: Evaluation | None = None
    methods: Mapping[str, Manager] = field(default_factory=dict)
    seeds: int = 10
    prodigy_grid: ProdigyGrid | None = None
    description: str = ""
    # The subsystem library (``bootstrap_rl.library``) every arm's network is built on; None:
    # the learner's plain actor-critic MLPs. Managers that route, generate, freeze or remember
    # need it.
    library: LibrarySpec | None = None
    controls: Controls = field(default_factory=Controls)

    def __post_init__(self):
        if not isinstance(self.controls, Controls):
            raise ConfigError("controls", f"must be a Controls, got {type(self.controls).__name__}")
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
        if self.prodigy_grid is not None and not isinstance(self.prodigy_grid, ProdigyGrid):
            raise ConfigError("prodigy_grid", f"must be a ProdigyGrid or None, got {type(self.prodigy_grid).__name__}")
        checks.check_env_form(self.env)
        if self.total_env_steps is not None:
            object.__setattr__(self, "total_env_steps", positive_int(self.total_env_steps, "total_env_steps"))
        object.__setattr__(self, "seeds", positive_int(self.seeds, "seeds"))
        self._resolve_budgets()
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
        checks.check_names(self.stages, self.adult)
        checks.check_budgets(self)
        checks.check_methods(self)
        checks.check_task_forms(self.stages, self.adult)

    def _resolve_budgets(self) -> None:
        """Stage budgets in intervals -> env_steps, a total of None -> the sum, the default
        evaluation; what was resolved is kept as given, for :meth:`replace`."""
        derived_total = self.total_env_steps is None
        in_intervals = [(where, s) for where, s in checks.named_stages(self.stages, self.adult) if s.intervals is not None]
        if self.evaluation is None:
            if derived_total:
                raise ConfigError("evaluation", "must be given (Evaluation(every_env_steps=...)) when total_env_steps "
                                                "is None (the sum of the stages' budgets)")
            if in_intervals:
                where, stage = in_intervals[0]
                raise ConfigError("evaluation", f"must be given (Evaluation(every_env_steps=...)): {where} "
                                                f"({stage.name!r}) gives its budget in evaluation intervals")
            object.__setattr__(self, "evaluation", Evaluation(every_env_steps=self.total_env_steps // 20))
        elif not isinstance(self.evaluation, Evaluation):
            raise ConfigError("evaluation", f"must be an Evaluation or None, got {type(self.evaluation).__name__}")
        given: dict[str, Any] = {}
        if in_intervals:
            given.update(stages=self.stages, adult=self.adult)
            every = self.evaluation.every_env_steps

            def in_env_steps(stage: Stage) -> Stage:
                if stage.intervals is None:
                    return stage
                return dataclasses.replace(stage, env_steps=stage.intervals * every, intervals=None)

            object.__setattr__(self, "stages", tuple(map(in_env_steps, self.stages)))
            object.__setattr__(self, "adult", in_env_steps(self.adult))
        if derived_total:
            given["total_env_steps"] = None
            object.__setattr__(self, "total_env_steps", sum(s.env_steps for s in self.all_stages))
        object.__setattr__(self, "_given", given)

    # --- the checks that need the env --------------------------------------------------

    def validate(self) -> Curriculum:
        """Resolve the task family and check every stage's tasks; return ``self``.

        Looks the env up (importing its module), turns specs into samplers, traces each
        sampler and draws tasks from it (a small compile): ConfigError naming the field if a
        stage's tasks are unknown, fail, are not the family's params, are invalid, or differ
        in spaces or sampler function from the other stages'. Idempotent: the result is
        cached, so later calls (and the derived views) cost nothing.
        """
        if "_resolved" not in self.__dict__:
            object.__setattr__(self, "_resolved", tasks.resolve(self))
        return self

    # --- derived views ---------------------------------------------------------------

    @property
    def family(self):
        """The task family's gymnax ``Environment`` (validates on first use)."""
        return self.validate()._resolved.family

    @property
    def all_stages(self) -> tuple[Stage, ...]:
        """The childhood stages, then the adult stage."""
        return (*self.stages, self.adult)

    @property
    def episode_limit(self) -> int | None:
        """The shortest episode time limit among the stages' tasks: exact where the family
        knows it, else the shortest among the tasks drawn during validation (a hint that sizes
        the learner's truncation handling; see ``make_ppo``). Validates on first use."""
        return self.validate()._resolved.episode_limit

    def sampler(self, stage_name: str):
        """The resolved task sampler (a ``Partial``) of a stage, by name (validates on first
        use)."""
        for stage, sampler in zip(self.all_stages, self.validate()._resolved.samplers):
            if stage.name == stage_name:
                return sampler
        raise KeyError(stage_name)

    @property
    def population(self) -> ProdigyGrid | None:
        """Deprecated: :attr:`prodigy_grid`."""
        warnings.warn("Curriculum.population is deprecated: use Curriculum.prodigy_grid", DeprecationWarning, stacklevel=2)
        return self.prodigy_grid

    def replace(self, **changes) -> Curriculum:
        """A checked copy with ``changes`` (a preset is usually built this way).

        What the original derived stays derived unless changed: stages given in
        ``intervals`` are resolved again (against a new ``evaluation``, say), and a total
        given as None is the new stages' sum.
        """
        if "population" in changes:
            warnings.warn("Curriculum.replace(population=...) is deprecated: use prodigy_grid=", DeprecationWarning,
                          stacklevel=2)
            if "prodigy_grid" in changes:
                raise ConfigError("population", "give prodigy_grid only (population is its deprecated name)")
            changes["prodigy_grid"] = changes.pop("population")
        return dataclasses.replace(self, **{**self._given, **changes})

    def to_dict(self) -> dict:
        """A JSON-able description (samplers and managers by name and data summary);
        validates on first use."""
        samplers = self.validate()._resolved.samplers

        def stage_dict(stage: Stage, sampler) -> dict:
            return {
                "name": stage.name,
                "env_steps": stage.env_steps,
                "methods": None if stage.methods is None else list(stage.methods),
                "tasks": tasks.describe_sampler(sampler),
            }

        return {
            "name": self.name,
            "description": self.description,
            "env": self.env if isinstance(self.env, str) else type(self.env).__name__,
            "stages": [stage_dict(s, p) for s, p in zip(self.stages, samplers)],
            "adult": stage_dict(self.adult, samplers[-1]),
            "total_env_steps": self.total_env_steps,
            "learner": self.learner.to_dict(),
            "evaluation": dataclasses.asdict(self.evaluation),
            "methods": sorted(self.methods),
            "seeds": self.seeds,
            "prodigy_grid": None if self.prodigy_grid is None else dataclasses.asdict(self.prodigy_grid),
            "library": None if self.library is None else dataclasses.asdict(self.library),
            "controls": dataclasses.asdict(self.controls),
        }


_UNSET = object()
_dataclass_init = Curriculum.__init__


@functools.wraps(_dataclass_init)
def _init_accepting_population(self, *args, population=_UNSET, **kwargs):
    # Deprecated keyword (Curriculum(population=...)) for curricula outside the repository
    # written before ProdigyGrid; remove with the Population alias.
    if population is not _UNSET:
        warnings.warn("Curriculum(population=...) is deprecated: use prodigy_grid=", DeprecationWarning, stacklevel=2)
        if "prodigy_grid" in kwargs:
            raise ConfigError("population", "give prodigy_grid only (population is its deprecated name)")
        kwargs["prodigy_grid"] = population
    _dataclass_init(self, *args, **kwargs)


Curriculum.__init__ = _init_accepting_population
