"""Playroom: a gridworld task family with a developmental ladder.

One body, one observation space, six task kinds that build on each other, from motor
primitives to a compositional goal (L:childhood in DESIGN.md):

========  ==============================================================  =========
kind      success when                                                    step limit
========  ==============================================================  =========
turn      the agent faces ``target_dir``                                  8
step      the agent stands on the marked cell (adjacent at the start)      16
goto      the agent faces the object of ``target_colour`` and ``type``    64
pickup    the agent picks that object up                                  64
unlock    the door (colour ``door_colour``) is open; it needs the key     128
treasure  key -> door -> fetch the ball from the other room -> drop it    256
          on the goal cell
========  ==============================================================  =========

The task is data: :class:`EnvParams` holds the kind, the colours and types it names, the
step limit (``max_steps_in_episode``, a traced array, so gymnax's ``is_truncated`` works per
task) and the wall and door positions of the two-room layout. One compiled ``step`` serves
every kind, and params vmap. Object, agent and goal positions are procedural: ``reset``
draws a fresh layout for the task from its key, so one params value is a distribution of
episodes. Task samplers (``TASK_SAMPLERS``, :func:`sample_task`, :func:`mixture_sampler`)
map a key to params, so a curriculum stage's task distribution is a function.

Grid: ``size`` x ``size`` (static, default 9) surrounded by walls. Two-room kinds (unlock,
treasure) split it with a wall (vertical or horizontal) holding one locked door. The agent
has a position and a direction (0 east, 1 south, 2 west, 3 north). Actions: left, right,
forward, pickup, drop, toggle (MiniGrid semantics: objects block movement, one object can
be carried, toggling a locked door with the matching key opens it, toggling a closed door
opens it and an open one closes it).

Observation: one flat float32 vector, the same length for every kind:

* an egocentric ``view_size`` x ``view_size`` view (default 5x5; the agent is at the bottom
  centre looking "up"; no occlusion, out-of-grid cells read as wall), per cell 15 channels:
  type one-hot (wall, door, key, ball, box; all zero for empty floor), goal flag, colour
  one-hot (6), door state one-hot (open, closed, locked);
* the agent's absolute direction one-hot (4) — its proprioception, needed for ``turn``;
* what it carries: type one-hot (3) and colour one-hot (6);
* the instruction: kind one-hot (6), target colour one-hot (6), target type one-hot (3),
  target direction one-hot (4); fields a kind does not use are zero.

Reward on success is ``1 - 0.9 * t / T`` (MiniGrid), where t counts steps taken and T is the
task's step limit; success terminates. Otherwise the reward is 0, and reaching T truncates.

``step`` is overridden for speed but keeps the gymnax 1.x contract exactly (same tuple,
auto-reset, ``info["terminated"]``, ``info["truncated"]``, ``info["final_observation"]``):
the reset layout takes its randomness from a cheap integer hash of the step key instead of
threefry, and the step key is not split, because auto-reset computes a reset on every step.

Code: this module is the environment (dynamics, observation, the success test
:func:`solved`) and the one place to import every name from; ``_playroom_tasks`` holds the
vocabulary, :class:`EnvParams` and the task samplers, ``_playroom_layout`` the episode state
and the procedural reset, ``_playroom_render`` the render and ``_playroom_planner`` a BFS
planner used by the tests.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from gymnax.environments import spaces

# The public names of the family live in the two modules below; they are imported here, so
# that ``bootstrap_rl.envs.playroom`` is the one place to import them from.
from bootstrap_rl.envs._playroom_layout import _OFF_GRID, EnvState, _dir_vector, layout
from bootstrap_rl.envs._playroom_tasks import (  # noqa: F401  (re-exported)
    ACTIONS, BALL, BOX, CLOSED, COLOURS, DEFAULT_STEP_LIMITS, DIR_VECTORS, DIRECTIONS, DOOR_STATES, DROP,
    ENV_IDS, FIXED_OBJECTS, FORWARD, GOTO, KEY, LEFT, LOCKED, MAX_DISTRACTORS, NO_OBJECT, NUM_COLOURS,
    NUM_OBJECT_SLOTS, NUM_OBJECT_TYPES, OBJECT_TYPES, OPEN, PARAM_FIELDS, PICKUP, PICKUP_ACTION, RIGHT,
    STEP, TASK_KINDS, TASK_SAMPLERS, TOGGLE, TREASURE, TURN, TWO_ROOM_KINDS, UNLOCK, EnvParams,
    _kind_index, _sample_from_kinds, describe_task, make_task, mixture_sampler, sample_task,
    shortest_episode, task_distribution, validate_params, wall_positions,
)
from bootstrap_rl.family import TaskFamily, register_kinds

CELL_CHANNELS = 15  # wall door key ball box | goal | 6 colours | open closed locked
INSTRUCTION_SIZE = len(TASK_KINDS) + NUM_COLOURS + NUM_OBJECT_TYPES + 4


def observation_size(view_size: int = 5) -> int:
    """Length of the flat observation vector for a given view size."""
    return view_size * view_size * CELL_CHANNELS + 4 + NUM_OBJECT_TYPES + NUM_COLOURS + INSTRUCTION_SIZE


def solved(state: EnvState, params: EnvParams) -> jax.Array:
    """Whether a state satisfies its task: the one success test (it terminates the episode and
    pays the reward), independent of the action that led there. Jittable, vmappable."""
    front = state.agent_pos + jnp.asarray(DIR_VECTORS)[state.agent_dir]
    kind = params.task_kind
    return (
        ((kind == TURN) & (state.agent_dir == params.target_dir))
        | ((kind == STEP) & jnp.all(state.agent_pos == state.goal_pos))
        | ((kind == GOTO) & jnp.all(state.obj_pos[0] == front))
        | ((kind == PICKUP) & (state.carrying == 0))
        | ((kind == UNLOCK) & (state.door_state == OPEN))
        | ((kind == TREASURE) & jnp.all(state.obj_pos[1] == state.goal_pos))
    )


def _one_hot(index: jax.Array, n: int) -> jax.Array:
    """Bool one-hot of an int scalar; all False when index is out of range (e.g. -1)."""
    return index == jnp.arange(n, dtype=index.dtype)


class Playroom(TaskFamily[EnvState, EnvParams]):
    """The Playroom task family as one gymnax 1.x ``Environment``.

    Args:
        kind: the task kind of ``default_params`` (any kind runs given its params).
        size: side of the square grid, walls included (static).
        view_size: side of the egocentric view (static, odd).
        default_task: explicit default params (validated); overrides ``kind``.
    """

    def __init__(self, kind: str = "goto", *, size: int = 9, view_size: int = 5,
                 default_task: EnvParams | None = None):
        super().__init__()
        if not isinstance(size, int) or size < 9:
            raise ValueError(f"size: must be an int >= 9 (two rooms of width 3), got {size!r}")
        if not isinstance(view_size, int) or view_size < 3 or view_size % 2 == 0:
            raise ValueError(f"view_size: must be an odd int >= 3, got {view_size!r}")
        self.size = size
        self.view_size = view_size
        self.kind = TASK_KINDS[_kind_index(kind)]
        self._default = validate_params(default_task, size=size) if default_task is not None \
            else make_task(self.kind, size=size)
        if self._default.task_kind.shape != ():
            raise ValueError("default_task: must be a single (unbatched) task")
        # View cell (i, j), i = 0 farthest row: cells ahead and to the right of the agent.
        rows, cols = np.meshgrid(np.arange(view_size), np.arange(view_size), indexing="ij")
        self._view_ahead = (view_size - 1 - rows).reshape(-1).astype(np.int32)
        self._view_right = (cols - view_size // 2).reshape(-1).astype(np.int32)

    # gymnax hashes `self` as a static jit argument: identity semantics are what we want.

    @property
    def default_params(self) -> EnvParams:
        return self._default

    @property
    def name(self) -> str:
        return ENV_IDS[self.kind]

    @property
    def num_actions(self) -> int:
        return len(ACTIONS)

    def action_space(self, params: EnvParams | None = None) -> spaces.Discrete:
        return spaces.Discrete(len(ACTIONS))

    def observation_space(self, params: EnvParams | None = None) -> spaces.Box:
        return spaces.Box(0.0, 1.0, (observation_size(self.view_size),), jnp.float32)

    @property
    def obs_size(self) -> int:
        return observation_size(self.view_size)

    # --- tasks (the curriculum protocol) ---

    def task_distribution(self, kinds, **kwargs) -> jax.tree_util.Partial:
        """A stage's task distribution from a kind, a list of kinds or a dict of weights
        (see the module-level :func:`task_distribution`), for this grid size."""
        return task_distribution(kinds, size=self.size, **kwargs)

    def shortest_episode(self, distribution) -> int | None:
        """The shortest time limit among the kinds a :func:`task_distribution` can draw
        (``None`` for any other sampler)."""
        return shortest_episode(distribution)

    def validate_params(self, params: EnvParams) -> EnvParams:
        """Raise ``ValueError`` naming the field if concrete params are not a valid task."""
        return validate_params(params, size=self.size)

    def mutate_level(self, key: jax.Array, task: EnvParams, seed: jax.Array) -> tuple[EnvParams, jax.Array]:
        """One ACCEL edit of a level (docs/ued.md), chosen uniformly: one distractor more or
        fewer, the wall or the door one cell along, the wall turned (vertical <-> horizontal),
        or a new layout seed. Each stays in the field's valid range; the kind, step limit and
        colours never change, so a level of a stage's distribution stays a valid task of it."""
        i32 = jnp.int32
        choice_key, sign_key, seed_key = jax.random.split(key, 3)
        edit = jax.random.randint(choice_key, (), 0, 5)
        step = jnp.where(jax.random.bernoulli(sign_key), 1, -1).astype(i32)
        low, high = wall_positions(self.size)
        most = jnp.asarray(MAX_DISTRACTORS, i32)[task.task_kind]
        task = task.replace(
            num_distractors=jnp.where(edit == 0, jnp.clip(task.num_distractors + step, 0, most),
                                      task.num_distractors).astype(i32),
            wall_pos=jnp.where(edit == 1, jnp.clip(task.wall_pos + step, low, high), task.wall_pos).astype(i32),
            door_pos=jnp.where(edit == 2, jnp.clip(task.door_pos + step, 1, self.size - 2), task.door_pos).astype(i32),
            wall_axis=jnp.where(edit == 3, 1 - task.wall_axis, task.wall_axis).astype(i32),
        )
        return task, jnp.where(edit == 4, jax.random.split(seed_key)[0], seed)

    # --- geometry ---

    def _door_cell(self, params: EnvParams) -> tuple[jax.Array, jax.Array]:
        vertical = params.wall_axis == 0
        return (jnp.where(vertical, params.door_pos, params.wall_pos),
                jnp.where(vertical, params.wall_pos, params.door_pos))

    def _cells(self, rows: jax.Array, cols: jax.Array, state: EnvState, params: EnvParams):
        """What occupies cells (rows, cols): wall, door, per-slot object match, goal."""
        two_rooms = params.task_kind >= UNLOCK
        door_r, door_c = self._door_cell(params)
        is_door = two_rooms & (rows == door_r) & (cols == door_c)
        on_wall_line = two_rooms & jnp.where(params.wall_axis == 0, cols == params.wall_pos, rows == params.wall_pos)
        outside = (rows <= 0) | (rows >= self.size - 1) | (cols <= 0) | (cols >= self.size - 1)
        is_wall = outside | (on_wall_line & ~is_door)
        match = (rows[..., None] == state.obj_pos[:, 0]) & (cols[..., None] == state.obj_pos[:, 1])
        is_goal = (rows == state.goal_pos[0]) & (cols == state.goal_pos[1])
        return is_wall, is_door, match, is_goal

    # --- observation ---

    def _observe(self, state: EnvState, params: EnvParams) -> jax.Array:
        # Written for XLA's CPU backend as much as for GPUs: per-cell codes built with
        # elementwise selects, object slots unrolled, no gathers and no reductions over small
        # minor axes (both vectorise badly under vmap).
        i32, f32 = jnp.int32, jnp.float32
        forward_r, forward_c = _dir_vector(state.agent_dir)
        right_r, right_c = forward_c, -forward_r  # clockwise quarter turn
        ahead, side = jnp.asarray(self._view_ahead), jnp.asarray(self._view_right)
        rows = state.agent_pos[0] + ahead * forward_r + side * right_r
        cols = state.agent_pos[1] + ahead * forward_c + side * right_c

        two_rooms = params.task_kind >= UNLOCK
        door_r, door_c = self._door_cell(params)
        is_door = two_rooms & (rows == door_r) & (cols == door_c)
        on_line = two_rooms & jnp.where(params.wall_axis == 0, cols == params.wall_pos, rows == params.wall_pos)
        outside = (rows <= 0) | (rows >= self.size - 1) | (cols <= 0) | (cols >= self.size - 1)
        # code: 0 floor, 1 wall, 2 door, 2 + object type (3 key, 4 ball, 5 box)
        code = jnp.where(outside | (on_line & ~is_door), 1, jnp.where(is_door, 2, 0)).astype(i32)
        colour = jnp.where(is_door, params.door_colour, -1)
        for slot in range(NUM_OBJECT_SLOTS):
            here = (rows == state.obj_pos[slot, 0]) & (cols == state.obj_pos[slot, 1])
            code = jnp.where(here, 2 + state.obj_type[slot], code)
            colour = jnp.where(here, state.obj_colour[slot], colour)
        is_goal = (rows == state.goal_pos[0]) & (cols == state.goal_pos[1])
        # One bit per channel, so the per-cell work above is done once per cell, not once
        # per channel: the barrier stops XLA fusing it into (and repeating it for) each
        # channel of the one-hot expansion below.
        bits = (
            jnp.where(code > 0, 1 << (code - 1), 0)
            | (is_goal.astype(i32) << 5)
            | jnp.where(colour >= 0, 1 << (6 + colour), 0)
            | jnp.where(is_door, 1 << (12 + state.door_state), 0)
        )
        bits = jax.lax.optimization_barrier(bits)
        view = ((bits[:, None] >> jnp.arange(CELL_CHANNELS, dtype=i32)) & 1).astype(f32).reshape(-1)

        held_type = jnp.zeros((), i32)
        held_colour = jnp.full((), -1, i32)
        for slot in range(NUM_OBJECT_SLOTS):
            held_type = jnp.where(state.carrying == slot, state.obj_type[slot], held_type)
            held_colour = jnp.where(state.carrying == slot, state.obj_colour[slot], held_colour)
        uses_target = params.task_kind >= GOTO
        kind_dir = jnp.where(params.task_kind == TURN, params.target_dir, -1)
        small = jnp.concatenate([
            _one_hot(state.agent_dir, 4),
            _one_hot(held_type - 1, NUM_OBJECT_TYPES),
            _one_hot(held_colour, NUM_COLOURS),
            _one_hot(params.task_kind, len(TASK_KINDS)),
            _one_hot(jnp.where(uses_target, params.target_colour, -1), NUM_COLOURS),
            _one_hot(jnp.where(uses_target, params.target_type - 1, -1), NUM_OBJECT_TYPES),
            _one_hot(kind_dir, 4),
        ])
        return jnp.concatenate([view, small.astype(f32)])

    def observe(self, key, state: EnvState, action, params: EnvParams) -> jax.Array:
        return self._observe(state, params)

    def get_obs(self, state: EnvState, params: EnvParams | None = None, key=None) -> jax.Array:
        return self._observe(state, self.default_params if params is None else params)

    # --- dynamics ---

    def _transition(self, state: EnvState, action: jax.Array, params: EnvParams):
        """One step without auto-reset: (next state, reward, success)."""
        action = jnp.asarray(action, jnp.int32)
        dirs = jnp.asarray(DIR_VECTORS)
        slots = jnp.arange(NUM_OBJECT_SLOTS)
        front = state.agent_pos + dirs[state.agent_dir]
        f_wall, f_door, f_match, _ = self._cells(front[0], front[1], state, params)
        f_has_obj = jnp.any(f_match)
        door_open = state.door_state == OPEN
        blocked = f_wall | (f_door & ~door_open) | f_has_obj

        new_dir = jnp.where(action == LEFT, (state.agent_dir + 3) % 4,
                            jnp.where(action == RIGHT, (state.agent_dir + 1) % 4, state.agent_dir))
        new_pos = jnp.where((action == FORWARD) & ~blocked, front, state.agent_pos)

        holding = state.carrying >= 0
        picked = (action == PICKUP_ACTION) & ~holding & f_has_obj
        dropped = (action == DROP) & holding & ~f_wall & ~f_door & ~f_has_obj
        held = slots == state.carrying
        obj_pos = jnp.where((picked & f_match)[:, None], _OFF_GRID, state.obj_pos)
        obj_pos = jnp.where((dropped & held)[:, None], front, obj_pos)
        front_slot = jnp.argmax(f_match).astype(jnp.int32)
        carrying = jnp.where(picked, front_slot, jnp.where(dropped, -1, state.carrying))

        has_key = jnp.any(held & (state.obj_type == KEY) & (state.obj_colour == params.door_colour))
        toggled = (action == TOGGLE) & f_door
        door_state = jnp.where(
            toggled,
            jnp.where(state.door_state == LOCKED, jnp.where(has_key, OPEN, LOCKED),
                      jnp.where(state.door_state == CLOSED, OPEN, CLOSED)),
            state.door_state,
        )
        time = state.time + 1
        next_state = state.replace(time=time, agent_pos=new_pos, agent_dir=new_dir, obj_pos=obj_pos,
                                   carrying=carrying, door_state=door_state)
        success = solved(next_state, params)
        limit = params.max_steps_in_episode
        reward = jnp.where(success, 1.0 - 0.9 * time.astype(jnp.float32) / limit.astype(jnp.float32), 0.0)
        return next_state, reward.astype(jnp.float32), success

    def step_env(self, key, state: EnvState, action, params: EnvParams):
        next_state, reward, success = self._transition(state, action, params)
        return self._observe(next_state, params), next_state, reward, success, {}

    @partial(jax.jit, static_argnames=("self",))
    def step(self, key: jax.Array, state: EnvState, action, params: EnvParams | None = None):
        """gymnax 1.x ``step`` with auto-reset; see the module docstring for why it is overridden."""
        if params is None:
            params = self.default_params
        obs_st, state_st, reward, terminated, info = self.step_env(key, state, action, params)
        truncated = self.is_truncated(state_st, params)
        done = terminated | truncated
        state_re = self._layout(key, params)
        next_state = jax.tree.map(lambda r, s: jnp.where(done, r, s), state_re, state_st)
        # Observe the selected state once, rather than observing both and selecting;
        # obs_st is only computed when the caller reads info["final_observation"].
        obs = self._observe(next_state, params)
        info = {**info, "terminated": terminated, "truncated": truncated, "final_observation": obs_st}
        return obs, next_state, reward, terminated, truncated, info

    def is_terminated(self, state: EnvState, params: EnvParams) -> jax.Array:
        return solved(state, params)

    # --- procedural layout ---

    def reset_env(self, key: jax.Array, params: EnvParams) -> tuple[jax.Array, EnvState]:
        state = self._layout(key, params)
        return self._observe(state, params), state

    def _layout(self, key: jax.Array, params: EnvParams) -> EnvState:
        """A fresh episode of the task (see :func:`bootstrap_rl.envs._playroom_layout.layout`)."""
        return layout(key, params, self.size)

    # --- rendering ---

    def render(self, state: EnvState, params: EnvParams | None = None, tile: int = 24) -> jax.Array:
        """An RGB image (uint8 [size*tile, size*tile, 3]) of a state; jittable (tile static).

        Walls grey; floor black with grid lines; the agent's view lightened; the goal a
        green-bordered cell; doors in their colour (locked: filled with a keyhole, closed:
        filled darker with a handle, open: a frame); keys, balls (discs) and boxes (outlined
        squares) in their colour; the agent a red triangle pointing its way, with what it
        carries as a disc on it.
        """
        from bootstrap_rl.envs._playroom_render import render_state

        return render_state(self, state, self.default_params if params is None else params, tile)

    def describe(self, params: EnvParams | None = None) -> str:
        """A caption for a task (concrete, unbatched params)."""
        return describe_task(self.default_params if params is None else params)


register_kinds(ENV_IDS, Playroom, origin=__name__)
