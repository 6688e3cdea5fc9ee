"""Playroom's jittable render and the generic rendering helpers (PNG frames, GIFs)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from bootstrap_rl import rendering
from bootstrap_rl.envs import _playroom_render as palette
from bootstrap_rl.envs import playroom as pr

TILE = 24


@pytest.fixture(scope="module")
def env():
    return pr.Playroom("treasure")


@pytest.fixture(scope="module")
def render(env):
    return jax.jit(env.render)


def tile_pixels(image, cell):
    r, c = cell
    return np.asarray(image)[r * TILE : (r + 1) * TILE, c * TILE : (c + 1) * TILE].reshape(-1, 3)


def has_colour(pixels, colour):
    return bool((pixels == np.asarray(colour, np.uint8)).all(axis=1).any())


def scene():
    params = pr.make_task("treasure", target_colour=2, door_colour=4, wall_axis=0, wall_pos=4, door_pos=3)
    off = [pr._OFF_GRID] * 2
    state = pr.EnvState(
        time=jnp.asarray(0), agent_pos=jnp.asarray([5, 2]), agent_dir=jnp.asarray(3),
        obj_type=jnp.asarray([pr.KEY, pr.BALL, pr.BOX, 0]), obj_colour=jnp.asarray([4, 2, 0, 0]),
        obj_pos=jnp.asarray([[1, 1], [2, 6], [6, 6], off]), carrying=jnp.asarray(-1),
        door_state=jnp.asarray(pr.LOCKED), goal_pos=jnp.asarray([7, 1]),
    )
    return params, state


def test_render_draws_walls_door_objects_goal_and_agent(env, render):
    params, state = scene()
    image = np.asarray(render(state, params))
    assert image.shape == (9 * TILE, 9 * TILE, 3) and image.dtype == np.uint8
    yellow, blue, red = palette.PALETTE[4], palette.PALETTE[2], palette.PALETTE[0]
    assert (tile_pixels(image, (0, 0)) == palette.WALL).all()  # outer wall
    assert (tile_pixels(image, (1, 4)) == palette.WALL).all()  # inner wall
    door = tile_pixels(image, (3, 4))
    assert has_colour(door, yellow) and has_colour(door, palette.BLACK)  # locked: keyhole
    assert has_colour(tile_pixels(image, (1, 1)), yellow)  # the yellow key
    assert has_colour(tile_pixels(image, (2, 6)), blue)  # the blue ball
    assert has_colour(tile_pixels(image, (6, 6)), red)  # the red box
    assert has_colour(tile_pixels(image, (7, 1)), palette.GOAL_EDGE)
    assert has_colour(tile_pixels(image, (5, 2)), palette.AGENT)
    assert not has_colour(tile_pixels(image, (5, 3)), palette.AGENT)
    # The view (5 cells ahead, 2 to each side, facing north) is lightened; behind it is not.
    assert has_colour(tile_pixels(image, (1, 3)), palette.FLOOR_IN_VIEW)
    assert not has_colour(tile_pixels(image, (6, 2)), palette.FLOOR_IN_VIEW)
    # The triangle points the agent's way: facing north, its tip (narrow end) is at the top.
    agent = (tile_pixels(image, (5, 2)) == palette.AGENT).all(axis=1).reshape(TILE, TILE)
    widths = agent.sum(axis=1)[agent.any(axis=1)]
    assert widths[0] < widths[-1] / 3
    south = (tile_pixels(np.asarray(render(state.replace(agent_dir=jnp.asarray(1)), params)), (5, 2))
             == palette.AGENT).all(axis=1).reshape(TILE, TILE)
    np.testing.assert_array_equal(south, agent[::-1])


def test_render_shows_door_states_and_carried_objects(render):
    params, state = scene()
    yellow = palette.PALETTE[4]
    opened = np.asarray(render(state.replace(door_state=jnp.asarray(pr.OPEN)), params))
    door = tile_pixels(opened, (3, 4)).reshape(TILE, TILE, 3)
    assert (door[TILE // 2, TILE // 2] != yellow).any()  # open: a frame only
    assert (door[0 + 1, TILE // 2] == yellow).all()
    carrying = state.replace(carrying=jnp.asarray(1), obj_pos=state.obj_pos.at[1].set(pr._OFF_GRID))
    image = np.asarray(render(carrying, params))
    assert has_colour(tile_pixels(image, (5, 2)), palette.PALETTE[2])  # the blue ball on the agent
    assert not has_colour(tile_pixels(image, (2, 6)), palette.PALETTE[2])


def test_frames_png_and_gif_writers(tmp_path):
    frames = np.zeros((3, 8, 10, 3), np.uint8)
    frames[1, 2, 3] = [255, 0, 0]
    frames[2] = 200
    paths = rendering.save_frames(frames, tmp_path / "frames")
    assert [p.name for p in paths] == ["frame_0000.png", "frame_0001.png", "frame_0002.png"]
    np.testing.assert_array_equal(np.asarray(Image.open(paths[1])), frames[1])
    gif = rendering.save_gif(frames, tmp_path / "a.gif", scale=2)
    with Image.open(gif) as image:
        assert image.n_frames == 3 and image.size == (20, 16)
    with pytest.raises(ValueError, match="dtype uint8"):
        rendering.save_png(frames.astype(np.float32), tmp_path / "x.png")
    with pytest.raises(ValueError, match="shape"):
        rendering.save_gif(np.zeros((2, 4, 4), np.uint8), tmp_path / "x.gif")
    with pytest.raises(ValueError, match="fps"):
        rendering.save_gif(frames, tmp_path / "x.gif", fps=0)


def test_render_episode_gif_plays_a_policy(tmp_path):
    always_right = lambda key, obs: jnp.asarray(pr.RIGHT, jnp.int32)  # noqa: E731
    path = rendering.render_episode_gif("Playroom-Turn-v0", tmp_path / "turn.gif", num_steps=6, policy=always_right)
    with Image.open(path) as image:
        assert image.n_frames == 7
        image.seek(0)
        first = np.asarray(image.convert("RGB"))
        image.seek(1)
        second = np.asarray(image.convert("RGB"))
    assert first.shape[1] == 9 * TILE * 2  # scaled to about 400 px wide
    assert (first != second).any()  # the agent turned
    # Random policy by default, one episode's worth of frames.
    env, params = pr.Playroom("turn"), pr.make_task("turn")
    frames, dones = rendering.rollout_frames(env, params, jax.random.key(0),
                                             rendering.random_policy(env, params), 8)
    assert frames.shape == (9, 9 * TILE, 9 * TILE, 3) and frames.dtype == np.uint8 and dones.shape == (8,)
    with pytest.raises(ValueError, match="num_steps"):
        rendering.rollout_frames(env, params, jax.random.key(0), always_right, -1)
