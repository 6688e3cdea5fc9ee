"""Analytic inverse kinematics and a joint-space PD controller for Limbs (tests and baselines).

For an arm of N >= 3 links, the first N - 2 links are held straight (their joints at 0), which
leaves an analytic three-link problem: for each of ``orientations`` headings of the last link
the wrist point follows, and the two-link law of cosines gives the other two angles (both
elbow signs). Among the solutions within the joint limits, the one closest to a reference
pose (the current one: the least to travel) is chosen. Two links: the law of cosines alone;
one link: the heading. Everything is jittable and vmappable.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _wrap(x):
    return jnp.mod(x + jnp.pi, 2 * jnp.pi) - jnp.pi


def _two_link(wrist, a, b):
    """Both elbow solutions ``(shoulder [2], elbow [2], feasible [2])`` for a wrist point."""
    d2 = jnp.sum(wrist**2, -1)
    cos_elbow = (d2 - a * a - b * b) / (2 * a * b)
    feasible = jnp.abs(cos_elbow) <= 1.0
    elbow = jnp.arccos(jnp.clip(cos_elbow, -1.0, 1.0))
    elbow = jnp.stack([elbow, -elbow], -1)
    shoulder = jnp.arctan2(wrist[..., 1], wrist[..., 0])[..., None] - jnp.arctan2(
        b * jnp.sin(elbow), a + b * jnp.cos(elbow))
    return _wrap(shoulder), elbow, jnp.broadcast_to(feasible[..., None], elbow.shape)


def inverse_kinematics(target: jax.Array, physics, reference: jax.Array | None = None,
                       orientations: int = 24) -> tuple[jax.Array, jax.Array]:
    """Joint angles ``[N]`` that put the hand on ``target [2]`` within the joint limits, and
    whether any exist. ``reference``: prefer the solution nearest this pose (default zeros)."""
    lengths, low, high = physics.link_lengths, physics.joint_low, physics.joint_high
    num_links = lengths.shape[-1]
    reference = jnp.zeros(num_links) if reference is None else reference
    if num_links == 1:
        angle = _wrap(jnp.arctan2(target[1], target[0]))
        ok = (jnp.abs(jnp.linalg.norm(target) - lengths[0]) < 1e-3) & (angle >= low[0]) & (angle <= high[0])
        return angle[None], ok
    if num_links == 2:
        shoulder, elbow, feasible = _two_link(target, lengths[0], lengths[1])
        candidates = jnp.stack([shoulder, elbow], -1)  # [2, 2]
    else:
        a, b, c = jnp.sum(lengths[:-2]), lengths[-2], lengths[-1]
        heading = jnp.linspace(-jnp.pi, jnp.pi, orientations, endpoint=False)
        wrist = target - c * jnp.stack([jnp.cos(heading), jnp.sin(heading)], -1)  # [H, 2]
        shoulder, elbow, feasible = _two_link(wrist, a, b)  # [H, 2]
        last = _wrap(heading[:, None] - shoulder - elbow)
        middle = jnp.zeros(shoulder.shape + (num_links - 3,))
        candidates = jnp.concatenate([shoulder[..., None], middle, elbow[..., None], last[..., None]], -1)
        candidates = candidates.reshape(-1, num_links)
        feasible = feasible.reshape(-1)
    within = jnp.all((candidates >= low) & (candidates <= high), -1) & feasible
    cost = jnp.where(within, jnp.sum(jnp.abs(candidates - reference), -1), jnp.inf)
    best = jnp.argmin(cost)
    return candidates[best], within[best]


def pd_action(angles, velocities, goal, physics, stiffness: float = 3.6, damping: float = 0.95):
    """Normalised torques in [-1, 1] that drive the joints to ``goal`` (critically damped
    at the default inertia 0.1 and damping 0.25, saturating at the torque limit)."""
    torque = stiffness * (goal - angles) - damping * velocities
    return jnp.clip(torque / physics.max_torque, -1.0, 1.0)


def controller(params, state):
    """The IK + PD policy for point tasks: aim the joints at the IK solution of the current
    target (babble: at the joint targets). Returns normalised torques ``[N]``."""
    from bootstrap_rl.envs.limbs import BABBLE, current_target

    target, _ = current_target(params, state.time, state.progress)
    goal, _ = inverse_kinematics(target, params.physics, reference=state.angles)
    goal = jnp.where(params.task_kind == BABBLE, params.joint_targets, goal)
    return pd_action(state.angles, state.velocities, goal, params.physics)
