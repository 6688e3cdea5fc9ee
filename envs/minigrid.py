"""MiniGrid: XLand-MiniGrid's JAX ports of MiniGrid as one task family (a peer's worlds).

The environments are XLand-MiniGrid's (``pip install xminigrid``, Nikulin et al. 2023): their
layout generators, their action, rule and goal code. This module only adapts them to the
contract here (gymnax 1.x, tasks as data, one compiled program for every task):

* **One program for every kind.** In XLand-MiniGrid every environment shares the dynamics
  (``take_action``, ``check_rule``, ``check_goal``) and differs only in its layout generator,
  which writes the goal and rules into the *state* as arrays. So ``reset`` picks the kind's
  generator with ``lax.switch`` on ``params.kind`` (an array), and every kind's grid is padded
  with walls to one canvas (:data:`CANVAS`, the largest native grid, top-left aligned). The
  padding is wall behind the kinds' own outer walls, so no kind's dynamics change.
* **Tasks are data.** :class:`EnvParams` is the kind index and the step limit, both int32
  arrays; a level (for automatic curricula) is these params plus the reset key, which draws
  the layout (door, key, object and agent positions, colours) exactly as XLand-MiniGrid does.
* **gymnax 1.x.** ``step`` returns ``(obs, state, reward, terminated, truncated, info)`` with
  ``info["final_observation"]``, auto-resets, and truncates at ``max_steps_in_episode``.
  Reward is MiniGrid's ``1 - 0.9 t / T`` on success, 0 otherwise.

========================  ==============================================  ==========  =====
id                        success when (XLand-MiniGrid's goal)            grid        limit
========================  ==============================================  ==========  =====
MiniGrid-Empty-6x6        the agent stands on the goal (start fixed)      6 x 6        144
MiniGrid-EmptyRandom-6x6  the same, random start                          6 x 6        144
MiniGrid-DoorKey-5x5      on the goal behind a locked door; key near      5 x 5        250
MiniGrid-DoorKey-6x6      the same, bigger                                6 x 6        360
MiniGrid-Unlock           the locked door between two rooms is open       6 x 11       288
MiniGrid-UnlockPickUp     holding the object in the other room            6 x 11       288
MiniGrid-BlockedUnlockPickUp  the same, an object blocks the door         6 x 11       576
========================  ==============================================  ==========  =====

Limits are MiniGrid's formulas at the native size. Actions (XLand-MiniGrid's six): forward,
turn right, turn left, pick up, put down, toggle.

Observation: one flat float32 vector, the same for every kind, for the MLP networks here:
the egocentric 7 x 7 view (XLand-MiniGrid's transparent field of view, the agent at the
bottom centre looking up; cells off the grid read as empty) with each cell's tile one-hot
(13) and colour one-hot (12); the agent's direction one-hot (4); the carried tile and colour
one-hot (13 + 12); the task kind one-hot (7) — MiniGrid's mission, as a vector.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnax.environments import environment, spaces
from xminigrid.core.actions import take_action
from xminigrid.core.constants import NUM_ACTIONS, NUM_COLORS, NUM_TILES, Colors, Tiles
from xminigrid.core.goals import check_goal
from xminigrid.core.observation import transparent_field_of_view
from xminigrid.core.rules import check_rule
from xminigrid.environment import EnvParams as XParams
from xminigrid.envs.minigrid.blockedunlockpickup import BlockedUnlockPickUp
from xminigrid.envs.minigrid.doorkey import DoorKey
from xminigrid.envs.minigrid.empty import Empty, EmptyRandom
from xminigrid.envs.minigrid.unlock import Unlock
from xminigrid.envs.minigrid.unlockpickup import UnlockPickUp
from xminigrid.types import AgentState

from bootstrap_rl.envs._minigrid_ids import ENV_IDS
from bootstrap_rl.family import TaskFamily, kind_index, kind_step_limits, kind_weights, register_kinds

PUBLIC_MODULE = "bootstrap_rl.envs.minigrid"

# kind -> (env id, XLand-MiniGrid environment, native height, width); the order is the kind index.
_CLASSES = {
    "empty": (Empty, 6, 6),
    "empty_random": (EmptyRandom, 6, 6),
    "doorkey_5x5": (DoorKey, 5, 5),
    "doorkey": (DoorKey, 6, 6),
    "unlock": (Unlock, 6, 11),
    "unlockpickup": (UnlockPickUp, 6, 11),
    "blockedunlockpickup": (BlockedUnlockPickUp, 6, 11),
}
_KINDS = {kind: (ENV_IDS[kind], *_CLASSES[kind]) for kind in ENV_IDS}
TASK_KINDS: tuple[str, ...] = tuple(_KINDS)
# Each environment's native params: its size and MiniGrid's step limit formula for that size.
_NATIVE: dict[str, XParams] = {kind: env().default_params(height=h, width=w) for kind, (_, env, h, w) in _KINDS.items()}
DEFAULT_STEP_LIMITS: dict[str, int] = {kind: int(p.max_steps) for kind, p in _NATIVE.items()}
CANVAS: tuple[int, int] = (max(h for *_, h, _ in _KINDS.values()), max(w for *_, w in _KINDS.values()))

VIEW = 7  # MiniGrid's default agent view
FORWARD, RIGHT, LEFT, PICKUP, PUTDOWN, TOGGLE = range(NUM_ACTIONS)  # XLand-MiniGrid's action ids
ACTIONS = ("forward", "right", "left", "pickup", "putdown", "toggle")
OBS_SIZE = VIEW * VIEW * (NUM_TILES + NUM_COLORS) + 4 + NUM_TILES + NUM_COLORS + len(TASK_KINDS)
_WALL = (Tiles.WALL, Colors.GREY)  # (tile, colour) of the padding


@struct.dataclass
class EnvParams(environment.EnvParams):
    """One MiniGrid task: the kind (index into ``TASK_KINDS``) and the episode step limit,
    int32 arrays (scalars, or batched for vmap). The layout is drawn from the reset key."""

    max_steps_in_episode: jax.Array = 144
    kind: jax.Array = 0


@struct.dataclass
class EnvState(environment.EnvState):
    """An episode: XLand-MiniGrid's grid (tile, colour per cell; padded to ``CANVAS``), agent,
    and the goal and rules its generator wrote as arrays."""

    time: jax.Array
    grid: jax.Array  # uint8 [H, W, 2]
    agent: AgentState
    goal_encoding: jax.Array
    rule_encoding: jax.Array


def make_task(kind: str | int, step_limit: int | None = None) -> EnvParams:
    """Concrete params of one kind (default: MiniGrid's step limit at the native size)."""
    index = kind_index(kind, TASK_KINDS)
    limit = DEFAULT_STEP_LIMITS[TASK_KINDS[index]] if step_limit is None else int(step_limit)
    return validate_params(EnvParams(max_steps_in_episode=jnp.asarray(limit, jnp.int32),
                                     kind=jnp.asarray(index, jnp.int32)))


def validate_params(params: EnvParams) -> EnvParams:
    """Raise ``ValueError`` naming the field if (a batch of) concrete params is invalid."""
    kind, limit = np.asarray(params.kind), np.asarray(params.max_steps_in_episode)
    if not np.issubdtype(kind.dtype, np.integer) or np.any(kind < 0) or np.any(kind >= len(TASK_KINDS)):
        raise ValueError(f"kind: must be ints in 0..{len(TASK_KINDS) - 1} {TASK_KINDS}, got {kind}")
    if not np.issubdtype(limit.dtype, np.integer) or np.any(limit < 1):
        raise ValueError(f"max_steps_in_episode: must be positive ints, got {limit}")
    return params


def _sample_from_kinds(key: jax.Array, weights: jax.Array, step_limits: jax.Array) -> EnvParams:
    """A task: a kind drawn by ``weights`` (over ``TASK_KINDS``) with its step limit."""
    kind = jax.random.categorical(key, jnp.log(weights)).astype(jnp.int32)
    return EnvParams(max_steps_in_episode=step_limits[kind], kind=kind)


_sample_from_kinds.__module__ = PUBLIC_MODULE


def task_distribution(kinds: str | Sequence[str] | dict[str, float], *,
                      step_limits: dict[str, int] | None = None) -> jax.tree_util.Partial:
    """A stage's tasks as data, ``key -> EnvParams``: a kind by weight (one kind for a string,
    uniform over a list, the weights of a dict). Every distribution is the same function with
    other arrays, so stages share one compiled program. ``step_limits`` overrides kinds' limits."""
    weights = kind_weights(kinds, TASK_KINDS, dtype=np.float32)
    limits = kind_step_limits(step_limits, DEFAULT_STEP_LIMITS, TASK_KINDS)
    return jax.tree_util.Partial(_sample_from_kinds, weights=jnp.asarray(weights),
                                    step_limits=jnp.asarray(limits, jnp.int32))


def _generator(kind: str):
    """``key -> (grid, agent, goal, rules)`` from XLand-MiniGrid's generator of ``kind`` at its
    native size, the grid padded with wall to ``CANVAS`` (bottom and right)."""
    _, env_class, height, width = _KINDS[kind]
    env, native = env_class(), _NATIVE[kind]

    def generate(key: jax.Array):
        state = env._generate_problem(native, key)
        pad = ((0, CANVAS[0] - height), (0, CANVAS[1] - width))
        grid = jnp.stack([jnp.pad(state.grid[..., layer], pad, constant_values=_WALL[layer])
                          for layer in range(2)], axis=-1)
        agent = AgentState(position=state.agent.position.astype(jnp.int32),
                           direction=state.agent.direction.astype(jnp.int32),
                           pocket=state.agent.pocket)
        return grid, agent, state.goal_encoding, state.rule_encoding

    return generate


_GENERATORS = tuple(_generator(kind) for kind in TASK_KINDS)


class MiniGrid(TaskFamily[EnvState, EnvParams]):
    """XLand-MiniGrid's MiniGrid environments as one gymnax 1.x task family.

    Args:
        kind: the task kind of ``default_params`` (any kind runs given its params).
    """

    def __init__(self, kind: str = "empty"):
        super().__init__()
        self.kind = TASK_KINDS[kind_index(kind, TASK_KINDS)]
        self._default = make_task(self.kind)

    @property
    def default_params(self) -> EnvParams:
        return self._default

    @property
    def name(self) -> str:
        return ENV_IDS[self.kind]

    @property
    def num_actions(self) -> int:
        return NUM_ACTIONS

    def action_space(self, params: EnvParams | None = None) -> spaces.Discrete:
        return spaces.Discrete(NUM_ACTIONS)

    def observation_space(self, params: EnvParams | None = None) -> spaces.Box:
        return spaces.Box(0.0, 1.0, (OBS_SIZE,), jnp.float32)

    @property
    def obs_size(self) -> int:
        return OBS_SIZE

    # --- tasks (the curriculum protocol) ---

    def task_distribution(self, kinds, **kwargs) -> jax.tree_util.Partial:
        """See the module-level :func:`task_distribution`."""
        return task_distribution(kinds, **kwargs)

    def shortest_episode(self, distribution) -> int | None:
        if getattr(distribution, "func", None) is not _sample_from_kinds:
            return None
        weights = np.asarray(distribution.keywords["weights"])
        return int(np.asarray(distribution.keywords["step_limits"])[weights > 0].min())

    def validate_params(self, params: EnvParams) -> EnvParams:
        return validate_params(params)

    def describe(self, params: EnvParams | None = None) -> str:
        params = self.default_params if params is None else params
        return f"{TASK_KINDS[int(params.kind)]}, step limit {int(params.max_steps_in_episode)}"

    # --- observation ---

    def _observe(self, state: EnvState, params: EnvParams) -> jax.Array:
        view = transparent_field_of_view(state.grid, state.agent, VIEW, VIEW).astype(jnp.int32)
        cells = jnp.concatenate([jax.nn.one_hot(view[..., 0], NUM_TILES, dtype=jnp.float32),
                                 jax.nn.one_hot(view[..., 1], NUM_COLORS, dtype=jnp.float32)], axis=-1)
        pocket = state.agent.pocket.astype(jnp.int32)
        return jnp.concatenate([
            cells.reshape(-1),
            jax.nn.one_hot(state.agent.direction, 4, dtype=jnp.float32),
            jax.nn.one_hot(pocket[0], NUM_TILES, dtype=jnp.float32),
            jax.nn.one_hot(pocket[1], NUM_COLORS, dtype=jnp.float32),
            jax.nn.one_hot(params.kind, len(TASK_KINDS), dtype=jnp.float32),
        ])

    def observe(self, key, state: EnvState, action, params: EnvParams) -> jax.Array:
        return self._observe(state, params)

    def get_obs(self, state: EnvState, params: EnvParams | None = None, key=None) -> jax.Array:
        return self._observe(state, self.default_params if params is None else params)

    # --- dynamics: XLand-MiniGrid's, shared by every kind ---

    def _transition(self, state: EnvState, action: jax.Array, params: EnvParams):
        """One step without auto-reset: (next state, reward, success)."""
        action = jnp.asarray(action, jnp.int32)
        grid, agent, changed = take_action(state.grid, state.agent, action)
        grid, agent = check_rule(state.rule_encoding, grid, agent, action, changed)
        success = check_goal(state.goal_encoding, grid, agent, action, changed)
        time = state.time + 1
        reward = jnp.where(success, 1.0 - 0.9 * time.astype(jnp.float32)
                           / jnp.asarray(params.max_steps_in_episode, jnp.float32), 0.0)
        return state.replace(time=time, grid=grid, agent=agent), reward.astype(jnp.float32), success

    def step_env(self, key, state: EnvState, action, params: EnvParams):
        next_state, reward, success = self._transition(state, action, params)
        return self._observe(next_state, params), next_state, reward, success, {}

    @partial(jax.jit, static_argnames=("self",))
    def step(self, key: jax.Array, state: EnvState, action, params: EnvParams | None = None):
        """gymnax 1.x ``step`` with auto-reset. Overridden to observe the selected state once
        (gymnax observes both the stepped and the reset state, then selects)."""
        if params is None:
            params = self.default_params
        next_state, reward, terminated = self._transition(state, action, params)
        truncated = self.is_truncated(next_state, params)
        done = terminated | truncated
        reset_state = self._layout(key, params)
        selected = jax.tree.map(lambda r, s: jnp.where(done, r, s), reset_state, next_state)
        info = {"terminated": terminated, "truncated": truncated,
                "final_observation": self._observe(next_state, params)}
        return self._observe(selected, params), selected, reward, terminated, truncated, info

    def reset_env(self, key: jax.Array, params: EnvParams) -> tuple[jax.Array, EnvState]:
        state = self._layout(key, params)
        return self._observe(state, params), state

    def _layout(self, key: jax.Array, params: EnvParams) -> EnvState:
        """A fresh episode: the kind's XLand-MiniGrid generator, chosen by data."""
        grid, agent, goal, rules = jax.lax.switch(jnp.asarray(params.kind, jnp.int32), _GENERATORS, key)
        return EnvState(time=jnp.zeros((), jnp.int32), grid=grid, agent=agent, goal_encoding=goal,
                        rule_encoding=rules)

    # --- rendering ---

    def render(self, state: EnvState, params: EnvParams | None = None, tile: int = 16) -> jax.Array:
        """An RGB image (uint8 [H*tile, W*tile, 3]) of a state, jittable (``tile`` static): walls
        and closed or locked doors fill their cell in their colour, an open door is its
        colour's frame, the goal a green cell, keys and objects a centred square in their
        colour, the agent a red square with a white bar on the side it faces."""
        tiles, colours = state.grid[..., 0].astype(jnp.int32), state.grid[..., 1].astype(jnp.int32)
        palette = jnp.asarray(_PALETTE, jnp.uint8)
        y, x = np.meshgrid(np.arange(tile), np.arange(tile), indexing="ij")
        inner = jnp.asarray((abs(y - (tile - 1) / 2) < tile / 4) & (abs(x - (tile - 1) / 2) < tile / 4))
        frame = jnp.asarray((y < 2) | (y >= tile - 2) | (x < 2) | (x >= tile - 2))
        full = (tiles == Tiles.WALL) | (tiles == Tiles.GOAL) | (tiles == Tiles.DOOR_LOCKED) | (tiles == Tiles.DOOR_CLOSED)
        small = (tiles != Tiles.EMPTY) & (tiles != Tiles.FLOOR) & ~full & (tiles != Tiles.DOOR_OPEN)
        mask = (full[..., None, None] | (small[..., None, None] & inner)
                | ((tiles == Tiles.DOOR_OPEN)[..., None, None] & frame))  # [H, W, tile, tile]
        cells = jnp.where(mask[..., None], palette[colours][:, :, None, None, :], jnp.uint8(0))
        # The agent: red, with a white bar on its facing side (0 up, 1 right, 2 down, 3 left).
        bars = jnp.asarray(np.stack([y < tile // 4, x >= tile - tile // 4, y >= tile - tile // 4, x < tile // 4]))
        agent = jnp.where(bars[state.agent.direction][..., None], jnp.uint8(255),
                          jnp.where(inner[..., None], jnp.asarray([255, 0, 0], jnp.uint8), jnp.uint8(0)))
        r, c = state.agent.position[0], state.agent.position[1]
        cells = cells.at[r, c].set(agent)
        h, w = tiles.shape
        return cells.transpose(0, 2, 1, 3, 4).reshape(h * tile, w * tile, 3)


# XLand-MiniGrid's colour ids -> RGB (MiniGrid's palette; EMPTY and BLACK are black).
_PALETTE = ((0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255), (112, 39, 195), (255, 255, 0), (100, 100, 100),
            (0, 0, 0), (255, 140, 0), (255, 255, 255), (160, 82, 45), (225, 20, 147))
assert len(_PALETTE) == NUM_COLORS


register_kinds(ENV_IDS, MiniGrid, origin=__name__)
