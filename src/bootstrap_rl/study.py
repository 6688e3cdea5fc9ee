"""Studies: every arm of a curriculum on one budget of env steps, evaluated as it trains.

``run_study(curriculum, out_dir)`` expands the curriculum into arms (see :func:`expand_runs`),
trains each with its seeds vmapped inside one compiled function per (arm, stage shape) —
stages only swap data (their task sampler) — and writes one results directory:

``study.json``            the resolved configuration and the arms (stages, budgets, parameter counts)
``results.csv``           the tidy table: arm, seed, stage, env_steps, split, metric, value
``parts/<run>/*.csv``     the same rows, one atomically written file per evaluation point
``checkpoints/<run>/``    orbax checkpoints of every seed's parameters at each stage boundary
``resume/<run>.npz``      the latest full learner state (for ``resume=True``)
``timing/<run>.json``     wall time split into compilation, training and evaluation; compile
                          seconds, persistent-cache hits, peak device memory where reported,
                          the seed chunk if the run was trained in chunks

Evaluation happens at env step 0 and every ``curriculum.evaluation.every_env_steps``: each
seed's policy plays episodes of the adult task and of every childhood stage's tasks (the
``split`` column), and, once a stage has ended, the drift from the policy of that stage's end
is measured on a fixed probe set of that stage's observations (metric ``policy_kl``).
Training metrics are averaged over the interval (split ``train``).

Everything derives from one root seed. Seed ``s`` of every arm starts from the same network
and every arm is evaluated on the same episodes (common random numbers), so arms differ only
by how they spend the budget. Resuming restarts from the last saved state on the same
chunking, so an interrupted and resumed study ends with the same table as an uninterrupted one
on the same device.

Seeds and the arms of a D:prodigy population (the vmapped batch rows; a population method's
learners per seed live inside a row) are sharded over every device of every
process (:mod:`bootstrap_rl.sharding`): the batch is padded to a multiple of the device count,
each process writes the rows of its own devices (``parts/<run>/NNNNN.p<process>.csv`` when
there is more than one process) and process 0 writes everything written once (``study.json``,
checkpoints, resume state, timing, ``results.csv``).

A run whose batch does not fit in device memory trains its seeds in sequential chunks
(``seed_chunk``, or by itself after an out-of-memory error): each chunk writes
``parts/<run>/NNNNN.seeds<a>-<b>.csv``, ``resume/<run>.seeds<a>-<b>.npz`` and
``parts/<run>/DONE.seeds<a>-<b>`` once finished, and the run's checkpoints are merged into
the unchunked layout at its end. Keys are per seed, so a chunk trains its seeds as the whole
batch would, up to float rounding.
"""

from __future__ import annotations

import gc
import glob
import itertools
import json
import os
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from bootstrap_rl import checkpoint, results
from bootstrap_rl import sharding
from bootstrap_rl.curriculum import Curriculum
from bootstrap_rl.evaluation import play_episodes, policy_kl
from bootstrap_rl.library import make_library_network
from bootstrap_rl.managers import StageStart, only_in_stages, switch
from bootstrap_rl.ppo import make_population, make_ppo
from bootstrap_rl.ppo.train import METRICS
from bootstrap_rl.sharding import Layout, barrier, is_writer
from bootstrap_rl.wrappers import TaskDistribution

TABLE_COLUMNS = ("arm", "seed", "stage", "env_steps", "split", "metric", "value")
# Distinct streams derived from the root seed.
_INIT, _EVAL, _PROBE = 0, 1, 2


class StudyError(ValueError):
    """A study cannot start or resume as asked (the message says why and what to do)."""


@dataclass(frozen=True)
class Run:
    """One compiled training run: one or more arms (``members``) × seeds, vmapped together.

    Arms are members of one run when they share the schedule, manager and network and differ
    only in data (a population's learning rates and entropy coefficients).
    """

    slug: str  # folder name
    kind: str  # direct | curriculum | childhood | direct_adult_steps | population
    members: tuple[str, ...]  # arm names
    schedule: tuple[tuple[str, int], ...]  # (stage name, env steps), in order
    method: str | None = None
    hidden_sizes: tuple[int, ...] = ()
    hparams: tuple[dict, ...] = ()  # per member: learning_rate, ent_coef
    splits: tuple[str, ...] = ()  # evaluation splits (stage names)

    @property
    def budget(self) -> int:
        return sum(steps for _, steps in self.schedule)


def expand_runs(curriculum: Curriculum) -> list[Run]:
    """The arms of a curriculum, grouped into compiled runs, in the order they are trained.

    ``direct`` (adult task, whole budget), ``curriculum`` (the stages then the adult task,
    plain fine-tuning), one ``childhood/<method>`` per method, ``direct_adult_steps`` (adult
    task, adult steps only: the sunk-cost reference), and a population run per network width.
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
    if c.population is not None:
        p = c.population
        rates = p.learning_rate or (learner.learning_rate,)
        entropies = p.ent_coef or (learner.ent_coef,)
        for width in p.width or (learner.hidden_sizes[0],):
            hidden = (int(width),) * len(learner.hidden_sizes)
            grid = list(itertools.product(rates, entropies))
            members = tuple(f"population/lr={lr:g},ent={ent:g},width={int(width)}" for lr, ent in grid)
            hparams = tuple({"learning_rate": float(lr), "ent_coef": float(ent)} for lr, ent in grid)
            runs.append(Run(f"population-width{int(width)}", "population", members,
                            ((adult, c.total_env_steps),), hidden_sizes=hidden, hparams=hparams,
                            splits=(adult,)))
    return runs


def resolved_config(curriculum: Curriculum, seeds: int, root_seed: int) -> dict:
    """Everything that determines a study's numbers, as JSON (compared on resume)."""
    return {**curriculum.to_dict(), "seeds": seeds, "root_seed": root_seed,
            "jax_version": jax.__version__, "backend": jax.default_backend()}


# --- one run ---------------------------------------------------------------------------------


def _learner_key(curriculum: Curriculum, run: Run) -> tuple:
    """What makes two runs' programs differ. Runs with equal keys share one compiled learner:
    direct, curriculum and direct_adult_steps do, and so do the childhood arms — the method
    and the stages it is on in are data (see :func:`_manager_inputs`) — except an arm whose
    method trains a population of learners per seed (``Manager.population``), which has its own."""
    childhood = run.kind == "childhood"
    # The anneal (if any) spans the run's own budget: a Python constant in the program.
    budget = run.budget if curriculum.learner.anneal_lr else curriculum.total_env_steps
    # A method that trains a population of learners per seed has a program of its own.
    population = run.method if childhood and curriculum.methods[run.method].population > 1 else None
    return (run.hidden_sizes, childhood, len(run.schedule) if childhood else 0, budget, run.splits, population)


def _shared_methods(curriculum: Curriculum) -> list[str]:
    """The methods whose arms share one program, chosen by data: all but population methods."""
    return [name for name, m in curriculum.methods.items() if m.population == 1]


def _manager_inputs(curriculum: Curriculum, run: Run) -> tuple[jax.Array, jax.Array]:
    """A run's method (its index among :func:`_shared_methods`) and the stages where it is on."""
    names = list(curriculum.methods)
    if run.method is None:  # no manager: the inputs are unused, and shaped alike for every run
        return jnp.int32(0), jnp.zeros(0, bool)
    stages = {s.name: s for s in curriculum.all_stages}
    active = [run.method in (stages[name].methods if stages[name].methods is not None else names)
              for name, _ in run.schedule]
    shared = _shared_methods(curriculum)
    index = shared.index(run.method) if run.method in shared else 0  # a population method: its own program
    return jnp.int32(index), jnp.asarray(active, bool)


class _Learner:
    """The compiled pieces for runs of one :func:`_learner_key`: PPO's chunk of updates,
    stage starts, evaluation over every split, drift probes and KL. ``bind(run)`` gives them
    with the run's manager inputs filled in."""

    def __init__(self, curriculum: Curriculum, key: tuple, shared: dict | None = None,
                 layout: Layout | None = None):
        c = curriculum
        self.layout = layout = layout or Layout()
        # Every output of these programs has the batch leading: kept sharded over the devices.
        placed = layout.jit_options()
        hidden_sizes, childhood, num_stages, budget, splits, population_method = key
        first = c.sampler(c.all_stages[0].name)
        self.env = TaskDistribution(c.family, first)
        # A population method's members split the seed's envs: the arm spends one learner's budget.
        members = c.methods[population_method].population if population_method else 1
        config = c.learner.replace(total_timesteps=budget // members, hidden_sizes=hidden_sizes,
                                   num_envs=c.learner.num_envs // members)
        self.config = config
        network = None
        if c.library is not None:
            spec = c.library.replace(hidden=hidden_sizes[0]) if hidden_sizes != c.learner.hidden_sizes else c.library
            network = make_library_network(spec, self.env.action_space(first))
        methods = tuple(c.methods[name] for name in _shared_methods(c))

        def build(method, active):
            # Every childhood arm: one program, the method and its stage mask passed as data.
            # Outside the seeds' vmap they are not batched, so only the chosen manager runs.
            if population_method:
                manager = only_in_stages(c.methods[population_method], active)
            else:
                manager = only_in_stages(switch(methods, method), active) if childhood else None
            ppo = make_ppo(config, self.env, first, network=network, manager=manager,
                           episode_limit=c.episode_limit)
            return make_population(ppo, members) if members > 1 else ppo

        self.ppo = build(0, jnp.ones(num_stages, bool))
        self.updates_per_chunk = c.evaluation.every_env_steps // (config.batch_size * members)
        evaluation = c.evaluation
        network = self.ppo.network

        def chunk(state, method, active):
            ppo = build(method, active)
            return jax.vmap(lambda s: jax.lax.scan(lambda s, _: ppo.update(s), s, None, self.updates_per_chunk))(state)

        self.chunk = jax.jit(chunk, donate_argnums=0, **placed)

        def start_stage(state, sampler, index, is_adult, method, active):
            ppo = build(method, active)

            def start(state):
                state = ppo.reset_envs(state, sampler)
                stage = StageStart(jnp.asarray(index, jnp.int32), jnp.asarray(is_adult, bool), sampler,
                                   score=lambda params, key: ppo.score(params, sampler, key),
                                   score_env_steps=config.num_envs * config.num_steps)
                return ppo.start_stage(state, stage)

            return jax.vmap(start)(state)

        def begin(keys, hparams, sampler, is_adult, method, active):
            # Initialisation enters the first stage in the same program (one compile fewer).
            ppo = build(method, active)
            state = jax.vmap(ppo.init)(keys, hparams)
            return start_stage(state, sampler, 0, is_adult, method, active)

        self.begin = jax.jit(begin, **placed)
        self.start_stage = jax.jit(start_stage, **placed)
        # The variables that act, per seed: the state's own, or a population's fittest member's.
        self.acting = (lambda state: state.params) if members == 1 else jax.jit(
            jax.vmap(self.ppo.acting_params), **placed)
        # A uniform sample of each evaluation episode's observations doubles as the drift
        # probe set of its split.
        self.probe_steps = -(-evaluation.probe_observations // evaluation.episodes)
        total_episodes = len(splits) * evaluation.episodes

        def evaluate_splits(params, per_episode_samplers, key):
            return play_episodes(
                network, params, self.env, per_episode_samplers, key, total_episodes,
                greedy=evaluation.greedy, per_episode_params=True, record_steps=self.probe_steps,
            )

        # Every split's episodes in one loop (the task distribution is per episode), seeds vmapped.
        # Learners with equal networks and splits (arms that differ only by manager) share
        # these programs, so they compile once per study (``shared``).
        programs = (shared if shared is not None else {}).setdefault((network, splits), (
            jax.jit(jax.vmap(evaluate_splits, in_axes=(0, None, 0)), **placed),
            jax.jit(jax.vmap(lambda old, new, obs, weights: policy_kl(network, old, new, obs, weights)),
                    **placed),
        ))
        self.evaluate, self.drift = programs

    def bind(self, curriculum: Curriculum, run: Run) -> _RunLearner:
        return _RunLearner(self, *self.layout.replicate(_manager_inputs(curriculum, run)))

    def param_count(self) -> int:
        shapes = jax.eval_shape(lambda key: self.ppo.acting_params(self.ppo.init(key)), jax.random.PRNGKey(0))["params"]
        return int(sum(np.prod(x.shape) for x in jax.tree.leaves(shapes)))


class _RunLearner:
    """A :class:`_Learner`'s programs for one run (its method and stage mask bound)."""

    def __init__(self, learner: _Learner, method: jax.Array, active: jax.Array):
        self.learner, self.method, self.active = learner, method, active
        self.ppo, self.config, self.evaluate, self.drift = learner.ppo, learner.config, learner.evaluate, learner.drift
        self.param_count, self.acting = learner.param_count, learner.acting

    def begin(self, keys, hparams, sampler, is_adult):
        return self.learner.begin(keys, hparams, sampler, is_adult, self.method, self.active)

    def start_stage(self, state, sampler, index, is_adult):
        return self.learner.start_stage(state, sampler, index, is_adult, self.method, self.active)

    def chunk(self, state):
        return self.learner.chunk(state, self.method, self.active)


def _stack(trees):
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def _seed_keys(root: jax.Array, stream: int, index: int, members: int, seeds: int,
               first_seed: int = 0) -> jax.Array:
    """Keys ``[members*seeds]`` for one use, for seeds ``first_seed ... first_seed+seeds-1``:
    the same for every member (and arm) of a seed, and in any chunk of seeds (each seed's key
    is folded in from its own number)."""
    base = jax.random.fold_in(jax.random.fold_in(root, stream), index)
    per_seed = jax.vmap(lambda s: jax.random.fold_in(base, s))(first_seed + jnp.arange(seeds))
    return jnp.tile(per_seed, (members, 1))


def _chunk_tag(first: int, stop: int, seeds: int) -> str:
    """The file-name tag of the seed chunk ``first ... stop-1``: '' for every seed (a run
    trained whole keeps the file names of an unchunked study)."""
    return "" if (first, stop) == (0, seeds) else f"seeds{first}-{stop - 1}"


def _tag_of(name: str) -> str:
    """The chunk tag inside a file name (``00003.seeds0-3.p1.csv`` -> ``seeds0-3``), or ''."""
    return next((piece for piece in name.split(".")[1:] if piece.startswith("seeds")), "")


def _tag_range(tag: str) -> tuple[int, int]:
    first, last = tag.removeprefix("seeds").split("-")
    return int(first), int(last) + 1


class _RunWriter:
    """Rows of one run's seeds ``first ... stop-1`` (all of them unless the run is trained in
    seed chunks), one atomically written CSV per evaluation point."""

    def __init__(self, out: Path, run: Run, seeds: int, first: int = 0, stop: int | None = None):
        self.dir = out / "parts" / run.slug
        self.run, self.seeds = run, seeds
        self.first, self.stop = first, seeds if stop is None else stop
        self.tag = _chunk_tag(self.first, self.stop, seeds)
        self.dir.mkdir(parents=True, exist_ok=True)

    def part(self, point: int) -> Path:
        """This process's file of one evaluation point (one file per point in one process)."""
        tag = f".{self.tag}" if self.tag else ""
        if jax.process_count() == 1:
            return self.dir / f"{point:05d}{tag}.csv"
        return self.dir / f"{point:05d}{tag}.p{jax.process_index()}.csv"

    def write(self, point: int, rows: list[tuple]) -> None:
        import pandas as pd

        if not rows:  # a process whose devices hold only padding rows
            return
        frame = pd.DataFrame(rows, columns=TABLE_COLUMNS)
        results.write_text(self.part(point), frame.to_csv(index=False))

    def drop_after(self, point: int) -> None:
        """Remove every process's parts of these seeds past ``point``."""
        for path in self.dir.glob("*.csv"):
            if _tag_of(path.name) == self.tag and int(path.name.split(".")[0]) > point:
                path.unlink(missing_ok=True)

    def drop_unfinished(self, finished: set[str]) -> None:
        """Remove the parts of every seed chunk not in ``finished`` (tags): what an attempt
        that ran out of memory, or was killed before it saved a state, left behind."""
        for path in self.dir.glob("*.csv"):
            if _tag_of(path.name) not in finished:
                path.unlink(missing_ok=True)

    def member_seed(self):
        """(arm, seed) for every row of the vmapped batch, in batch order."""
        return [(arm, seed) for arm in self.run.members for seed in range(self.first, self.stop)]


def _save_resume(path: Path, point: int, stage: int, fresh: bool, state, snapshots: dict) -> None:
    """The full run state at an evaluation point, atomically (a temporary file, then a rename).
    ``state`` and ``snapshots`` hold every real batch row (no padding), on the host or device."""
    arrays = {f"state/{i}": np.asarray(x) for i, x in enumerate(jax.tree.leaves(jax.device_get(state)))}
    for name, (params, probe, weights) in snapshots.items():
        for i, x in enumerate(jax.tree.leaves(jax.device_get(params))):
            arrays[f"snapshot/{name}/{i}"] = np.asarray(x)
        arrays[f"probe/{name}"] = np.asarray(probe)
        arrays[f"weights/{name}"] = np.asarray(weights)
    arrays["point"], arrays["stage"], arrays["fresh"] = np.asarray(point), np.asarray(stage), np.asarray(fresh)
    arrays["snapshots"] = np.asarray(list(snapshots), dtype=str)
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _load_resume(path: Path, state_like, params_like):
    """The state saved by :func:`_save_resume`; ``*_like``: trees of arrays or shape structs."""
    with np.load(path) as data:
        def rebuild(like, prefix):
            leaves, treedef = jax.tree.flatten(like)
            arrays = []
            for i, leaf in enumerate(leaves):
                saved = data[f"{prefix}{i}"]
                if saved.shape != tuple(leaf.shape):
                    raise StudyError(f"{path}: the saved state does not fit this study ({prefix}{i}: "
                                     f"{saved.shape} vs {tuple(leaf.shape)}); start a new results directory")
                arrays.append(jnp.asarray(saved, dtype=leaf.dtype))
            return jax.tree.unflatten(treedef, arrays)

        state = rebuild(state_like, "state/")
        snapshots = {}
        for name in data["snapshots"].tolist():
            params = rebuild(params_like, f"snapshot/{name}/")
            snapshots[name] = (params, jnp.asarray(data[f"probe/{name}"]), jnp.asarray(data[f"weights/{name}"]))
        return int(data["point"]), int(data["stage"]), bool(data["fresh"]), state, snapshots


def _run_inputs(curriculum: Curriculum, run: Run, seeds: int, root: jax.Array, layout: Layout | None = None,
                first_seed: int = 0):
    """A run's initial keys, per-member hyperparameters, stage samplers and the per-episode
    samplers of its evaluation (every split's episodes run in one loop), for ``seeds`` seeds
    from ``first_seed`` on. Keys and hyperparameters are padded to the ``layout``'s batch
    (host arrays, not yet placed)."""
    layout = layout or Layout()
    members = len(run.members)
    samplers = {name: curriculum.sampler(name) for name in dict(run.schedule) | dict.fromkeys(run.splits)}
    per_episode = jax.tree.map(lambda x: jnp.repeat(x, curriculum.evaluation.episodes, axis=0),
                               _stack([samplers[name] for name in run.splits]))
    hparams = {name: jnp.repeat(jnp.asarray([h[name] for h in run.hparams], jnp.float32), seeds)
               for name in run.hparams[0]}
    keys = _seed_keys(root, _INIT, 0, members, seeds, first_seed)
    keys, hparams = layout.pad((keys, hparams), members * seeds)
    return keys, hparams, samplers, per_episode


def _check_methods(curriculum: Curriculum, learner: _Learner) -> None:
    """Initialise every method alone on the network (shapes only), so that a method that does
    not fit it — a memory manager without a memory, say — fails naming that method."""
    env = learner.env
    obs = jnp.zeros((1, *env.observation_space(curriculum.sampler(curriculum.all_stages[0].name)).shape))
    key = jax.random.PRNGKey(0)
    params = jax.eval_shape(learner.ppo.network.init, key, obs)
    for name, manager in curriculum.methods.items():
        try:
            jax.eval_shape(manager.init, key, params)
        except Exception as error:
            raise StudyError(f"method {name!r} cannot be built on this curriculum's network: "
                             f"{type(error).__name__}: {error}") from error


def _preflight(curriculum: Curriculum, run: Run, learner: _RunLearner, seeds: int, root: jax.Array) -> None:
    """Trace (without compiling or running) every program of a run, so that a broken manager
    or sampler fails now, before any arm trains, with the arm named."""
    keys, hparams, samplers, per_episode = _run_inputs(curriculum, run, seeds, root, learner.learner.layout)
    first = samplers[run.schedule[0][0]]
    try:
        state = jax.eval_shape(learner.begin, keys, hparams, first, len(run.schedule) == 1)
        jax.eval_shape(learner.start_stage, state, first, 0, False)
        jax.eval_shape(learner.chunk, state)
        params = jax.eval_shape(jax.vmap(learner.ppo.acting_params), state)
        played = jax.eval_shape(learner.evaluate, params, per_episode, keys)
        batch, steps, episodes = played.seen.shape
        probe = jax.ShapeDtypeStruct((batch, steps * episodes, *played.observations.shape[3:]),
                                     played.observations.dtype)
        jax.eval_shape(learner.drift, params, params, probe,
                       jax.ShapeDtypeStruct((batch, steps * episodes), bool))
    except Exception as error:
        what = f" (method {run.method!r})" if run.method else ""
        raise StudyError(f"arm {run.members[0]}{what} cannot be built: {type(error).__name__}: {error}") from error


def _train_run(
    curriculum: Curriculum,
    run: Run,
    learner: _RunLearner,
    out: Path,
    seeds: int,
    root: jax.Array,
    *,
    resume: bool,
    checkpoint_seconds: float,
    log: Callable[[str], None],
    seed_chunk: int | None = None,
    fits: dict | None = None,
) -> dict:
    """Train, evaluate and record one run; resumable at any saved evaluation point.

    The seeds train together, or in sequential chunks of ``seed_chunk`` seeds; when a batch
    runs out of device memory (one process), in chunks of half as many rows per device, with
    a message saying so. Chunks finished before are kept (and, resuming, a chunk in progress
    continues at its own size). ``fits``: batch rows known to fit, per learner, shared by the
    runs of a study so that runs of one program do not each run out of memory first.

    Every process of a distributed study calls it: each trains and writes the rows of its own
    devices, process 0 writes checkpoints, the resume state and the timing."""
    parts = out / "parts" / run.slug
    if (parts / "DONE").exists():
        log(f"{run.slug}: already complete")
        if is_writer():
            _clear_chunks(out, run)
        return {}
    parts.mkdir(parents=True, exist_ok=True)
    layout = learner.learner.layout
    members = len(run.members)
    name = _run_name(run)
    finished = dict(_tag_range(path.name.removeprefix("DONE.")) for path in parts.glob("DONE.seeds*"))
    size, why = seeds, ""
    if seed_chunk is not None and seed_chunk < seeds:
        size, why = seed_chunk, "as asked"
    if fits is not None and learner.learner in fits and fits[learner.learner] // members < size:
        size, why = max(1, fits[learner.learner] // members), "as a batch of its program did not fit in device memory"
    if seed_chunk is None and finished and max(b - a for a, b in finished.items()) < size:
        size, why = max(b - a for a, b in finished.items()), "as its finished chunks"
    if size < seeds:
        uneven = "" if seeds % size == 0 else (f"; the last chunk ({seeds % size} seeds) compiles its own "
                                               "programs (a chunk size dividing the seeds avoids it)")
        log(f"{name}: {seeds} seeds in chunks of {size}, {why}{uneven}")
    timing = {"compile_and_first_chunk_s": 0.0, "train_s": 0.0, "eval_s": 0.0, "chunks": 0}
    compiling = _CompileClock()
    trained, did_not_fit = [], []
    first = 0
    while first < seeds:
        if first in finished:
            first = finished[first]
            continue
        saved = _saved_chunk(out, run, first, seeds) if resume else None
        if saved is not None and seed_chunk is not None and saved - first > seed_chunk:
            log(f"{name}: the saved state of seeds {first}-{saved - 1} holds more than --seed-chunk "
                f"{seed_chunk} seeds; training them again in chunks of {seed_chunk}")
            _discard_chunk(out, run, first, saved, seeds)
            saved = None
        stop = saved or min(first + size, seeds)
        tags = {_chunk_tag(a, b, seeds) for a, b in finished.items()}
        try:
            _train_chunk(curriculum, run, learner, out, seeds, root, first, stop, resume=saved is not None,
                         checkpoint_seconds=checkpoint_seconds, log=log, timing=timing, finished=tags)
        except Exception as error:
            if not _out_of_memory(error):
                raise
            smaller = _smaller_chunk(stop - first, members, layout.devices)
            rows = members * (stop - first)
            if smaller is None:
                raise StudyError(
                    f"{name}: {stop - first} seed(s) ({rows} batch rows, {-(-rows // layout.devices)} per device) "
                    "do not fit in device memory, and fewer rows per device cannot be had by chunking seeds; "
                    f"use fewer envs (learner.num_envs) or steps per update. {type(error).__name__}: {error}"
                ) from error
            if jax.process_count() > 1:  # the processes cannot agree on it after one has failed
                raise StudyError(
                    f"{name}: {stop - first} seeds do not fit in device memory; a multi-process study does "
                    f"not chunk them by itself: rerun every process with --resume --seed-chunk {smaller}"
                ) from error
            log(f"{name}: {stop - first} seeds do not fit in device memory; running in chunks of {smaller}")
        else:
            trained.append((first, stop))
            finished[first] = stop
            first = stop
            continue
        # Out of the except clause: the error's traceback, which holds the batch, is gone.
        did_not_fit.append(stop - first)
        _discard_chunk(out, run, first, stop, seeds)
        size = smaller
        if fits is not None:
            fits[learner.learner] = members * smaller
    chunks = sorted(finished.items())
    if chunks != [(0, seeds)]:
        _merge_checkpoints(curriculum, run, learner, out, seeds, root, chunks)
    timing.update(compiling.read())
    timing.update(devices=layout.devices, processes=jax.process_count(), batch=members * seeds,
                  padded_batch=timing.get("padded_batch", layout.padded(members * seeds)),
                  seed_chunk=None if chunks == [(0, seeds)] else max(b - a for a, b in chunks),
                  seed_chunks_trained=[list(chunk) for chunk in trained], did_not_fit=did_not_fit,
                  peak_device_memory_bytes=sharding.peak_memory_bytes())
    if is_writer():
        results.write_json(out / "timing" / f"{run.slug}.json", timing)
        (parts / "DONE").write_text("")
        _resume_path(out, run, "").unlink(missing_ok=True)
        _clear_chunks(out, run)
    barrier(f"{run.slug}: done")
    return timing


def _run_name(run: Run) -> str:
    return f"arm {run.members[0]}" if len(run.members) == 1 else f"run {run.slug} ({len(run.members)} arms)"


def _resume_path(out: Path, run: Run, tag: str) -> Path:
    return out / "resume" / (f"{run.slug}.{tag}.npz" if tag else f"{run.slug}.npz")


def _saved_chunk(out: Path, run: Run, first: int, seeds: int) -> int | None:
    """The end of the chunk from seed ``first`` whose training state is saved, if one is."""
    if first == 0 and _resume_path(out, run, "").exists():
        return seeds
    for path in (out / "resume").glob(f"{glob.escape(run.slug)}.seeds{first}-*.npz"):
        return _tag_range(_tag_of(path.name.removeprefix(run.slug)))[1]
    return None


def _discard_chunk(out: Path, run: Run, first: int, stop: int, seeds: int) -> None:
    """Forget an attempt at seeds ``first ... stop-1`` (its rows and saved state), to be
    trained again in smaller chunks."""
    if is_writer():
        _RunWriter(out, run, seeds, first, stop).drop_after(-1)
        _resume_path(out, run, _chunk_tag(first, stop, seeds)).unlink(missing_ok=True)
    gc.collect()  # the failed attempt's device buffers


def _clear_chunks(out: Path, run: Run) -> None:
    """Remove the per-chunk markers and checkpoints of a finished run (merged by then)."""
    for path in (out / "parts" / run.slug).glob("DONE.seeds*"):
        path.unlink(missing_ok=True)
    for path in (out / "resume").glob(f"{glob.escape(run.slug)}.seeds*.npz"):  # left by a crash after DONE
        path.unlink(missing_ok=True)
    folder = out / "checkpoints" / run.slug
    if folder.exists():
        for path in folder.iterdir():
            if _tag_of(path.name):
                shutil.rmtree(path, ignore_errors=True)


def _merge_checkpoints(curriculum: Curriculum, run: Run, learner: _RunLearner, out: Path, seeds: int,
                       root: jax.Array, chunks: list[tuple[int, int]]) -> None:
    """One checkpoint of every seed per stage, as an unchunked run writes it, from the
    checkpoints of the seed chunks (rows: members, then seeds). Every process calls it."""
    members = len(run.members)
    first, stop = chunks[0]
    keys, hparams, samplers, _ = _run_inputs(curriculum, run, stop - first, root, learner.learner.layout, first)
    shapes = jax.eval_shape(jax.vmap(learner.ppo.acting_params),
                            jax.eval_shape(learner.begin, keys, hparams, samplers[run.schedule[0][0]],
                                           len(run.schedule) == 1))
    folder = out / "checkpoints" / run.slug
    for stage, (stage_name, _) in enumerate(run.schedule):
        pieces = [checkpoint.restore(folder / f"{stage}_{stage_name}.{_chunk_tag(a, b, seeds)}",
                                     _batch_rows(shapes, members * (b - a))) for a, b in chunks]

        def merge(*leaves):
            per_member = [np.asarray(x).reshape(members, -1, *x.shape[1:]) for x in leaves]
            return np.concatenate(per_member, axis=1).reshape(members * seeds, *leaves[0].shape[1:])

        checkpoint.save(folder / f"{stage}_{stage_name}", jax.tree.map(merge, *pieces))


def _out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is XLA failing to get device memory (when compiling or running)."""
    text = str(error)
    return isinstance(error, RuntimeError) and ("RESOURCE_EXHAUSTED" in text or "out of memory" in text.lower())


def _smaller_chunk(chunk: int, members: int, devices: int) -> int | None:
    """Seeds per chunk with about half the batch rows per device of ``chunk`` seeds, a
    multiple of the device count where it can be (the rest is padded); None when no chunk of
    seeds has fewer rows per device (one row per device, or one seed's members)."""
    per_device = -(-members * chunk // devices)
    smaller = max(1, per_device // 2 * devices // members)
    if smaller >= chunk or -(-members * smaller // devices) >= per_device:
        return None
    return smaller


def _train_chunk(
    curriculum: Curriculum,
    run: Run,
    learner: _RunLearner,
    out: Path,
    seeds: int,
    root: jax.Array,
    first: int,
    stop: int,
    *,
    resume: bool,
    checkpoint_seconds: float,
    log: Callable[[str], None],
    timing: dict,
    finished: set[str] = frozenset(),
) -> None:
    """Train, evaluate and record seeds ``first ... stop-1`` of one run (every seed unless it
    is trained in chunks); resumable at any saved evaluation point. Adds to ``timing``.
    A fresh start drops the parts of every chunk not ``finished`` (tags)."""
    c = curriculum
    layout = learner.learner.layout
    every = c.evaluation.every_env_steps
    threshold = c.evaluation.success_threshold
    episodes = c.evaluation.episodes
    writer = _RunWriter(out, run, seeds, first, stop)
    resume_path = _resume_path(out, run, writer.tag)
    tag = f".{writer.tag}" if writer.tag else ""
    seeds_here = stop - first
    members, splits = len(run.members), run.splits
    rows_for = writer.member_seed()
    batch = len(rows_for)
    init_keys, hparams, samplers, per_episode = _run_inputs(c, run, seeds_here, root, layout, first)
    samplers, per_episode = layout.replicate((samplers, per_episode))
    stage_ends = np.cumsum([steps for _, steps in run.schedule])
    num_points = run.budget // every
    last_stage = len(run.schedule) - 1
    first_sampler = samplers[run.schedule[0][0]]

    t0 = time.perf_counter()
    snapshots: dict[str, tuple] = {}  # stage -> (params at its end, probe observations, weights)
    resuming = resume and resume_path.exists()
    if resuming:
        like = _batch_rows(jax.eval_shape(learner.begin, init_keys, hparams, first_sampler, last_stage == 0), batch)
        # Shapes from the unjitted function: ``like`` has the batch's rows, not the padded rows.
        acting_like = jax.eval_shape(jax.vmap(learner.ppo.acting_params), like)
        point, stage, fresh_stage, state, snapshots = _load_resume(resume_path, like, acting_like)
        state = layout.shard(state, batch)
        snapshots = {name: layout.shard(snapshot, batch) for name, snapshot in snapshots.items()}
        if is_writer():
            writer.drop_after(point)
        log(f"{run.slug}{tag}: resuming at {point * every:,} env steps")
    else:
        if is_writer():
            writer.drop_unfinished(set(finished))
        state = learner.begin(layout.shard(init_keys, batch), layout.shard(hparams, batch), first_sampler,
                              last_stage == 0)
        point, stage, fresh_stage = 0, 0, False
    barrier(f"{run.slug}: parts cleared")  # before any process writes this run's parts

    def evaluate_now(point: int, stage_name: str, train_rows: list):
        start, clock = time.perf_counter(), _CompileClock()
        keys = layout.shard(_seed_keys(root, _EVAL, point, members, seeds_here, first), batch)
        acting = learner.acting(state)
        played = learner.evaluate(acting, per_episode, keys)
        drift = {name: learner.drift(params, acting, probe, weights)
                 for name, (params, probe, weights) in snapshots.items()}
        local, (returns, lengths, drift) = layout.local_rows((played.returns, played.lengths, drift), batch)
        returns = returns.reshape(len(local), len(splits), episodes)
        lengths = lengths.reshape(len(local), len(splits), episodes)
        timing["eval_s"] += max(time.perf_counter() - start - clock.read()["compile_s"], 0.0)
        env_steps = point * every
        rows = list(train_rows)
        for b, row in enumerate(local):
            arm, seed = rows_for[row]
            for s, split in enumerate(splits):
                rows.append((arm, seed, stage_name, env_steps, split, "return", float(returns[b, s].mean())))
                rows.append((arm, seed, stage_name, env_steps, split, "length", float(lengths[b, s].mean())))
                if threshold is not None:
                    rows.append((arm, seed, stage_name, env_steps, split, "success",
                                 float((returns[b, s] > threshold).mean())))
            for name, kl in drift.items():
                rows.append((arm, seed, stage_name, env_steps, name, "policy_kl", float(kl[b])))
        writer.write(point, rows)
        return played

    if point == 0 and not resuming:
        evaluate_now(0, run.schedule[0][0], [])
    last_save = time.perf_counter()
    while point < num_points:
        stage_name = run.schedule[stage][0]
        if fresh_stage:
            state = learner.start_stage(state, samplers[stage_name], stage, stage == last_stage)
            fresh_stage = False
        start, clock = time.perf_counter(), _CompileClock()
        state, metrics = learner.chunk(state)
        local, metrics = layout.local_rows(metrics, batch)  # waits for the chunk to finish
        # A later seed chunk of another size compiles anew: that is not training time.
        elapsed = time.perf_counter() - start - clock.read()["compile_s"]
        if timing["chunks"] == 0:
            timing["compile_and_first_chunk_s"] = time.perf_counter() - t0
        else:
            timing["train_s"] += max(elapsed, 0.0)
        timing["chunks"] += 1
        point += 1
        env_steps = point * every
        train_rows = _train_rows(metrics, [rows_for[row] for row in local], stage_name, env_steps)
        played = evaluate_now(point, stage_name, train_rows)
        stage_over = env_steps == stage_ends[stage]
        if stage_over:
            acting = learner.acting(state)
            params = acting if layout.mesh is None else layout.gather(acting, batch)
            # Every process calls it: orbax has process 0 write host arrays, and waits for all.
            checkpoint.save(out / "checkpoints" / run.slug / f"{stage}_{stage_name}{tag}", params)
            if stage < last_stage:
                # The probe set: what this end-of-stage policy saw on its own stage's tasks.
                s = splits.index(stage_name)
                cut = slice(s * episodes, (s + 1) * episodes)
                probe = played.observations[:, :, cut]  # [batch, steps, episodes, ...]
                weights = played.seen[:, :, cut]
                snapshots[stage_name] = (
                    jax.tree.map(jnp.copy, acting),
                    probe.reshape(probe.shape[0], -1, *probe.shape[3:]),
                    weights.reshape(weights.shape[0], -1),
                )
                stage += 1
                fresh_stage = True
                log(f"{run.slug}{tag}: stage {stage_name} done at {env_steps:,} env steps")
        # Every process decides alike whether to save (the gather is a collective).
        due = time.perf_counter() - last_save >= checkpoint_seconds
        if jax.process_count() > 1:
            due = bool(np.any(_all_processes(due)))
        if point < num_points and (stage_over or due):
            # At a boundary this is saved before the next stage starts (fresh_stage), so a
            # resume enters it through start_stage, as an uninterrupted run does.
            whole = layout.gather((state, snapshots), batch)
            if is_writer():
                _save_resume(resume_path, point, stage, fresh_stage, *whole)
            last_save = time.perf_counter()
    barrier(f"{run.slug}: trained{tag}")  # every process's parts are written
    timing["padded_batch"] = max(timing.get("padded_batch", 0), layout.padded(batch))
    if is_writer() and tag:  # a run trained whole drops its resume state once DONE is written
        (writer.dir / f"DONE{tag}").write_text("")
        resume_path.unlink(missing_ok=True)
    barrier(f"{run.slug}: done{tag}")


def _batch_rows(tree, rows: int):
    """Shape structs of ``tree`` with the leading (batch) axis cut to ``rows``."""
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct((rows, *x.shape[1:]), x.dtype), tree)


def _all_processes(flag: bool) -> np.ndarray:
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(np.asarray([flag])))


class _CompileClock:
    """Seconds spent tracing, lowering and compiling (or fetching from the persistent cache)
    since it was made, and the persistent-cache hits: from JAX's monitoring events."""

    _TIMED = ("/jax/core/compile/jaxpr_trace_duration", "/jax/core/compile/jaxpr_to_mlir_module_duration",
              "/jax/core/compile/backend_compile_duration")
    _totals = {"compile_s": 0.0, "persistent_cache_hits": 0}
    _listening = False

    def __init__(self):
        cls = type(self)
        if not cls._listening:
            def on_duration(event, duration, **kwargs):
                if event in cls._TIMED:
                    cls._totals["compile_s"] += duration

            def on_event(event, **kwargs):
                if event == "/jax/compilation_cache/cache_hits":
                    cls._totals["persistent_cache_hits"] += 1

            jax.monitoring.register_event_duration_secs_listener(on_duration)
            jax.monitoring.register_event_listener(on_event)
            cls._listening = True
        self.start = dict(cls._totals)

    def read(self) -> dict:
        return {name: type(self)._totals[name] - self.start[name] for name in self.start}


def _train_rows(metrics: dict, rows_for: list, stage_name: str, env_steps: int) -> list[tuple]:
    """Training metrics averaged over the interval's updates (NaN-skipping), one row each."""
    rows = []
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: no episode ended
        for name in METRICS:
            values = np.nanmean(np.asarray(metrics[name], np.float64), axis=1)
            for b, (arm, seed) in enumerate(rows_for):
                if np.isfinite(values[b]):
                    rows.append((arm, seed, stage_name, env_steps, "train", name, float(values[b])))
    return rows


def run_study(
    curriculum: Curriculum,
    out_dir: str | Path,
    *,
    seeds: int | None = None,
    root_seed: int = 0,
    resume: bool = False,
    checkpoint_seconds: float = 60.0,
    log: Callable[[str], None] = print,
    devices: int | None = None,
    compilation_cache: str | Path | None = None,
    seed_chunk: int | None = None,
) -> Path:
    """Train every arm of ``curriculum`` and write the results directory ``out_dir``.

    ``resume=True`` continues a study interrupted in ``out_dir`` (which must have been
    started with the same configuration); without it, ``out_dir`` must not hold a study.
    The learner state is saved at every stage boundary and at most every
    ``checkpoint_seconds`` otherwise. Returns the path of ``results.csv``.

    Seeds and population members are sharded over the first ``devices`` of ``jax.devices()``
    (default: all of them, every device of every process once ``jax.distributed`` is initialised; see
    :mod:`bootstrap_rl.sharding`). In a distributed study every process calls ``run_study``
    with the same arguments and ``out_dir`` on a shared file system.
    ``compilation_cache``: a folder for JAX's persistent compilation cache (programs compiled
    once are loaded from it by later studies and processes).

    ``seed_chunk``: train at most this many seeds of a run at once (the rest after, in
    sequential chunks). Without it, a run whose batch does not fit in device memory is split
    by itself (in a single-process study), with a message: chunks of seeds get the same keys
    as in one batch, so the table is the same up to float rounding.
    """
    if compilation_cache is not None:
        enable_compilation_cache(compilation_cache)
    try:
        layout = Layout.over(devices)
    except ValueError as error:
        raise StudyError(str(error)) from None
    seeds = curriculum.seeds if seeds is None else seeds
    if not isinstance(seeds, int) or seeds < 1:
        raise StudyError(f"seeds: must be a positive integer, got {seeds!r}")
    if seed_chunk is not None and (not isinstance(seed_chunk, int) or isinstance(seed_chunk, bool) or seed_chunk < 1):
        raise StudyError(f"seed_chunk: must be a positive integer (seeds trained at once), got {seed_chunk!r}")
    out = Path(out_dir)
    config = json.loads(json.dumps(resolved_config(curriculum, seeds, root_seed), default=str))
    study_file = out / "study.json"
    if study_file.exists():
        if not resume:
            raise StudyError(f"{out} already holds a study; pass --resume to continue it, or choose another directory")
        saved_study = json.loads(study_file.read_text())
        saved = saved_study["config"]
        if seed_chunk is None:  # resuming keeps the chunking, so the table stays as it would have been
            seed_chunk = saved_study.get("seed_chunk")
        elif seed_chunk != saved_study.get("seed_chunk"):
            log(f"resuming with --seed-chunk {seed_chunk} (the study started with {saved_study.get('seed_chunk')}): "
                "seeds trained from now on may differ from an uninterrupted run in the last bits")
        if saved != config:
            changed = sorted(k for k in set(saved) | set(config) if saved.get(k) != config.get(k))
            raise StudyError(f"{out}: cannot resume, the configuration differs in {changed}")
    elif out.exists() and any(out.iterdir()):
        raise StudyError(f"{out} is not empty and holds no study.json; choose another directory")
    barrier("study: checked")  # every process has looked at out_dir before process 0 writes in it

    runs = expand_runs(curriculum)
    compiled: dict[tuple, _Learner] = {}
    learners, shared = {}, {}
    for run in runs:
        key = _learner_key(curriculum, run)
        if key not in compiled:
            compiled[key] = _Learner(curriculum, key, shared, layout)
        learners[run.slug] = compiled[key].bind(curriculum, run)
    c = curriculum
    root = jax.random.PRNGKey(root_seed)
    for run in runs:
        if run.kind == "childhood":
            _check_methods(c, learners[run.slug].learner)
            break
    for run in runs:
        _preflight(c, run, learners[run.slug], seeds, root)
    arms = []
    for run in runs:
        offsets = np.concatenate([[0], np.cumsum([s for _, s in run.schedule])])
        for m, name in enumerate(run.members):
            arms.append({
                "name": name, "kind": run.kind, "run": run.slug, "method": run.method,
                "budget_env_steps": run.budget,
                "param_count": learners[run.slug].param_count(),  # of the network that acts
                # Learners trained per seed (a population method's members, each on its share of the envs).
                "learners_per_seed": c.methods[run.method].population if run.method else 1,
                "stages": [{"name": n, "start_env_steps": int(a), "end_env_steps": int(b)}
                           for (n, _), a, b in zip(run.schedule, offsets[:-1], offsets[1:])],
                "hparams": run.hparams[m] if run.kind == "population" else None,
            })
    if is_writer():
        results.write_json(study_file, {
            "curriculum": c.name, "description": c.description, "seeds": seeds, "root_seed": root_seed,
            "total_env_steps": c.total_env_steps, "eval_every": c.evaluation.every_env_steps,
            "score_metric": "success" if c.evaluation.success_threshold is not None else "return",
            "adult_stage": c.adult.name, "stages": [s.name for s in c.all_stages], "arms": arms,
            "population": config["population"], "config": config,
            "devices": layout.devices, "processes": jax.process_count(), "seed_chunk": seed_chunk,
        })
    if not is_writer():
        log = lambda line: None  # noqa: E731 — process 0 reports progress
    fits: dict = {}  # batch rows that fit in device memory, per compiled learner, once one ran out
    for run in runs:
        log(f"{run.slug}: {len(run.members)} arm(s) x {seeds} seeds, {run.budget:,} env steps each"
            + (f", on {layout.devices} devices" if layout.devices > 1 else ""))
        _train_run(c, run, learners[run.slug], out, seeds, root, resume=resume,
                   checkpoint_seconds=checkpoint_seconds, log=log, seed_chunk=seed_chunk, fits=fits)
    table = out / "results.csv"
    if is_writer():
        table = consolidate(out)
    barrier("study: consolidated")
    return table


def enable_compilation_cache(path: str | Path) -> None:
    """Keep compiled programs in ``path`` (JAX's persistent compilation cache), for every
    program compiled from now on in this process, also when JAX has compiled before."""
    from jax.experimental.compilation_cache import compilation_cache as cache

    path = str(Path(path).absolute())
    Path(path).mkdir(parents=True, exist_ok=True)
    if jax.config.jax_compilation_cache_dir != path:
        jax.config.update("jax_compilation_cache_dir", path)
        cache.reset_cache()  # JAX decides once whether a cache is used; let it decide again


def consolidate(out: str | Path) -> Path:
    """Concatenate every part into ``results.csv`` (atomically) and return its path."""
    import pandas as pd

    out = Path(out)
    parts = sorted((out / "parts").glob("*/*.csv"))
    frames = [pd.read_csv(p) for p in parts]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=TABLE_COLUMNS)
    return results.write_text(out / "results.csv", table.to_csv(index=False))


def read_results(out: str | Path):
    """The study's tidy table (``results.csv``, or the parts written so far) as a DataFrame."""
    import pandas as pd

    out = Path(out)
    if (out / "results.csv").exists():
        return pd.read_csv(out / "results.csv")
    parts = sorted((out / "parts").glob("*/*.csv"))
    if not parts:
        return pd.DataFrame(columns=TABLE_COLUMNS)
    return pd.concat([pd.read_csv(p) for p in parts], ignore_index=True)


__all__ = ["Run", "StudyError", "TABLE_COLUMNS", "consolidate", "enable_compilation_cache", "expand_runs",
           "read_results", "resolved_config", "run_study"]
