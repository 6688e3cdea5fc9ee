"""Limbs' body: the physics, kinematics and geometry, as pure functions of arrays.

Shared with the environment, the render, the IK controller and the tests. Import the names
from ``bootstrap_rl.envs.limbs``; this module is its implementation (see the module docstring
there for the equations of motion).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

DEFAULT_NUM_LINKS = 3

JOINT_FIELDS: tuple[str, ...] = (
    "link_lengths", "inertia", "damping", "stiffness", "max_torque", "joint_low", "joint_high",
)
SCALAR_FIELDS: tuple[str, ...] = ("dt", "max_velocity", "init_spread", "torque_cost")


@struct.dataclass
class Physics:
    """The body. Per-joint fields are float32 ``[N]``; the rest float32 scalars.

    ``init_spread``: reset draws each joint angle uniformly from the middle ``init_spread``
    fraction of its range (0: always the middle, 1: anywhere within the limits).
    ``torque_cost``: the reward pays ``torque_cost * mean(action^2)`` every step.
    """

    link_lengths: jax.Array
    inertia: jax.Array
    damping: jax.Array
    stiffness: jax.Array
    max_torque: jax.Array
    joint_low: jax.Array
    joint_high: jax.Array
    dt: jax.Array
    max_velocity: jax.Array
    init_spread: jax.Array
    torque_cost: jax.Array

    @property
    def arm_length(self) -> jax.Array:
        return jnp.sum(self.link_lengths, axis=-1)


def make_physics(num_links: int = DEFAULT_NUM_LINKS, **fields: Any) -> Physics:
    """The default body of ``num_links`` equal links (total length 1), with overrides.

    Defaults: inertia 0.1, damping 0.25, stiffness 0, max torque 1 per joint; the shoulder
    (joint 0) turns within [-pi, pi], the other joints within [-5 pi / 6, 5 pi / 6];
    ``dt`` 0.05 s, ``max_velocity`` 10 rad/s, ``init_spread`` 0.5, ``torque_cost`` 0.001.
    A per-joint override may be a scalar (every joint) or ``num_links`` values.
    """
    if not isinstance(num_links, int) or num_links < 1:
        raise ValueError(f"num_links: must be a positive int, got {num_links!r}")
    unknown = set(fields) - set(JOINT_FIELDS) - set(SCALAR_FIELDS)
    if unknown:
        raise ValueError(f"unknown Physics field(s): {sorted(unknown)}")
    limit = np.full(num_links, 5 * np.pi / 6)
    limit[0] = np.pi
    values: dict[str, Any] = {
        "link_lengths": np.full(num_links, 1.0 / num_links),
        "inertia": 0.1, "damping": 0.25, "stiffness": 0.0, "max_torque": 1.0,
        "joint_low": -limit, "joint_high": limit,
        "dt": 0.05, "max_velocity": 10.0, "init_spread": 0.5, "torque_cost": 0.001,
    }
    values.update(fields)
    out = {}
    for name, value in values.items():
        array = np.asarray(value, np.float32)
        if name in JOINT_FIELDS:
            if array.ndim == 0:
                array = np.full(num_links, array, np.float32)
            if array.shape != (num_links,):
                raise ValueError(f"physics.{name}: expected a scalar or {num_links} values, got shape {array.shape}")
        out[name] = jnp.asarray(array)
    return Physics(**out)


# --- kinematics and physics -------------------------------------------------------------------


def forward_kinematics(angles: jax.Array, link_lengths: jax.Array) -> jax.Array:
    """Positions of the joints after the base: float32 ``[..., N, 2]``; the last is the hand.

    Each link's direction is the previous one turned by its joint angle, as a complex product
    of the joints' (cos, sin): only the sines and cosines of the joint angles are computed,
    and those the observation needs anyway (XLA computes them once).
    """
    cos_q, sin_q = jnp.cos(angles), jnp.sin(angles)
    c, s = cos_q[..., 0], sin_q[..., 0]
    x, y = link_lengths[..., 0] * c, link_lengths[..., 0] * s
    points = [jnp.stack([x, y], -1)]
    for i in range(1, angles.shape[-1]):
        c, s = c * cos_q[..., i] - s * sin_q[..., i], s * cos_q[..., i] + c * sin_q[..., i]
        x, y = x + link_lengths[..., i] * c, y + link_lengths[..., i] * s
        points.append(jnp.stack([x, y], -1))
    return jnp.stack(points, axis=-2)


def hand_position(angles: jax.Array, link_lengths: jax.Array) -> jax.Array:
    """The end-effector's position ``[..., 2]``."""
    return forward_kinematics(angles, link_lengths)[..., -1, :]


def wrap_angle(x: jax.Array) -> jax.Array:
    """An angle in [-pi, pi)."""
    return jnp.mod(x + jnp.pi, 2 * jnp.pi) - jnp.pi


def energy(state: Any, physics: Physics) -> jax.Array:
    """Kinetic plus spring energy ``sum(I q'^2 + k q^2) / 2`` of a state (anything with
    ``angles`` and ``velocities``: a Limbs ``EnvState``), conserved without torque and
    damping (up to the integrator's bounded error)."""
    return 0.5 * jnp.sum(physics.inertia * state.velocities**2 + physics.stiffness * state.angles**2, axis=-1)


def integrate(angles, velocities, torque_fraction, physics: Physics):
    """One semi-implicit Euler step of the joints; ``torque_fraction`` is clipped to [-1, 1].

    Returns ``(angles, velocities)`` after the step, joint limits applied.
    """
    torque = jnp.clip(torque_fraction, -1.0, 1.0) * physics.max_torque
    acceleration = (torque - physics.damping * velocities - physics.stiffness * angles) / physics.inertia
    velocities = jnp.clip(velocities + physics.dt * acceleration, -physics.max_velocity, physics.max_velocity)
    angles = angles + physics.dt * velocities
    above, below = angles > physics.joint_high, angles < physics.joint_low
    velocities = jnp.where(above, jnp.minimum(velocities, 0.0), jnp.where(below, jnp.maximum(velocities, 0.0), velocities))
    return jnp.clip(angles, physics.joint_low, physics.joint_high), velocities


def _segment_distance(p: jax.Array, a: jax.Array, b: jax.Array) -> jax.Array:
    """Distance from point p to the segment [a, b] (a point when a == b)."""
    ab, ap = b - a, p - a
    t = jnp.clip(jnp.sum(ap * ab, -1) / jnp.maximum(jnp.sum(ab * ab, -1), 1e-12), 0.0, 1.0)
    return jnp.linalg.norm(ap - t[..., None] * ab, axis=-1)


# --- physics as two stacked arrays (per-joint, scalar): how task distributions carry a body ---


def _physics_from_arrays(joint_physics: jax.Array, scalar_physics: jax.Array) -> Physics:
    return Physics(**{name: joint_physics[i] for i, name in enumerate(JOINT_FIELDS)},
                   **{name: scalar_physics[i] for i, name in enumerate(SCALAR_FIELDS)})


def _physics_to_arrays(physics: Physics) -> tuple[jax.Array, jax.Array]:
    joint = jnp.stack([jnp.asarray(getattr(physics, name), jnp.float32) for name in JOINT_FIELDS])
    scalar = jnp.stack([jnp.asarray(getattr(physics, name), jnp.float32) for name in SCALAR_FIELDS])
    return joint, scalar

