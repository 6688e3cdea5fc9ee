"""The compiled programs of a study, one set per :class:`~bootstrap_rl.study.plan.ProgramKey`.

:class:`Programs` holds, for every run of one program key, PPO's chunk of updates between two
evaluation points, the program that initialises the seeds and enters the first stage, the
stage start, the evaluation of every split and the drift (KL) from a finished stage's policy.
Every program is vmapped over the batch (grid arms × seeds) and keeps its outputs
sharded over the devices. :class:`RunPrograms` are those programs with one run's manager
inputs (its method and stage mask) bound, so that runs of one key never compile twice.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from bootstrap_rl.compilation_cache import enable as enable_compilation_cache  # noqa: F401 (study's name for it)
from bootstrap_rl.curriculum import Curriculum
from bootstrap_rl.evaluation import play_episodes, policy_kl
from bootstrap_rl.library import make_library_network
from bootstrap_rl.plasticity import network_metrics
from bootstrap_rl.managers import StageStart, only_in_stages, switch
from bootstrap_rl.ppo import make_members, make_ppo
from bootstrap_rl.sharding import Layout
from bootstrap_rl.study.inputs import RunInputs
from bootstrap_rl.study.plan import ProgramKey, Run, manager_inputs, program_key, shared_methods, study_methods
from bootstrap_rl.ued.env import LevelEnv
from bootstrap_rl.ued.learner import family_mutation, level_scores, make_ued
from bootstrap_rl.wrappers import TaskSamplingEnv


class Programs:
    """The compiled programs for runs of one program key. ``begin``, ``start_stage`` and
    ``chunk`` take the run's method and stage mask last (data); :meth:`bind` fills them in.
    ``evaluate`` and ``drift`` are shared (``shared``) by every key of equal network and splits,
    so arms that differ only by manager compile them once per study."""

    def __init__(self, curriculum: Curriculum, key: tuple, shared: dict | None = None,
                 layout: Layout | None = None):
        c = curriculum
        self.layout = layout = layout or Layout()
        self.key = key = ProgramKey(*key)
        first = c.sampler(c.all_stages[0].name)
        self.env = TaskSamplingEnv(c.family, first)
        # A PBT method's members split the seed's envs: the arm spends one learner's budget.
        members = study_methods(c)[key.members_method].members if key.members_method else 1
        self.config = c.learner.replace(total_timesteps=key.budget // members, hidden_sizes=key.hidden_sizes,
                                        num_envs=c.learner.num_envs // members)
        # The first build makes the network (the library's, or the learner's default); every
        # program built later is given that network.
        network = _library_network(c, key, self.env, first)
        # An automatic curriculum trains on envs whose episodes replay levels; it is evaluated
        # like every arm, on ``self.env``.
        train_env = LevelEnv(c.family, first) if key.ued else self.env
        first_build = _ppo_builder(c, key, self.config, train_env, first, network, members)
        self.ppo = first_build(0, jnp.ones(key.num_stages, bool))
        build = _ppo_builder(c, key, self.config, train_env, first, self.ppo.network, members)
        self.updates_per_chunk = c.evaluation.every_env_steps // (self.config.batch_size * members)
        self.chunk, self.begin, self.start_stage = _training_programs(build, self.config, self.updates_per_chunk,
                                                                      layout.jit_options())
        # The variables that act, per seed: the state's own, or the fittest PBT member's.
        self.acting = (lambda state: state.params) if members == 1 else jax.jit(
            jax.vmap(self.ppo.acting_params), **layout.jit_options())
        # A uniform sample of each evaluation episode's observations doubles as the drift
        # probe set of its split.
        self.probe_steps = -(-c.evaluation.probe_observations // c.evaluation.episodes)
        self.evaluate, self.drift, self.network_metrics = _evaluation_programs(
            c, self.ppo.network, self.env, key.splits, self.probe_steps, layout, shared)

    def bind(self, curriculum: Curriculum, run: Run) -> RunPrograms:
        """These programs with ``run``'s manager inputs filled in."""
        return RunPrograms(self, *self.layout.replicate(manager_inputs(curriculum, run)))

    def param_count(self) -> int:
        """Trainable parameters of the network that acts (one seed's)."""
        shapes = jax.eval_shape(lambda key: self.ppo.acting_params(self.ppo.init(key)), jax.random.PRNGKey(0))["params"]
        return int(sum(np.prod(x.shape) for x in jax.tree.leaves(shapes)))


class RunPrograms:
    """A :class:`Programs`' programs for one run (its method and stage mask bound)."""

    def __init__(self, programs: Programs, method: jax.Array, active: jax.Array):
        self.programs, self.method, self.active = programs, method, active
        self.layout = programs.layout
        self.ppo, self.config, self.acting = programs.ppo, programs.config, programs.acting
        self.evaluate, self.drift, self.param_count = programs.evaluate, programs.drift, programs.param_count
        self.network_metrics = programs.network_metrics

    def begin(self, keys, hparams, sampler, is_adult):
        return self.programs.begin(keys, hparams, sampler, is_adult, self.method, self.active)

    def start_stage(self, state, sampler, index, is_adult):
        return self.programs.start_stage(state, sampler, index, is_adult, self.method, self.active)

    def chunk(self, state, stage: int):
        """The updates of one evaluation interval in the run's stage ``stage`` (its index)."""
        return self.programs.chunk(state, stage, self.method, self.active)

    def state_shapes(self, run: Run, inputs: RunInputs):
        """Shape structs of the state :meth:`begin` makes from ``inputs`` (layout-padded rows)."""
        return jax.eval_shape(self.begin, inputs.keys, inputs.hparams, inputs.samplers[run.schedule[0][0]],
                              len(run.schedule) == 1)

    def acting_shapes(self, state_shapes):
        """Shape structs of the acting variables of a state of ``state_shapes``."""
        return jax.eval_shape(jax.vmap(self.ppo.acting_params), state_shapes)


def programs_for_runs(curriculum: Curriculum, runs: list[Run], layout: Layout, keep: bool = False
                      ) -> dict[str, RunPrograms]:
    """Every run's programs, by slug: one :class:`Programs` per program key, bound per run.

    ``keep``: take them from, and keep them on, the curriculum object, for a later study on it
    in this process (``run_study(keep_programs=True)``). They are kept per layout and per the
    identity of each method's manager and of the env (``methods`` is a dict: a method added
    or replaced in it gets programs of its own, not the old ones)."""
    by_key: dict[ProgramKey, Programs] = {}
    shared: dict = {}
    if keep:
        identity = (layout, id(curriculum.env), tuple((name, id(m)) for name, m in curriculum.methods.items()))
        by_key, shared = curriculum.__dict__.setdefault("_kept_programs", {}).setdefault(identity, ({}, {}))
    bound = {}
    for run in runs:
        key = program_key(curriculum, run)
        if key not in by_key:
            by_key[key] = Programs(curriculum, key, shared, layout)
        bound[run.slug] = by_key[key].bind(curriculum, run)
    return bound


def _library_network(curriculum: Curriculum, key: ProgramKey, env, env_params):
    """The curriculum's subsystem-library network at the key's hidden sizes, or None (the
    learner's default actor-critic)."""
    spec = curriculum.library
    if spec is None:
        return None
    if key.hidden_sizes != curriculum.learner.hidden_sizes:
        spec = spec.replace(hidden=key.hidden_sizes[0])
    return make_library_network(spec, env.action_space(env_params))


def _ppo_builder(curriculum: Curriculum, key: ProgramKey, config, env, env_params, network,
                 members: int) -> Callable:
    """``build(method, active) -> PPO``: the learner of this key with the manager chosen by
    data. Every childhood arm gets one program, the method and its stage mask passed as data;
    outside the seeds' vmap they are not batched, so only the chosen manager runs."""
    c = curriculum
    every = study_methods(c)
    methods = tuple(every[name] for name in shared_methods(c))

    def build(method, active, on=None):
        if key.ued:  # ``method``: the kind's index in UED_KINDS
            scores = level_scores(config.num_steps, config.num_envs)
            ppo = make_ppo(config, env, env_params, network=network, manager=scores, episode_limit=c.episode_limit)
            return make_ued(ppo, env, c.controls.ued_config, method, active, family_mutation(c.family))
        if key.members_method:
            manager = only_in_stages(every[key.members_method], active, on)
        else:
            manager = only_in_stages(switch(methods, method), active, on) if key.childhood else None
        ppo = make_ppo(config, env, env_params, network=network, manager=manager, episode_limit=c.episode_limit)
        return make_members(ppo, members) if members > 1 else ppo

    return build


def _training_programs(build: Callable, config, updates_per_chunk: int, placed: dict):
    """The jitted ``chunk`` (the updates between two evaluation points of one stage, donating
    the state), ``begin`` (initialise the seeds and enter the first stage: one compile fewer
    than two programs) and ``start_stage``, each taking the method and stage mask last."""

    def chunk(state, stage, method, active):
        # ``stage``: the run's stage index, data shared by every seed (a chunk never straddles
        # two stages). The manager's per-update hooks switch on ``active[stage]``, unbatched:
        # real conditionals, not selects over every seed's state (see ``only_in_stages``).
        active = jnp.asarray(active, bool)
        ppo = build(method, active, active[stage] if active.shape[0] else None)  # no mask: no manager
        return jax.vmap(lambda s: jax.lax.scan(lambda s, _: ppo.update(s), s, None, updates_per_chunk))(state)

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
        ppo = build(method, active)
        state = jax.vmap(ppo.init)(keys, hparams)
        return start_stage(state, sampler, 0, is_adult, method, active)

    return (jax.jit(chunk, donate_argnums=0, **placed), jax.jit(begin, **placed),
            jax.jit(start_stage, **placed))


def _evaluation_programs(curriculum: Curriculum, network, env, splits: tuple[str, ...], probe_steps: int,
                         layout: Layout, shared: dict | None):
    """The jitted ``evaluate`` (every split's episodes in one loop — the task distribution is
    per episode — seeds vmapped), ``drift`` (policy KL on probe observations) and
    ``network_metrics`` (``bootstrap_rl.plasticity`` on probe observations), taken from
    ``shared`` when a key of equal network and splits made them already."""
    evaluation = curriculum.evaluation
    total_episodes = len(splits) * evaluation.episodes
    placed = layout.jit_options()

    def evaluate_splits(params, per_episode_samplers, key):
        return play_episodes(
            network, params, env, per_episode_samplers, key, total_episodes,
            greedy=evaluation.greedy, per_episode_params=True, record_steps=probe_steps,
        )

    return (shared if shared is not None else {}).setdefault((network, splits), (
        jax.jit(jax.vmap(evaluate_splits, in_axes=(0, None, 0)), **placed),
        jax.jit(jax.vmap(lambda old, new, obs, weights: policy_kl(network, old, new, obs, weights)), **placed),
        jax.jit(jax.vmap(lambda params, obs, weights: network_metrics(network, params, obs, weights)), **placed),
    ))
