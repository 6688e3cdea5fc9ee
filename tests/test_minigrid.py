"""MiniGrid (XLand-MiniGrid adapter): the gymnax 1.x contract, tasks as data, XLand-MiniGrid's
own layouts and dynamics reproduced exactly, hand-checked steps, the curriculum.

One ``MiniGrid`` instance and a few jitted batched functions, compiled once per module: every
kind goes through the same compiled step.
"""

from __future__ import annotations

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from xminigrid.core.constants import NUM_COLORS, NUM_TILES, Tiles

import bootstrap_rl
from bootstrap_rl import curriculum as cu
from bootstrap_rl.envs import minigrid as mg
from bootstrap_rl.family import is_task_family

pytestmark = pytest.mark.usefixtures("quick_compiles")  # compiling is what these tests cost

KINDS = mg.TASK_KINDS
CELL = NUM_TILES + NUM_COLORS
VIEW_CELLS = mg.VIEW * mg.VIEW


@pytest.fixture(scope="module")
def env():
    return mg.MiniGrid("empty")


@pytest.fixture(scope="module")
def fns(env):
    """Batched reset and step (every test batches ``N_PER_KIND`` episodes of each kind: one
    compile each), and the unbatched step."""
    return {"reset": jax.jit(jax.vmap(env.reset)), "step": jax.jit(jax.vmap(env.step)), "step1": jax.jit(env.step)}


N_PER_KIND = 4


def keys(seed, n):
    return jax.random.split(jax.random.key(seed), n)


def every_kind(n_per_kind=N_PER_KIND):
    """Params of every kind, ``n_per_kind`` each, batched."""
    kinds = np.repeat(np.arange(len(KINDS), dtype=np.int32), n_per_kind)
    limits = np.asarray([mg.DEFAULT_STEP_LIMITS[k] for k in KINDS], np.int32)[kinds]
    return mg.EnvParams(max_steps_in_episode=jnp.asarray(limits), kind=jnp.asarray(kinds))


def cell(obs, ahead, right):
    """(tile, colour) of the view cell ``ahead`` cells in front and ``right`` to the right of
    the agent, decoded from a flat observation (the agent is at the bottom centre, looking up)."""
    view = np.asarray(obs)[: VIEW_CELLS * CELL].reshape(mg.VIEW, mg.VIEW, CELL)
    c = view[mg.VIEW - 1 - ahead, mg.VIEW // 2 + right]
    assert c[:NUM_TILES].sum() == 1 and c[NUM_TILES:].sum() == 1  # one-hot
    return int(c[:NUM_TILES].argmax()), int(c[NUM_TILES:].argmax())


def direction(obs):
    d = np.asarray(obs)[VIEW_CELLS * CELL: VIEW_CELLS * CELL + 4]
    assert d.sum() == 1
    return int(d.argmax())


def test_every_kind_has_an_id_listed_and_resolving():
    ids = bootstrap_rl.registered_ids()
    for kind in KINDS:
        assert ids[mg.ENV_IDS[kind]] == "bootstrap_rl.envs.minigrid"
        env, params = bootstrap_rl.make(mg.ENV_IDS[kind])
        assert is_task_family(env) and env.name == mg.ENV_IDS[kind]
        assert int(params.kind) == KINDS.index(kind)


def test_reset_and_step_shapes_dtypes_and_the_gymnax_tuple(env, fns):
    params = every_kind()
    n = params.kind.shape[0]
    obs, state = fns["reset"](keys(0, n), params)
    assert obs.shape == (n, mg.OBS_SIZE) == (n, env.observation_space().shape[0]) and obs.dtype == jnp.float32
    assert state.grid.shape == (n, *mg.CANVAS, 2) and np.all(np.asarray(state.time) == 0)
    out = fns["step"](keys(1, n), state, jnp.zeros(n, jnp.int32), params)
    assert len(out) == 6
    obs2, _, reward, terminated, truncated, info = out
    assert obs2.shape == obs.shape and reward.dtype == jnp.float32
    assert terminated.dtype == truncated.dtype == jnp.bool_
    assert set(info) == {"terminated", "truncated", "final_observation"}
    assert info["final_observation"].shape == obs.shape
    assert env.action_space().n == 6 and env.num_actions == 6
    # Every observation: one-hot cells, one direction, one carried tile and colour, one kind.
    kinds = np.asarray(obs)[:, -len(KINDS):]
    np.testing.assert_array_equal(kinds.argmax(1), np.asarray(params.kind))
    assert np.all(kinds.sum(1) == 1)


def test_layouts_are_xland_minigrids_own_padded_with_wall(fns):
    """The reset of kind k with key K is XLand-MiniGrid's ``reset`` of that environment at its
    native size with K (its grid top-left, wall beyond), so the worlds are the peer's."""
    params = every_kind()
    n = params.kind.shape[0]
    ks = keys(7, n)
    _, state = fns["reset"](ks, params)
    for kind in KINDS:
        _, env_class, h, w = mg._KINDS[kind]
        mine = np.flatnonzero(np.asarray(params.kind) == KINDS.index(kind))
        references = jax.jit(jax.vmap(env_class().reset, in_axes=(None, 0)), static_argnums=0)(
            mg._NATIVE[kind], ks[mine]).state
        for j, i in enumerate(mine):
            check_layout(state, i, jax.tree.map(lambda x: x[j], references), h, w)


def check_layout(state, i, reference, h, w):
    """Episode ``i`` of ``state`` is XLand-MiniGrid's ``reference`` state (h x w) padded with wall."""
    grid = np.asarray(state.grid[i])
    np.testing.assert_array_equal(grid[:h, :w], np.asarray(reference.grid))
    assert np.all(grid[h:, :, 0] == Tiles.WALL) and np.all(grid[:, w:, 0] == Tiles.WALL)
    np.testing.assert_array_equal(state.agent.position[i], reference.agent.position)
    assert int(state.agent.direction[i]) == int(reference.agent.direction)
    np.testing.assert_array_equal(state.goal_encoding[i], reference.goal_encoding)


def test_steps_match_xland_minigrids_step(env):
    """Random actions on UnlockPickUp (keys, doors, objects: every action matters): our step
    and XLand-MiniGrid's own give the same grid, agent, reward and termination."""
    kind = "unlockpickup"
    _, env_class, *_ = mg._KINDS[kind]
    native, reference_env = mg._NATIVE[kind], env_class()
    params = mg.make_task(kind)
    _, state = env.reset(jax.random.key(3), params)
    timestep = reference_env.reset(native, jax.random.key(3))
    # Bias to the interesting actions so pickups and toggles happen.
    actions = np.random.default_rng(0).choice(6, size=60, p=[0.3, 0.1, 0.1, 0.2, 0.1, 0.2])
    transition = jax.jit(env._transition)
    reference_step = jax.jit(reference_env.step, static_argnums=0)
    for a in actions:
        state, reward, success = transition(state, jnp.int32(a), params)
        timestep = reference_step(native, timestep, jnp.int32(a))
        np.testing.assert_array_equal(np.asarray(state.grid)[:6, :11], np.asarray(timestep.state.grid))
        np.testing.assert_array_equal(state.agent.position, timestep.state.agent.position)
        np.testing.assert_array_equal(state.agent.pocket, timestep.state.agent.pocket)
        assert float(reward) == pytest.approx(float(timestep.reward))
        assert bool(success) == bool(timestep.step_type == 2) or int(timestep.state.step_num) == native.max_steps
        if bool(success):
            break


def test_walking_into_a_wall_and_to_the_goal_by_hand(env, fns):
    """Empty-6x6: the agent starts at (1, 1) facing east (XLand-MiniGrid's Empty); the goal is
    at (4, 4). Three steps east reach (1, 4); a fourth bumps the wall; a right turn and three
    steps south reach the goal: success after 8 steps, reward 1 - 0.9 * 8 / 144."""
    params = mg.make_task("empty")
    obs, state = env.reset(jax.random.key(0), params)
    assert direction(obs) == 1  # east (XLand-MiniGrid: 0 up, 1 right, 2 down, 3 left)
    assert cell(obs, 0, 0)[0] == Tiles.FLOOR and cell(obs, 4, 0)[0] == Tiles.WALL  # (1, 5) is wall
    assert cell(obs, 0, 1)[0] == Tiles.FLOOR and cell(obs, 0, -1)[0] == Tiles.WALL  # south floor, north wall
    step = fns["step1"]
    for t, action in enumerate([mg.FORWARD] * 4 + [mg.RIGHT] + [mg.FORWARD] * 3, start=1):
        obs, state, reward, terminated, truncated, info = step(jax.random.key(t), state, action, params)
        if t == 4:  # bumped the wall: still at (1, 4), which now is right in front
            np.testing.assert_array_equal(state.agent.position, [1, 4])
            assert cell(obs, 1, 0)[0] == Tiles.WALL
        if t < 8:
            assert not terminated and float(reward) == 0.0
    assert bool(terminated) and not bool(truncated)
    assert float(reward) == pytest.approx(1 - 0.9 * 8 / 144)
    # The final observation stands on the goal facing south; the returned one is a new episode.
    assert direction(info["final_observation"]) == 2 and direction(obs) == 1
    np.testing.assert_array_equal(state.agent.position, [1, 1])
    assert int(state.time) == 0


def test_the_step_limit_truncates_exactly_and_auto_resets(env, fns):
    params = mg.make_task("empty", step_limit=3)
    _, state = env.reset(jax.random.key(0), params)
    step = fns["step1"]
    for t in range(1, 4):  # three left turns: east -> north -> west -> south
        obs, state, reward, terminated, truncated, info = step(jax.random.key(t), state, mg.LEFT, params)
        assert bool(truncated) == (t == 3) and not bool(terminated) and float(reward) == 0.0
    assert direction(info["final_observation"]) == 2
    assert direction(obs) == 1 and int(state.time) == 0


def test_one_compiled_step_serves_every_kind_in_one_batch(fns):
    n = N_PER_KIND * len(KINDS)
    rng = np.random.default_rng(0)
    for kinds in (np.zeros(n), np.full(n, 6), np.arange(n) % len(KINDS)):  # one kind, another, every kind mixed
        params = mg.EnvParams(max_steps_in_episode=jnp.full(n, 100, jnp.int32), kind=jnp.asarray(kinds, jnp.int32))
        _, state = fns["reset"](keys(0, n), params)
        for t in range(3):
            _, state, *_ = fns["step"](keys(10 + t, n), state, jnp.asarray(rng.integers(0, 6, n), jnp.int32), params)
    assert fns["step"]._cache_size() == 1


def test_task_distributions_are_vmappable_data():
    dist = mg.task_distribution({"doorkey": 3.0, "unlock": 1.0}, step_limits={"unlock": 50})
    params = jax.jit(jax.vmap(dist))(keys(0, 4000))
    kinds = np.asarray(params.kind)
    assert set(np.unique(kinds)) == {KINDS.index("doorkey"), KINDS.index("unlock")}
    assert abs((kinds == KINDS.index("doorkey")).mean() - 0.75) < 0.03  # 4 sd of a binomial mean
    limits = np.asarray(params.max_steps_in_episode)
    assert np.all(limits[kinds == KINDS.index("unlock")] == 50)
    assert np.all(limits[kinds == KINDS.index("doorkey")] == mg.DEFAULT_STEP_LIMITS["doorkey"])
    env = mg.MiniGrid()
    assert env.shortest_episode(dist) == 50
    # Two stages are one function with other arrays: one pytree structure, one program.
    assert jax.tree.structure(dist) == jax.tree.structure(mg.task_distribution("empty"))
    env.validate_params(params)


@pytest.mark.parametrize("bad, field", [
    (dict(kind=jnp.asarray(7, jnp.int32)), "kind"),
    (dict(kind=jnp.asarray(-1, jnp.int32)), "kind"),
    (dict(max_steps_in_episode=jnp.asarray(0, jnp.int32)), "max_steps_in_episode"),
])
def test_invalid_tasks_are_rejected_naming_the_field(bad, field):
    with pytest.raises(ValueError, match=f"^{field}:"):
        mg.validate_params(mg.make_task("empty").replace(**bad))
    with pytest.raises(ValueError, match="task_kind"):
        mg.task_distribution("lava")


def test_the_minigrid_ladder_and_its_quick_preset_validate():
    assert "minigrid_ladder" in cu.available()
    ladder = cu.load("minigrid_ladder")
    assert [s.name for s in ladder.all_stages] == ["empty_random", "doorkey", "unlock", "unlockpickup",
                                                   "blockedunlockpickup"]
    quick = cu.load("minigrid_ladder", "quick")
    for c in (ladder, quick):
        c.validate()
        samplers = [c.sampler(s.name) for s in c.all_stages]
        assert len({jax.tree.structure(s) for s in samplers}) == 1
    assert quick.total_env_steps < ladder.total_env_steps
    assert int(quick.sampler("unlock")(jax.random.key(0)).kind) == KINDS.index("unlock")


def test_loading_the_curriculum_does_not_import_the_env():
    """Curricula are cheap to list and plan: loading this one must not import xminigrid."""
    code = ("import sys; from bootstrap_rl import curriculum as cu; cu.load('minigrid_ladder', 'quick'); "
            "assert 'xminigrid' not in sys.modules and 'bootstrap_rl.envs.minigrid' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_render_draws_the_grid_and_the_agent(env):
    """Empty-6x6 at reset, 4-pixel tiles: walls grey, the goal green at (4, 4), the agent red
    at (1, 1) with its white bar on the east side; one jitted function of the state."""
    _, state = env.reset(jax.random.key(0), mg.make_task("empty"))
    image = np.asarray(jax.jit(env.render, static_argnames="tile")(state, tile=4))
    assert image.shape == (mg.CANVAS[0] * 4, mg.CANVAS[1] * 4, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image[0, 0], [100, 100, 100])  # wall
    np.testing.assert_array_equal(image[4 * 4 + 1, 4 * 4 + 1], [0, 255, 0])  # goal
    np.testing.assert_array_equal(image[4 + 1, 4 + 1], [255, 0, 0])  # the agent's centre
    np.testing.assert_array_equal(image[4 + 1, 4 + 3], [255, 255, 255])  # its bar, east
    np.testing.assert_array_equal(image[4 * 2 + 1, 4 * 2 + 1], [0, 0, 0])  # floor
