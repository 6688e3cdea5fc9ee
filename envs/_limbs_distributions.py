"""Limbs' task distributions: ``key -> EnvParams`` samplers for curriculum stages.

Every sampler is :func:`sample_tasks` with other arrays, built by :func:`task_distribution`
(:func:`sample_task` and :func:`mixture_sampler` are its shorthands). Import the names from
``bootstrap_rl.envs.limbs``; this module is its implementation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from bootstrap_rl.envs._limbs_physics import (
    DEFAULT_NUM_LINKS, JOINT_FIELDS, Physics, _physics_from_arrays, _physics_to_arrays, make_physics,
)
from bootstrap_rl.envs._limbs_tasks import (
    DEFAULT_STEP_LIMITS, DRAW, MAX_TARGETS, NUM_KINDS, SEQUENCE, TASK_KINDS, TRACK, EnvParams, _kind_index, _pick,
    make_task, validate_params,
)
from bootstrap_rl.family import kind_step_limits, kind_weights, uniforms

# The public module. sample_tasks reports it as its own, because study.json records a stage's
# sampler by module and name and compares it on resume: moving the code here must not change
# what studies recorded.
PUBLIC_MODULE = "bootstrap_rl.envs.limbs"

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


def sample_tasks(key: jax.Array, weights: jax.Array, step_limits: jax.Array, ranges: jax.Array,
                 counts: jax.Array, joint_physics: jax.Array, scalar_physics: jax.Array) -> EnvParams:
    """One task: a kind drawn by ``weights``, then that kind's fields.

    The body of every :func:`task_distribution` (its arrays are this function's arguments
    after ``key``; their layouts are ``TASK_KINDS``, ``RANGE_FIELDS``, ``COUNT_FIELDS``,
    ``JOINT_FIELDS`` and ``SCALAR_FIELDS``). One draw costs one categorical and one vector of
    uniforms, whatever the kind: the kinds share the random numbers and differ only in how
    the kind's fields are assembled from them. The numbers come from a hash of the key
    (:func:`bootstrap_rl.family.uniforms`), not threefry: a sampler runs on every step under ``TaskSamplingEnv``.
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


sample_tasks.__module__ = PUBLIC_MODULE


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
    weights = kind_weights(kinds, TASK_KINDS, dtype=np.float64)
    limits = kind_step_limits(step_limits, DEFAULT_STEP_LIMITS, TASK_KINDS)
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
        weights=jnp.asarray(weights, jnp.float32),
        step_limits=jnp.asarray(limits, jnp.int32),
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
