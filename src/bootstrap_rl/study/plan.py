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
from bootstrap_rl.study.parameters import matching_width, parameter_counts
from bootstrap_rl.validation import ConfigError


# The stage a ``curriculum/mixed`` arm spends its childhood in: every childhood stage's tasks.
MIXED_STAGE = "childhood_mixed"
# The stage a ``ued/<kind>`` arm spends its childhood in: levels of every childhood stage's tasks.
UED_STAGE = "childhood_ued"
# Managers a study adds for its control arms, by method name (``Run.method``).
CONTROL_METHODS = ("shrink_perturb",)


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
    # Stages of the schedule that are not the curriculum's: (name, ((stage, weight), ...)),
    # a mixture of the named stages' tasks.
    mixtures: tuple[tuple[str, tuple[tuple[str, float], ...]], ...] = ()
    # Where the method is on: ``None``, in the stages the curriculum says; ``"all"``, in every
    # stage of the schedule (a ``direct+<method>`` arm).
    method_stages: str | None = None
    note: str = ""  # what the arm controls for (``bootstrap-rl plan``)
    matches: tuple[str, ...] = ()  # a capacity control: the arms whose active parameters it matches
    ued: str | None = None  # an automatic curriculum's kind (``ued.UED_KINDS``), on in ``UED_STAGE``

    @property
    def budget(self) -> int:
        return sum(steps for _, steps in self.schedule)

    @property
    def label(self) -> str:
        """How progress messages name the run: its arm, or its slug and number of arms."""
        return f"arm {self.arms[0]}" if len(self.arms) == 1 else f"run {self.slug} ({len(self.arms)} arms)"


def study_methods(curriculum: Curriculum) -> dict:
    """The managers a study's runs choose from: the curriculum's methods, then the managers of
    its control arms (:data:`CONTROL_METHODS`) that it keeps."""
    from bootstrap_rl.managers import shrink_perturb

    methods = dict(curriculum.methods)
    if curriculum.controls.shrink_perturb and curriculum.stages:
        methods["shrink_perturb"] = shrink_perturb()
    return methods


def expand_runs(curriculum: Curriculum) -> list[Run]:
    """The arms of a curriculum, grouped into compiled runs, in the order they are trained.

    ``direct`` (adult task, whole budget), ``curriculum`` (the stages then the adult task,
    plain fine-tuning), one ``childhood/<method>`` per method, ``direct_adult_steps`` (adult
    task, adult steps only: the sunk-cost reference), the control arms the curriculum keeps
    (``Curriculum.controls``: ``direct+<method>``, ``curriculum/shuffled``,
    ``curriculum/mixed``, ``curriculum/shrink_perturb``, ``direct/width=<w>``), the automatic
    curricula (``ued/dr``, ``ued/plr``, ``ued/accel``: ``Controls.ued``) and a D:prodigy grid
    run per network width.
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
    runs += _control_runs(c, common)
    runs += _ued_runs(c, common)
    return runs + _capacity_runs(c, runs, common) + _grid_runs(c)


def _control_runs(curriculum: Curriculum, common: dict) -> list[Run]:
    """The control arms of ``Curriculum.controls`` (all at the same budget and seeds) except the
    capacity-matched ones, which need the network (:func:`capacity_runs`)."""
    c, controls = curriculum, curriculum.controls
    adult = (c.adult.name, c.adult.env_steps)
    runs = []
    alone = controls.manager_alone
    for method in (c.methods if alone is True else alone or ()):
        name = f"direct+{method}"
        runs.append(Run(name.replace("/", "-"), "direct_managed", (name,), ((c.adult.name, c.total_env_steps),),
                        method=method, method_stages="all", note=f"{method} on the adult task alone, no childhood",
                        **common))
    if len(c.stages) > 1 and controls.shuffled:
        reverse = tuple((s.name, s.env_steps) for s in reversed(c.stages))
        runs.append(Run("curriculum-shuffled", "order_control", ("curriculum/shuffled",), (*reverse, adult),
                        note="the childhood stages in reverse order", **common))
    if len(c.stages) > 1 and controls.mixed:
        if MIXED_STAGE in common["splits"]:
            raise ConfigError("controls.mixed", f"a stage is named {MIXED_STAGE!r}, the name of the mixed childhood "
                                                "stage: rename it or switch the control off")
        childhood = sum(s.env_steps for s in c.stages)
        parts = tuple((s.name, s.env_steps / childhood) for s in c.stages)
        runs.append(Run("curriculum-mixed", "order_control", ("curriculum/mixed",),
                        ((MIXED_STAGE, childhood), adult), mixtures=((MIXED_STAGE, parts),),
                        note="every childhood stage's tasks mixed, weighted by budget, for the whole childhood",
                        **common))
    if c.stages and controls.shrink_perturb:
        if "shrink_perturb" in c.methods:
            raise ConfigError("controls.shrink_perturb", "the curriculum has a method named 'shrink_perturb', the "
                                                         "name of the control's manager: rename it or switch the control off")
        runs.append(Run("curriculum-shrink_perturb", "plasticity_control", ("curriculum/shrink_perturb",),
                        tuple((s.name, s.env_steps) for s in c.all_stages), method="shrink_perturb",
                        note="the curriculum arm, its weights shrunk and perturbed when the adult stage starts",
                        **common))
    return runs


def ued_kinds(curriculum: Curriculum) -> tuple[str, ...]:
    """The automatic-curriculum kinds a study of ``curriculum`` trains (``Controls.ued``)."""
    from bootstrap_rl.family import is_task_family
    from bootstrap_rl.ued.config import UED_KINDS

    c = curriculum
    ued = c.controls.ued
    if not c.stages or ued is False:
        return ()
    if ued is None:
        return UED_KINDS if is_task_family(c.family) else ()
    return UED_KINDS if ued is True else tuple(kind for kind in UED_KINDS if kind in ued)


_UED_NOTES = {
    "dr": "domain randomisation: new levels of every childhood stage's tasks (equal weights), all trained on",
    "plr": "robust PLR: a level buffer by positive value loss; only replayed levels are trained on",
    "accel": "ACCEL: robust PLR plus mutations of replayed levels",
}


def _ued_runs(curriculum: Curriculum, common: dict) -> list[Run]:
    """A ``ued/<kind>`` arm per kind of :func:`ued_kinds`: the childhood budget on levels drawn
    from the childhood stages' tasks, equally weighted (docs/ued.md), then the adult stage."""
    c = curriculum
    kinds = ued_kinds(c)
    if kinds and UED_STAGE in common["splits"]:
        raise ConfigError("controls.ued", f"a stage is named {UED_STAGE!r}, the name of the automatic curricula's "
                                          "childhood stage: rename it or switch them off")
    childhood = sum(s.env_steps for s in c.stages)
    parts = tuple((s.name, 1.0) for s in c.stages)
    return [Run(f"ued-{kind}", "ued", (f"ued/{kind}",), ((UED_STAGE, childhood), (c.adult.name, c.adult.env_steps)),
                mixtures=((UED_STAGE, parts),), ued=kind, note=_UED_NOTES[kind], **common)
            for kind in kinds]


def run_footprint(curriculum: Curriculum, run: Run):
    """What of the library ``run``'s acting policy uses at the end (its method's footprint over
    the stages the method is on in; one slot without a method)."""
    from bootstrap_rl.managers import Footprint

    if run.method is None:
        return Footprint()
    return study_methods(curriculum)[run.method].footprint(sum(stage_mask(curriculum, run)))


def planned_parameters(curriculum: Curriculum, run: Run) -> tuple[int, int]:
    """``(active, total)`` trained parameters of ``run``'s acting network, from its footprint
    (``study.parameters``; nothing compiled)."""
    return parameter_counts(curriculum, run.hidden_sizes, run_footprint(curriculum, run))


def _capacity_runs(curriculum: Curriculum, runs: list[Run], common: dict) -> list[Run]:
    """A direct arm per width needed to act with at least as many parameters as a managed arm
    that acts with more than ``direct`` (``Controls.capacity``)."""
    c = curriculum
    if not c.controls.capacity or c.library is None:
        return []
    direct = planned_parameters(c, runs[0])[0]
    matched: dict[int, list[str]] = {}
    for run in runs:
        if run.method is None:
            continue
        active = planned_parameters(c, run)[0]
        width = matching_width(c, active) if active > direct else None
        if width is not None:
            matched.setdefault(width, []).extend(run.arms)
    depth = len(c.learner.hidden_sizes)
    return [Run(f"direct-width{width}", "capacity_control", (f"direct/width={width}",),
                ((c.adult.name, c.total_env_steps),), **{**common, "hidden_sizes": (width,) * depth},
                note=f"direct, wide enough to act with as many parameters as {', '.join(arms)}",
                matches=tuple(arms))
            for width, arms in sorted(matched.items())]


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
    num_stages: int  # of the stage mask a manager reads; 0 without a manager
    budget: int  # env steps the learning-rate anneal spans (a constant in the program)
    splits: tuple[str, ...]  # evaluation splits
    members_method: str | None  # a method that trains several learners (members) per seed
    ued: bool = False  # an automatic curriculum (its kind and stage mask are data)


def program_key(curriculum: Curriculum, run: Run) -> ProgramKey:
    """What makes two runs' programs differ. Runs with equal keys share one set of compiled
    programs: direct, curriculum, the order controls and direct_adult_steps do, and so do the
    runs with a manager — childhood, direct+<method> and shrink_perturb arms; the method and
    the stages it is on in are data (see :func:`manager_inputs`, whose stage mask is padded to
    the curriculum's stage count) — except an arm whose method trains several learners per
    seed (``Manager.members``), which has its own. The automatic curricula (``ued/<kind>``)
    share one more: their kind and stage mask are data too."""
    managed = run.method is not None
    # The anneal (if any) spans the run's own budget: a Python constant in the program.
    budget = run.budget if curriculum.learner.anneal_lr else curriculum.total_env_steps
    methods = study_methods(curriculum)
    members_method = run.method if managed and methods[run.method].members > 1 else None
    staged = managed or run.ued is not None
    return ProgramKey(run.hidden_sizes, managed, len(curriculum.all_stages) if staged else 0, budget, run.splits,
                      members_method, run.ued is not None)


def shared_methods(curriculum: Curriculum) -> list[str]:
    """The methods whose arms share one program, chosen by data: all but methods with several
    members per seed (PBT); the control arms' managers included."""
    return [name for name, m in study_methods(curriculum).items() if m.members == 1]


def stage_mask(curriculum: Curriculum, run: Run) -> tuple[bool, ...]:
    """Where ``run``'s method is on, per stage of its schedule, padded with False to the
    curriculum's stage count (one mask shape for every managed run)."""
    if run.method is None:
        return ()
    if run.method_stages == "all":
        on = [True] * len(run.schedule)
    else:
        names = list(curriculum.methods)
        stages = {s.name: s for s in curriculum.all_stages}
        on = [run.method in CONTROL_METHODS
              or run.method in (stages[name].methods if stages[name].methods is not None else names)
              for name, _ in run.schedule]
    return tuple(on) + (False,) * (len(curriculum.all_stages) - len(on))


def manager_inputs(curriculum: Curriculum, run: Run) -> tuple[jax.Array, jax.Array]:
    """A run's method (its index among :func:`shared_methods`) and the stages where it is on; an
    automatic curriculum's kind (its index in ``ued.UED_KINDS``) and the stages where it is on."""
    if run.ued is not None:
        from bootstrap_rl.ued.config import UED_KINDS

        on = tuple(name == UED_STAGE for name, _ in run.schedule)
        mask = on + (False,) * (len(curriculum.all_stages) - len(on))
        return jnp.int32(UED_KINDS.index(run.ued)), jnp.asarray(mask, bool)
    if run.method is None:  # no manager: the inputs are unused, and shaped alike for every run
        return jnp.int32(0), jnp.zeros(0, bool)
    shared = shared_methods(curriculum)
    index = shared.index(run.method) if run.method in shared else 0  # a population method: its own program
    return jnp.int32(index), jnp.asarray(stage_mask(curriculum, run), bool)


def plan_arms(curriculum: Curriculum) -> list[dict]:
    """Every arm a study of ``curriculum`` trains, as JSON-ready records, without training or
    compiling anything (``bootstrap-rl plan``): its kind, method, stages and budget, active and
    total parameters, what it controls for, and the compiled program it shares (arms with the
    same ``program`` number are trained by one set of compiled programs)."""
    runs = expand_runs(curriculum)
    programs: dict[ProgramKey, int] = {}
    arms = []
    for run in runs:
        program = programs.setdefault(program_key(curriculum, run), len(programs) + 1)
        active, total = planned_parameters(curriculum, run)
        for name in run.arms:
            arms.append({"arm": name, "kind": run.kind, "run": run.slug, "method": run.method,
                         "stages": [{"name": stage, "env_steps": steps} for stage, steps in run.schedule],
                         "budget_env_steps": run.budget, "active_params": active, "total_params": total,
                         "program": program, "note": run.note, "matches": list(run.matches)})
    return arms
