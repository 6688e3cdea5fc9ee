"""The manager contract: what a management method may read and change in the learner, and when.

Managers are to the learner what optax transforms are to gradients: a bundle of pure
functions over an explicit state, composed with :func:`~bootstrap_rl.managers.chain`. The
learner (PPO) calls the hooks and knows no specific manager::

    manager = chain(kickstarting(), routing())
    ppo = make_ppo(config, env, env_params, manager=manager)

A manager defines only the hooks it needs; :class:`Manager` fills in the others with hooks
that do nothing. Every hook is pure and jittable. ``mstate`` is the manager's own state (the
learner keeps it between calls), ``learner`` a :class:`Managed` — the part of the learner's
state a manager may read and change:

``init(key, params) -> mstate``  (default: ``()``)
    once, when the learner initialises; ``params`` are the network's variables.
``on_stage_start(mstate, learner, stage) -> (mstate, learner)``  (default: unchanged)
    at the start of every stage (``stage``: :class:`StageStart`). Allocate or generate a
    subsystem, freeze slots, keep a teacher, reset hyperparameters.
``targets(mstate, params, obs, policy) -> pytree``  (default: ``()``)
    once per update, after the rollout: per-transition targets the loss will read (a teacher's
    outputs, say), each leaf with a leading axis of ``len(obs)`` (the flattened rollout). The
    learner shuffles them into minibatches with the transitions, so a target computed once
    serves every epoch: the same numbers as computing it in ``loss``, for a fraction of the cost.
``loss(mstate, params, inputs) -> scalar``  (default: 0)
    added to PPO's loss on every minibatch and differentiated with it: distillation,
    regularisers. ``params`` are the variables being differentiated; ``inputs``
    (:class:`LossInputs`) the minibatch, this manager's targets for it, the network's outputs
    on it (with the subsystem library, every slot's policy too), and ``policy(params, obs)`` to
    evaluate any variables' policy.
``after_update(mstate, learner, handover) -> (mstate, learner)``  (default: unchanged)
    after every PPO update, inside the compiled loop: online hyperparameter control,
    population-based training, memory writes. ``handover`` (:class:`Handover`) is what the
    update leaves for managers: its metrics and batch, PPO's objective, the optimizer's moments
    and the learner's own optimizer step.
``report(mstate) -> ManagerReport``  (default: nothing to report)
    what the manager spent outside the learner and what it did (``diagnostics``: named
    scalars), read by the learner once per update and written to its metrics; a study writes
    the diagnostics to its results table (split ``manager``) at every evaluation point.
``footprint(stages) -> Footprint``  (default: one slot)
    a static statement of how much of the library the acting policy uses after the manager
    acted in ``stages`` stages, so a study can plan active parameter counts without training.

``learner.params`` holds every variable collection of the network: ``params`` (trained) and,
for the subsystem library (:mod:`bootstrap_rl.library`), ``library`` — the masks, step-size
multipliers and memory that managers change. The learner trains ``params`` only.

Hooks run per seed, under ``vmap``; seeds are independent runs (statistics resample them), so
a hook must not mix them. A manager switched off in a stage (``only_in_stages``) still has
its loss computed and masked, so the loss must stay finite (and differentiable) everywhere.
"""

from __future__ import annotations

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
    # Its env steps are not charged to the budget; a manager that calls it reports them
    # (``ManagerReport.uncharged_env_steps``).
    score: Callable[[Any, jax.Array], jax.Array] | None = None
    score_env_steps: int = 0  # env steps one ``score`` call spends (num_envs * num_steps)


class Managed(NamedTuple):
    """The part of one learner's state that a manager may read and change.

    The rest — env state, RNG key, update counter — stays the learner's own, so a manager
    cannot desynchronise the rollout from the budget it is charged.
    """

    params: Any  # every variable collection: ``params`` (trained) and, with a library, ``library``
    hparams: dict[str, jax.Array]  # {"learning_rate", "ent_coef"}: data, per seed
    opt_state: Any  # the optimizer's state, opaque: a manager may copy it whole (pbt)


class LossInputs(NamedTuple):
    """What a manager's ``loss`` reads on one minibatch."""

    batch: Any  # the learner's transitions (``ppo.train.Batch``: obs, action, advantage, target, ...)
    targets: Any  # this manager's ``targets`` for these transitions (``()`` without them)
    dist: Any  # the network's policy on ``batch.obs`` at the variables being differentiated
    values: jax.Array  # the network's values on ``batch.obs``
    policy: Callable[[Any, jax.Array], Any]  # policy(params, obs) -> dist, for any variables
    # With the subsystem library: every slot's policy alone on ``batch.obs``, from the same
    # forward pass as ``dist`` (``library.slot_policy(slots, i)``: slot i's); None otherwise.
    slots: Any = None


class AdamMoments(NamedTuple):
    """The learner's Adam state, its moments shaped like the trained ``params`` collection."""

    count: jax.Array  # optimizer steps taken (for the bias correction)
    mu: Any  # first moment
    nu: Any  # second moment


class Handover(NamedTuple):
    """What the learner hands a manager after a PPO update (inside the compiled loop)."""

    metrics: dict[str, jax.Array]  # the update's scalar metrics (``bootstrap_rl.ppo.train.METRICS``)
    batch: Any  # the update's transitions, flattened: a ``Batch`` of [num_steps * num_envs, ...]
    # objective(params, batch, hparams) -> PPO's loss of ``params`` (all variables) on ``batch``
    # with ``hparams`` ({"learning_rate", "ent_coef"}): differentiable in params and hparams.
    objective: Callable[[Any, Any, dict], jax.Array]
    network: Any = None  # the learner's flax module (``network.apply(params, obs, method="embed")``)
    # adam_moments(opt_state) -> AdamMoments of a ``Managed.opt_state``. A function rather than
    # the moments themselves, so a manager reads the optimizer state as it stands when it
    # acts, after any manager before it in a chain rewrote it.
    adam_moments: Callable[[Any], AdamMoments] | None = None
    # learner_step(variables, grads, moments, learning_rate) -> variables: the learner's own
    # optimizer step (frozen-slot mask, gradient clip, Adam from ``moments`` with its bias
    # correction, per-group step sizes read from ``variables``), differentiable in all four.
    learner_step: Callable[[Any, Any, AdamMoments, jax.Array], Any] | None = None


class ManagerReport(NamedTuple):
    """What a manager accounts for besides its effect on the learner (one scalar each)."""

    # Env steps spent so far outside the budget (scoring candidates at stage starts): the
    # learner reports them as its metric ``uncharged_env_steps``.
    uncharged_env_steps: jax.Array
    # What the manager did, as named scalars per seed ("mixing/coef_shift", say: the method's
    # name, a slash, the quantity), so a reader sees each method act. The learner writes each
    # as its metric ``manager/<name>``; a study as split ``manager``, metric ``<name>``.
    # Scalars only: a manager summarises (a max, a norm, a count), it never stacks arrays.
    diagnostics: dict[str, jax.Array] = {}  # noqa: RUF012 (never mutated: a NamedTuple default)


class Footprint(NamedTuple):
    """What of the subsystem library the acting policy uses once a manager has acted in
    ``stages`` stages: a planning statement, checked against the library state a study
    measures (``library.active_parameter_count``)."""

    slots: int = 1  # active slots (the combiner mixes them)
    routed: bool = False  # the router's gates are on


def one_slot(stages: int) -> Footprint:
    """The default ``footprint``: the acting policy uses one slot, as a fresh library does."""
    return Footprint()


def no_state(key, params):
    """The default ``init``: a manager without state."""
    return ()


def unchanged(mstate, learner, event):
    """The default ``on_stage_start`` and ``after_update``: leave everything as it is."""
    return mstate, learner


def no_targets(mstate, params, obs, policy):
    """The default ``targets``: the manager's loss needs no per-transition targets."""
    return ()


def zero_loss(mstate, params, inputs) -> jax.Array:
    """The default ``loss``: the manager acts only through its other hooks."""
    return jnp.zeros((), jnp.float32)


def nothing_to_report(mstate) -> ManagerReport:
    """The default ``report``: no env steps spent outside the budget, no diagnostics."""
    return ManagerReport(uncharged_env_steps=jnp.zeros((), jnp.float32))


DIAGNOSTIC_PREFIX = "manager/"  # a learner metric holding a manager's diagnostic


def report_metrics(report: ManagerReport) -> dict[str, jax.Array]:
    """A report as the learner's metrics: ``uncharged_env_steps`` and ``manager/<name>`` per
    diagnostic, each a float32 scalar (a non-scalar diagnostic is a bug in its manager)."""
    metrics = {"uncharged_env_steps": jnp.asarray(report.uncharged_env_steps, jnp.float32)}
    for name, value in report.diagnostics.items():
        value = jnp.asarray(value, jnp.float32)
        if value.shape != ():
            raise ValueError(f"diagnostic {name!r}: must be a scalar per seed, got shape {value.shape}")
        metrics[DIAGNOSTIC_PREFIX + name] = value
    return metrics


class Manager(NamedTuple):
    """A management method as pure functions (see the module docstring); unset hooks do nothing.

    ``members``: learners per seed the manager acts across (population-based training). Above
    1, a study builds that many learners per seed (``bootstrap_rl.ppo.members``), vmapped with
    an axis name the manager's collectives use, and splits the seed's envs among them.
    """

    init: Callable[[jax.Array, Any], Any] = no_state
    on_stage_start: Callable[[Any, Managed, StageStart], tuple[Any, Managed]] = unchanged
    loss: Callable[[Any, Any, LossInputs], jax.Array] = zero_loss
    after_update: Callable[[Any, Managed, Handover], tuple[Any, Managed]] = unchanged
    targets: Callable[[Any, Any, jax.Array, Callable], Any] = no_targets
    report: Callable[[Any], ManagerReport] = nothing_to_report
    members: int = 1
    # footprint(stages) -> Footprint: the library the acting policy uses after the manager
    # acted in ``stages`` stages (for ``bootstrap-rl plan``'s active parameter counts).
    footprint: Callable[[int], Footprint] = one_slot


def identity() -> Manager:
    """The no-op manager: changes nothing (the learner with it is plain PPO)."""
    return Manager()
