"""The manager protocol: what a management method may change in the learner, and when.

Managers are to the learner what optax transforms are to gradients: a bundle of pure
functions over an explicit state, composed with :func:`chain`. The learner (PPO) calls the
hooks and knows no specific manager::

    manager = chain(distil(...), route(...))
    ppo = make_ppo(config, env, env_params, manager=manager)

Hooks (every one pure and jittable; ``mstate`` is the manager's own state, ``state`` the
learner's :class:`~bootstrap_rl.ppo.TrainState`, whose ``manager_state`` field holds
``mstate`` between calls and is not to be read by the hooks):

``init(key, params) -> mstate``
    once, when the learner initialises.
``on_stage_start(mstate, state, stage) -> (mstate, state)``
    at the start of every stage (``stage``: :class:`StageStart`). Allocate or generate a
    subsystem, freeze slots, keep a teacher, reset hyperparameters.
``targets(mstate, params, obs, policy) -> pytree``
    once per update, after the rollout: per-transition targets the loss will read (a teacher's
    outputs, say), each leaf with a leading axis of ``len(obs)`` (the flattened rollout). They
    are shuffled into minibatches with the transitions, so a target computed once serves every
    epoch — the same numbers as computing it in ``loss``, at a fraction of the cost. Optional:
    the default, :func:`no_targets`, returns ``()``.
``loss(mstate, params, minibatch, dist, values, policy) -> scalar``
    added to PPO's loss on every minibatch: distillation, regularisers. ``minibatch`` is the
    learner's :class:`~bootstrap_rl.ppo.train.Batch` (``obs``, actions, advantages, …, and
    ``manager_targets``: this manager's ``targets`` for these transitions); ``dist`` and
    ``values`` are the network's outputs on ``minibatch.obs``; ``policy(params, obs) -> dist``
    evaluates any parameters' policy.
``after_update(mstate, state, update) -> (mstate, state)``
    after every PPO update, inside the compiled loop: online hyperparameter control,
    population-based training, memory writes. ``update`` (:class:`Update`): that update's
    scalar metrics, its batch of transitions, and PPO's objective, to differentiate.

``state.params`` holds every variable collection of the network: ``params`` (trained) and,
for the subsystem library (:mod:`bootstrap_rl.library`), ``library`` — the masks, step-size
multipliers and memory that managers change. The learner trains ``params`` only.

Hooks run per seed, under ``vmap``; seeds are independent runs (statistics resample them), so
a hook must not mix them. A manager switched off in a stage (:func:`only_in_stages`) still has
its loss computed and masked, so the loss must stay finite (and differentiable) everywhere.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp


class StageStart(NamedTuple):
    """What a manager is told when a stage starts. Data only, so one compile serves all stages."""

    index: jax.Array  # 0-based position of the stage in the arm (the adult stage is last)
    is_adult: jax.Array  # bool: the adult stage has begun (childhood is over)
    tasks: Any  # the stage's task sampler (a ``jax.tree_util.Partial``: key -> env params)
    # score(params, key) -> mean reward per env step of ``params``' policy on this stage's
    # tasks over one rollout of the learner's shape: how a manager ranks candidate weights.
    # Its env steps are not charged to the budget: a manager that calls it counts them in a
    # state entry named ``uncharged_env_steps``, which the learner reports as a metric.
    score: Callable[[Any, jax.Array], jax.Array] | None = None
    score_env_steps: int = 0  # env steps one ``score`` call spends (num_envs * num_steps)


class Update(NamedTuple):
    """What a manager is told after a PPO update (inside the compiled loop)."""

    metrics: dict  # the update's scalar metrics (``bootstrap_rl.ppo.train.METRICS``)
    batch: Any  # the update's transitions, flattened: a ``Batch`` of [num_steps * num_envs, ...]
    # objective(params, batch, hparams) -> PPO's loss of ``params`` (all variables) on ``batch``
    # with ``hparams`` ({"learning_rate", "ent_coef"}): differentiable in params and hparams.
    objective: Callable[[Any, Any, dict], jax.Array]
    network: Any = None  # the learner's flax module (``network.apply(params, obs, method="embed")``)


def no_targets(mstate, params, obs, policy):
    """The ``targets`` hook of a manager whose loss needs no per-transition targets."""
    return ()


def zero_loss(mstate, params, minibatch, dist, values, policy) -> jax.Array:
    """The ``loss`` hook of a manager that acts only through its other hooks."""
    return jnp.zeros((), jnp.float32)


class Manager(NamedTuple):
    """A management method as pure functions (see the module docstring)."""

    init: Callable[[jax.Array, Any], Any]
    on_stage_start: Callable[[Any, Any, StageStart], tuple[Any, Any]]
    loss: Callable[..., jax.Array]
    after_update: Callable[[Any, Any, dict], tuple[Any, Any]]
    targets: Callable[..., Any] = no_targets
    # Learners per seed this manager acts across (vmapped with the axis name "population",
    # :mod:`bootstrap_rl.ppo.population`); a study splits the seed's envs among them.
    population: int = 1


def _population(managers) -> int:
    """The population size of managers combined: 1, or the one size > 1 among them."""
    sizes = {m.population for m in managers} - {1}
    if len(sizes) > 1:
        raise ValueError(f"managers: population managers of different sizes {sorted(sizes)} cannot be combined")
    return sizes.pop() if sizes else 1


def _own_targets(minibatch, i):
    """``minibatch`` as manager ``i`` of a combinator sees it: its own targets only."""
    return minibatch._replace(manager_targets=minibatch.manager_targets[i])


def _zeros_like_output(fn, *args):
    """Zeros shaped as ``fn(*args)``'s output, without running it."""
    return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), jax.eval_shape(fn, *args))


def identity() -> Manager:
    """The no-op manager: changes nothing (the learner with it is plain PPO)."""
    return Manager(
        init=lambda key, params: (),
        on_stage_start=lambda mstate, state, stage: (mstate, state),
        loss=zero_loss,
        after_update=lambda mstate, state, metrics: (mstate, state),
    )


def chain(*managers: Manager) -> Manager:
    """Apply ``managers`` in order; their states form a tuple, their losses add up.

    As with ``optax.chain``, each hook threads the learner state through the managers in the
    order given, so ``chain(a, b)`` sees ``b`` act on what ``a`` left.
    """
    for i, manager in enumerate(managers):
        if not isinstance(manager, Manager):
            raise TypeError(f"managers[{i}]: expected a Manager, got {type(manager).__name__}")

    def init(key, params):
        keys = jax.random.split(key, max(1, len(managers)))
        return tuple(m.init(k, params) for m, k in zip(managers, keys))

    def threaded(hook_name):
        def hook(mstates, state, arg):
            new = []
            for manager, mstate in zip(managers, mstates):
                mstate, state = getattr(manager, hook_name)(mstate, state, arg)
                new.append(mstate)
            return tuple(new), state

        return hook

    def targets(mstates, params, obs, policy):
        return tuple(m.targets(mstate, params, obs, policy) for m, mstate in zip(managers, mstates))

    def loss(mstates, params, minibatch, dist, values, policy):
        total = jnp.zeros((), jnp.float32)
        for i, (manager, mstate) in enumerate(zip(managers, mstates)):
            total = total + manager.loss(mstate, params, _own_targets(minibatch, i), dist, values, policy)
        return total

    return Manager(init, threaded("on_stage_start"), loss, threaded("after_update"), targets, _population(managers))


def only_in_stages(manager: Manager, active: tuple[bool, ...]) -> Manager:
    """``manager`` switched on in the stages where ``active[stage.index]`` holds, off elsewhere.

    Off means: no stage-start action, no loss term, no after-update action; its state is
    kept as it was. The mask is data indexed by the stage, so every stage still runs one
    compiled program.
    """
    mask = jnp.asarray(active, bool)

    def init(key, params):
        return {"active": jnp.zeros((), bool), "inner": manager.init(key, params)}

    def on_stage_start(mstate, state, stage):
        on = mask[stage.index]
        inner, state = jax.lax.cond(
            on,
            lambda: manager.on_stage_start(mstate["inner"], state, stage),
            lambda: (mstate["inner"], state),
        )
        return {"active": on, "inner": inner}, state

    def targets(mstate, params, obs, policy):
        def compute():
            return manager.targets(mstate["inner"], params, obs, policy)

        return jax.lax.cond(mstate["active"], compute, lambda: _zeros_like_output(compute))

    def loss(mstate, params, minibatch, dist, values, policy):
        term = manager.loss(mstate["inner"], params, minibatch, dist, values, policy)
        return jnp.where(mstate["active"], term, 0.0)

    def after_update(mstate, state, metrics):
        inner, state = jax.lax.cond(
            mstate["active"],
            lambda: manager.after_update(mstate["inner"], state, metrics),
            lambda: (mstate["inner"], state),
        )
        return {**mstate, "inner": inner}, state

    return Manager(init, on_stage_start, loss, after_update, targets, manager.population)


def switch(managers: tuple[Manager, ...], index) -> Manager:
    """The manager ``managers[index]``, with ``index`` data: one program serves every choice.

    Every manager's state is kept (a tuple); each hook runs only the chosen manager's branch
    through ``jax.lax.switch``. When ``index`` is not batched (a run's arms vmapped over seeds
    all make the same choice), only that branch executes, so the unchosen managers cost compile
    time once and nothing at run time. Studies use it to compile every childhood arm of a
    curriculum as one program.
    """
    managers = tuple(managers)
    for i, manager in enumerate(managers):
        if not isinstance(manager, Manager):
            raise TypeError(f"managers[{i}]: expected a Manager, got {type(manager).__name__}")
    if not managers:
        raise ValueError("managers: switch needs at least one manager")
    if any(m.population > 1 for m in managers):
        raise ValueError("managers: a population manager changes the learner's shape; it cannot be switched by data")
    index = jnp.asarray(index, jnp.int32)

    def init(key, params):
        keys = jax.random.split(key, len(managers))
        return tuple(m.init(k, params) for m, k in zip(managers, keys))

    def threaded(hook_name):
        def hook(mstates, state, arg):
            def branch(i):
                def run(mstates, state):
                    mstate, state = getattr(managers[i], hook_name)(mstates[i], state, arg)
                    return mstates[:i] + (mstate,) + mstates[i + 1:], state
                return run

            return jax.lax.switch(index, [branch(i) for i in range(len(managers))], mstates, state)

        return hook

    # Targets and losses go through one lax.cond per manager that has them, not one lax.switch
    # over all, and the branches close over what they read instead of taking every argument:
    # a conditional then carries only what its manager uses, and under jax.grad yields no
    # dense zero gradient for parameters its loss does not read. Managers without targets or
    # a loss (most) cost nothing. (One switch over every manager's state and the parameters
    # cost a fifth of a Playroom update on CPU, measured.)
    def targets(mstates, params, obs, policy):
        out = []
        for i, manager in enumerate(managers):
            if manager.targets is no_targets:
                out.append(())
                continue
            compute = functools.partial(manager.targets, mstates[i], params, obs, policy)
            zeros = _zeros_like_output(compute)
            out.append(jax.lax.cond(index == i, compute, lambda zeros=zeros: zeros))
        return tuple(out)

    def loss(mstates, params, minibatch, dist, values, policy):
        total = jnp.zeros((), jnp.float32)
        for i, manager in enumerate(managers):
            if manager.loss is zero_loss:
                continue
            term = functools.partial(manager.loss, mstates[i], params, _own_targets(minibatch, i), dist, values, policy)
            total = total + jax.lax.cond(index == i, lambda term=term: jnp.asarray(term(), jnp.float32),
                                         lambda: jnp.zeros((), jnp.float32))
        return total

    return Manager(init, threaded("on_stage_start"), loss, threaded("after_update"), targets)
