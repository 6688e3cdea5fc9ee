"""Jittable RGB rendering of a Playroom state (used by ``Playroom.render``).

Every pixel is computed at once from the cell it lies in and its position inside that cell,
so the image is one fused array expression: no Python loops over cells, no host round-trips.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

PALETTE = np.array(
    [[255, 0, 0], [0, 255, 0], [0, 0, 255], [112, 39, 195], [255, 255, 0], [160, 160, 160]],
    dtype=np.float32,
)  # red green blue purple yellow grey, as in MiniGrid (grey lightened to stand off walls)
FLOOR = np.array([0, 0, 0], np.float32)
FLOOR_IN_VIEW = np.array([48, 48, 48], np.float32)
GRID_LINE = np.array([80, 80, 80], np.float32)
WALL = np.array([100, 100, 100], np.float32)
GOAL_FILL = np.array([0, 90, 60], np.float32)
GOAL_EDGE = np.array([0, 220, 150], np.float32)
AGENT = np.array([255, 60, 60], np.float32)
WHITE = np.array([255, 255, 255], np.float32)
BLACK = np.array([0, 0, 0], np.float32)


def render_state(env, state, params, tile: int = 24):
    """uint8 [size*tile, size*tile, 3] image of ``state`` under ``params`` (see ``Playroom.render``)."""
    from bootstrap_rl.envs.playroom import BALL, BOX, CLOSED, DIR_VECTORS, KEY, LOCKED, OPEN

    size = env.size
    index = jnp.arange(size)
    rows, cols = jnp.meshgrid(index, index, indexing="ij")
    is_wall, is_door, match, is_goal = env._cells(rows, cols, state, params)
    obj_type = jnp.sum(jnp.where(match, state.obj_type, 0), -1)
    obj_colour = jnp.sum(jnp.where(match, state.obj_colour, 0), -1)

    dirs = jnp.asarray(DIR_VECTORS)
    forward, right = dirs[state.agent_dir], dirs[(state.agent_dir + 1) % 4]
    d_row, d_col = rows - state.agent_pos[0], cols - state.agent_pos[1]
    ahead = d_row * forward[0] + d_col * forward[1]
    side = d_row * right[0] + d_col * right[1]
    half = env.view_size // 2
    in_view = (ahead >= 0) & (ahead < env.view_size) & (jnp.abs(side) <= half)
    is_agent = (rows == state.agent_pos[0]) & (cols == state.agent_pos[1])

    def up(x):  # cell grid -> pixel grid
        return jnp.repeat(jnp.repeat(x, tile, axis=0), tile, axis=1)

    pixel = jnp.arange(size * tile)
    u = ((pixel % tile + 0.5) / tile - 0.5)[:, None]  # -0.5..0.5 down the cell
    v = ((pixel % tile + 0.5) / tile - 0.5)[None, :]  # -0.5..0.5 across the cell
    edge = jnp.maximum(jnp.abs(u), jnp.abs(v))
    radius = jnp.sqrt(u * u + v * v)
    grid_line = ((pixel % tile) == 0)[:, None] | ((pixel % tile) == 0)[None, :]

    palette = jnp.asarray(PALETTE)
    image = jnp.where(up(in_view)[..., None], FLOOR_IN_VIEW, FLOOR)
    image = jnp.where(grid_line[..., None], GRID_LINE, image)

    def paint(mask, colour):
        nonlocal image
        image = jnp.where(mask[..., None], colour, image)

    goal = up(is_goal)
    paint(goal & (edge < 0.46), GOAL_EDGE)
    paint(goal & (edge < 0.36), GOAL_FILL)
    paint(up(is_wall), WALL)

    door_colour = palette[params.door_colour]
    door = up(is_door)
    state_px = state.door_state
    paint(door & (state_px == LOCKED), door_colour)
    paint(door & (state_px == LOCKED) & ((jnp.sqrt((u + 0.08) ** 2 + v * v) < 0.09)
                                        | ((jnp.abs(v) < 0.03) & (u > -0.08) & (u < 0.2))), BLACK)
    paint(door & (state_px == CLOSED), door_colour * 0.45)
    paint(door & (state_px == CLOSED) & (edge > 0.4), door_colour)
    paint(door & (state_px == CLOSED) & (jnp.sqrt(u * u + (v - 0.25) ** 2) < 0.07), door_colour)
    paint(door & (state_px == OPEN) & (edge > 0.4), door_colour)

    colour = up(palette[obj_colour])
    kind = up(obj_type)
    key_shape = (
        ((jnp.sqrt((u + 0.2) ** 2 + v * v) < 0.19) & (jnp.sqrt((u + 0.2) ** 2 + v * v) > 0.09))
        | ((u > -0.03) & (u < 0.38) & (jnp.abs(v) < 0.05))
        | (((jnp.abs(u - 0.14) < 0.035) | (jnp.abs(u - 0.29) < 0.035)) & (v > 0) & (v < 0.16))
    )
    ball_shape = radius < 0.3
    box_shape = ((edge > 0.24) & (edge < 0.34)) | ((jnp.abs(u) < 0.035) & (jnp.abs(v) < 0.3))
    shape = ((kind == KEY) & key_shape) | ((kind == BALL) & ball_shape) | ((kind == BOX) & box_shape)
    image = jnp.where(shape[..., None], colour, image)

    # The agent: a triangle pointing forward; a disc of the carried object's colour on it.
    along = u * forward[0] + v * forward[1]
    across = u * right[0] + v * right[1]
    triangle = (along > -0.32) & (along < 0.38) & (jnp.abs(across) < 0.34 * (0.38 - along) / 0.7)
    agent = up(is_agent)
    paint(agent & triangle, AGENT)
    holding = state.carrying >= 0
    held = jnp.arange(state.obj_type.shape[0]) == state.carrying
    held_colour = palette[jnp.sum(jnp.where(held, state.obj_colour, 0))]
    disc = jnp.sqrt((along + 0.12) ** 2 + across**2)
    paint(agent & holding & (disc < 0.15), WHITE)
    paint(agent & holding & (disc < 0.11), held_colour)
    return jnp.clip(image, 0, 255).astype(jnp.uint8)
