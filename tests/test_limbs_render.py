"""Limbs' jittable render and GIF output."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from bootstrap_rl import rendering
from bootstrap_rl.envs import _limbs_render as palette
from bootstrap_rl.envs import limbs

SIZE = 192


@pytest.fixture(scope="module")
def env():
    return limbs.Limbs("reach")


@pytest.fixture(scope="module")
def render(env):
    return jax.jit(env.render)


def pixel_of(point):
    """The pixel (row, col) at a world point (arm length 1)."""
    half = palette.VIEW
    col = int((point[0] + half) / (2 * half) * SIZE)
    row = int((half - point[1]) / (2 * half) * SIZE)
    return row, col


def near(image, point, colour, radius=2):
    r, c = pixel_of(point)
    patch = np.asarray(image)[max(r - radius, 0) : r + radius + 1, max(c - radius, 0) : c + radius + 1].reshape(-1, 3)
    return bool((patch == np.asarray(colour, np.uint8)).all(axis=1).any())


def state_at(angles, progress=0):
    angles = jnp.asarray(angles, jnp.float32)
    return limbs.EnvState(time=jnp.asarray(0), angles=angles, velocities=jnp.zeros_like(angles),
                          progress=jnp.asarray(progress))


def test_render_draws_the_arm_and_the_reach_target(render):
    params = limbs.make_task("reach", targets=[[-0.5, 0.5]])
    state = state_at([0.0, 0.0, 0.0])  # straight along +x: the hand at (1, 0)
    image = np.asarray(render(state, params))
    assert image.shape == (SIZE, SIZE, 3) and image.dtype == np.uint8
    assert near(image, (1.0, 0.0), palette.HAND)
    assert near(image, (0.5, 0.0), palette.LINK) or near(image, (0.5, 0.0), palette.JOINT)
    assert near(image, (-0.5, 0.5), palette.TARGET)
    assert near(image, (0.0, 0.0), palette.BASE)
    assert not near(image, (0.0, 1.0), palette.HAND)
    turned = np.asarray(render(state_at([np.pi / 2, 0.0, 0.0]), params))
    assert near(turned, (0.0, 1.0), palette.HAND) and not near(turned, (1.0, 0.0), palette.HAND)


def test_render_shows_each_kind_of_task(render):
    state = state_at([0.0, 0.0, 0.0])
    babble = limbs.make_task("babble", joint_targets=[np.pi / 2, 0.0, 0.0])
    assert near(render(state, babble), (0.0, 0.66), palette.GHOST)  # the target pose, straight up
    track = limbs.make_task("track", targets=[[-0.4, 0.0]], track_radius=0.3, track_phase=np.pi / 2)
    image = render(state, track)
    assert near(image, (-0.4, 0.3), palette.TARGET)  # the target on its circle
    assert near(image, (-0.7, 0.0), palette.TARGET_DIM)  # the circle
    points = [[-0.5, 0.5], [-0.5, -0.5], [0.0, -0.8]]
    sequence = limbs.make_task("sequence", targets=points)
    image = render(state_at([0.0, 0.0, 0.0], progress=1), sequence)
    assert near(image, points[0], palette.TARGET_DIM)  # visited
    assert near(image, points[1], palette.TARGET)  # current
    assert near(image, points[2], palette.TARGET_NEXT)  # to come
    square = limbs.regular_polygon([-0.3, 0.0], 0.3, 4)  # (0, 0), (-0.3, 0.3), (-0.6, 0), ...
    draw = limbs.make_task("draw", targets=square)
    image = render(state_at([0.0, 0.0, 0.0], progress=2), draw)
    assert near(image, (-0.15, 0.15), palette.TARGET)  # the traced first stroke
    assert near(image, (-0.45, -0.15), palette.TARGET_DIM)  # a stroke still to draw
    assert near(image, square[2], palette.TARGET)  # the current waypoint


def test_render_episode_gif_of_a_random_policy(tmp_path):
    path = rendering.render_episode_gif("Limbs-Sequence-v0", tmp_path / "sequence.gif", num_steps=5)
    with Image.open(path) as image:
        assert image.n_frames == 6
        image.seek(0)
        first = np.asarray(image.convert("RGB"))
        image.seek(5)
        last = np.asarray(image.convert("RGB"))
    assert first.shape[1] == SIZE * 2 and (first != last).any()  # scaled to ~400 px; the arm moved
    assert first.shape[0] == SIZE * 2 + 30  # and a caption strip above
