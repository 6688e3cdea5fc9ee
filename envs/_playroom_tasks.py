"""Playroom's tasks as data: the vocabulary, :class:`EnvParams`, task construction and
validation, and the task samplers.

Every sampler is a thin wrapper over one function, :func:`_draw_task`, which draws a task's
fields for a kind; the wrappers differ only in how they choose the kind (fixed, by a
categorical over a list of kinds, or over every kind). Import the names from
``bootstrap_rl.envs.playroom``; this module is its implementation (see the module docstring
there for what the tasks mean).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnax.environments import environment

from bootstrap_rl.family import kind_index, kind_step_limits, kind_weights

# The public module. Samplers report it as theirs, because study.json records a stage's
# sampler by module and name and compares it on resume: moving the code here must not change
# what studies recorded.
PUBLIC_MODULE = "bootstrap_rl.envs.playroom"

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


# --- task construction and validation (outside jit) ------------------------------------------


def _kind_index(kind: str | int) -> int:
    return kind_index(kind, TASK_KINDS)


def wall_positions(size: int) -> tuple[int, int]:
    """Inclusive range of valid ``wall_pos`` values: both rooms at least 3 cells wide."""
    return 4, size - 5


def _wall_range(size: int) -> tuple[int, int]:
    """:func:`wall_positions`, for a sampler: a grid too small for two rooms is an error."""
    low, high = wall_positions(size)
    if low > high:
        raise ValueError(f"size: {size} is too small for two rooms (need >= 9)")
    return low, high


def make_task(kind: str | int, *, size: int = 9, **fields: Any) -> EnvParams:
    """Build (and validate) the params of one task; unspecified fields get kind defaults.

    Raises ``ValueError`` naming the field when a value is invalid.
    """
    index = _kind_index(kind)
    unknown = set(fields) - set(PARAM_FIELDS)
    if unknown:
        raise ValueError(f"unknown EnvParams field(s): {sorted(unknown)}")
    defaults = {
        "max_steps_in_episode": DEFAULT_STEP_LIMITS[TASK_KINDS[index]],
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


# --- samplers (jittable, vmappable) ---------------------------------------------------------


def _draw_task(key: jax.Array, kind: jax.Array, limit: Any, wall_range: Any, size: Any) -> EnvParams:
    """The one task sampler: a task of ``kind`` (int32, possibly traced) with step limit
    ``limit``: random colours, type, direction, wall axis and position, door position and
    number of distractors. ``wall_range`` is the inclusive ``(low, high)`` of ``wall_pos``.

    Every field is drawn for every kind and the kind's own rules pick among them, so a traced
    kind costs one draw and agrees bit for bit with a fixed one.
    """
    i32 = jnp.int32
    keys = jax.random.split(key, 8)
    colour = jax.random.randint(keys[0], (), 0, NUM_COLOURS, dtype=i32)
    door_colour = jax.random.randint(keys[1], (), 0, NUM_COLOURS, dtype=i32)
    any_type = jax.random.randint(keys[2], (), KEY, BOX + 1, dtype=i32)
    fixed_type = jnp.where(kind == UNLOCK, KEY, BALL).astype(i32)
    return EnvParams(
        max_steps_in_episode=jnp.asarray(limit, i32),
        task_kind=kind,
        target_colour=jnp.where(kind == UNLOCK, door_colour, colour),
        target_type=jnp.where((kind == GOTO) | (kind == PICKUP), any_type, fixed_type),
        target_dir=jax.random.randint(keys[3], (), 0, 4, dtype=i32),
        door_colour=door_colour,
        wall_axis=jax.random.randint(keys[4], (), 0, 2, dtype=i32),
        wall_pos=jax.random.randint(keys[5], (), wall_range[0], wall_range[1] + 1, dtype=i32),
        door_pos=jax.random.randint(keys[6], (), 1, size - 1, dtype=i32),
        num_distractors=jax.random.randint(
            keys[7], (), 0, jnp.asarray(MAX_DISTRACTORS, i32)[kind] + 1, dtype=i32
        ),
    )


def sample_task(kind: str | int, *, size: int = 9, step_limit: int | None = None) -> Callable[[jax.Array], EnvParams]:
    """A sampler ``key -> EnvParams`` for one kind: random colours, types, directions,
    wall axis/position, door position and number of distractors. Jittable and vmappable."""
    index = _kind_index(kind)
    limit = DEFAULT_STEP_LIMITS[TASK_KINDS[index]] if step_limit is None else int(step_limit)
    if limit <= 0:
        raise ValueError(f"step_limit: must be positive, got {limit}")
    wall_range = _wall_range(size)

    def sampler(key: jax.Array) -> EnvParams:
        return _draw_task(key, jnp.asarray(index, jnp.int32), limit, wall_range, size)

    sampler.__name__ = f"sample_{TASK_KINDS[index]}"
    sampler.__module__ = PUBLIC_MODULE
    return sampler


TASK_SAMPLERS: dict[str, Callable[[jax.Array], EnvParams]] = {kind: sample_task(kind) for kind in TASK_KINDS}


def mixture_sampler(
    kinds: Sequence[str] | dict[str, float], *, size: int = 9
) -> Callable[[jax.Array], EnvParams]:
    """A sampler that first picks a kind (uniformly, or by the weights of a dict), then
    samples a task of it. Jittable; every kind shares one params structure.

    Its kind is a categorical over the listed kinds in their order, so its draws differ from
    :func:`task_distribution`'s for the same kinds; prefer that one for curriculum stages.
    """
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
    wall_range = _wall_range(size)
    indices = [_kind_index(kind) for kind in weights]
    kind_of_choice = jnp.asarray(indices, jnp.int32)
    limit_of_choice = jnp.asarray([DEFAULT_STEP_LIMITS[TASK_KINDS[i]] for i in indices], jnp.int32)
    logits = jnp.log(jnp.asarray([w / total for w in weights.values()], jnp.float32))

    def sampler(key: jax.Array) -> EnvParams:
        choice_key, task_key = jax.random.split(key)
        choice = jax.random.categorical(choice_key, logits)
        return _draw_task(task_key, kind_of_choice[choice], limit_of_choice[choice], wall_range, size)

    sampler.__module__ = PUBLIC_MODULE
    return sampler


def _sample_from_kinds(key: jax.Array, weights: jax.Array, step_limits: jax.Array,
                       wall_range: jax.Array, size: jax.Array) -> EnvParams:
    """One task: a kind drawn by ``weights`` (over ``TASK_KINDS``), then that kind's fields
    (the body of :func:`task_distribution`)."""
    choice_key, task_key = jax.random.split(key)
    kind = jax.random.categorical(choice_key, jnp.log(weights)).astype(jnp.int32)
    return _draw_task(task_key, kind, step_limits[kind], wall_range, size)


_sample_from_kinds.__module__ = PUBLIC_MODULE


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
    params of :class:`bootstrap_rl.wrappers.TaskSamplingEnv`. ``step_limits`` overrides
    kinds' episode limits (default ``DEFAULT_STEP_LIMITS``).
    """
    weights = kind_weights(kinds, TASK_KINDS, dtype=np.float32)
    limits = kind_step_limits(step_limits, DEFAULT_STEP_LIMITS, TASK_KINDS)
    low, high = _wall_range(size)
    return jax.tree_util.Partial(
        _sample_from_kinds,
        weights=jnp.asarray(weights),
        step_limits=jnp.asarray(limits, jnp.int32),
        wall_range=jnp.asarray([low, high], jnp.int32),
        size=jnp.asarray(size, jnp.int32),
    )


def shortest_episode(distribution: Any) -> int | None:
    """The shortest time limit among the kinds a :func:`task_distribution` can draw
    (``None`` for any other sampler)."""
    if getattr(distribution, "func", None) is not _sample_from_kinds:
        return None
    weights = np.asarray(distribution.keywords["weights"])
    limits = np.asarray(distribution.keywords["step_limits"])
    return int(limits[weights > 0].min())
