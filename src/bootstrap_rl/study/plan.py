"""What a study trains: its arms, grouped into compiled runs, and which runs share a program.

An *arm* is one way to spend the budget; a :class:`Run` is what one compiled batch trains:
one arm, or the arms of a D:prodigy grid that differ only in data (their learning rates
and entropy coefficients), each × the seeds. Runs whose :func:`program_key` is equal share
one set of compiled programs; what still differs between them (the childhood method and the
stages it is on in) is passed to those programs as data (:func:`manager_inputs`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp

from bootstrap_rl.curriculum import Curriculum


@dataclass(frozen=True)
class Run:
    """One compiled training run: one or more arms × seeds, vmapped together.

    Arms share a run when they share the schedule, manager and network and differ only in
    data (a D:prodigy grid's learning rates and entropy coefficients).
    """

    slug: str  # folder name
    kind: str  # one of schema.ARM_KINDS
    arms: tuple[str, ...]  # arm names
    schedule: tuple[tuple[str, int], ...]  # (stage name, env steps), in order
    method: str | None = None
    hidden_sizes: tuple[int, ...] = ()
    hparams: tuple[dict, ...] = ()  # per arm: learning_rate, ent_coef
    splits: tuple[str, ...] = ()  # evaluation splits (stage names)

    @property
    def budget(self) -> int:
        return sum(steps for _, steps in self.schedule)

    @property
    def label(self) -> str:
        """How progress messages name the run: its arm, or its slug and number of arms."""
        return f"arm {self.arms[0]}" if len(self.arms) == 1 else f"run {self.slug} ({len(self.arms)} arms)"


def expand_runs(curriculum: Curriculum) -> list[Run]:
    """The arms of a curriculum, grouped into compiled runs, in the order they are trained.

    ``direct`` (adult task, whole budget), ``curriculum`` (the stages then the adult task,
    plain fine-tuning), one ``childhood/<method>`` per method, ``direct_adult_steps`` (adult
    task, adult steps only: the sunk-cost reference), and a D:prodigy grid run per network width.
    """
    c = curriculum
    learner = c.learner
    default = ({"learning_rate": learner.learning_rate, "ent_coef": learner.ent_coef},)
    adult = c.adult.name
    splits = tuple(s.name for s in c.all_stages)
    ladder = tuple((s.name, s.env_steps) for s in c.all_stages)
    common = dict(hidden_sizes=learner.hidden_sizes, hparams=default, splits=splits)
    runs = [Run("direct", "direct", ("direct",), ((adult, c.total_env_steps),), **common)]
    if c.stages:
        runs.append(Run("curriculum", "curriculum", ("curriculum",), ladder, **common))
    for method in c.methods:
        name = f"childhood/{method}"
        runs.append(Run(name.replace("/", "-"), "childhood", (name,), ladder, method=method, **common))
    if c.stages:
        runs.append(Run("direct_adult_steps", "direct_adult_steps", ("direct_adult_steps",),
                        ((adult, c.adult.env_steps),), **common))
    return runs + _grid_runs(c)


def _grid_runs(curriculum: Curriculum) -> list[Run]:
    """One run per network width of the D:prodigy grid: its learning-rate × entropy
    configurations as the run's arms, on the adult task for the whole budget."""
    c, learner = curriculum, curriculum.learner
    if c.prodigy_grid is None:
        return []
    p = c.prodigy_grid
    rates = p.learning_rate or (learner.learning_rate,)
    entropies = p.ent_coef or (learner.ent_coef,)
    runs = []
    for width in p.width or (learner.hidden_sizes[0],):
        hidden = (int(width),) * len(learner.hidden_sizes)
        grid = list(itertools.product(rates, entropies))
        arms = tuple(f"grid/lr={lr:g},ent={ent:g},width={int(width)}" for lr, ent in grid)
        hparams = tuple({"learning_rate": float(lr), "ent_coef": float(ent)} for lr, ent in grid)
        runs.append(Run(f"grid-width{int(width)}", "grid", arms,
                        ((c.adult.name, c.total_env_steps),), hidden_sizes=hidden, hparams=hparams,
                        splits=(c.adult.name,)))
    return runs


def resolved_config(curriculum: Curriculum, seeds: int, root_seed: int) -> dict:
    """Everything that determines a study's numbers, as JSON (compared on resume)."""
    return {**curriculum.to_dict(), "seeds": seeds, "root_seed": root_seed,
            "jax_version": jax.__version__, "backend": jax.default_backend()}


class ProgramKey(NamedTuple):
    """What makes two runs' compiled programs differ (see :func:`program_key`)."""

    hidden_sizes: tuple[int, ...]
    childhood: bool  # a manager is switched in (by data) per stage
    num_stages: int  # of the stage mask a childhood manager reads; 0 without a manager
    budget: int  # env steps the learning-rate anneal spans (a constant in the program)
    splits: tuple[str, ...]  # evaluation splits
    members_method: str | None  # a method that trains several learners (members) per seed


def program_key(curriculum: Curriculum, run: Run) -> ProgramKey:
    """What makes two runs' programs differ. Runs with equal keys share one set of compiled
    programs: direct, curriculum and direct_adult_steps do, and so do the childhood arms — the
    method and the stages it is on in are data (see :func:`manager_inputs`) — except an arm
    whose method trains several learners per seed (``Manager.members``), which has
    its own."""
    childhood = run.kind == "childhood"
    # The anneal (if any) spans the run's own budget: a Python constant in the program.
    budget = run.budget if curriculum.learner.anneal_lr else curriculum.total_env_steps
    members_method = run.method if childhood and curriculum.methods[run.method].members > 1 else None
    return ProgramKey(run.hidden_sizes, childhood, len(run.schedule) if childhood else 0, budget, run.splits,
                      members_method)


def shared_methods(curriculum: Curriculum) -> list[str]:
    """The methods whose arms share one program, chosen by data: all but methods with several members per seed (PBT)."""
    return [name for name, m in curriculum.methods.items() if m.members == 1]


def manager_inputs(curriculum: Curriculum, run: Run) -> tuple[jax.Array, jax.Array]:
    """A run's method (its index among :func:`shared_methods`) and the stages where it is on."""
    names = list(curriculum.methods)
    if run.method is None:  # no manager: the inputs are unused, and shaped alike for every run
        return jnp.int32(0), jnp.zeros(0, bool)
    stages = {s.name: s for s in curriculum.all_stages}
    active = [run.method in (stages[name].methods if stages[name].methods is not None else names)
              for name, _ in run.schedule]
    shared = shared_methods(curriculum)
    index = shared.index(run.method) if run.method in shared else 0  # a population method: its own program
    return jnp.int32(index), jnp.asarray(active, bool)
