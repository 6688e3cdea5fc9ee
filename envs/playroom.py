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
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnax.environments import environment, spaces

from bootstrap_rl.registry import register

# --- vocabulary ---------------------------------------------------------------------------

TASK_KINDS: tuple[str, ...] = ("turn", "step", "goto", "pickup", "unlock", "treasure")
TURN, STEP, GOTO, PICKUP, UNLOCK, TREASURE = range(6)
ENV_IDS: dict[str, str] = {kind: f"Playroom-{kind.capitalize()}-v0" for kind in TASK_KINDS}

ACTIONS: tuple[str, ...] = ("left", "right", "forward", "pickup", "drop", "toggle")
LEFT, RIGHT, FORWARD, PICKUP_ACTION, DROP, TOGGLE = range(6)

OBJECT_TYPES: tuple[str, ...] = ("none", "key", "ball", "box")
NO_OBJECT, KEY, BALL, BOX = range(4)
NUM_OBJECT_TYPES = 3  # key, ball, box

COLOURS: tuple[str, ...] = ("red", "green", "blue", "purple", "yellow", "grey")
NUM_COLOURS = len(COLOURS)

DOOR_STATES: tuple[str, ...] = ("open", "closed", "locked")
OPEN, CLOSED, LOCKED = range(3)

DIRECTIONS: tuple[str, ...] = ("east", "south", "west", "north")
# (row, col) displacement of one step forward, per direction.
DIR_VECTORS = np.array([[0, 1], [1, 0], [0, -1], [-1, 0]], dtype=np.int32)

DEFAULT_STEP_LIMITS: dict[str, int] = {
    "turn": 8, "step": 16, "goto": 64, "pickup": 64, "unlock": 128, "treasure": 256,
}

NUM_OBJECT_SLOTS = 4
# Objects a kind always places (slot 0 target / key, slot 1 treasure ball); the remaining
# slots hold up to `num_distractors` distractors.
FIXED_OBJECTS = np.array([0, 0, 1, 1, 1, 2], dtype=np.int32)
MAX_DISTRACTORS = NUM_OBJECT_SLOTS - FIXED_OBJECTS
TWO_ROOM_KINDS = (UNLOCK, TREASURE)

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

CELL_CHANNELS = 15  # wall door key ball box | goal | 6 colours | open closed locked
INSTRUCTION_SIZE = len(TASK_KINDS) + NUM_COLOURS + NUM_OBJECT_TYPES + 4
_OFF_GRID = -100  # position of carried / absent objects and of a missing goal


def observation_size(view_size: int = 5) -> int:
    """Length of the flat observation vector for a given view size."""
    return view_size * view_size * CELL_CHANNELS + 4 + NUM_OBJECT_TYPES + NUM_COLOURS + INSTRUCTION_SIZE


# --- data -----------------------------------------------------------------------------------


@struct.dataclass
class EnvParams(environment.EnvParams):
    """One Playroom task. Every field is an int32 array (scalar, or batched for vmap).

    ``target_colour``/``target_type`` name the object for goto and pickup, the key for unlock
    (colour = ``door_colour``, type = key) and the ball for treasure (type = ball).
    ``target_dir`` is used by turn. ``wall_axis`` (0: vertical wall at column ``wall_pos``,
    1: horizontal wall at row ``wall_pos``) and ``door_pos`` (the door's row or column along
    the wall) shape the two-room kinds and are ignored by one-room kinds.
    """

    max_steps_in_episode: jax.Array = 64
    task_kind: jax.Array = GOTO
    target_colour: jax.Array = 0
    target_type: jax.Array = BALL
    target_dir: jax.Array = 0
    door_colour: jax.Array = 0
    wall_axis: jax.Array = 0
    wall_pos: jax.Array = 4
    door_pos: jax.Array = 4
    num_distractors: jax.Array = 0


PARAM_FIELDS: tuple[str, ...] = (
    "max_steps_in_episode", "task_kind", "target_colour", "target_type", "target_dir",
    "door_colour", "wall_axis", "wall_pos", "door_pos", "num_distractors",
)


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


# --- task construction and validation (outside jit) ------------------------------------------


def _kind_index(kind: str | int) -> int:
    if isinstance(kind, str):
        if kind not in TASK_KINDS:
            raise ValueError(f"task_kind: unknown kind {kind!r}; expected one of {TASK_KINDS}")
        return TASK_KINDS.index(kind)
    return int(kind)


def wall_positions(size: int) -> tuple[int, int]:
    """Inclusive range of valid ``wall_pos`` values: both rooms at least 3 cells wide."""
    return 4, size - 5


def make_task(kind: str | int, *, size: int = 9, **fields: Any) -> EnvParams:
    """Build (and validate) the params of one task; unspecified fields get kind defaults.

    Raises ``ValueError`` naming the field when a value is invalid.
    """
    index = _kind_index(kind)
    unknown = set(fields) - set(PARAM_FIELDS)
    if unknown:
        raise ValueError(f"unknown EnvParams field(s): {sorted(unknown)}")
    name = TASK_KINDS[index] if 0 <= index < len(TASK_KINDS) else "goto"
    defaults = {
        "max_steps_in_episode": DEFAULT_STEP_LIMITS[name],
        "task_kind": index,
        "target_colour": 0,
        "target_type": KEY if index == UNLOCK else BALL,
        "target_dir": 0,
        "door_colour": fields.get("target_colour", 0) if index == UNLOCK else 2,
        "wall_axis": 0,
        "wall_pos": size // 2,
        "door_pos": size // 2,
        "num_distractors": 0,
    }
    defaults.update(fields)
    params = EnvParams(**{key: jnp.asarray(value, dtype=jnp.int32) for key, value in defaults.items()})
    validate_params(params, size=size)
    return params


def validate_params(params: EnvParams, *, size: int = 9) -> EnvParams:
    """Check concrete (possibly batched) params; raise ``ValueError`` naming the bad field.

    Call it outside jit: it reads the values back to the host.
    """
    if not isinstance(params, EnvParams):
        raise ValueError(f"params must be playroom.EnvParams, got {type(params).__name__}")
    try:
        values = {name: np.asarray(getattr(params, name)) for name in PARAM_FIELDS}
    except jax.errors.TracerArrayConversionError as error:
        raise ValueError("validate_params needs concrete params; call it outside jit") from error
    shapes = {value.shape for value in values.values()}
    if len(shapes) != 1:
        raise ValueError(f"EnvParams fields must share one (batch) shape, got {shapes}")
    for name, value in values.items():
        if not np.issubdtype(value.dtype, np.integer):
            raise ValueError(f"{name}: must be an integer array, got dtype {value.dtype}")

    def check(name: str, ok: np.ndarray, expected: str) -> None:
        ok = np.asarray(ok)
        if not ok.all():
            bad = values[name][~ok] if values[name].shape == ok.shape else values[name]
            raise ValueError(f"{name}: invalid value(s) {np.unique(bad).tolist()}; expected {expected}")

    kind = values["task_kind"]
    check("task_kind", (kind >= 0) & (kind < len(TASK_KINDS)), f"0..{len(TASK_KINDS) - 1} {TASK_KINDS}")
    check("max_steps_in_episode", values["max_steps_in_episode"] > 0, "a positive step limit")
    check("target_colour", (values["target_colour"] >= 0) & (values["target_colour"] < NUM_COLOURS),
          f"0..{NUM_COLOURS - 1} {COLOURS}")
    check("door_colour", (values["door_colour"] >= 0) & (values["door_colour"] < NUM_COLOURS),
          f"0..{NUM_COLOURS - 1} {COLOURS}")
    check("target_type", (values["target_type"] >= KEY) & (values["target_type"] <= BOX),
          "1 (key), 2 (ball) or 3 (box)")
    check("target_dir", (values["target_dir"] >= 0) & (values["target_dir"] < 4), "0..3 (east south west north)")
    check("wall_axis", (values["wall_axis"] == 0) | (values["wall_axis"] == 1), "0 (vertical) or 1 (horizontal)")
    low, high = wall_positions(size)
    check("wall_pos", (values["wall_pos"] >= low) & (values["wall_pos"] <= high),
          f"{low}..{high} for a {size}x{size} grid (both rooms at least 3 wide)")
    check("door_pos", (values["door_pos"] >= 1) & (values["door_pos"] <= size - 2), f"1..{size - 2}")
    max_distractors = MAX_DISTRACTORS[np.clip(kind, 0, len(TASK_KINDS) - 1)]
    check("num_distractors", (values["num_distractors"] >= 0) & (values["num_distractors"] <= max_distractors),
          f"0..{NUM_OBJECT_SLOTS} minus the kind's own objects {dict(zip(TASK_KINDS, MAX_DISTRACTORS.tolist()))}")
    unlock = kind == UNLOCK
    check("target_colour", ~unlock | (values["target_colour"] == values["door_colour"]),
          "unlock names the key: target_colour == door_colour")
    check("target_type", ~unlock | (values["target_type"] == KEY), "unlock names the key: target_type == 1 (key)")
    check("target_type", (kind != TREASURE) | (values["target_type"] == BALL), "treasure fetches a ball: target_type == 2")
    return params


# --- samplers -------------------------------------------------------------------------------


def sample_task(kind: str | int, *, size: int = 9, step_limit: int | None = None) -> Callable[[jax.Array], EnvParams]:
    """A sampler ``key -> EnvParams`` for one kind: random colours, types, directions,
    wall axis/position, door position and number of distractors. Jittable and vmappable."""
    index = _kind_index(kind)
    if not 0 <= index < len(TASK_KINDS):
        raise ValueError(f"task_kind: unknown kind {kind!r}")
    limit = DEFAULT_STEP_LIMITS[TASK_KINDS[index]] if step_limit is None else int(step_limit)
    if limit <= 0:
        raise ValueError(f"step_limit: must be positive, got {limit}")
    low, high = wall_positions(size)
    if low > high:
        raise ValueError(f"size: {size} is too small for two rooms (need >= 9)")

    def sampler(key: jax.Array) -> EnvParams:
        keys = jax.random.split(key, 8)
        i32 = jnp.int32
        colour = jax.random.randint(keys[0], (), 0, NUM_COLOURS, dtype=i32)
        door_colour = jax.random.randint(keys[1], (), 0, NUM_COLOURS, dtype=i32)
        if index in (GOTO, PICKUP):
            target_type = jax.random.randint(keys[2], (), KEY, BOX + 1, dtype=i32)
        else:
            target_type = jnp.asarray(KEY if index == UNLOCK else BALL, i32)
        if index == UNLOCK:
            colour = door_colour
        return EnvParams(
            max_steps_in_episode=jnp.asarray(limit, i32),
            task_kind=jnp.asarray(index, i32),
            target_colour=colour,
            target_type=target_type,
            target_dir=jax.random.randint(keys[3], (), 0, 4, dtype=i32),
            door_colour=door_colour,
            wall_axis=jax.random.randint(keys[4], (), 0, 2, dtype=i32),
            wall_pos=jax.random.randint(keys[5], (), low, high + 1, dtype=i32),
            door_pos=jax.random.randint(keys[6], (), 1, size - 1, dtype=i32),
            num_distractors=jax.random.randint(keys[7], (), 0, int(MAX_DISTRACTORS[index]) + 1, dtype=i32),
        )

    sampler.__name__ = f"sample_{TASK_KINDS[index]}"
    return sampler


TASK_SAMPLERS: dict[str, Callable[[jax.Array], EnvParams]] = {kind: sample_task(kind) for kind in TASK_KINDS}


def mixture_sampler(
    kinds: Sequence[str] | dict[str, float], *, size: int = 9
) -> Callable[[jax.Array], EnvParams]:
    """A sampler that first picks a kind (uniformly, or by the weights of a dict), then
    samples a task of it. Jittable; every kind shares one params structure."""
    weights = dict(kinds) if isinstance(kinds, dict) else {kind: 1.0 for kind in kinds}
    if not weights:
        raise ValueError("kinds: need at least one task kind")
    for kind, weight in weights.items():
        _kind_index(kind)
        if not weight >= 0:
            raise ValueError(f"kinds: weight of {kind!r} must be >= 0, got {weight}")
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("kinds: weights must not all be zero")
    samplers = [sample_task(kind, size=size) for kind in weights]
    logits = jnp.log(jnp.asarray([w / total for w in weights.values()], jnp.float32))

    def sampler(key: jax.Array) -> EnvParams:
        choice_key, task_key = jax.random.split(key)
        choice = jax.random.categorical(choice_key, logits)
        candidates = [s(task_key) for s in samplers]
        return jax.tree.map(lambda *leaves: jnp.stack(leaves)[choice], *candidates)

    return sampler


def _sample_from_kinds(key: jax.Array, weights: jax.Array, step_limits: jax.Array,
                       wall_range: jax.Array, size: jax.Array) -> EnvParams:
    """One task: a kind drawn by ``weights``, then that kind's fields, all with traced values
    (the body of :func:`task_distribution`; one sampler's worth of work per draw)."""
    i32 = jnp.int32
    choice_key, task_key = jax.random.split(key)
    kind = jax.random.categorical(choice_key, jnp.log(weights)).astype(i32)
    keys = jax.random.split(task_key, 8)  # used as in sample_task: one-hot weights agree with it
    colour = jax.random.randint(keys[0], (), 0, NUM_COLOURS, dtype=i32)
    door_colour = jax.random.randint(keys[1], (), 0, NUM_COLOURS, dtype=i32)
    any_type = jax.random.randint(keys[2], (), KEY, BOX + 1, dtype=i32)
    fixed_type = jnp.where(kind == UNLOCK, KEY, BALL).astype(i32)
    target_type = jnp.where((kind == GOTO) | (kind == PICKUP), any_type, fixed_type)
    return EnvParams(
        max_steps_in_episode=step_limits[kind].astype(i32),
        task_kind=kind,
        target_colour=jnp.where(kind == UNLOCK, door_colour, colour),
        target_type=target_type,
        target_dir=jax.random.randint(keys[3], (), 0, 4, dtype=i32),
        door_colour=door_colour,
        wall_axis=jax.random.randint(keys[4], (), 0, 2, dtype=i32),
        wall_pos=jax.random.randint(keys[5], (), wall_range[0], wall_range[1] + 1, dtype=i32),
        door_pos=jax.random.randint(keys[6], (), 1, size - 1, dtype=i32),
        num_distractors=jax.random.randint(
            keys[7], (), 0, jnp.asarray(MAX_DISTRACTORS, i32)[kind] + 1, dtype=i32
        ),
    )


def task_distribution(
    kinds: str | Sequence[str] | dict[str, float],
    *,
    size: int = 9,
    step_limits: dict[str, int] | None = None,
) -> jax.tree_util.Partial:
    """A stage's task distribution as data: ``key -> EnvParams`` that picks a kind by weight
    (uniform over a list; one kind for a string), then samples a task of it.

    Every distribution this returns is the same function with other arrays (kind weights, step
    limits), so curriculum stages built from it share one compiled program; pass it as the
    params of :class:`bootstrap_rl.wrappers.TaskDistribution`. ``step_limits`` overrides
    kinds' episode limits (default ``DEFAULT_STEP_LIMITS``).
    """
    if isinstance(kinds, str):
        kinds = [kinds]
    weights = dict(kinds) if isinstance(kinds, dict) else {kind: 1.0 for kind in kinds}
    if not weights:
        raise ValueError("kinds: need at least one task kind")
    vector = np.zeros(len(TASK_KINDS), np.float32)
    for kind, weight in weights.items():
        if not isinstance(weight, (int, float)) or not weight >= 0 or not np.isfinite(weight):
            raise ValueError(f"kinds: weight of {kind!r} must be a finite number >= 0, got {weight!r}")
        vector[_kind_index(kind)] += weight
    if vector.sum() <= 0:
        raise ValueError("kinds: weights must not all be zero")
    limits = dict(DEFAULT_STEP_LIMITS)
    for kind, limit in (step_limits or {}).items():
        _kind_index(kind)
        if int(limit) != limit or limit < 1:
            raise ValueError(f"step_limits: limit of {kind!r} must be a positive integer, got {limit!r}")
        limits[kind] = int(limit)
    low, high = wall_positions(size)
    if low > high:
        raise ValueError(f"size: {size} is too small for two rooms (need >= 9)")
    return jax.tree_util.Partial(
        _sample_from_kinds,
        weights=jnp.asarray(vector / vector.sum()),
        step_limits=jnp.asarray([limits[k] for k in TASK_KINDS], jnp.int32),
        wall_range=jnp.asarray([low, high], jnp.int32),
        size=jnp.asarray(size, jnp.int32),
    )


def describe_task(params: EnvParams) -> str:
    """A one-line English description of (concrete, unbatched) params, for captions."""
    kind = int(params.task_kind)
    colour = COLOURS[int(params.target_colour)]
    obj = OBJECT_TYPES[int(params.target_type)]
    door = COLOURS[int(params.door_colour)]
    return {
        TURN: f"turn: face {DIRECTIONS[int(params.target_dir)]}",
        STEP: "step: stand on the marked cell",
        GOTO: f"goto: go to the {colour} {obj}",
        PICKUP: f"pickup: pick up the {colour} {obj}",
        UNLOCK: f"unlock: open the {door} door",
        TREASURE: f"treasure: bring the {colour} ball to the goal (door: {door})",
    }[kind]


# --- the environment ------------------------------------------------------------------------


def _hash32(x: jax.Array) -> jax.Array:
    """murmur3's 32-bit finaliser: a cheap, well-mixed integer hash."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x85EBCA6B)
    x = x ^ (x >> 13)
    x = x * jnp.uint32(0xC2B2AE35)
    return x ^ (x >> 16)


def _random_words(key: jax.Array, count: int) -> jax.Array:
    """``count`` pseudo-random uint32 words from a key (raw uint32 or typed)."""
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    words = key.reshape(-1).astype(jnp.uint32)
    seed = _hash32(words[0] ^ _hash32(words[-1] + jnp.uint32(0x9E3779B9)))
    counters = jnp.arange(count, dtype=jnp.uint32) * jnp.uint32(0x9E3779B9)
    return _hash32(seed + counters)


def _below(word: jax.Array, bound: jax.Array) -> jax.Array:
    """An integer in [0, bound) from the high 16 bits of a random word (bias < 2^-10)."""
    return (((word >> 16) * bound.astype(jnp.uint32)) >> 16).astype(jnp.int32)


def _dir_vector(direction: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(row, col) step of a direction, by arithmetic rather than a table gather."""
    d_row = (direction == 1).astype(jnp.int32) - (direction == 3).astype(jnp.int32)
    d_col = (direction == 0).astype(jnp.int32) - (direction == 2).astype(jnp.int32)
    return d_row, d_col


def _one_hot(index: jax.Array, n: int) -> jax.Array:
    """Bool one-hot of an int scalar; all False when index is out of range (e.g. -1)."""
    return index == jnp.arange(n, dtype=index.dtype)


class Playroom(environment.Environment[EnvState, EnvParams]):
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
        if getattr(distribution, "func", None) is not _sample_from_kinds:
            return None
        weights = np.asarray(distribution.keywords["weights"])
        limits = np.asarray(distribution.keywords["step_limits"])
        return int(limits[weights > 0].min())

    def validate_params(self, params: EnvParams) -> EnvParams:
        """Raise ``ValueError`` naming the field if concrete params are not a valid task."""
        return validate_params(params, size=self.size)

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
        new_front = new_pos + dirs[new_dir]
        kind = params.task_kind
        success = (
            ((kind == TURN) & (new_dir == params.target_dir))
            | ((kind == STEP) & jnp.all(new_pos == state.goal_pos))
            | ((kind == GOTO) & jnp.all(obj_pos[0] == new_front))
            | ((kind == PICKUP) & (carrying == 0))
            | ((kind == UNLOCK) & (door_state == OPEN))
            | ((kind == TREASURE) & jnp.all(obj_pos[1] == state.goal_pos))
        )
        limit = params.max_steps_in_episode
        reward = jnp.where(success, 1.0 - 0.9 * time.astype(jnp.float32) / limit.astype(jnp.float32), 0.0)
        next_state = state.replace(time=time, agent_pos=new_pos, agent_dir=new_dir, obj_pos=obj_pos,
                                   carrying=carrying, door_state=door_state)
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
        return self._solved(state, params)

    def _solved(self, state: EnvState, params: EnvParams) -> jax.Array:
        """Whether a state satisfies its task (independent of the last action)."""
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

    # --- procedural layout ---

    def reset_env(self, key: jax.Array, params: EnvParams) -> tuple[jax.Array, EnvState]:
        state = self._layout(key, params)
        return self._observe(state, params), state

    def _layout(self, key: jax.Array, params: EnvParams) -> EnvState:
        """Draw a fresh episode for the task: agent, goal and objects at distinct cells.

        Built in canonical coordinates (any wall vertical, at column ``wall_pos``) and
        transposed for a horizontal wall. No object lands next to the door, so the door
        stays reachable. Each entity takes the r-th free cell of its room, r uniform, by
        skipping the cells already taken; everything is elementwise (no gathers, no integer
        division), because auto-reset runs this on every step.
        """
        i32, f32 = jnp.int32, jnp.float32
        size = self.size
        kind = params.task_kind
        two_rooms = kind >= UNLOCK
        words = _random_words(key, 14)

        def by_kind(column: int):
            """Entry of _PLACEMENT for this task's kind (static when all kinds agree)."""
            values = _PLACEMENT[:, column]
            if (values == values[0]).all():
                return int(values[0])
            out = jnp.asarray(int(values[0]), i32)
            for k in range(1, len(TASK_KINDS)):
                out = jnp.where(kind == k, int(values[k]), out)
            return out

        # Room geometry (rows 1..size-2 always); room A is the agent's.
        wall, door_row = params.wall_pos, params.door_pos
        agent_left = (words[0] & 1) == 0
        interior = size - 2
        left_width, right_width = wall - 1, size - 2 - wall
        col0_a = jnp.where(two_rooms & ~agent_left, wall + 1, 1)
        width_a = jnp.where(two_rooms, jnp.where(agent_left, left_width, right_width), interior)
        col0_b = jnp.where(agent_left, wall + 1, 1)
        width_b = jnp.where(agent_left, right_width, left_width)

        def pick(room, a, b):
            if isinstance(room, int):
                return a if room == _ROOM_A else b
            return jnp.where(room == _ROOM_A, a, b)

        # Taken cells as (room, index in room); the cells beside the door start taken.
        far = jnp.asarray(1 << 20, i32)  # never <= a real index: an unused entry
        beside_a = jnp.where(agent_left, wall - 1, wall + 1) - col0_a
        beside_b = jnp.where(agent_left, wall + 1, wall - 1) - col0_b
        taken: list[tuple[Any, jax.Array]] = [
            (_ROOM_A, jnp.where(two_rooms, (door_row - 1) * width_a + beside_a, far)),
            (_ROOM_B, jnp.where(two_rooms, (door_row - 1) * width_b + beside_b, far)),
        ]

        def place(room, word, active=True):
            width = pick(room, width_a, width_b)
            in_room = []
            for taken_room, index in taken:
                if isinstance(room, int) and isinstance(taken_room, int):
                    if room == taken_room:
                        in_room.append(index)
                else:
                    same = (room == taken_room) if not isinstance(room, int) else (taken_room == room)
                    in_room.append(jnp.where(same, index, far))
            free = width * interior - sum((index < far).astype(i32) for index in in_room)
            rank = _below(word, jnp.maximum(free, 1))
            index = rank
            for _ in range(len(in_room)):
                index = rank + sum((taken_index <= index).astype(i32) for taken_index in in_room)
            taken.append((room, jnp.where(active, index, far)))
            row = ((index.astype(f32) + 0.5) / width.astype(f32)).astype(i32)
            return row + 1, pick(room, col0_a, col0_b) + index - row * width

        agent_r, agent_c = place(_ROOM_A, words[1])
        agent_dir = (words[2] & 3).astype(i32)
        agent_dir = jnp.where(kind == TURN, (params.target_dir + 1 + _below(words[3], jnp.asarray(3))) % 4, agent_dir)

        goal_rule = by_kind(1)
        # Treasure's goal: a free cell of room A.
        goal_r, goal_c = place(_ROOM_A, words[4], goal_rule == _ROOM_A)
        # Step's mark: the first in-room neighbour of the agent, from a random direction.
        first = (words[5] & 3).astype(i32)
        mark_r, mark_c = agent_r, agent_c
        for turn in (3, 2, 1, 0):  # the last assignment wins: try first, first+1, ...
            d_row, d_col = _dir_vector((first + turn) % 4)
            r, c = agent_r + d_row, agent_c + d_col
            ok = (r >= 1) & (r <= size - 2) & (c >= col0_a) & (c < col0_a + width_a)
            mark_r, mark_c = jnp.where(ok, r, mark_r), jnp.where(ok, c, mark_c)
        is_mark = goal_rule == _ADJACENT
        room, index = taken[-1]
        taken[-1] = (room, jnp.where(is_mark, (mark_r - 1) * width_a + mark_c - col0_a, index))
        has_goal = is_mark | (goal_rule == _ROOM_A)
        goal_r = jnp.where(has_goal, jnp.where(is_mark, mark_r, goal_r), _OFF_GRID)
        goal_c = jnp.where(has_goal, jnp.where(is_mark, mark_c, goal_c), _OFF_GRID)

        # Objects: the kind's own first (target / key, treasure ball), then distractors.
        fixed = (kind >= GOTO).astype(i32) + (kind == TREASURE).astype(i32)
        target_combo = (params.target_type - 1) * NUM_COLOURS + params.target_colour
        types, colours, rows, cols = [], [], [], []
        for slot in range(NUM_OBJECT_SLOTS):
            active = slot < fixed + params.num_distractors
            combo = _below(words[6 + slot], jnp.asarray(NUM_OBJECT_TYPES * NUM_COLOURS - 1))
            combo = combo + (combo >= target_combo).astype(i32)  # distractors never equal the target
            distractor_type = 1 + (combo * 43 >> 8)  # combo // 6 for combo < 18
            obj_t, obj_c = distractor_type, combo - (distractor_type - 1) * NUM_COLOURS
            if slot == 0:
                obj_t = jnp.where(fixed > 0, jnp.where(two_rooms, KEY, params.target_type), obj_t)
                obj_c = jnp.where(fixed > 0, jnp.where(two_rooms, params.door_colour, params.target_colour), obj_c)
            elif slot == 1:
                obj_t = jnp.where(fixed > 1, BALL, obj_t)
                obj_c = jnp.where(fixed > 1, params.target_colour, obj_c)
            r, c = place(by_kind(2 + slot), words[10 + slot], active)
            types.append(jnp.where(active, obj_t, NO_OBJECT))
            colours.append(jnp.where(active, obj_c, 0))
            rows.append(jnp.where(active, r, _OFF_GRID))
            cols.append(jnp.where(active, c, _OFF_GRID))

        transpose = params.wall_axis == 1

        def orient(r, c):  # canonical -> actual coordinates
            return jnp.stack([jnp.where(transpose, c, r), jnp.where(transpose, r, c)], axis=-1)

        return EnvState(
            time=jnp.asarray(0, i32),
            agent_pos=orient(agent_r, agent_c),
            agent_dir=agent_dir,
            obj_type=jnp.stack(types).astype(i32),
            obj_colour=jnp.stack(colours).astype(i32),
            obj_pos=orient(jnp.stack(rows), jnp.stack(cols)),
            carrying=jnp.asarray(-1, i32),
            door_state=jnp.where(two_rooms, LOCKED, OPEN).astype(i32),
            goal_pos=orient(goal_r, goal_c),
        )

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


def _factory(kind: str) -> Callable[..., Playroom]:
    def make_playroom(**kwargs: Any) -> Playroom:
        return Playroom(kind, **kwargs)

    make_playroom.__name__ = f"make_playroom_{kind}"
    make_playroom.__module__ = __name__
    return make_playroom


_FACTORIES = {kind: _factory(kind) for kind in TASK_KINDS}
for _kind, _env_id in ENV_IDS.items():
    register(_env_id, _FACTORIES[_kind], origin=__name__)
