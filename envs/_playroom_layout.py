"""Playroom's episode state and procedural layout: what ``reset`` (and every auto-reset) draws.

:func:`layout` places the agent, the goal and the objects of a task at distinct cells, with
randomness from the family's hash RNG (:func:`bootstrap_rl.family.random_words`) rather than
threefry, because gymnax's auto-reset computes a reset on every step. For the same reason
everything here is elementwise: no gathers, no integer division. Import the names from
``bootstrap_rl.envs.playroom``; this module is its implementation.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnax.environments import environment

from bootstrap_rl.envs._playroom_tasks import (
    BALL, GOTO, KEY, LOCKED, NO_OBJECT, NUM_COLOURS, NUM_OBJECT_SLOTS, NUM_OBJECT_TYPES, OPEN, TASK_KINDS,
    TREASURE, TURN, UNLOCK, EnvParams,
)
from bootstrap_rl.family import random_words

_OFF_GRID = -100  # position of carried / absent objects and of a missing goal

# Where each kind places its entities: agent, goal, object slots 0..3.
# -1 absent, 0 the agent's room, 1 the other room, 2 the cell next to the agent (step's mark).
_ABSENT, _ROOM_A, _ROOM_B, _ADJACENT = -1, 0, 1, 2
_PLACEMENT = np.array(
    [
        # agent  goal      o0      o1      o2      o3
        [0, _ABSENT, 0, 0, 0, 0],  # turn: distractors only
        [0, _ADJACENT, 0, 0, 0, 0],  # step
        [0, _ABSENT, 0, 0, 0, 0],  # goto
        [0, _ABSENT, 0, 0, 0, 0],  # pickup
        [0, _ABSENT, 0, 0, 1, 1],  # unlock: key and a distractor beside the agent
        [0, 0, 0, 1, 0, 1],  # treasure: key and goal here, ball over there
    ],
    dtype=np.int32,
)
_NUM_WORDS = 14  # random words one layout uses (see layout)


@struct.dataclass
class EnvState(environment.EnvState):
    """Everything that changes within an episode."""

    time: jax.Array
    agent_pos: jax.Array  # int32 [2] (row, col)
    agent_dir: jax.Array  # int32
    obj_type: jax.Array  # int32 [K], NO_OBJECT for an empty slot
    obj_colour: jax.Array  # int32 [K]
    obj_pos: jax.Array  # int32 [K, 2]; _OFF_GRID when carried or absent
    carrying: jax.Array  # int32 slot index, -1 for empty hands
    door_state: jax.Array  # int32 OPEN / CLOSED / LOCKED
    goal_pos: jax.Array  # int32 [2]; _OFF_GRID when the task has no goal cell


def _below(word: jax.Array, bound: jax.Array) -> jax.Array:
    """An integer in [0, bound) from the high 16 bits of a random word (bias < 2^-10)."""
    return (((word >> 16) * bound.astype(jnp.uint32)) >> 16).astype(jnp.int32)


def _dir_vector(direction: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(row, col) step of a direction, by arithmetic rather than a table gather."""
    d_row = (direction == 1).astype(jnp.int32) - (direction == 3).astype(jnp.int32)
    d_col = (direction == 0).astype(jnp.int32) - (direction == 2).astype(jnp.int32)
    return d_row, d_col


def _placement(kind: jax.Array, column: int):
    """Entry of _PLACEMENT for this task's kind (a static int when all kinds agree)."""
    values = _PLACEMENT[:, column]
    if (values == values[0]).all():
        return int(values[0])
    out = jnp.asarray(int(values[0]), jnp.int32)
    for k in range(1, len(TASK_KINDS)):
        out = jnp.where(kind == k, int(values[k]), out)
    return out


class _Rooms(NamedTuple):
    """Room geometry in canonical coordinates (any wall vertical, at column ``wall_pos``;
    rows 1..size-2 always). Room A is the agent's; a one-room kind's room A is the interior."""

    two_rooms: jax.Array
    agent_left: jax.Array  # whether room A lies left of the wall
    interior: int  # rows of every room (and columns of a one-room interior)
    col0_a: jax.Array  # first column of room A
    width_a: jax.Array
    col0_b: jax.Array
    width_b: jax.Array


def _rooms(params: EnvParams, size: int, side_word: jax.Array) -> _Rooms:
    """Which side of the wall the agent starts on (one random bit), and the rooms' extents."""
    two_rooms = params.task_kind >= UNLOCK
    wall = params.wall_pos
    agent_left = (side_word & 1) == 0
    interior = size - 2
    left_width, right_width = wall - 1, size - 2 - wall
    return _Rooms(
        two_rooms=two_rooms,
        agent_left=agent_left,
        interior=interior,
        col0_a=jnp.where(two_rooms & ~agent_left, wall + 1, 1),
        width_a=jnp.where(two_rooms, jnp.where(agent_left, left_width, right_width), interior),
        col0_b=jnp.where(agent_left, wall + 1, 1),
        width_b=jnp.where(agent_left, right_width, left_width),
    )


class _Cells:
    """The cells taken so far, each as (room, index among the room's cells in row-major
    order), and the placement of new entities at free cells.

    The cells beside the door start taken, so no object blocks it. A room is a static int
    (``_ROOM_A``/``_ROOM_B``) when every kind agrees, else a traced one; unused entries hold
    an index that never compares below a real one.
    """

    def __init__(self, rooms: _Rooms, params: EnvParams):
        self.rooms = rooms
        self.far = jnp.asarray(1 << 20, jnp.int32)
        wall, door_row = params.wall_pos, params.door_pos
        beside_a = jnp.where(rooms.agent_left, wall - 1, wall + 1) - rooms.col0_a
        beside_b = jnp.where(rooms.agent_left, wall + 1, wall - 1) - rooms.col0_b
        self.taken: list[tuple[Any, jax.Array]] = [
            (_ROOM_A, jnp.where(rooms.two_rooms, (door_row - 1) * rooms.width_a + beside_a, self.far)),
            (_ROOM_B, jnp.where(rooms.two_rooms, (door_row - 1) * rooms.width_b + beside_b, self.far)),
        ]

    @staticmethod
    def _pick(room, a, b):
        if isinstance(room, int):
            return a if room == _ROOM_A else b
        return jnp.where(room == _ROOM_A, a, b)

    def _taken_in(self, room) -> list[jax.Array]:
        """Indices taken in ``room`` (``far`` for entries that may lie in the other room)."""
        in_room = []
        for taken_room, index in self.taken:
            if isinstance(room, int) and isinstance(taken_room, int):
                if room == taken_room:
                    in_room.append(index)
            else:
                same = (room == taken_room) if not isinstance(room, int) else (taken_room == room)
                in_room.append(jnp.where(same, index, self.far))
        return in_room

    def place(self, room, word: jax.Array, active: Any = True) -> tuple[jax.Array, jax.Array]:
        """Take the r-th free cell of ``room``, r uniform from ``word``, by skipping the cells
        already taken; return its (row, col). An inactive entity takes no cell."""
        i32, f32 = jnp.int32, jnp.float32
        rooms = self.rooms
        width = self._pick(room, rooms.width_a, rooms.width_b)
        in_room = self._taken_in(room)
        free = width * rooms.interior - sum((index < self.far).astype(i32) for index in in_room)
        rank = _below(word, jnp.maximum(free, 1))
        index = rank
        for _ in range(len(in_room)):
            index = rank + sum((taken_index <= index).astype(i32) for taken_index in in_room)
        self.taken.append((room, jnp.where(active, index, self.far)))
        row = ((index.astype(f32) + 0.5) / width.astype(f32)).astype(i32)
        return row + 1, self._pick(room, rooms.col0_a, rooms.col0_b) + index - row * width

    def retake_last(self, use: jax.Array, index: jax.Array) -> None:
        """Where ``use``, the last placed entity takes cell ``index`` of its room instead."""
        room, last = self.taken[-1]
        self.taken[-1] = (room, jnp.where(use, index, last))


def _agent_direction(params: EnvParams, word: jax.Array, turn_word: jax.Array) -> jax.Array:
    """Uniform, except that turn never starts facing its target."""
    agent_dir = (word & 3).astype(jnp.int32)
    turned = (params.target_dir + 1 + _below(turn_word, jnp.asarray(3))) % 4
    return jnp.where(params.task_kind == TURN, turned, agent_dir)


def _step_mark(rooms: _Rooms, agent_r, agent_c, word: jax.Array, size: int):
    """Step's mark: the first in-room neighbour of the agent, from a random direction."""
    first = (word & 3).astype(jnp.int32)
    mark_r, mark_c = agent_r, agent_c
    for turn in (3, 2, 1, 0):  # the last assignment wins: try first, first+1, ...
        d_row, d_col = _dir_vector((first + turn) % 4)
        r, c = agent_r + d_row, agent_c + d_col
        ok = (r >= 1) & (r <= size - 2) & (c >= rooms.col0_a) & (c < rooms.col0_a + rooms.width_a)
        mark_r, mark_c = jnp.where(ok, r, mark_r), jnp.where(ok, c, mark_c)
    return mark_r, mark_c


def _goal(cells: _Cells, params: EnvParams, agent_r, agent_c, cell_word, mark_word, size: int):
    """The goal cell: treasure's a free cell of room A, step's the mark beside the agent,
    off the grid for the other kinds. Takes its cell."""
    rooms = cells.rooms
    goal_rule = _placement(params.task_kind, 1)
    goal_r, goal_c = cells.place(_ROOM_A, cell_word, goal_rule == _ROOM_A)
    mark_r, mark_c = _step_mark(rooms, agent_r, agent_c, mark_word, size)
    is_mark = goal_rule == _ADJACENT
    cells.retake_last(is_mark, (mark_r - 1) * rooms.width_a + mark_c - rooms.col0_a)
    has_goal = is_mark | (goal_rule == _ROOM_A)
    goal_r = jnp.where(has_goal, jnp.where(is_mark, mark_r, goal_r), _OFF_GRID)
    goal_c = jnp.where(has_goal, jnp.where(is_mark, mark_c, goal_c), _OFF_GRID)
    return goal_r, goal_c


def _object_identity(params: EnvParams, slot: int, fixed: jax.Array, word: jax.Array):
    """(type, colour) of object ``slot``: the kind's own objects first (target / key, then
    treasure's ball), then distractors, which never equal the target."""
    i32 = jnp.int32
    target_combo = (params.target_type - 1) * NUM_COLOURS + params.target_colour
    combo = _below(word, jnp.asarray(NUM_OBJECT_TYPES * NUM_COLOURS - 1))
    combo = combo + (combo >= target_combo).astype(i32)
    distractor_type = 1 + (combo * 43 >> 8)  # combo // 6 for combo < 18
    obj_t, obj_c = distractor_type, combo - (distractor_type - 1) * NUM_COLOURS
    two_rooms = params.task_kind >= UNLOCK
    if slot == 0:
        obj_t = jnp.where(fixed > 0, jnp.where(two_rooms, KEY, params.target_type), obj_t)
        obj_c = jnp.where(fixed > 0, jnp.where(two_rooms, params.door_colour, params.target_colour), obj_c)
    elif slot == 1:
        obj_t = jnp.where(fixed > 1, BALL, obj_t)
        obj_c = jnp.where(fixed > 1, params.target_colour, obj_c)
    return obj_t, obj_c


def _objects(cells: _Cells, params: EnvParams, identity_words, cell_words):
    """Every object slot's type, colour, row and column (empty slots: NO_OBJECT, off grid).
    Each active object takes its cell in the room its kind assigns it."""
    kind = params.task_kind
    fixed = (kind >= GOTO).astype(jnp.int32) + (kind == TREASURE).astype(jnp.int32)
    types, colours, rows, cols = [], [], [], []
    for slot in range(NUM_OBJECT_SLOTS):
        active = slot < fixed + params.num_distractors
        obj_t, obj_c = _object_identity(params, slot, fixed, identity_words[slot])
        r, c = cells.place(_placement(kind, 2 + slot), cell_words[slot], active)
        types.append(jnp.where(active, obj_t, NO_OBJECT))
        colours.append(jnp.where(active, obj_c, 0))
        rows.append(jnp.where(active, r, _OFF_GRID))
        cols.append(jnp.where(active, c, _OFF_GRID))
    return jnp.stack(types), jnp.stack(colours), jnp.stack(rows), jnp.stack(cols)


def layout(key: jax.Array, params: EnvParams, size: int) -> EnvState:
    """Draw a fresh episode for the task on a ``size`` x ``size`` grid: agent, goal and
    objects at distinct cells, the door locked for two-room kinds.

    Built in canonical coordinates (any wall vertical, at column ``wall_pos``) and
    transposed for a horizontal wall. No object lands next to the door, so the door stays
    reachable. Each entity takes the r-th free cell of its room, r uniform (:class:`_Cells`).
    """
    i32 = jnp.int32
    words = random_words(key, _NUM_WORDS)
    rooms = _rooms(params, size, words[0])
    cells = _Cells(rooms, params)
    agent_r, agent_c = cells.place(_ROOM_A, words[1])
    agent_dir = _agent_direction(params, words[2], words[3])
    goal_r, goal_c = _goal(cells, params, agent_r, agent_c, words[4], words[5], size)
    types, colours, rows, cols = _objects(cells, params, words[6:10], words[10:14])

    transpose = params.wall_axis == 1

    def orient(r, c):  # canonical -> actual coordinates
        return jnp.stack([jnp.where(transpose, c, r), jnp.where(transpose, r, c)], axis=-1)

    return EnvState(
        time=jnp.asarray(0, i32),
        agent_pos=orient(agent_r, agent_c),
        agent_dir=agent_dir,
        obj_type=types.astype(i32),
        obj_colour=colours.astype(i32),
        obj_pos=orient(rows, cols),
        carrying=jnp.asarray(-1, i32),
        door_state=jnp.where(rooms.two_rooms, LOCKED, OPEN).astype(i32),
        goal_pos=orient(goal_r, goal_c),
    )
