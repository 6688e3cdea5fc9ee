"""Limbs' tasks as data: the vocabulary, :class:`EnvParams` and :class:`EnvState`, the
current target of a task, and task construction, validation and description.

Import the names from ``bootstrap_rl.envs.limbs``; this module is its implementation (see the
module docstring there for what the tasks mean).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnax.environments import environment

from bootstrap_rl.envs._limbs_physics import DEFAULT_NUM_LINKS, JOINT_FIELDS, SCALAR_FIELDS, Physics, make_physics
from bootstrap_rl.family import kind_index

# --- vocabulary ---------------------------------------------------------------------------

TASK_KINDS: tuple[str, ...] = ("babble", "reach", "track", "sequence", "draw")
BABBLE, REACH, TRACK, SEQUENCE, DRAW = range(5)
NUM_KINDS = len(TASK_KINDS)
ENV_IDS: dict[str, str] = {kind: f"Limbs-{kind.capitalize()}-v0" for kind in TASK_KINDS}
DEFAULT_STEP_LIMITS: dict[str, int] = {"babble": 50, "reach": 50, "track": 100, "sequence": 150, "draw": 200}
MAX_TARGETS = 8  # points a task can name (sequence targets, draw waypoints)


# --- data -----------------------------------------------------------------------------------


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



# --- the current target (jittable) ------------------------------------------------------------


def _pick(points: jax.Array, index: jax.Array) -> jax.Array:
    """``points[index]`` for ``[K, 2]`` points, as a one-hot sum (no gather: vmaps well on CPU)."""
    one_hot = (jnp.arange(points.shape[-2]) == index).astype(points.dtype)
    return jnp.sum(points * one_hot[:, None], axis=-2)



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
    return kind_index(kind, TASK_KINDS)


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
