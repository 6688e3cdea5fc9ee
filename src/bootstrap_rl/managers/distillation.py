"""Gradients and targets (D:management_methods): distillation from the previous stage's policy.

Kickstarting (Schmitt et al. 2018): when a stage starts, the policy as it stands — what the
previous stage built — is kept as a frozen teacher, and the learner's loss gains
``coef * KL(pi_teacher || pi)`` on the learner's own minibatch states, with ``coef`` decaying
geometrically every update so that the student is free to surpass its teacher. The first stage
has no teacher.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bootstrap_rl.managers.base import Manager


def kickstarting(coef: float = 1.0, decay: float = 0.99) -> Manager:
    """Distil from the policy at the end of the previous stage.

    Args:
        coef: the weight of the KL term when a stage starts.
        decay: the weight's factor per update (0.99: halved in about 69 updates).
    """
    if not (isinstance(coef, (int, float)) and coef >= 0):
        raise ValueError(f"coef: must be a number >= 0, got {coef!r}")
    if not (isinstance(decay, (int, float)) and 0 <= decay <= 1):
        raise ValueError(f"decay: must lie in [0, 1], got {decay!r}")

    def init(key, params):
        return {"teacher": jax.tree.map(jnp.zeros_like, params), "coef": jnp.zeros((), jnp.float32)}

    def on_stage_start(mstate, state, stage):
        has_teacher = stage.index > 0
        return {
            "teacher": state.params,
            "coef": jnp.where(has_teacher, jnp.float32(coef), jnp.float32(0.0)),
        }, state

    def loss(mstate, params, obs, dist, values, policy):
        teacher = policy(jax.lax.stop_gradient(mstate["teacher"]), obs)
        return mstate["coef"] * teacher.kl(dist).mean()

    def after_update(mstate, state, metrics):
        return {**mstate, "coef": mstate["coef"] * decay}, state

    return Manager(init, on_stage_start, loss, after_update)
