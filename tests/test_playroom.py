"""Playroom: API conformance, dynamics, layouts, validation and solvability.

Everything runs on one ``Playroom`` instance and a handful of jitted functions, compiled once
per module: every task kind goes through the same compiled step.
"""

from __future__ import annotations

import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bootstrap_rl
from bootstrap_rl.envs import playroom as pr
from bootstrap_rl.envs._playroom_planner import Unsolvable, plan

# Compilation dominates these tests: most XLA optimisations off (conftest).
pytestmark = pytest.mark.usefixtures("quick_compiles")

KINDS = pr.TASK_KINDS
BATCH = 64
OBS = pr.observation_size(5)
VIEW = 5 * 5 * pr.CELL_CHANNELS
SOLVE_N = 1000  # layouts per kind for the planner; also the batch of the layout and sampler tests
SOLVE_STEPS = max(pr.DEFAULT_STEP_LIMITS.values())


@pytest.fixture(scope="module")
def env():
    return pr.Playroom("goto")


@pytest.fixture(scope="module")
def fns(env):
    """The jitted batched functions every test shares (compiled once)."""
    return {
        "reset": jax.jit(jax.vmap(env.reset)),
        "step": jax.jit(jax.vmap(env.step)),
        "step_env": jax.jit(jax.vmap(env.step_env)),
        "observe": jax.jit(jax.vmap(env.get_obs)),
        "sample": {kind: jax.jit(jax.vmap(pr.TASK_SAMPLERS[kind])) for kind in KINDS},
    }


def keys(seed, n=BATCH):
    return jax.random.split(jax.random.key(seed), n)


def batch_of(kind, fns, seed=0, n=BATCH):
    params = fns["sample"][kind](keys(seed, n))
    obs, state = fns["reset"](keys(seed + 1, n), params)
    return params, obs, state


def unbatch(tree, i):
    return jax.tree.map(lambda x: np.asarray(x)[i], tree)


def random_walk(fns, params, state, seed, steps):
    """Random actions for `steps` steps (auto-resetting); returns the final state."""
    rng = np.random.default_rng(seed)
    for t in range(steps):
        actions = jnp.asarray(rng.integers(0, 6, size=params.task_kind.shape[0]), jnp.int32)
        _, state, *_ = fns["step"](keys(1000 * seed + t), state, actions, params)
    return state


# --- registration ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_has_an_id_that_resolves_through_both_registries(kind):
    env_id = pr.ENV_IDS[kind]
    assert env_id == f"Playroom-{kind.capitalize()}-v0"
    assert bootstrap_rl.registered_ids()[env_id] == "bootstrap_rl.envs.playroom"
    for make in (bootstrap_rl.make, gymnax.make):
        env, params = make(env_id)
        assert isinstance(env, pr.Playroom)
        assert int(params.task_kind) == KINDS.index(kind)
        assert int(params.max_steps_in_episode) == pr.DEFAULT_STEP_LIMITS[kind]
        assert env.name == env_id


# --- API conformance -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_reset_and_step_shapes_and_dtypes(env, fns, kind):
    params, obs, state = batch_of(kind, fns)
    assert env.observation_space(params).shape == (OBS,) and OBS == 407
    assert env.action_space(params).n == 6
    assert obs.shape == (BATCH, OBS) and obs.dtype == jnp.float32
    assert set(np.unique(np.asarray(obs))) <= {0.0, 1.0}
    actions = jnp.arange(BATCH, dtype=jnp.int32) % 6
    obs2, state2, reward, terminated, truncated, info = fns["step"](keys(5), state, actions, params)
    assert obs2.shape == (BATCH, OBS) and obs2.dtype == jnp.float32
    assert reward.shape == (BATCH,) and reward.dtype == jnp.float32
    assert terminated.dtype == jnp.bool_ and truncated.dtype == jnp.bool_
    assert info["final_observation"].shape == (BATCH, OBS)
    assert jnp.array_equal(info["terminated"], terminated) and jnp.array_equal(info["truncated"], truncated)
    assert jax.tree.map(jnp.shape, state2) == jax.tree.map(jnp.shape, state)
    # Unbatched single-env calls agree with the vmapped ones.
    one_obs, _, one_reward, *_ = env.step(keys(5)[3], unbatch(state, 3), actions[3], unbatch(params, 3))
    np.testing.assert_array_equal(one_obs, obs2[3])
    assert float(one_reward) == float(reward[3])


@pytest.mark.parametrize("kind", KINDS)
def test_instruction_and_proprioception_bits(fns, kind):
    params, obs, state = batch_of(kind, fns, seed=3)
    obs = np.asarray(obs)
    tail = obs[:, VIEW:]
    direction, carried = tail[:, :4], tail[:, 4:13]
    instruction = tail[:, 13:]
    np.testing.assert_array_equal(direction.argmax(1), np.asarray(state.agent_dir))
    assert direction.sum(1).tolist() == [1.0] * BATCH
    assert carried.sum() == 0  # empty hands at reset
    kind_bits, colour_bits, type_bits, dir_bits = np.split(instruction, [6, 12, 15], axis=1)
    assert (kind_bits.argmax(1) == KINDS.index(kind)).all() and (kind_bits.sum(1) == 1).all()
    if kind in ("goto", "pickup", "unlock", "treasure"):
        np.testing.assert_array_equal(colour_bits.argmax(1), np.asarray(params.target_colour))
        np.testing.assert_array_equal(type_bits.argmax(1) + 1, np.asarray(params.target_type))
    else:
        assert colour_bits.sum() == 0 and type_bits.sum() == 0
    if kind == "turn":
        np.testing.assert_array_equal(dir_bits.argmax(1), np.asarray(params.target_dir))
    else:
        assert dir_bits.sum() == 0


def expected_view(env, state, params):
    """The egocentric view computed independently: paint the full grid, pad it with wall,
    rotate it with np.rot90 so the agent faces up, and crop the window ahead of the agent."""
    size, v = env.size, env.view_size
    grid = np.zeros((size, size, pr.CELL_CHANNELS), np.float32)
    grid[0, :, 0] = grid[-1, :, 0] = grid[:, 0, 0] = grid[:, -1, 0] = 1
    kind = int(params.task_kind)
    if kind in pr.TWO_ROOM_KINDS:
        wall, door = int(params.wall_pos), int(params.door_pos)
        door_cell = (door, wall) if int(params.wall_axis) == 0 else (wall, door)
        if int(params.wall_axis) == 0:
            grid[:, wall, 0] = 1
        else:
            grid[wall, :, 0] = 1
        grid[door_cell] = 0
        grid[door_cell][1] = 1
        grid[door_cell][6 + int(params.door_colour)] = 1
        grid[door_cell][12 + int(state.door_state)] = 1
    if state.goal_pos[0] >= 0:
        grid[tuple(state.goal_pos)][5] = 1
    for kind_, colour, pos in zip(state.obj_type, state.obj_colour, state.obj_pos):
        if kind_ > 0 and pos[0] >= 0:
            grid[tuple(pos)][1 + kind_] = 1
            grid[tuple(pos)][6 + colour] = 1
    padded = np.zeros((size + 2 * v, size + 2 * v, pr.CELL_CHANNELS), np.float32)
    padded[..., 0] = 1
    padded[v:-v, v:-v] = grid
    marker = np.zeros(padded.shape[:2])
    marker[state.agent_pos[0] + v, state.agent_pos[1] + v] = 1
    turns = (int(state.agent_dir) + 1) % 4  # counter-clockwise quarter turns that make it face up
    padded, marker = np.rot90(padded, turns), np.rot90(marker, turns)
    r, c = np.argwhere(marker)[0]
    return padded[r - v + 1 : r + 1, c - v // 2 : c + v // 2 + 1]


@pytest.mark.parametrize("kind", KINDS)
def test_egocentric_view_matches_an_independent_rotation(env, fns, kind):
    params, _, state = batch_of(kind, fns, seed=11)
    state = random_walk(fns, params, state, seed=KINDS.index(kind), steps=12)
    obs = np.asarray(fns["observe"](state, params))
    for i in range(BATCH):
        s, p = unbatch(state, i), unbatch(params, i)
        view = obs[i, :VIEW].reshape(5, 5, pr.CELL_CHANNELS)
        np.testing.assert_array_equal(view, expected_view(env, s, p), err_msg=f"env {i}")


@pytest.mark.parametrize("kind", KINDS)
def test_reset_is_deterministic_per_key_and_varies_across_keys(fns, kind):
    params = fns["sample"][kind](keys(0))
    obs_a, state_a = fns["reset"](keys(1), params)
    obs_b, state_b = fns["reset"](keys(1), params)
    np.testing.assert_array_equal(obs_a, obs_b)
    jax.tree.map(np.testing.assert_array_equal, state_a, state_b)
    # The same task, different keys: different layouts.
    same_task = jax.tree.map(lambda x: jnp.broadcast_to(x[0], x.shape), params)
    _, state_c = fns["reset"](keys(2), same_task)
    layouts = {tuple(np.concatenate([s.agent_pos, [s.agent_dir], s.obj_pos.ravel()])) for s in
               (unbatch(state_c, i) for i in range(BATCH))}
    assert len(layouts) > BATCH * 0.6
    step_a = fns["step"](keys(4), state_a, jnp.full(BATCH, 2, jnp.int32), params)
    step_b = fns["step"](keys(4), state_a, jnp.full(BATCH, 2, jnp.int32), params)
    jax.tree.map(np.testing.assert_array_equal, step_a, step_b)


def test_one_compiled_step_serves_every_kind(env, fns):
    mixed = jax.vmap(pr.mixture_sampler(KINDS))(keys(7))
    assert len(set(np.asarray(mixed.task_kind).tolist())) == len(KINDS)
    obs, state = fns["reset"](keys(8), mixed)
    fns["step"](keys(9), state, jnp.zeros(BATCH, jnp.int32), mixed)
    compiled = type(env).step._cache_size()
    for kind in KINDS:
        p = fns["sample"][kind](keys(10))
        _, s = fns["reset"](keys(8), p)
        env.step(keys(1)[0], unbatch(s, 0), 2, unbatch(p, 0))
    after_one = type(env).step._cache_size()
    for kind in KINDS:  # more kinds, same shapes: no new compilation
        p = fns["sample"][kind](keys(11))
        _, s = fns["reset"](keys(8), p)
        env.step(keys(1)[0], unbatch(s, 0), 2, unbatch(p, 0))
    assert type(env).step._cache_size() == after_one <= compiled + 1


# --- rewards, termination, truncation, auto-reset --------------------------------------------


def test_success_terminates_with_minigrid_reward_and_auto_resets(env, fns):
    params, _, state = batch_of("turn", fns, seed=21)
    # Turning right from (target - 1) faces the target: success on the first step.
    state = state.replace(agent_dir=(params.target_dir + 3) % 4)
    obs, new_state, reward, terminated, truncated, info = fns["step"](
        keys(22), state, jnp.full(BATCH, pr.RIGHT, jnp.int32), params)
    assert bool(terminated.all()) and not bool(truncated.any())
    np.testing.assert_allclose(reward, 1 - 0.9 * 1 / 8, rtol=1e-6)
    assert (np.asarray(new_state.time) == 0).all()
    np.testing.assert_array_equal(obs, fns["observe"](new_state, params))
    stepped_obs, stepped_state, *_ = fns["step_env"](keys(22), state, jnp.full(BATCH, pr.RIGHT, jnp.int32), params)
    np.testing.assert_array_equal(info["final_observation"], stepped_obs)
    np.testing.assert_array_equal(stepped_state.agent_dir, params.target_dir)
    # A wrong turn is no success.
    _, _, reward, terminated, *_ = fns["step"](keys(22), state, jnp.full(BATCH, pr.LEFT, jnp.int32), params)
    assert not bool(terminated.any()) and float(jnp.abs(reward).sum()) == 0.0


@pytest.mark.parametrize("limit", [3, 5])
def test_step_limit_truncates_exactly_and_auto_resets(env, fns, limit):
    params, obs, state = batch_of("turn", fns, seed=31)
    params = params.replace(max_steps_in_episode=jnp.full(BATCH, limit, jnp.int32))
    forward = jnp.full(BATCH, pr.FORWARD, jnp.int32)  # never turns: never succeeds
    for t in range(1, limit + 1):
        stepped_obs, stepped_state, *_ = fns["step_env"](keys(t), state, forward, params)
        obs, state, reward, terminated, truncated, info = fns["step"](keys(t), state, forward, params)
        assert not bool(terminated.any()) and float(jnp.abs(reward).sum()) == 0.0
        assert bool(truncated.all()) == (t == limit) and bool(truncated.any()) == (t == limit)
    assert (np.asarray(state.time) == 0).all()
    np.testing.assert_array_equal(info["final_observation"], stepped_obs)
    np.testing.assert_array_equal(stepped_state.time, limit)
    np.testing.assert_array_equal(obs, fns["observe"](state, params))
    assert (np.asarray(state.agent_dir) != np.asarray(params.target_dir)).all()


# --- dynamics on hand-built states ------------------------------------------------------------


def hand_state(agent, direction, objects=(), carrying=-1, door=pr.LOCKED, goal=None):
    """A state with objects given as (type, colour, (row, col) or None when carried)."""
    objects = list(objects) + [(0, 0, None)] * (pr.NUM_OBJECT_SLOTS - len(objects))
    off = [pr._OFF_GRID, pr._OFF_GRID]
    return pr.EnvState(
        time=jnp.asarray(0, jnp.int32),
        agent_pos=jnp.asarray(agent, jnp.int32),
        agent_dir=jnp.asarray(direction, jnp.int32),
        obj_type=jnp.asarray([o[0] for o in objects], jnp.int32),
        obj_colour=jnp.asarray([o[1] for o in objects], jnp.int32),
        obj_pos=jnp.asarray([o[2] if o[2] is not None else off for o in objects], jnp.int32),
        carrying=jnp.asarray(carrying, jnp.int32),
        door_state=jnp.asarray(door, jnp.int32),
        goal_pos=jnp.asarray(goal if goal is not None else off, jnp.int32),
    )


@pytest.fixture(scope="module")
def transition(env):
    return jax.jit(env._transition)


# Unlock layout: a vertical wall at column 4, a blue (2) door at row 3.
UNLOCK_TASK = dict(door_colour=2, target_colour=2, wall_axis=0, wall_pos=4, door_pos=3)


def test_turning_and_walls_block_movement(transition):
    params = pr.make_task("unlock", **UNLOCK_TASK)
    state = hand_state((1, 1), 3)  # top-left corner facing north: a wall ahead
    assert int(transition(state, pr.LEFT, params)[0].agent_dir) == 2
    assert int(transition(state, pr.RIGHT, params)[0].agent_dir) == 0
    np.testing.assert_array_equal(transition(state, pr.FORWARD, params)[0].agent_pos, [1, 1])
    east = hand_state((1, 1), 0)
    np.testing.assert_array_equal(transition(east, pr.FORWARD, params)[0].agent_pos, [1, 2])
    # The inner wall blocks too, except at the door when open.
    at_wall = hand_state((2, 3), 0)
    np.testing.assert_array_equal(transition(at_wall, pr.FORWARD, params)[0].agent_pos, [2, 3])
    for door, moves in ((pr.LOCKED, False), (pr.CLOSED, False), (pr.OPEN, True)):
        at_door = hand_state((3, 3), 0, door=door)
        expected = [3, 4] if moves else [3, 3]
        np.testing.assert_array_equal(transition(at_door, pr.FORWARD, params)[0].agent_pos, expected)


def test_pickup_drop_and_objects_block(transition):
    params = pr.make_task("pickup", target_type=pr.BALL, target_colour=1)
    ball = (pr.BALL, 1, (2, 3))
    box = (pr.BOX, 4, (5, 5))
    state = hand_state((2, 2), 0, [ball, box])
    np.testing.assert_array_equal(transition(state, pr.FORWARD, params)[0].agent_pos, [2, 2])
    picked, reward, success = transition(state, pr.PICKUP_ACTION, params)
    assert int(picked.carrying) == 0 and bool(success) and float(reward) == pytest.approx(1 - 0.9 / 64)
    np.testing.assert_array_equal(picked.obj_pos[0], [pr._OFF_GRID] * 2)
    moved = transition(picked, pr.FORWARD, params)[0]  # the cell is free now
    np.testing.assert_array_equal(moved.agent_pos, [2, 3])
    dropped, _, success = transition(moved.replace(agent_dir=jnp.asarray(1)), pr.DROP, params)
    assert int(dropped.carrying) == -1 and not bool(success)
    np.testing.assert_array_equal(dropped.obj_pos[0], [3, 3])
    # No dropping into a wall; no second pickup with full hands.
    at_wall = picked.replace(agent_pos=jnp.asarray([1, 1]), agent_dir=jnp.asarray(3))
    assert int(transition(at_wall, pr.DROP, params)[0].carrying) == 0
    full = picked.replace(agent_pos=jnp.asarray([5, 4]), agent_dir=jnp.asarray(0))
    after = transition(full, pr.PICKUP_ACTION, params)[0]
    assert int(after.carrying) == 0
    np.testing.assert_array_equal(after.obj_pos[1], [5, 5])


def test_toggle_needs_the_matching_key(transition, env):
    params = pr.make_task("unlock", **UNLOCK_TASK)
    facing_door = dict(agent=(3, 3), direction=0)
    wrong_key = hand_state(**facing_door, objects=[(pr.KEY, 0, None)], carrying=0)
    assert int(transition(wrong_key, pr.TOGGLE, params)[0].door_state) == pr.LOCKED
    right_key = hand_state(**facing_door, objects=[(pr.KEY, 2, None)], carrying=0)
    opened, reward, success = transition(right_key, pr.TOGGLE, params)
    assert int(opened.door_state) == pr.OPEN and bool(success)
    assert float(reward) == pytest.approx(1 - 0.9 / 128)
    ball = hand_state(**facing_door, objects=[(pr.BALL, 2, None)], carrying=0)
    assert int(transition(ball, pr.TOGGLE, params)[0].door_state) == pr.LOCKED
    closed = hand_state(**facing_door, door=pr.CLOSED)
    assert int(transition(closed, pr.TOGGLE, params)[0].door_state) == pr.OPEN
    open_door = hand_state(**facing_door, door=pr.OPEN)
    assert int(transition(open_door, pr.TOGGLE, params)[0].door_state) == pr.CLOSED
    # Not facing the door: nothing happens.
    away = hand_state((3, 3), 2, objects=[(pr.KEY, 2, None)], carrying=0)
    assert int(transition(away, pr.TOGGLE, params)[0].door_state) == pr.LOCKED
    # The carried key shows in the observation.
    carried = np.asarray(env.get_obs(right_key, params))[VIEW + 4 : VIEW + 13]
    np.testing.assert_array_equal(np.nonzero(carried)[0], [0, 3 + 2])


def test_treasure_succeeds_only_when_the_ball_is_dropped_on_the_goal(transition):
    params = pr.make_task("treasure", target_colour=3, door_colour=1)
    objects = [(pr.KEY, 1, (6, 6)), (pr.BALL, 3, None)]
    state = hand_state((2, 2), 1, objects, carrying=1, door=pr.OPEN, goal=(3, 2))
    dropped, reward, success = transition(state.replace(time=jnp.asarray(99)), pr.DROP, params)
    assert bool(success) and float(reward) == pytest.approx(1 - 0.9 * 100 / 256)
    elsewhere, _, success = transition(state.replace(agent_dir=jnp.asarray(0)), pr.DROP, params)
    assert not bool(success)
    # Standing on the goal while holding the ball is not enough.
    on_goal = state.replace(agent_pos=jnp.asarray([2, 3]), agent_dir=jnp.asarray(2))
    assert not bool(transition(on_goal, pr.LEFT, params)[2])


# --- procedural layouts -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def layouts(fns):
    """SOLVE_N reset layouts per kind, as numpy."""
    out = {}
    for kind in KINDS:
        params, _, state = batch_of(kind, fns, seed=41, n=SOLVE_N)
        out[kind] = (jax.tree.map(np.asarray, params), jax.tree.map(np.asarray, state))
    return out


def room_of(cell, params):
    """-1 on the wall line, else 0 / 1 for the side of the wall (two-room kinds)."""
    coord = cell[1] if params.wall_axis == 0 else cell[0]
    return -1 if coord == params.wall_pos else int(coord > params.wall_pos)


@pytest.mark.parametrize("kind", KINDS)
def test_layouts_are_valid_for_their_task(env, layouts, kind):
    params, state = layouts[kind]
    size = env.size
    index = KINDS.index(kind)
    agent_cells = set()
    for i in range(len(state.time)):
        p, s = unbatch(params, i), unbatch(state, i)
        active = s.obj_type > 0
        assert active.sum() == pr.FIXED_OBJECTS[index] + p.num_distractors
        cells = [tuple(s.agent_pos)] + [tuple(c) for c in s.obj_pos[active]]
        if s.goal_pos[0] >= 0:
            cells.append(tuple(s.goal_pos))
        assert len(set(cells)) == len(cells), "entities overlap"
        for cell in cells:
            assert 1 <= cell[0] <= size - 2 and 1 <= cell[1] <= size - 2
        assert (s.obj_pos[~active] == pr._OFF_GRID).all()
        agent_cells.add(tuple(s.agent_pos))
        combos = set(zip(s.obj_type[active].tolist(), s.obj_colour[active].tolist()))
        target = (int(p.target_type), int(p.target_colour))
        first_distractor = pr.FIXED_OBJECTS[index]
        distractors = list(zip(s.obj_type[first_distractor:][active[first_distractor:]],
                               s.obj_colour[first_distractor:][active[first_distractor:]]))
        assert target not in [(int(t), int(c)) for t, c in distractors]
        if kind in ("goto", "pickup"):
            assert (int(s.obj_type[0]), int(s.obj_colour[0])) == target
        if kind == "turn":
            assert s.agent_dir != p.target_dir
        if kind == "step":
            assert abs(s.goal_pos - s.agent_pos).sum() == 1
        else:
            assert (s.goal_pos[0] >= 0) == (kind == "treasure")
        if kind in ("unlock", "treasure"):
            assert s.door_state == pr.LOCKED
            assert (int(s.obj_type[0]), int(s.obj_colour[0])) == (pr.KEY, int(p.door_colour))
            door = (p.door_pos, p.wall_pos) if p.wall_axis == 0 else (p.wall_pos, p.door_pos)
            for cell in cells:
                assert room_of(cell, p) in (0, 1), "nothing on the wall line"
                if cell != tuple(s.agent_pos):
                    assert abs(np.subtract(cell, door)).sum() > 1, "nothing beside the door"
            side = room_of(s.agent_pos, p)
            assert room_of(s.obj_pos[0], p) == side  # the key is in the agent's room
            if kind == "treasure":
                assert room_of(s.goal_pos, p) == side
                assert (int(s.obj_type[1]), int(s.obj_colour[1])) == (pr.BALL, int(p.target_colour))
                assert room_of(s.obj_pos[1], p) != side  # the ball is behind the door
        else:
            assert s.door_state == pr.OPEN
    # Positions are spread over the grid, not a few fixed cells.
    assert len(agent_cells) >= (20 if kind in ("unlock", "treasure") else 40)


# --- samplers and validation ------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_samplers_cover_their_ranges_and_validate(fns, kind):
    params = jax.tree.map(np.asarray, fns["sample"][kind](keys(51, SOLVE_N)))
    pr.validate_params(params)
    assert (params.task_kind == KINDS.index(kind)).all()
    assert (params.max_steps_in_episode == pr.DEFAULT_STEP_LIMITS[kind]).all()
    assert set(params.target_colour.tolist()) == set(range(pr.NUM_COLOURS))
    assert set(params.wall_axis.tolist()) == {0, 1}
    assert set(params.num_distractors.tolist()) == set(range(pr.MAX_DISTRACTORS[KINDS.index(kind)] + 1))
    if kind in ("goto", "pickup"):
        assert set(params.target_type.tolist()) == {pr.KEY, pr.BALL, pr.BOX}


def test_mixture_sampler_follows_its_weights():
    sampler = jax.jit(jax.vmap(pr.mixture_sampler({"turn": 3.0, "goto": 1.0, "treasure": 0.0})))
    params = jax.tree.map(np.asarray, sampler(keys(61, 4000)))
    pr.validate_params(params)
    kinds = params.task_kind
    assert set(kinds.tolist()) == {pr.TURN, pr.GOTO}
    assert abs((kinds == pr.TURN).mean() - 0.75) < 0.03
    # Each mixed-in task is a proper task of its kind.
    assert (params.max_steps_in_episode[kinds == pr.GOTO] == 64).all()
    with pytest.raises(ValueError, match="kinds"):
        pr.mixture_sampler([])
    with pytest.raises(ValueError, match="task_kind"):
        pr.mixture_sampler(["jump"])


@pytest.mark.parametrize(
    "kind, fields, bad_field",
    [
        ("goto", {"target_colour": 6}, "target_colour"),
        ("goto", {"target_colour": -1}, "target_colour"),
        ("goto", {"target_type": 0}, "target_type"),
        ("turn", {"target_dir": 4}, "target_dir"),
        ("goto", {"max_steps_in_episode": 0}, "max_steps_in_episode"),
        ("unlock", {"wall_pos": 2}, "wall_pos"),
        ("unlock", {"wall_axis": 2}, "wall_axis"),
        ("unlock", {"door_pos": 8}, "door_pos"),
        ("unlock", {"door_colour": 7}, "door_colour"),
        ("unlock", {"door_colour": 1, "target_colour": 2}, "target_colour"),
        ("treasure", {"target_type": pr.BOX}, "target_type"),
        ("treasure", {"num_distractors": 3}, "num_distractors"),
        ("goto", {"num_distractors": -1}, "num_distractors"),
        (9, {}, "task_kind"),
        ("jump", {}, "task_kind"),
    ],
)
def test_invalid_task_params_are_rejected_naming_the_field(kind, fields, bad_field):
    with pytest.raises(ValueError, match=bad_field):
        pr.make_task(kind, **fields)


def test_validation_of_batches_types_and_constructors(fns):
    params = jax.tree.map(np.asarray, fns["sample"]["goto"](keys(71, 16)))
    pr.validate_params(params)
    broken = params.replace(target_colour=params.target_colour.copy())
    broken.target_colour[5] = 9
    with pytest.raises(ValueError, match=r"target_colour: invalid value\(s\) \[9\]"):
        pr.validate_params(broken)
    with pytest.raises(ValueError, match="target_dir: must be an integer"):
        pr.validate_params(params.replace(target_dir=params.target_dir.astype(np.float32)))
    with pytest.raises(ValueError, match="unknown EnvParams field"):
        pr.make_task("goto", colour=1)
    with pytest.raises(ValueError, match="concrete"):
        jax.jit(pr.validate_params)(pr.make_task("goto"))
    with pytest.raises(ValueError, match="size"):
        pr.Playroom("goto", size=7)
    with pytest.raises(ValueError, match="view_size"):
        pr.Playroom("goto", view_size=4)
    with pytest.raises(ValueError, match="task_kind"):
        pr.Playroom("dance")
    with pytest.raises(ValueError, match="default_task"):
        pr.Playroom("goto", default_task=fns["sample"]["goto"](keys(1, 2)))
    with pytest.raises(ValueError, match="target_colour"):
        pr.Playroom("goto", default_task=pr.make_task("goto").replace(target_colour=jnp.asarray(8)))
    with pytest.raises(ValueError, match="step_limit"):
        pr.sample_task("goto", step_limit=0)
    # A bigger grid widens the valid wall positions.
    pr.make_task("unlock", size=11, wall_pos=6)
    assert pr.Playroom("treasure", size=11).observation_space().shape == (OBS,)


# --- solvability ------------------------------------------------------------------------------



@pytest.fixture(scope="module")
def execute(env):
    """Run fixed action sequences through the jitted env; report, per env, whether the first
    episode ended in success, its return, and its length."""

    def one(params, state, actions):
        def body(carry, action):
            state, finished, solved, ret, length = carry
            _, state, reward, terminated, truncated, _ = env.step(jax.random.key(0), state, action, params)
            solved = solved | (~finished & terminated)
            ret = ret + jnp.where(finished, 0.0, reward)
            length = length + (~finished).astype(jnp.int32)
            return (state, finished | terminated | truncated, solved, ret, length), None

        init = (state, jnp.asarray(False), jnp.asarray(False), jnp.asarray(0.0), jnp.asarray(0))
        (_, _, solved, ret, length), _ = jax.lax.scan(body, init, actions)
        return solved, ret, length

    return jax.jit(jax.vmap(one))


@pytest.mark.parametrize("kind", KINDS)
def test_bfs_planner_solves_sampled_layouts_within_the_step_limit(env, fns, execute, kind):
    params, _, state = batch_of(kind, fns, seed=81, n=SOLVE_N)
    p_np, s_np = jax.tree.map(np.asarray, params), jax.tree.map(np.asarray, state)
    actions = np.zeros((SOLVE_N, SOLVE_STEPS), np.int32)
    lengths = np.zeros(SOLVE_N, np.int64)
    for i in range(SOLVE_N):
        p = {name: getattr(p_np, name)[i] for name in pr.PARAM_FIELDS}
        s = {name: getattr(s_np, name)[i] for name in ("agent_pos", "agent_dir", "obj_type", "obj_pos",
                                                       "door_state", "goal_pos")}
        try:
            plan_i = plan(env.size, p, s)
        except Unsolvable:
            continue
        actions[i, : len(plan_i)] = plan_i
        lengths[i] = len(plan_i)
    solved, ret, length = jax.tree.map(np.asarray, execute(params, state, jnp.asarray(actions)))
    limit = p_np.max_steps_in_episode
    planned = lengths > 0
    assert (lengths <= limit).all()
    assert solved.mean() >= 0.99, f"{kind}: solved {solved.mean():.3f}"
    # Success comes exactly at the plan's last action, with the MiniGrid reward for its length.
    ok = solved & planned
    np.testing.assert_array_equal(length[ok], lengths[ok])
    np.testing.assert_allclose(ret[ok], 1 - 0.9 * lengths[ok] / limit[ok], rtol=1e-5)
    assert (ret[~solved] == 0).all()


@pytest.mark.parametrize("kind", KINDS)
def test_the_one_success_test_holds_exactly_at_a_planned_episodes_last_action(env, fns, transition, kind):
    """``pr.solved`` is Playroom's only success test: a step's success (what terminates and
    pays) and ``is_terminated`` are it, and the planner's episodes first satisfy it at their
    last action."""
    solved = jax.jit(pr.solved)
    params, _, state = batch_of(kind, fns, seed=91, n=8)
    planned = 0
    for i in range(8):
        p, s = unbatch(params, i), unbatch(state, i)
        try:
            actions = plan(env.size, {n: getattr(p, n) for n in pr.PARAM_FIELDS},
                           {n: getattr(s, n) for n in ("agent_pos", "agent_dir", "obj_type", "obj_pos",
                                                       "door_state", "goal_pos")})
        except Unsolvable:
            continue
        planned += 1
        for t, action in enumerate(actions):
            s, reward, success = transition(s, action, p)
            last = t == len(actions) - 1
            assert bool(success) == bool(solved(s, p)) == last, f"{kind} layout {i}, action {t}"
            assert (float(reward) > 0) == last
        assert bool(env.is_terminated(s, p))
    assert planned >= 6
