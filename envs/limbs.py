"""Limbs: a planar arm of N links, a continuous-control task family for motor childhood.

Playroom's actions are already abstract (turn, forward). Limbs starts below the level of
actions: the agent sets joint torques and has to learn to move its own body before it can
reach, follow or draw (L:childhood in DESIGN.md). One body, one observation space, five task
kinds forming a ladder:

========  ===================================================================  =========
kind      goal and reward                                                      step limit
========  ===================================================================  =========
babble    bring every joint to its target angle; dense reward                  50
          ``-mean|angle error| / pi``
reach     bring the hand (end-effector) to a target point; dense ``-d / L``     50
track     follow a target moving on a circle; dense ``-d / L``                  100
sequence  visit K targets in order; sparse: +1 at each target, +1 more at the  150
          end, which terminates
draw      trace a closed polygon given as waypoints: ``-(distance from the     200
          current stroke) / L``, +1 at each waypoint, +1 more at the end,
          which terminates
========  ===================================================================  =========

``d`` is the distance from the hand to the current target and ``L`` the arm's length (the sum
of the link lengths, 1 by default). Every kind also pays ``torque_cost * mean(action^2)``.
A target counts as reached when ``d / L < tolerance`` (default 0.05). babble, reach and track
never terminate; they truncate at the step limit.

Body: link i has length ``l_i``; joint i turns link i relative to link i - 1 (joint 0 relative
to the x axis) at the base fixed at the origin. Each joint is a damped double integrator,
independent of the others (no inertial coupling, no gravity: an arm on a table)::

    I_i * q_i'' = tau_i - b_i * q_i' - k_i * q_i,     tau_i = max_torque_i * clip(a_i, -1, 1)

integrated with semi-implicit (symplectic) Euler at a fixed ``dt``: velocity first, then the
angle with the new velocity. With no torque and no damping the energy
``sum(I q'^2 + k q^2) / 2`` is conserved up to a bounded oscillation of order ``omega * dt``
(no drift). The stiffness ``k`` (default 0) is an optional spring toward angle 0. Velocities
are clipped to ``max_velocity``. Joint limits are hard stops: an angle that would leave
``[joint_low, joint_high]`` is held at the limit and its outward velocity is zeroed.

Actions: ``Box(-1, 1, (N,))``, normalised torques, clipped by the environment (a Gaussian
policy's samples beyond the bounds act as the bound; see ``bootstrap_rl.networks``).

Observation: one flat float32 vector of ``6 N + 14`` numbers, the same for every kind:

* body: ``sin q`` (N), ``cos q`` (N), ``q' * 0.25`` (N), hand position ``/ L`` (2);
* task: kind one-hot (5), current target ``/ L`` (2), current target minus hand ``/ L``
  (2), an auxiliary point ``/ L`` (2: track the target's velocity, sequence the target after
  the current one, draw the start of the current stroke), progress (1: the fraction of
  targets visited), joint targets as ``sin`` (N) and ``cos`` (N), and wrapped joint-angle
  errors ``/ pi`` (N). Fields a kind does not use are zero.

Tasks are data (:class:`EnvParams`): the kind, up to ``MAX_TARGETS`` points, joint targets,
the track's circle, tolerances, the step limit, and the body's physics (:class:`Physics`:
link lengths, inertia, damping, stiffness, torque and joint limits, ``dt``), so one compiled
``step`` serves every task and every body, and params vmap. :func:`task_distribution` builds a
stage's task distribution as a ``jax.tree_util.Partial`` of one module-level function whose
arguments are arrays (kind weights, ranges, physics): two stages with different weights are
the same pytree structure and share one compiled program. ``reset`` draws the arm's initial
pose; ``step`` is gymnax's own (auto-reset, ``info["final_observation"]``); ``info`` also
carries ``distance`` (to the current target ``/ L``; for babble the mean angle error ``/ pi``)
and ``success``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnax.environments import environment, spaces

from bootstrap_rl.registry import register

# --- vocabulary ---------------------------------------------------------------------------

TASK_KINDS: tuple[str, ...] = ("babble", "reach", "track", "sequence", "draw")
BABBLE, REACH, TRACK, SEQUENCE, DRAW = range(5)
NUM_KINDS = len(TASK_KINDS)
ENV_IDS: dict[str, str] = {kind: f"Limbs-{kind.capitalize()}-v0" for kind in TASK_KINDS}
DEFAULT_STEP_LIMITS: dict[str, int] = {"babble": 50, "reach": 50, "track": 100, "sequence": 150, "draw": 200}

DEFAULT_NUM_LINKS = 3
MAX_TARGETS = 8  # points a task can name (sequence targets, draw waypoints)
VELOCITY_SCALE = 0.25  # joint velocities are observed times this
TASK_VECTOR_EXTRA = NUM_KINDS + 2 + 2 + 2 + 1  # kind, target, target - hand, aux, progress


def observation_size(num_links: int = DEFAULT_NUM_LINKS) -> int:
    """Length of the flat observation vector for an arm of ``num_links`` links."""
    return 3 * num_links + 2 + TASK_VECTOR_EXTRA + 3 * num_links


# --- data -----------------------------------------------------------------------------------

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


@struct.dataclass
class EnvParams(environment.EnvParams):
    """One Limbs task on one body.

    ``targets``: float32 ``[MAX_TARGETS, 2]`` points, of which the first ``num_targets`` are
    used: reach's target, track's circle centre, sequence's targets in order, draw's
    waypoints in order (a closed shape repeats its first point last). ``joint_targets``:
    float32 ``[N]`` babble's angles. ``track_radius``, ``track_speed`` (rad/s, signed) and
    ``track_phase`` put track's target at ``centre + radius * (cos, sin)(phase + speed * t)``.
    ``tolerance``: reached when ``distance / L`` is below it; ``angle_tolerance`` (radians):
    babble's success when every joint is that close.
    """

    max_steps_in_episode: jax.Array = 50
    task_kind: jax.Array = REACH
    targets: jax.Array = None
    num_targets: jax.Array = 1
    joint_targets: jax.Array = None
    track_radius: jax.Array = 0.15
    track_speed: jax.Array = 1.0
    track_phase: jax.Array = 0.0
    tolerance: jax.Array = 0.05
    angle_tolerance: jax.Array = 0.1
    physics: Physics = None


TASK_FIELDS: tuple[str, ...] = (
    "max_steps_in_episode", "task_kind", "targets", "num_targets", "joint_targets",
    "track_radius", "track_speed", "track_phase", "tolerance", "angle_tolerance",
)
_INT_FIELDS = ("max_steps_in_episode", "task_kind", "num_targets")


@struct.dataclass
class EnvState(environment.EnvState):
    """Everything that changes within an episode."""

    time: jax.Array
    angles: jax.Array  # float32 [N], radians
    velocities: jax.Array  # float32 [N], rad/s
    progress: jax.Array  # int32: targets reached so far (sequence, draw)


# --- kinematics and physics (pure functions, shared with the render, the IK and the tests) ----


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


def _hash32(x: jax.Array) -> jax.Array:
    """murmur3's 32-bit finaliser: a cheap, well-mixed integer hash."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x85EBCA6B)
    x = x ^ (x >> 13)
    x = x * jnp.uint32(0xC2B2AE35)
    return x ^ (x >> 16)


def uniforms(key: jax.Array, count: int) -> jax.Array:
    """``count`` float32 numbers uniform in [0, 1) from a key (typed or raw), by hashing the
    key's words with a counter. Much cheaper than threefry, which matters because gymnax's
    auto-reset (and ``TaskDistribution``'s resample) run a reset on every step."""
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    words = key.reshape(-1).astype(jnp.uint32)
    seed = _hash32(words[0] ^ _hash32(words[-1] + jnp.uint32(0x9E3779B9)))
    counters = jnp.arange(count, dtype=jnp.uint32) * jnp.uint32(0x9E3779B9)
    return (_hash32(seed + counters) >> 8).astype(jnp.float32) * jnp.float32(2.0**-24)


def energy(state: EnvState, physics: Physics) -> jax.Array:
    """Kinetic plus spring energy ``sum(I q'^2 + k q^2) / 2``, conserved without torque and
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


def _pick(points: jax.Array, index: jax.Array) -> jax.Array:
    """``points[index]`` for ``[K, 2]`` points, as a one-hot sum (no gather: vmaps well on CPU)."""
    one_hot = (jnp.arange(points.shape[-2]) == index).astype(points.dtype)
    return jnp.sum(points * one_hot[:, None], axis=-2)


def _segment_distance(p: jax.Array, a: jax.Array, b: jax.Array) -> jax.Array:
    """Distance from point p to the segment [a, b] (a point when a == b)."""
    ab, ap = b - a, p - a
    t = jnp.clip(jnp.sum(ap * ab, -1) / jnp.maximum(jnp.sum(ab * ab, -1), 1e-12), 0.0, 1.0)
    return jnp.linalg.norm(ap - t[..., None] * ab, axis=-1)


def track_target(params: EnvParams, time: jax.Array) -> tuple[jax.Array, jax.Array]:
    """track's target position and velocity at step ``time``."""
    phase = params.track_phase + params.track_speed * params.physics.dt * time.astype(jnp.float32)
    direction = jnp.stack([jnp.cos(phase), jnp.sin(phase)])
    position = params.targets[0] + params.track_radius * direction
    velocity = params.track_radius * params.track_speed * jnp.stack([-direction[1], direction[0]])
    return position, velocity


def current_target(params: EnvParams, time: jax.Array, progress: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The target the hand should be at now, and the kind's auxiliary point (module docstring)."""
    kind = params.task_kind
    last = params.num_targets - 1
    tracked, velocity = track_target(params, time)
    indexed = _pick(params.targets, jnp.minimum(progress, last))
    target = jnp.where(kind == TRACK, tracked, jnp.where(kind == REACH, params.targets[0], indexed))
    after = _pick(params.targets, jnp.minimum(progress + 1, last))
    before = _pick(params.targets, jnp.maximum(progress - 1, 0))
    aux = jnp.where(kind == TRACK, velocity, jnp.where(kind == SEQUENCE, after, before))
    uses_point = kind != BABBLE
    uses_aux = (kind == TRACK) | (kind == SEQUENCE) | (kind == DRAW)
    return jnp.where(uses_point, target, 0.0), jnp.where(uses_aux, aux, 0.0)


# --- task construction and validation (outside jit) ------------------------------------------


def _kind_index(kind: str | int) -> int:
    if isinstance(kind, str):
        if kind not in TASK_KINDS:
            raise ValueError(f"task_kind: unknown kind {kind!r}; expected one of {TASK_KINDS}")
        return TASK_KINDS.index(kind)
    index = int(kind)
    if not 0 <= index < NUM_KINDS:
        raise ValueError(f"task_kind: unknown kind {kind!r}; expected 0..{NUM_KINDS - 1} {TASK_KINDS}")
    return index


def regular_polygon(centre, radius: float, sides: int, rotation: float = 0.0) -> np.ndarray:
    """The waypoints of a closed regular polygon: its ``sides`` vertices, then the first again."""
    angles = rotation + 2 * np.pi * np.arange(sides + 1) / sides
    return np.asarray(centre, np.float32) + radius * np.stack([np.cos(angles), np.sin(angles)], -1).astype(np.float32)


_DEFAULT_POINTS = {
    "reach": [[0.5, 0.4]],
    "track": [[0.5, 0.0]],
    "sequence": [[0.6, 0.2], [0.1, 0.6], [-0.4, 0.3]],
    "draw": regular_polygon([0.5, 0.0], 0.2, 4, np.pi / 4).tolist(),
    "babble": [[0.0, 0.0]],
}


def make_task(kind: str | int, *, num_links: int = DEFAULT_NUM_LINKS, physics: Physics | None = None,
              **fields: Any) -> EnvParams:
    """Build (and validate) the params of one task; unspecified fields get kind defaults.

    ``targets`` may list fewer than ``MAX_TARGETS`` points (``num_targets`` defaults to how
    many); the rest are padded with the last one. Raises ``ValueError`` naming the field.
    """
    index = _kind_index(kind)
    name = TASK_KINDS[index]
    unknown = set(fields) - set(TASK_FIELDS)
    if unknown:
        raise ValueError(f"unknown EnvParams field(s): {sorted(unknown)}")
    physics = make_physics(num_links) if physics is None else physics
    points = np.asarray(fields.pop("targets", _DEFAULT_POINTS[name]), np.float32).reshape(-1, 2)
    if not 1 <= len(points) <= MAX_TARGETS:
        raise ValueError(f"targets: give 1..{MAX_TARGETS} points, got {len(points)}")
    num_targets = fields.pop("num_targets", len(points))
    padded = np.concatenate([points, np.repeat(points[-1:], MAX_TARGETS - len(points), 0)])
    low, high = np.asarray(physics.joint_low), np.asarray(physics.joint_high)
    default_joints = low + (high - low) * np.linspace(0.3, 0.7, num_links)
    values = {
        "max_steps_in_episode": DEFAULT_STEP_LIMITS[name],
        "task_kind": index,
        "targets": padded,
        "num_targets": num_targets,
        "joint_targets": default_joints,
        "track_radius": 0.15, "track_speed": 1.0, "track_phase": 0.0,
        "tolerance": 0.05, "angle_tolerance": 0.1,
    }
    values.update(fields)
    params = EnvParams(
        **{key: jnp.asarray(value, jnp.int32 if key in _INT_FIELDS else jnp.float32) for key, value in values.items()},
        physics=physics,
    )
    return validate_params(params, num_links=num_links)


def validate_params(params: EnvParams, *, num_links: int = DEFAULT_NUM_LINKS) -> EnvParams:
    """Check concrete (possibly batched) params; raise ``ValueError`` naming the bad field.

    Call it outside jit: it reads the values back to the host.
    """
    if not isinstance(params, EnvParams):
        raise ValueError(f"params must be limbs.EnvParams, got {type(params).__name__}")
    if not isinstance(params.physics, Physics):
        raise ValueError(f"physics: must be limbs.Physics, got {type(params.physics).__name__}")
    try:
        values = {name: np.asarray(getattr(params, name)) for name in TASK_FIELDS}
        values.update({f"physics.{name}": np.asarray(getattr(params.physics, name))
                       for name in JOINT_FIELDS + SCALAR_FIELDS})
    except jax.errors.TracerArrayConversionError as error:
        raise ValueError("validate_params needs concrete params; call it outside jit") from error
    batch = values["task_kind"].shape
    trailing = {"targets": (MAX_TARGETS, 2), "joint_targets": (num_links,),
                **{f"physics.{name}": (num_links,) for name in JOINT_FIELDS}}
    for name, value in values.items():
        expected = batch + trailing.get(name, ())
        if value.shape != expected:
            raise ValueError(f"{name}: expected shape {expected} (batch {batch}, {num_links} links), got {value.shape}")
        if name in _INT_FIELDS:
            if not np.issubdtype(value.dtype, np.integer):
                raise ValueError(f"{name}: must be an integer array, got dtype {value.dtype}")
        elif not np.issubdtype(value.dtype, np.floating):
            raise ValueError(f"{name}: must be a float array, got dtype {value.dtype}")
        elif not np.isfinite(value).all():
            raise ValueError(f"{name}: must be finite")

    def check(name: str, ok, expected: str) -> None:
        ok = np.asarray(ok)
        if not ok.all():
            value = values[name]
            bad = value[~ok] if value.shape == ok.shape else value
            raise ValueError(f"{name}: invalid value(s) {np.unique(bad).round(4).tolist()[:8]}; expected {expected}")

    kind = values["task_kind"]
    check("task_kind", (kind >= 0) & (kind < NUM_KINDS), f"0..{NUM_KINDS - 1} {TASK_KINDS}")
    check("max_steps_in_episode", values["max_steps_in_episode"] > 0, "a positive step limit")
    n = values["num_targets"]
    check("num_targets", (n >= 1) & (n <= MAX_TARGETS), f"1..{MAX_TARGETS}")
    check("num_targets", ((kind != REACH) & (kind != TRACK)) | (n == 1), "1 for reach and track")
    check("num_targets", (kind != DRAW) | (n >= 2), ">= 2 for draw (a stroke needs two waypoints)")
    for name in ("tolerance", "angle_tolerance"):
        check(name, values[name] > 0, "a positive tolerance")
    check("track_radius", values["track_radius"] >= 0, ">= 0")

    ph = {name: values[f"physics.{name}"] for name in JOINT_FIELDS + SCALAR_FIELDS}
    for name in ("link_lengths", "inertia", "max_torque", "dt", "max_velocity"):
        check(f"physics.{name}", ph[name] > 0, "> 0")
    for name in ("damping", "stiffness", "torque_cost"):
        check(f"physics.{name}", ph[name] >= 0, ">= 0")
    check("physics.init_spread", (ph["init_spread"] >= 0) & (ph["init_spread"] <= 1), "within [0, 1]")
    check("physics.joint_high", ph["joint_high"] > ph["joint_low"], "joint_high > joint_low for every joint")
    dt = ph["dt"][..., None]
    # Explicit damping and the spring are stable under semi-implicit Euler only for small steps.
    check("physics.damping", ph["damping"] * dt / ph["inertia"] < 1.0,
          "damping * dt / inertia < 1 (lower dt or damping: the integration would oscillate)")
    check("physics.stiffness", ph["stiffness"] * dt**2 / ph["inertia"] < 1.0,
          "stiffness * dt^2 / inertia < 1 (lower dt: the spring would go unstable)")
    joints = values["joint_targets"]
    check("joint_targets", (joints >= ph["joint_low"]) & (joints <= ph["joint_high"]),
          "within [physics.joint_low, physics.joint_high]")
    return params


# --- task distributions ---------------------------------------------------------------------

RANGE_FIELDS: tuple[str, ...] = (
    "reach_radius_min", "reach_radius_max",  # reach / sequence targets: distance from the base / L
    "centre_radius_min", "centre_radius_max",  # track / draw shapes: centre's distance / L
    "shape_size_min", "shape_size_max",  # track circle radius, draw polygon circumradius / L
    "track_speed_min", "track_speed_max",  # |angular speed| of track's target, rad/s
    "joint_fraction",  # babble targets: the middle fraction of each joint's range
    "tolerance", "angle_tolerance",
)
DEFAULT_RANGES: dict[str, float] = {
    "reach_radius_min": 0.25, "reach_radius_max": 0.9,
    "centre_radius_min": 0.45, "centre_radius_max": 0.55,
    "shape_size_min": 0.12, "shape_size_max": 0.22,
    "track_speed_min": 0.5, "track_speed_max": 1.5,
    "joint_fraction": 0.8,
    "tolerance": 0.05, "angle_tolerance": 0.1,
}
COUNT_FIELDS: tuple[str, ...] = ("sequence_min", "sequence_max", "vertices_min", "vertices_max")
DEFAULT_COUNTS: dict[str, int] = {"sequence_min": 2, "sequence_max": 4, "vertices_min": 3, "vertices_max": 6}
_SHARED_UNIFORMS = 9  # uniforms a draw uses besides its points and joint angles


def _physics_from_arrays(joint_physics: jax.Array, scalar_physics: jax.Array) -> Physics:
    return Physics(**{name: joint_physics[i] for i, name in enumerate(JOINT_FIELDS)},
                   **{name: scalar_physics[i] for i, name in enumerate(SCALAR_FIELDS)})


def _physics_to_arrays(physics: Physics) -> tuple[jax.Array, jax.Array]:
    joint = jnp.stack([jnp.asarray(getattr(physics, name), jnp.float32) for name in JOINT_FIELDS])
    scalar = jnp.stack([jnp.asarray(getattr(physics, name), jnp.float32) for name in SCALAR_FIELDS])
    return joint, scalar


def sample_tasks(key: jax.Array, weights: jax.Array, step_limits: jax.Array, ranges: jax.Array,
                 counts: jax.Array, joint_physics: jax.Array, scalar_physics: jax.Array) -> EnvParams:
    """One task: a kind drawn by ``weights``, then that kind's fields.

    The body of every :func:`task_distribution` (its arrays are this function's arguments
    after ``key``; their layouts are ``TASK_KINDS``, ``RANGE_FIELDS``, ``COUNT_FIELDS``,
    ``JOINT_FIELDS`` and ``SCALAR_FIELDS``). One draw costs one categorical and one vector of
    uniforms, whatever the kind: the kinds share the random numbers and differ only in how
    the kind's fields are assembled from them. The numbers come from a hash of the key
    (:func:`uniforms`), not threefry: a sampler runs on every step under ``TaskDistribution``.
    """
    f32, i32 = jnp.float32, jnp.int32
    num_links = joint_physics.shape[-1]
    draw = uniforms(key, 1 + 2 * MAX_TARGETS + _SHARED_UNIFORMS + num_links)
    cumulative = jnp.cumsum(weights)  # the kind by inverse CDF: zero weights are never drawn
    kind = jnp.sum(cumulative[:-1] <= draw[0] * cumulative[-1]).astype(i32)
    u = draw[1:]
    r = dict(zip(RANGE_FIELDS, ranges))
    physics = _physics_from_arrays(joint_physics, scalar_physics)
    length = physics.arm_length
    k = jnp.arange(MAX_TARGETS)

    def between(x, low, high):
        return low + x * (high - low)

    def count(x, low, high):  # an integer in [low, high]
        return jnp.minimum(low + (x * (high - low + 1).astype(f32)).astype(i32), high)

    # Points spread by area over an annulus, each at least 60 degrees (around the base) from
    # the one before, so consecutive sequence targets are far apart.
    radius = length * jnp.sqrt(between(u[:MAX_TARGETS], r["reach_radius_min"] ** 2, r["reach_radius_max"] ** 2))
    turns = jnp.concatenate([u[MAX_TARGETS : MAX_TARGETS + 1] * 2 * jnp.pi,
                             between(u[MAX_TARGETS + 1 : 2 * MAX_TARGETS], jnp.pi / 3, 5 * jnp.pi / 3)])
    angle = jnp.cumsum(turns)
    points = radius[:, None] * jnp.stack([jnp.cos(angle), jnp.sin(angle)], -1)

    v = u[2 * MAX_TARGETS :]
    centre_angle = v[0] * 2 * jnp.pi
    centre = length * between(v[1], r["centre_radius_min"], r["centre_radius_max"]) * jnp.stack(
        [jnp.cos(centre_angle), jnp.sin(centre_angle)])
    size = length * between(v[2], r["shape_size_min"], r["shape_size_max"])
    rotation = v[3] * 2 * jnp.pi
    vertices = count(v[4], counts[2], counts[3])
    corner = rotation + 2 * jnp.pi * k.astype(f32) / vertices.astype(f32)
    polygon = centre + size * jnp.stack([jnp.cos(corner), jnp.sin(corner)], -1)  # k == vertices closes it
    speed = between(v[5], r["track_speed_min"], r["track_speed_max"]) * jnp.where(v[6] < 0.5, -1.0, 1.0)
    sequence_length = count(v[7], counts[0], counts[1])
    middle = 0.5 * (physics.joint_low + physics.joint_high)
    joint_targets = middle + r["joint_fraction"] * (v[_SHARED_UNIFORMS:] - 0.5) * (physics.joint_high - physics.joint_low)

    num_targets = jnp.where(kind == SEQUENCE, sequence_length, jnp.where(kind == DRAW, vertices + 1, 1)).astype(i32)
    chosen = jnp.where(kind == DRAW, polygon, jnp.where(kind == TRACK, centre[None, :], points))
    last = _pick(chosen, num_targets - 1)
    targets = jnp.where((k < num_targets)[:, None], chosen, last)  # pad with the last point
    return EnvParams(
        max_steps_in_episode=jnp.sum(jnp.where(jnp.arange(NUM_KINDS) == kind, step_limits, 0)).astype(i32),
        task_kind=kind,
        targets=targets,
        num_targets=num_targets,
        joint_targets=joint_targets.astype(f32),
        track_radius=size,
        track_speed=speed,
        track_phase=v[8] * 2 * jnp.pi,
        tolerance=r["tolerance"],
        angle_tolerance=r["angle_tolerance"],
        physics=physics,
    )


def task_distribution(
    kinds: str | Sequence[str] | dict[str, float],
    *,
    num_links: int = DEFAULT_NUM_LINKS,
    physics: Physics | None = None,
    step_limits: dict[str, int] | None = None,
    **ranges: float,
) -> jax.tree_util.Partial:
    """A stage's task distribution as data: ``key -> EnvParams`` that picks a kind by weight
    (uniform over a list; one kind for a string), then samples a task of it.

    Every distribution this returns is the module-level :func:`sample_tasks` with other
    arrays (kind weights, step limits, ranges, physics), so curriculum stages built from it
    are one pytree structure and share one compiled program. Keyword overrides: any of
    ``RANGE_FIELDS`` (distances as fractions of the arm's length) and ``COUNT_FIELDS``;
    ``step_limits`` per kind; ``physics`` (default :func:`make_physics`).
    """
    if isinstance(kinds, str):
        kinds = [kinds]
    weights = dict(kinds) if isinstance(kinds, dict) else {kind: 1.0 for kind in kinds}
    if not weights:
        raise ValueError("kinds: need at least one task kind")
    vector = np.zeros(NUM_KINDS, np.float64)
    for kind, weight in weights.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float, np.number)) \
                or not np.isfinite(weight) or weight < 0:
            raise ValueError(f"kinds: weight of {kind!r} must be a finite number >= 0, got {weight!r}")
        vector[_kind_index(kind)] += weight
    if vector.sum() <= 0:
        raise ValueError("kinds: weights must not all be zero")
    limits = dict(DEFAULT_STEP_LIMITS)
    for kind, limit in (step_limits or {}).items():
        _kind_index(kind)
        if isinstance(limit, bool) or int(limit) != limit or limit < 1:
            raise ValueError(f"step_limits: limit of {kind!r} must be a positive integer, got {limit!r}")
        limits[kind] = int(limit)
    unknown = set(ranges) - set(RANGE_FIELDS) - set(COUNT_FIELDS)
    if unknown:
        raise ValueError(f"unknown range(s): {sorted(unknown)}; expected {RANGE_FIELDS + COUNT_FIELDS}")
    r = {**DEFAULT_RANGES, **{k: float(v) for k, v in ranges.items() if k in RANGE_FIELDS}}
    c = {**DEFAULT_COUNTS, **{k: v for k, v in ranges.items() if k in COUNT_FIELDS}}
    for low, high in (("reach_radius_min", "reach_radius_max"), ("centre_radius_min", "centre_radius_max"),
                      ("shape_size_min", "shape_size_max"), ("track_speed_min", "track_speed_max")):
        if not 0 <= r[low] <= r[high]:
            raise ValueError(f"{low}: need 0 <= {low} <= {high}, got {r[low]} and {r[high]}")
    if r["reach_radius_max"] > 1 or r["centre_radius_max"] + r["shape_size_max"] > 1:
        raise ValueError("reach_radius_max: targets must lie within the arm's reach (<= 1 arm length)")
    if not 0 <= r["joint_fraction"] <= 1:
        raise ValueError(f"joint_fraction: must lie in [0, 1], got {r['joint_fraction']}")
    for name in ("tolerance", "angle_tolerance"):
        if not r[name] > 0:
            raise ValueError(f"{name}: must be positive, got {r[name]}")
    if not 1 <= c["sequence_min"] <= c["sequence_max"] <= MAX_TARGETS:
        raise ValueError(f"sequence_min: need 1 <= sequence_min <= sequence_max <= {MAX_TARGETS}, got {c}")
    if not 2 <= c["vertices_min"] <= c["vertices_max"] <= MAX_TARGETS - 1:
        raise ValueError(f"vertices_min: need 2 <= vertices_min <= vertices_max <= {MAX_TARGETS - 1}, got {c}")
    physics = make_physics(num_links) if physics is None else physics
    joint_physics, scalar_physics = _physics_to_arrays(physics)
    if joint_physics.shape != (len(JOINT_FIELDS), num_links):
        raise ValueError(f"physics: expected {num_links} links, got per-joint shape {joint_physics.shape[1:]}")
    # Check the body once, on a concrete task.
    validate_params(make_task("reach", num_links=num_links, physics=physics), num_links=num_links)
    return jax.tree_util.Partial(
        sample_tasks,
        weights=jnp.asarray(vector / vector.sum(), jnp.float32),
        step_limits=jnp.asarray([limits[k] for k in TASK_KINDS], jnp.int32),
        ranges=jnp.asarray([r[name] for name in RANGE_FIELDS], jnp.float32),
        counts=jnp.asarray([c[name] for name in COUNT_FIELDS], jnp.int32),
        joint_physics=joint_physics,
        scalar_physics=scalar_physics,
    )


def sample_task(kind: str | int, **kwargs: Any) -> jax.tree_util.Partial:
    """The task distribution of one kind (``task_distribution(kind)``)."""
    return task_distribution(TASK_KINDS[_kind_index(kind)], **kwargs)


def mixture_sampler(kinds: Sequence[str] | dict[str, float], **kwargs: Any) -> jax.tree_util.Partial:
    """A mixture of kinds, uniform over a list or weighted by a dict (``task_distribution``)."""
    return task_distribution(kinds, **kwargs)


TASK_SAMPLERS: dict[str, jax.tree_util.Partial] = {kind: sample_task(kind) for kind in TASK_KINDS}


def describe_task(params: EnvParams) -> str:
    """A one-line English description of (concrete, unbatched) params, for captions."""
    kind = int(params.task_kind)
    points = np.asarray(params.targets)[: int(params.num_targets)]

    def point(p):
        return f"({p[0]:.2f}, {p[1]:.2f})"

    if kind == BABBLE:
        return "babble: joints to " + ", ".join(f"{np.degrees(a):.0f}°" for a in np.asarray(params.joint_targets))
    if kind == REACH:
        return f"reach: hand to {point(points[0])}"
    if kind == TRACK:
        return (f"track: circle r={float(params.track_radius):.2f} around {point(points[0])}, "
                f"{float(params.track_speed):+.2f} rad/s")
    if kind == SEQUENCE:
        return f"sequence: visit {len(points)} targets in order"
    return f"draw: trace {len(points) - 1} strokes"


# --- the environment ------------------------------------------------------------------------


class Limbs(environment.Environment[EnvState, EnvParams]):
    """The Limbs task family as one gymnax 1.x ``Environment``.

    Args:
        kind: the task kind of ``default_params`` (any kind runs given its params).
        num_links: links of the arm (static).
        default_task: explicit default params (validated); overrides ``kind``.
    """

    def __init__(self, kind: str = "reach", *, num_links: int = DEFAULT_NUM_LINKS,
                 default_task: EnvParams | None = None):
        super().__init__()
        if not isinstance(num_links, int) or num_links < 1:
            raise ValueError(f"num_links: must be a positive int, got {num_links!r}")
        self.num_links = num_links
        self.kind = TASK_KINDS[_kind_index(kind)]
        self._default = validate_params(default_task, num_links=num_links) if default_task is not None \
            else make_task(self.kind, num_links=num_links)
        if self._default.task_kind.shape != ():
            raise ValueError("default_task: must be a single (unbatched) task")

    # gymnax hashes `self` as a static jit argument: identity semantics are what we want.

    @property
    def default_params(self) -> EnvParams:
        return self._default

    @property
    def name(self) -> str:
        return ENV_IDS[self.kind]

    @property
    def num_actions(self) -> int:
        return self.num_links

    def action_space(self, params: EnvParams | None = None) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, (self.num_links,), jnp.float32)

    def observation_space(self, params: EnvParams | None = None) -> spaces.Box:
        return spaces.Box(-jnp.inf, jnp.inf, (observation_size(self.num_links),), jnp.float32)

    @property
    def obs_size(self) -> int:
        return observation_size(self.num_links)

    # --- tasks (the curriculum protocol) ---

    def task_distribution(self, kinds, **kwargs) -> jax.tree_util.Partial:
        """A stage's task distribution from a kind, a list of kinds or a dict of weights
        (see the module-level :func:`task_distribution`), for this arm and its default body."""
        kwargs.setdefault("physics", self._default.physics)
        return task_distribution(kinds, num_links=self.num_links, **kwargs)

    def validate_params(self, params: EnvParams) -> EnvParams:
        """Raise ``ValueError`` naming the field if concrete params are not a valid task."""
        return validate_params(params, num_links=self.num_links)

    # --- observation ---

    def _observe(self, state: EnvState, params: EnvParams) -> jax.Array:
        f32 = jnp.float32
        ph = params.physics
        length = ph.arm_length
        hand = hand_position(state.angles, ph.link_lengths)
        target, aux = current_target(params, state.time, state.progress)
        kind = params.task_kind
        babble = kind == BABBLE
        error = wrap_angle(params.joint_targets - state.angles)
        progress = jnp.where((kind == SEQUENCE) | (kind == DRAW),
                             state.progress.astype(f32) / params.num_targets.astype(f32), 0.0)
        uses_point = ~babble
        return jnp.concatenate([
            jnp.sin(state.angles), jnp.cos(state.angles), VELOCITY_SCALE * state.velocities, hand / length,
            (jnp.arange(NUM_KINDS) == kind).astype(f32),
            target / length, jnp.where(uses_point, target - hand, 0.0) / length, aux / length,
            progress[None],
            jnp.where(babble, jnp.sin(params.joint_targets), 0.0),
            jnp.where(babble, jnp.cos(params.joint_targets), 0.0),
            jnp.where(babble, error / jnp.pi, 0.0),
        ]).astype(f32)

    def observe(self, key, state: EnvState, action, params: EnvParams) -> jax.Array:
        return self._observe(state, params)

    def get_obs(self, state: EnvState, params: EnvParams | None = None, key=None) -> jax.Array:
        return self._observe(state, self.default_params if params is None else params)

    # --- dynamics ---

    def _transition(self, state: EnvState, action: jax.Array, params: EnvParams):
        """One step without auto-reset: (next state, reward, terminated, info)."""
        f32 = jnp.float32
        ph = params.physics
        action = jnp.broadcast_to(jnp.asarray(action, f32), (self.num_links,))
        angles, velocities = integrate(state.angles, state.velocities, action, ph)
        time = state.time + 1
        kind = params.task_kind
        length = ph.arm_length
        hand = hand_position(angles, ph.link_lengths)

        # The target the step was aiming at (track's has moved on by one step).
        target, aux = current_target(params, time, state.progress)
        distance = jnp.linalg.norm(hand - target) / length
        angle_error = jnp.mean(jnp.abs(wrap_angle(params.joint_targets - angles))) / jnp.pi
        angle_ok = jnp.all(jnp.abs(wrap_angle(params.joint_targets - angles)) < params.angle_tolerance)
        stepping = (kind == SEQUENCE) | (kind == DRAW)
        reached = stepping & (distance < params.tolerance)
        progress = state.progress + reached.astype(jnp.int32)
        finished = stepping & (progress >= params.num_targets)
        stroke = _segment_distance(hand, aux, target) / length  # draw: aux is the stroke's start

        dense = jnp.where(kind == BABBLE, -angle_error,
                          jnp.where(kind == DRAW, -stroke, jnp.where(kind == SEQUENCE, 0.0, -distance)))
        reward = dense + reached.astype(f32) + finished.astype(f32) - ph.torque_cost * jnp.mean(jnp.square(jnp.clip(action, -1, 1)))
        success = jnp.where(kind == BABBLE, angle_ok, jnp.where(stepping, finished, distance < params.tolerance))
        info = {"distance": jnp.where(kind == BABBLE, angle_error, distance).astype(f32), "success": success}
        next_state = state.replace(time=time, angles=angles, velocities=velocities, progress=progress)
        return next_state, reward.astype(f32), finished, info

    def step_env(self, key, state: EnvState, action, params: EnvParams):
        next_state, reward, terminated, info = self._transition(state, action, params)
        return self._observe(next_state, params), next_state, reward, terminated, info

    def is_terminated(self, state: EnvState, params: EnvParams) -> jax.Array:
        return ((params.task_kind == SEQUENCE) | (params.task_kind == DRAW)) & (state.progress >= params.num_targets)

    def reset_env(self, key: jax.Array, params: EnvParams) -> tuple[jax.Array, EnvState]:
        ph = params.physics
        u = uniforms(key, self.num_links)
        middle = 0.5 * (ph.joint_low + ph.joint_high)
        angles = middle + ph.init_spread * (u - 0.5) * (ph.joint_high - ph.joint_low)
        state = EnvState(
            time=jnp.asarray(0, jnp.int32),
            angles=angles,
            velocities=jnp.zeros(self.num_links, jnp.float32),
            progress=jnp.asarray(0, jnp.int32),
        )
        return self._observe(state, params), state

    # --- rendering ---

    def render(self, state: EnvState, params: EnvParams | None = None, size: int = 192) -> jax.Array:
        """An RGB image (uint8 ``[size, size, 3]``) of a state; jittable (``size`` static).

        The arm (links, joints, the hand in red) over the disc it can reach; the task in
        green: babble's target pose as a ghost arm, reach's target, track's circle and
        target, sequence's targets (visited ones dim, the current one bright), draw's
        strokes (traced ones bright) and its current waypoint; tolerance rings around targets.
        """
        from bootstrap_rl.envs._limbs_render import render_state

        return render_state(self, state, self.default_params if params is None else params, size)

    def describe(self, params: EnvParams | None = None) -> str:
        """A caption for a task (concrete, unbatched params)."""
        return describe_task(self.default_params if params is None else params)


def _factory(kind: str) -> Callable[..., Limbs]:
    def make_limbs(**kwargs: Any) -> Limbs:
        return Limbs(kind, **kwargs)

    make_limbs.__name__ = f"make_limbs_{kind}"
    make_limbs.__module__ = __name__
    return make_limbs


_FACTORIES = {kind: _factory(kind) for kind in TASK_KINDS}
for _kind, _env_id in ENV_IDS.items():
    register(_env_id, _FACTORIES[_kind], origin=__name__)
