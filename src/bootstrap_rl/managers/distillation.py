"""Gradients and targets (D:management_methods): distillation from the previous stage's policy
(kickstarting), or into a policy shared across the stages (Distral).

Kickstarting (Schmitt et al. 2018): when a stage starts, the policy as it stands — what the
previous stage built — is kept as a frozen teacher, and the learner's loss gains
``coef * KL(pi_teacher || pi)`` on the learner's own minibatch states, with ``coef`` decaying
geometrically every update so that the student is free to surpass its teacher. The first stage
has no teacher. The teacher's outputs are computed once per update, on the whole rollout (the
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
    teacher: Any  # the variables at the start of the current stage
    coef: jax.Array  # the KL term's current weight (0: no teacher yet)


def kickstarting(coef: float = 1.0, decay: float = 0.99) -> Manager:
    """Distil from the policy at the end of the previous stage.

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

    def targets(mstate, params, obs, policy):
        teacher = policy(mstate.teacher, obs)
        # One row per transition: a state-independent parameter (a Gaussian's log-std) is
        # broadcast to the per-transition outputs' shape, to be shuffled into minibatches.
        shape = max((x.shape for x in jax.tree.leaves(teacher)), key=len)
        return jax.tree.map(lambda x: jnp.broadcast_to(x, shape), teacher)

    def loss(mstate, params, inputs):
        teacher = jax.lax.stop_gradient(inputs.targets)
        return mstate.coef * teacher.kl(inputs.dist).mean()

    def after_update(mstate, learner, handover):
        return mstate._replace(coef=mstate.coef * decay), learner

    def report(mstate):
        return ManagerReport(uncharged_env_steps=jnp.zeros((), jnp.float32),
                             diagnostics={"kickstarting/coef": mstate.coef})

    return Manager(init=init, on_stage_start=on_stage_start, loss=loss, after_update=after_update, targets=targets,
                   report=report)


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
        slots = library.get(params)["active"].shape[0]
        shared = inputs.policy(library.replace(params, active=jnp.zeros(slots).at[-1].set(1.0)), inputs.batch.obs)
        regularise = inputs.dist.kl(jax.lax.stop_gradient(shared)).mean()
        distil = jax.lax.stop_gradient(inputs.dist).kl(shared).mean()
        return coef * regularise + distil_coef * distil

    def report(mstate):
        return ManagerReport(uncharged_env_steps=jnp.zeros((), jnp.float32),
                             diagnostics={"distral/task_slot": mstate})

    return Manager(init=init, on_stage_start=on_stage_start, loss=loss, report=report)
