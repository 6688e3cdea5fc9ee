"""Jittable RGB rendering of a Limbs state (used by ``Limbs.render``).

Every pixel is computed at once from its distance to the arm's links, the task's points and
strokes: one fused array expression, no Python loop over pixels, no host round-trips.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

BACKGROUND = np.array([18, 18, 24], np.float32)
WORKSPACE = np.array([32, 32, 44], np.float32)
WORKSPACE_EDGE = np.array([70, 70, 86], np.float32)
BASE = np.array([140, 140, 150], np.float32)
LINK = np.array([170, 190, 230], np.float32)
JOINT = np.array([235, 235, 240], np.float32)
HAND = np.array([235, 60, 60], np.float32)
TARGET = np.array([60, 220, 120], np.float32)
TARGET_DIM = np.array([40, 100, 70], np.float32)
TARGET_NEXT = np.array([220, 190, 60], np.float32)
GHOST = np.array([50, 130, 90], np.float32)
VIEW = 1.15  # the image spans [-VIEW, VIEW] arm lengths on both axes


def _segment_distance(px, a, b):
    """Distance of pixel centres ``px [H, W, 2]`` to segments ``a, b [M, 2]``: ``[H, W, M]``."""
    ab = b - a
    ap = px[:, :, None, :] - a
    t = jnp.clip(jnp.sum(ap * ab, -1) / jnp.maximum(jnp.sum(ab * ab, -1), 1e-12), 0.0, 1.0)
    return jnp.linalg.norm(ap - t[..., None] * ab, axis=-1)


def render_state(env, state, params, size: int = 192):
    """uint8 [size, size, 3] image of ``state`` under ``params`` (see ``Limbs.render``)."""
    from bootstrap_rl.envs.limbs import (BABBLE, DRAW, REACH, SEQUENCE, TRACK, current_target,
                                         forward_kinematics)

    ph = params.physics
    length = ph.arm_length
    half = VIEW * length
    centres = (jnp.arange(size, dtype=jnp.float32) + 0.5) / size * 2.0 - 1.0
    xs, ys = jnp.meshgrid(centres * half, -centres * half, indexing="xy")
    px = jnp.stack([xs, ys], -1)  # world coordinates of pixel centres, y up
    pixel = 2.0 * half / size  # world size of one pixel
    radius_px = jnp.linalg.norm(px, axis=-1)

    image = jnp.broadcast_to(BACKGROUND, (size, size, 3))

    def paint(mask, colour):
        nonlocal image
        image = jnp.where(mask[..., None], jnp.asarray(colour, jnp.float32), image)

    paint(radius_px <= length, WORKSPACE)
    paint(jnp.abs(radius_px - length) < 0.6 * pixel, WORKSPACE_EDGE)

    kind = params.task_kind
    n = params.num_targets
    index = jnp.arange(params.targets.shape[0])
    target, _ = current_target(params, state.time, state.progress)
    dot = 0.035 * length
    ring = params.tolerance * length

    def disc(points, radius):  # [H, W, P] mask of discs
        return jnp.linalg.norm(px[:, :, None, :] - points, axis=-1) <= radius

    # babble: the target pose as a ghost arm.
    ghost = jnp.concatenate([jnp.zeros((1, 2)), forward_kinematics(params.joint_targets, ph.link_lengths)])
    ghost_d = _segment_distance(px, ghost[:-1], ghost[1:]).min(-1)
    paint((kind == BABBLE) & (ghost_d < 0.02 * length), GHOST)
    # track: its circle.
    centre = params.targets[0]
    on_circle = jnp.abs(jnp.linalg.norm(px - centre, axis=-1) - params.track_radius) < 0.7 * pixel
    paint((kind == TRACK) & on_circle, TARGET_DIM)
    # draw: strokes (traced ones bright), waypoints.
    starts, ends = params.targets[:-1], params.targets[1:]
    stroke_d = _segment_distance(px, starts, ends)  # [H, W, K-1]
    stroke_real = index[1:] < n
    traced = index[1:] < state.progress
    is_draw = kind == DRAW
    paint(is_draw & jnp.any((stroke_d < 0.6 * pixel + 0.004 * length) & stroke_real, -1), TARGET_DIM)
    paint(is_draw & jnp.any((stroke_d < 0.012 * length + 0.6 * pixel) & stroke_real & traced, -1), TARGET)
    # sequence: every target; visited dim, future amber.
    discs = disc(params.targets, dot)
    real = index < n
    visited = index < state.progress
    paint((kind == SEQUENCE) & jnp.any(discs & real & ~visited, -1), TARGET_NEXT)
    paint((kind == SEQUENCE) & jnp.any(discs & real & visited, -1), TARGET_DIM)
    # The current target of every point kind, with its tolerance ring.
    has_target = (kind == REACH) | (kind == TRACK) | (((kind == SEQUENCE) | is_draw) & (state.progress < n))
    to_target = jnp.linalg.norm(px - target, axis=-1)
    paint(has_target & (jnp.abs(to_target - ring) < 0.6 * pixel), TARGET)
    paint(has_target & (to_target <= dot), TARGET)

    # The arm on top.
    joints = jnp.concatenate([jnp.zeros((1, 2)), forward_kinematics(state.angles, ph.link_lengths)])
    link_d = _segment_distance(px, joints[:-1], joints[1:]).min(-1)
    paint(jnp.max(jnp.abs(px), -1) < 0.04 * length, BASE)
    paint(link_d < 0.022 * length + 0.5 * pixel, LINK)
    paint(jnp.any(disc(joints[:-1], 0.03 * length + 0.5 * pixel), -1), JOINT)
    paint(disc(joints[-1:], 0.035 * length + 0.5 * pixel)[..., 0], HAND)
    return image.astype(jnp.uint8)
