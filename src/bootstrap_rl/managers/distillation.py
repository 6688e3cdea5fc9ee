"""Gradients and targets (D:management_methods): distillation from a teacher (kickstarting),
into a policy shared across the stages (Distral), or toward the policy a stage started from
(anchor).

Kickstarting (Schmitt et al. 2018): a *fresh* student learns a task while its loss gains
``coef * KL(pi_teacher || pi)`` toward a teacher trained elsewhere, ``coef`` decaying
geometrically every update so the student is free to surpass its teacher. Here the teacher is
the policy childhood built, and the student, at the adult stage, the network every arm of the
seed starts from: it knows nothing the teacher taught. :func:`anchor` is the weaker variant
this module first called kickstarting: each stage distils toward the policy at its own start,
a teacher the student *is* at that moment, so it transfers nothing fine-tuning does not; it
only slows the drift away from the previous stage (a regulariser against forgetting).

In both, the teacher's outputs are computed once per update, on the whole rollout (the
``targets`` hook), not on every minibatch of every epoch.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from bootstrap_rl import library
from bootstrap_rl.managers.base import Manager, ManagerReport
from bootstrap_rl.validation import finite_number


class KickstartingState(NamedTuple):
    teacher: Any  # the teacher's variables
    coef: jax.Array  # the KL term's current weight (0: no teacher yet)
    student: Any = ()  # kickstarting: the trained ``params`` the seed's network started from


def _teacher_targets(mstate, params, obs, policy):
    teacher = policy(mstate.teacher, obs)
    # One row per transition: a state-independent parameter (a Gaussian's log-std) is
    # broadcast to the per-transition outputs' shape, to be shuffled into minibatches.
    shape = max((x.shape for x in jax.tree.leaves(teacher)), key=len)
    return jax.tree.map(lambda x: jnp.broadcast_to(x, shape), teacher)


def _teacher_loss(mstate, params, inputs):
    teacher = jax.lax.stop_gradient(inputs.targets)
    return mstate.coef * teacher.kl(inputs.dist).mean()


def kickstarting(coef: float = 1.0, decay: float = 0.99) -> Manager:
    """Kickstarting (Schmitt et al. 2018): at the adult stage, a fresh student distils from
    the policy childhood built.

    Childhood stages train as plain PPO (the teacher is being built; weight 0). When the adult
    stage starts, the variables as they stand become the teacher, and the trained ``params``
    are reset to those the seed's network started from (the network ``direct`` starts from,
    kept at ``init``), with a fresh optimizer state (Adam's count and moments zeroed, as
    ``optax``'s init makes them); the library's data (masks, memory) stay. The loss then gains
    ``coef * KL(pi_teacher || pi)``, its weight multiplied by ``decay`` every update. Without a
    childhood (``direct+kickstarting``) the teacher is the untrained network itself: no
    knowledge to transfer, the control for the childhood.

    Args:
        coef: the weight of the KL term when the adult stage starts.
        decay: the weight's factor per update (0.99: halved in about 69 updates).
    """
    finite_number(coef, "coef", low=0)
    finite_number(decay, "decay", low=0, high=1)

    def init(key, params):
        return KickstartingState(teacher=jax.tree.map(jnp.zeros_like, params), coef=jnp.zeros((), jnp.float32),
                                 student=params["params"])

    def on_stage_start(mstate, learner, stage):
        adult = jnp.asarray(stage.is_adult, bool)

        def pick(new, old):
            return jax.tree.map(lambda a, b: jnp.where(adult, a, b), new, old)

        teacher = pick(learner.params, mstate.teacher)  # what childhood built, before the reset
        fresh = {**learner.params, "params": mstate.student}
        learner = learner._replace(params=pick(fresh, learner.params),
                                   opt_state=pick(jax.tree.map(jnp.zeros_like, learner.opt_state), learner.opt_state))
        mstate = mstate._replace(teacher=teacher, coef=jnp.where(adult, jnp.float32(coef), jnp.float32(0.0)))
        return mstate, learner

    def after_update(mstate, learner, handover):
        return mstate._replace(coef=mstate.coef * decay), learner

    return Manager(init=init, on_stage_start=on_stage_start, loss=_teacher_loss, after_update=after_update,
                   targets=_teacher_targets, report=_coef_report("kickstarting"))


def anchor(coef: float = 1.0, decay: float = 0.99) -> Manager:
    """Distil each stage toward the policy at its own start (a regulariser against drift, not
    kickstarting: see the module docstring).

    When a stage starts, the policy as it stands is kept as a frozen teacher and the loss gains
    ``coef * KL(pi_teacher || pi)``, the weight multiplied by ``decay`` every update. The first
    stage has no teacher.

    Args:
        coef: the weight of the KL term when a stage starts.
        decay: the weight's factor per update (0.99: halved in about 69 updates).
    """
    finite_number(coef, "coef", low=0)
    finite_number(decay, "decay", low=0, high=1)

    def init(key, params):
        return KickstartingState(teacher=jax.tree.map(jnp.zeros_like, params), coef=jnp.zeros((), jnp.float32))

    def on_stage_start(mstate, learner, stage):
        has_teacher = stage.index > 0
        return KickstartingState(
            teacher=learner.params,
            coef=jnp.where(has_teacher, jnp.float32(coef), jnp.float32(0.0)),
        ), learner

    def after_update(mstate, learner, handover):
        return mstate._replace(coef=mstate.coef * decay), learner

    return Manager(init=init, on_stage_start=on_stage_start, loss=_teacher_loss, after_update=after_update,
                   targets=_teacher_targets, report=_coef_report("anchor"))


def _coef_report(name):
    def report(mstate):
        return ManagerReport(uncharged_env_steps=jnp.zeros((), jnp.float32), diagnostics={f"{name}/coef": mstate.coef})
    return report


def shared_policy(params, obs, policy):
    """Distral's shared policy pi_0 by its definition: the library with its last slot the only
    active one, evaluated afresh (``policy(params, obs)``). :func:`distral`'s loss reads the
    same policy from the learner's forward pass (``LossInputs.slots``) when it has it."""
    slots = library.get(params)["active"].shape[0]
    return policy(library.replace(params, active=jnp.zeros(slots).at[-1].set(1.0)), obs)


def distral(coef: float = 0.5, distil_coef: float = 1.0) -> Manager:
    """Distral (Teh et al. 2017) over a stage sequence, on the subsystem library.

    The library's last slot holds the shared distilled policy pi_0; each stage acts with a
    task policy of its own, slot ``stage.index`` (clamped below the last), alone in the
    combiner. The loss gains ``coef * KL(pi || pi_0)`` — the task policy regularised toward
    the shared one, which is where transfer comes from — and ``distil_coef * KL(pi || pi_0)``
    with the task policy held fixed, which trains pi_0 (and the encoder) toward every stage's
    policy in turn: distillation across the stage tasks. Needs ``Curriculum(library=...)``
    with a slot per stage plus one.
    """
    finite_number(coef, "coef", low=0)
    finite_number(distil_coef, "distil_coef", low=0)

    def init(key, params):
        if library.get(params)["active"].shape[0] < 2:
            raise ValueError("distral needs a library of at least 2 slots (task policies + the shared one)")
        return jnp.zeros((), jnp.float32)  # the acting task slot (a diagnostic)

    def on_stage_start(mstate, learner, stage):
        slots = library.get(learner.params)["active"].shape[0]
        task_slot = jnp.minimum(stage.index, slots - 2)
        active = (jnp.arange(slots) == task_slot).astype(jnp.float32)
        return task_slot.astype(jnp.float32), learner._replace(params=library.replace(learner.params, active=active,
                                                               routed=jnp.zeros((), jnp.float32)))

    def loss(mstate, params, inputs):
        if inputs.slots is not None:
            # pi_0 read from the learner's own forward pass (the last slot's outputs, which
            # the acting mixture is made of): the same policy as the network with only that
            # slot active, without a second pass through the encoder, the memory and the slots.
            shared = library.slot_policy(inputs.slots, -1)
        else:
            shared = shared_policy(params, inputs.batch.obs, inputs.policy)
        regularise = inputs.dist.kl(jax.lax.stop_gradient(shared)).mean()
        distil = jax.lax.stop_gradient(inputs.dist).kl(shared).mean()
        return coef * regularise + distil_coef * distil

    def report(mstate):
        return ManagerReport(uncharged_env_steps=jnp.zeros((), jnp.float32),
                             diagnostics={"distral/task_slot": mstate})

    return Manager(init=init, on_stage_start=on_stage_start, loss=loss, report=report)
