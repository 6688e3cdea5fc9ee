"""Limbs: API conformance, physics (energy, damping, joint limits), rewards, samplers and task
distributions, validation, and solvability by an analytic IK controller.

Everything runs on one ``Limbs`` instance and a handful of jitted functions compiled once per
module: every task kind goes through the same compiled step (the kind is data).
"""

from __future__ import annotations

import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bootstrap_rl
from bootstrap_rl.envs import _limbs_ik as ik
from bootstrap_rl.envs import limbs

# Compilation dominates these tests: most XLA optimisations off (conftest).
pytestmark = pytest.mark.usefixtures("quick_compiles")

KINDS = limbs.TASK_KINDS
N = limbs.DEFAULT_NUM_LINKS
OBS = limbs.observation_size(N)
BATCH = 64
SOLVE_N = 1000


@pytest.fixture(scope="module")
def env():
    return limbs.Limbs("reach")


@pytest.fixture(scope="module")
def fns(env):
    """The jitted batched functions every test shares (compiled once)."""
    return {
        "reset": jax.jit(jax.vmap(env.reset)),
        "step": jax.jit(jax.vmap(env.step)),
        "step_env": jax.jit(jax.vmap(env.step_env)),
        "observe": jax.jit(jax.vmap(env.get_obs)),
        # Any task distribution (a Partial) is an argument: one compile serves them all.
        "sample": jax.jit(lambda sampler, keys: jax.vmap(sampler)(keys)),
    }


def keys(seed, n=BATCH):
    return jax.random.split(jax.random.key(seed), n)


def sample(fns, kind, seed=0, n=BATCH):
    return fns["sample"](limbs.TASK_SAMPLERS[kind], keys(seed, n))


def batch_of(kind, fns, seed=0, n=BATCH):
    params = sample(fns, kind, seed, n)
    obs, state = fns["reset"](keys(seed + 1, n), params)
    return params, obs, state


def unbatch(tree, i):
    return jax.tree.map(lambda x: np.asarray(x)[i], tree)


# --- registration ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_has_an_id_that_resolves_through_both_registries(kind):
    env_id = limbs.ENV_IDS[kind]
    assert env_id == f"Limbs-{kind.capitalize()}-v0"
    assert bootstrap_rl.registered_ids()[env_id] == "bootstrap_rl.envs.limbs"
    for make in (bootstrap_rl.make, gymnax.make):
        env, params = make(env_id)
        assert isinstance(env, limbs.Limbs) and env.name == env_id
        assert int(params.task_kind) == KINDS.index(kind)
        assert int(params.max_steps_in_episode) == limbs.DEFAULT_STEP_LIMITS[kind]


# --- API conformance -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_reset_and_step_shapes_and_dtypes(env, fns, kind):
    params, obs, state = batch_of(kind, fns)
    assert env.observation_space(params).shape == (OBS,) and OBS == 32
    space = env.action_space(params)
    assert space.shape == (N,) and space.low == -1.0 and space.high == 1.0
    assert obs.shape == (BATCH, OBS) and obs.dtype == jnp.float32
    actions = jax.random.uniform(jax.random.key(2), (BATCH, N), minval=-1.5, maxval=1.5)
    obs2, state2, reward, terminated, truncated, info = fns["step"](keys(5), state, actions, params)
    assert obs2.shape == (BATCH, OBS) and obs2.dtype == jnp.float32 and np.isfinite(obs2).all()
    assert reward.shape == (BATCH,) and reward.dtype == jnp.float32
    assert terminated.dtype == jnp.bool_ and truncated.dtype == jnp.bool_
    assert info["final_observation"].shape == (BATCH, OBS)
    assert info["distance"].shape == (BATCH,) and info["success"].dtype == jnp.bool_
    assert jnp.array_equal(info["terminated"], terminated) and jnp.array_equal(info["truncated"], truncated)
    assert jax.tree.map(jnp.shape, state2) == jax.tree.map(jnp.shape, state)
    # Unbatched single-env calls agree with the vmapped ones.
    one_obs, _, one_reward, *_ = env.step(keys(5)[3], unbatch(state, 3), actions[3], unbatch(params, 3))
    np.testing.assert_allclose(one_obs, obs2[3], rtol=1e-5, atol=1e-6)
    assert float(one_reward) == pytest.approx(float(reward[3]), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_observation_layout(fns, kind):
    params, obs, state = batch_of(kind, fns, seed=3)
    _, state, *_ = fns["step"](keys(4), state, jnp.ones((BATCH, N)), params)
    obs = np.asarray(fns["observe"](state, params))
    angles = np.asarray(state.angles)
    body = 3 * N + 2
    np.testing.assert_allclose(obs[:, :N], np.sin(angles), atol=1e-6)
    np.testing.assert_allclose(obs[:, N : 2 * N], np.cos(angles), atol=1e-6)
    np.testing.assert_allclose(obs[:, 2 * N : 3 * N], limbs.VELOCITY_SCALE * np.asarray(state.velocities), atol=1e-6)
    hand = np.asarray(limbs.hand_position(state.angles, params.physics.link_lengths))
    np.testing.assert_allclose(obs[:, 3 * N : body], hand, atol=1e-5)  # arm length 1
    task = obs[:, body:]
    kind_bits, target, to_target, aux, progress, joint_sin, joint_cos, joint_error = np.split(
        task, np.cumsum([5, 2, 2, 2, 1, N, N]), axis=1)
    assert (kind_bits.argmax(1) == KINDS.index(kind)).all() and (kind_bits.sum(1) == 1).all()
    if kind == "babble":
        assert np.abs(np.concatenate([target, to_target, aux, progress], 1)).sum() == 0
        np.testing.assert_allclose(joint_sin, np.sin(np.asarray(params.joint_targets)), atol=1e-6)
        np.testing.assert_allclose(joint_cos, np.cos(np.asarray(params.joint_targets)), atol=1e-6)
        error = np.asarray(params.joint_targets) - angles
        np.testing.assert_allclose(joint_error * np.pi, (error + np.pi) % (2 * np.pi) - np.pi, atol=1e-5)
    else:
        assert np.abs(np.concatenate([joint_sin, joint_cos, joint_error], 1)).sum() == 0
        np.testing.assert_allclose(to_target, target - hand, atol=1e-5)
    if kind == "reach":
        np.testing.assert_allclose(target, np.asarray(params.targets)[:, 0], atol=1e-6)
    if kind == "track":  # the target one step into its circle, and its velocity
        position, velocity = jax.vmap(limbs.track_target)(params, state.time)
        np.testing.assert_allclose(target, position, atol=1e-5)
        np.testing.assert_allclose(aux, velocity, atol=1e-5)
        np.testing.assert_allclose(np.linalg.norm(target - np.asarray(params.targets)[:, 0], axis=1),
                                   params.track_radius, rtol=1e-4)
    if kind in ("sequence", "draw"):
        done, n = np.asarray(state.progress), np.asarray(params.num_targets)
        rows, points = np.arange(BATCH), np.asarray(params.targets)
        np.testing.assert_allclose(target, points[rows, np.minimum(done, n - 1)], atol=1e-6)
        following = np.minimum(done + 1, n - 1) if kind == "sequence" else np.maximum(done - 1, 0)
        np.testing.assert_allclose(aux, points[rows, following], atol=1e-6)
        np.testing.assert_allclose(progress[:, 0], done / n, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_reset_is_deterministic_per_key_and_varies_across_keys(fns, kind):
    params = sample(fns, kind)
    obs_a, state_a = fns["reset"](keys(1), params)
    obs_b, state_b = fns["reset"](keys(1), params)
    jax.tree.map(np.testing.assert_array_equal, (obs_a, state_a), (obs_b, state_b))
    same_task = jax.tree.map(lambda x: jnp.broadcast_to(x[0], x.shape), params)
    _, state_c = fns["reset"](keys(2), same_task)
    assert len({tuple(np.round(a, 5)) for a in np.asarray(state_c.angles)}) == BATCH
    ph = unbatch(params.physics, 0)
    middle, half = 0.5 * (ph.joint_low + ph.joint_high), 0.25 * (ph.joint_high - ph.joint_low)  # spread 0.5
    assert (np.abs(np.asarray(state_c.angles) - middle) <= half + 1e-6).all()
    assert (np.asarray(state_c.velocities) == 0).all() and (np.asarray(state_c.progress) == 0).all()
    step_a = fns["step"](keys(4), state_a, jnp.ones((BATCH, N)), params)
    step_b = fns["step"](keys(4), state_a, jnp.ones((BATCH, N)), params)
    jax.tree.map(np.testing.assert_array_equal, step_a, step_b)


def test_one_compiled_program_serves_every_kind_and_every_distribution(env, fns):
    mixed = fns["sample"](limbs.mixture_sampler(KINDS), keys(7))
    assert set(np.asarray(mixed.task_kind).tolist()) == set(range(len(KINDS)))
    _, state = fns["reset"](keys(8), mixed)
    fns["step"](keys(9), state, jnp.zeros((BATCH, N)), mixed)
    compiled = {name: fns[name]._cache_size() for name in ("reset", "step", "sample")}
    for kind in KINDS:  # every kind, same shapes: no new compilation
        params, _, state = batch_of(kind, fns, seed=10)
        fns["step"](keys(11), state, jnp.zeros((BATCH, N)), params)
    # Stage distributions with other weights, ranges and physics are the same pytree structure
    # and shapes, so they too run through the compiled programs.
    stages = [limbs.task_distribution("babble"), limbs.task_distribution({"reach": 2, "track": 1}),
              env.task_distribution(["sequence", "draw"], reach_radius_min=0.4, sequence_max=6),
              limbs.task_distribution("reach", physics=limbs.make_physics(damping=0.5, dt=0.02))]
    assert len({jax.tree.structure(s) for s in stages}) == 1
    assert len({tuple(x.shape for x in jax.tree.leaves(s)) for s in stages}) == 1
    for stage in stages:
        params = fns["sample"](stage, keys(12))
        _, state = fns["reset"](keys(13), params)
        fns["step"](keys(14), state, jnp.zeros((BATCH, N)), params)
    assert {name: fns[name]._cache_size() for name in compiled} == compiled


# --- episodes: truncation, termination, rewards -----------------------------------------------


@pytest.mark.parametrize("limit", [3, 5])
def test_step_limit_truncates_exactly_and_auto_resets(fns, limit):
    params, obs, state = batch_of("reach", fns, seed=31)
    params = params.replace(max_steps_in_episode=jnp.full(BATCH, limit, jnp.int32))
    action = jnp.zeros((BATCH, N))
    for t in range(1, limit + 1):
        stepped_obs, stepped_state, *_ = fns["step_env"](keys(t), state, action, params)
        obs, state, reward, terminated, truncated, info = fns["step"](keys(t), state, action, params)
        assert not bool(terminated.any())  # reach never terminates
        assert bool(truncated.all()) == (t == limit) and bool(truncated.any()) == (t == limit)
        np.testing.assert_allclose(reward, -np.asarray(info["distance"]), rtol=1e-6)  # no torque, no cost
    assert (np.asarray(state.time) == 0).all()
    np.testing.assert_array_equal(info["final_observation"], stepped_obs)
    np.testing.assert_array_equal(stepped_state.time, limit)
    # The reset state's observation (another program than step's: equal up to float rounding).
    np.testing.assert_allclose(obs, fns["observe"](state, params), rtol=1e-6, atol=1e-6)


def hold_still(angles, n=1):
    return limbs.EnvState(time=jnp.asarray(0), angles=jnp.asarray(angles, jnp.float32),
                          velocities=jnp.zeros(n or N, jnp.float32), progress=jnp.asarray(0))


def test_sequence_rewards_each_target_then_the_end_and_terminates(env):
    angles = jnp.asarray([0.3, 0.5, -0.4])
    hand = limbs.hand_position(angles, limbs.make_physics().link_lengths)
    far = np.asarray([-0.5, -0.5])
    params = limbs.make_task("sequence", targets=[hand, hand, far])
    state = hold_still(angles, N)
    zero = jnp.zeros(N)
    _, state, reward, terminated, truncated, info = env.step(jax.random.key(0), state, zero, params)
    assert float(reward) == pytest.approx(1.0) and not bool(terminated) and int(state.progress) == 1
    _, state, reward, terminated, *_ = env.step(jax.random.key(1), state, zero, params)
    assert float(reward) == pytest.approx(1.0) and not bool(terminated) and int(state.progress) == 2
    _, state, reward, terminated, *_ = env.step(jax.random.key(2), state, zero, params)
    assert float(reward) == 0.0 and int(state.progress) == 2  # the third target is far away
    # Two targets, both at the hand: +1, then +1 and +1 for the end, which terminates.
    params = limbs.make_task("sequence", targets=[hand, hand])
    state = hold_still(angles, N)
    _, state, reward, *_ = env.step(jax.random.key(0), state, zero, params)
    obs, state, reward, terminated, truncated, info = env.step(jax.random.key(1), state, zero, params)
    assert float(reward) == pytest.approx(2.0) and bool(terminated) and not bool(truncated)
    assert bool(info["success"]) and int(state.progress) == 0 and int(state.time) == 0  # auto-reset
    assert float(info["final_observation"][3 * N + 2 + 11]) == pytest.approx(1.0)  # progress 2/2


def test_draw_pays_for_leaving_the_stroke_and_rewards_waypoints(env):
    ph = limbs.make_physics()
    angles = jnp.asarray([0.2, 0.4, 0.1])
    hand = np.asarray(limbs.hand_position(angles, ph.link_lengths))
    # The hand sits on the first waypoint: +1 and the stroke to waypoint 1 begins.
    params = limbs.make_task("draw", targets=[hand, hand + [0.3, 0.0], hand + [0.3, 0.3]])
    zero = jnp.zeros(N)
    _, state, reward, terminated, *_ = env.step(jax.random.key(0), hold_still(angles, N), zero, params)
    assert float(reward) == pytest.approx(1.0, abs=1e-5) and int(state.progress) == 1 and not bool(terminated)
    # Half-way along the stroke: no penalty; off the stroke by 0.1: -0.1.
    _, _, reward, *_ = env.step(jax.random.key(1), state, zero, params.replace(
        targets=params.targets - jnp.asarray([0.15, 0.0])))
    assert float(reward) == pytest.approx(0.0, abs=1e-5)
    _, _, reward, *_ = env.step(jax.random.key(1), state, zero, params.replace(
        targets=params.targets - jnp.asarray([0.15, 0.1])))
    assert float(reward) == pytest.approx(-0.1, abs=1e-5)


def test_reach_and_babble_rewards_and_torque_cost(env):
    angles = jnp.asarray([0.1, -0.2, 0.3])
    ph = limbs.make_physics(torque_cost=0.5, damping=0.0)
    hand = np.asarray(limbs.hand_position(angles, ph.link_lengths))
    reach = limbs.make_task("reach", targets=[hand + [0.3, 0.4]], physics=ph)
    state = hold_still(angles, N)
    _, _, reward, _, _, info = env.step(jax.random.key(0), state, jnp.zeros(N), reach)
    assert float(reward) == pytest.approx(-0.5, abs=1e-5) and float(info["distance"]) == pytest.approx(0.5, abs=1e-5)
    # Torque moves the arm within one step (a little) and costs torque_cost * mean(a^2), clipped.
    _, moved, reward2, *_ = env.step(jax.random.key(0), state, jnp.asarray([2.0, -1.0, 0.0]), reach)
    np.testing.assert_allclose(moved.velocities, [ph.dt[()] * 1 / 0.1, -ph.dt[()] * 1 / 0.1, 0.0], rtol=1e-5)
    distance = np.linalg.norm(np.asarray(limbs.hand_position(moved.angles, ph.link_lengths)) - (hand + [0.3, 0.4]))
    assert float(reward2) == pytest.approx(-distance - 0.5 * 2 / 3, abs=1e-5)
    babble = limbs.make_task("babble", joint_targets=angles + jnp.asarray([0.3, -0.3, 0.6]), physics=ph)
    _, _, reward, _, _, info = env.step(jax.random.key(0), state, jnp.zeros(N), babble)
    assert float(reward) == pytest.approx(-0.4 / np.pi, abs=1e-5) and not bool(info["success"])
    exact = limbs.make_task("babble", joint_targets=angles, physics=ph)
    _, _, reward, _, _, info = env.step(jax.random.key(0), state, jnp.zeros(N), exact)
    assert float(reward) == pytest.approx(0.0, abs=1e-6) and bool(info["success"])


# --- physics ----------------------------------------------------------------------------------


def free_run(physics, angles, velocities, steps, explicit=False):
    """Energies along a torque-free run of ``steps`` steps (semi-implicit Euler, or explicit)."""
    state = limbs.EnvState(time=jnp.asarray(0), angles=angles, velocities=velocities, progress=jnp.asarray(0))

    def body(state, _):
        if explicit:  # the non-symplectic reference: the angle moves with the old velocity
            acceleration = -(physics.damping * state.velocities + physics.stiffness * state.angles) / physics.inertia
            state = state.replace(angles=state.angles + physics.dt * state.velocities,
                                  velocities=state.velocities + physics.dt * acceleration)
        else:
            a, v = limbs.integrate(state.angles, state.velocities, jnp.zeros_like(state.angles), physics)
            state = state.replace(angles=a, velocities=v)
        return state, limbs.energy(state, physics)

    final, energies = jax.lax.scan(body, state, None, steps)
    return final, energies


@pytest.fixture(scope="module")
def free_run_jit():
    return jax.jit(jax.vmap(free_run, in_axes=(None, 0, 0, None, None)), static_argnums=(3, 4))


def test_energy_is_conserved_without_torque_and_damping(free_run_jit):
    wide = dict(damping=0.0, joint_low=-1e3, joint_high=1e3, max_velocity=1e3)
    angles = jax.random.uniform(jax.random.key(0), (16, N), minval=-1.0, maxval=1.0)
    velocities = jax.random.uniform(jax.random.key(1), (16, N), minval=-2.0, maxval=2.0)
    # A spring (omega = sqrt(k / I) = 2 rad/s, omega * dt = 0.1): a symplectic integrator's
    # energy oscillates by O(omega * dt) and does not drift.
    springs = limbs.make_physics(stiffness=0.4, **wide)
    _, energies = free_run_jit(springs, angles, velocities, 1000, False)
    initial = np.asarray(limbs.energy(limbs.EnvState(0, angles, velocities, 0), springs))
    relative = np.asarray(energies) / initial[:, None] - 1
    assert np.abs(relative).max() < 0.1
    assert np.abs(relative[:, -100:].mean(1) - relative[:, :100].mean(1)).max() < 0.005  # no drift
    # Explicit Euler on the same system gains energy every step: the test tells them apart.
    _, explicit = free_run_jit(springs, angles, velocities, 1000, True)
    assert (np.asarray(explicit)[:, -1] / initial > 2).all()
    # No spring: the kinetic energy is exactly constant (the angles wind freely).
    free = limbs.make_physics(**wide)
    final, energies = free_run_jit(free, angles, velocities, 1000, False)
    np.testing.assert_allclose(energies, np.broadcast_to(np.asarray(energies)[:, :1], energies.shape), rtol=1e-6)
    np.testing.assert_allclose(final.angles, angles + 1000 * 0.05 * velocities, rtol=1e-3)
    # Damping (and no spring): the velocity decays by (1 - b dt / I) per step.
    damped = limbs.make_physics(joint_low=-1e3, joint_high=1e3)
    _, energies = free_run_jit(damped, angles, velocities, 1000, False)
    kinetic = np.asarray(limbs.energy(limbs.EnvState(0, angles, velocities, 0), damped))
    factor = (1 - 0.05 * 0.25 / 0.1) ** (2 * np.arange(1, 41))
    np.testing.assert_allclose(energies[:, :40], kinetic[:, None] * factor, rtol=1e-3)


def test_joint_limits_hold_under_full_torque(fns):
    params, _, state = batch_of("reach", fns, seed=41)
    params = params.replace(max_steps_in_episode=jnp.full(BATCH, 10_000, jnp.int32))
    low, high = np.asarray(params.physics.joint_low), np.asarray(params.physics.joint_high)

    @jax.jit
    def run(state, key):
        def body(carry, key):
            # Full torque (beyond the bound: it is clipped) one way, switching now and then,
            # so every joint is driven hard into both of its stops.
            state, direction = carry
            flip = jax.random.uniform(key, (BATCH, N)) < 0.02
            direction = jnp.where(flip, -direction, direction)
            _, state, *_ = fns["step_env"](jax.random.split(key, BATCH), state, 1.5 * direction, params)
            return (state, direction), (state.angles, state.velocities)

        return jax.lax.scan(body, (state, jnp.ones((BATCH, N))), jax.random.split(key, 1000))[1]

    angles, velocities = map(np.asarray, run(state, jax.random.key(42)))
    assert (angles >= low - 1e-6).all() and (angles <= high + 1e-6).all()
    at_high, at_low = angles >= high - 1e-6, angles <= low + 1e-6
    assert at_high.mean() > 0.05 and at_low.mean() > 0.05  # the limits were really pushed against
    assert (velocities[at_high] <= 0).all() and (velocities[at_low] >= 0).all()
    assert np.abs(velocities).max() <= float(params.physics.max_velocity[0]) + 1e-5


# --- samplers, task distributions and validation ------------------------------------------------


def test_samplers_draw_valid_tasks_over_their_ranges(fns):
    out = {kind: jax.tree.map(np.asarray, sample(fns, kind, seed=51, n=SOLVE_N)) for kind in KINDS}
    for kind, params in out.items():
        limbs.validate_params(params)
        assert (params.task_kind == KINDS.index(kind)).all()
        assert (params.max_steps_in_episode == limbs.DEFAULT_STEP_LIMITS[kind]).all()
    reach = np.linalg.norm(out["reach"].targets[:, 0], axis=1)
    assert 0.25 <= reach.min() < 0.27 and 0.88 < reach.max() <= 0.9
    seq = out["sequence"]
    assert set(seq.num_targets.tolist()) == {2, 3, 4}
    gaps = np.linalg.norm(np.diff(seq.targets, axis=1), axis=2)[:, :3]
    used = np.arange(3)[None] < (seq.num_targets[:, None] - 1)
    assert gaps[used].min() > 4 * 0.05  # consecutive targets well apart
    draw = out["draw"]
    assert set(draw.num_targets.tolist()) == {4, 5, 6, 7}
    first, closing = draw.targets[:, 0], draw.targets[np.arange(SOLVE_N), draw.num_targets - 1]
    np.testing.assert_allclose(first, closing, atol=1e-5)  # closed shapes
    assert np.linalg.norm(draw.targets, axis=2).max() <= 0.55 + 0.22 + 1e-5
    track = out["track"]
    assert (track.track_speed > 0).any() and (track.track_speed < 0).any()
    assert 0.5 <= np.abs(track.track_speed).min() and np.abs(track.track_speed).max() <= 1.5
    babble = out["babble"].joint_targets
    assert np.abs(babble[:, 1:]).max() <= 0.8 * 5 * np.pi / 6 + 1e-5 and np.ptp(babble[:, 0]) > 4.0


def test_task_distribution_follows_its_weights_and_is_data(fns):
    sampler = limbs.task_distribution({"reach": 3.0, "babble": 1.0, "draw": 0.0})
    assert sampler.func is limbs.sample_tasks
    for value in sampler.keywords.values():  # JSON-able data (the study records it)
        np.asarray(value).tolist()
    params = jax.tree.map(np.asarray, fns["sample"](sampler, keys(61, SOLVE_N)))
    limbs.validate_params(params)
    assert set(params.task_kind.tolist()) == {limbs.REACH, limbs.BABBLE}
    assert abs((params.task_kind == limbs.REACH).mean() - 0.75) < 0.05  # 3.5 standard errors
    longer = limbs.task_distribution("track", step_limits={"track": 300})
    assert (np.asarray(fns["sample"](longer, keys(62)).max_steps_in_episode) == 300).all()
    light = limbs.make_physics(inertia=0.05)
    drawn = fns["sample"](limbs.task_distribution("reach", physics=light), keys(63))
    np.testing.assert_allclose(drawn.physics.inertia, 0.05)


@pytest.mark.parametrize(
    "kinds, kwargs, message",
    [
        ([], {}, "kinds"),
        (["jump"], {}, "task_kind"),
        ({"reach": -1.0}, {}, "weight"),
        ({"reach": 0.0}, {}, "all be zero"),
        ("reach", {"step_limits": {"reach": 0}}, "step_limits"),
        ("reach", {"radius": 0.3}, "unknown range"),
        ("reach", {"reach_radius_min": 0.95}, "reach_radius_min"),
        ("reach", {"reach_radius_max": 1.5}, "reach"),
        ("sequence", {"sequence_max": 9}, "sequence_min"),
        ("draw", {"vertices_min": 1}, "vertices_min"),
        ("reach", {"tolerance": 0.0}, "tolerance"),
        ("reach", {"physics": limbs.make_physics(num_links=2)}, "links"),
    ],
)
def test_invalid_task_distributions_are_rejected(kinds, kwargs, message):
    with pytest.raises(ValueError, match=message):
        limbs.task_distribution(kinds, **kwargs)


@pytest.mark.parametrize(
    "kind, fields, bad_field",
    [
        ("reach", {"num_targets": 2, "targets": [[0.5, 0.1], [0.2, 0.2]]}, "num_targets"),
        ("draw", {"targets": [[0.5, 0.1]]}, "num_targets"),
        ("sequence", {"num_targets": 9}, "num_targets"),
        ("reach", {"max_steps_in_episode": 0}, "max_steps_in_episode"),
        ("reach", {"tolerance": -0.1}, "tolerance"),
        ("track", {"track_radius": -0.1}, "track_radius"),
        ("babble", {"joint_targets": [0.0, 3.0, 0.0]}, "joint_targets"),
        ("reach", {"targets": np.zeros((9, 2))}, "targets"),
        ("reach", {"track_speed": np.nan}, "track_speed"),
        (7, {}, "task_kind"),
        ("jump", {}, "task_kind"),
    ],
)
def test_invalid_task_params_are_rejected_naming_the_field(kind, fields, bad_field):
    with pytest.raises(ValueError, match=bad_field):
        limbs.make_task(kind, **fields)


@pytest.mark.parametrize(
    "fields, bad_field",
    [
        ({"dt": 0.0}, "physics.dt"),
        ({"inertia": [0.1, 0.0, 0.1]}, "physics.inertia"),
        ({"damping": -1.0}, "physics.damping"),
        ({"damping": 5.0}, "physics.damping"),  # unstable at dt 0.05
        ({"stiffness": 100.0}, "physics.stiffness"),
        ({"joint_low": 1.0, "joint_high": 0.0}, "physics.joint_high"),
        ({"init_spread": 2.0}, "physics.init_spread"),
        ({"link_lengths": [0.5, 0.5]}, "physics.link_lengths"),
        ({"mass": 1.0}, "Physics field"),
    ],
)
def test_invalid_physics_is_rejected_naming_the_field(fields, bad_field):
    with pytest.raises(ValueError, match=bad_field):
        limbs.make_task("reach", physics=limbs.make_physics(**fields))


def test_validation_of_batches_types_and_constructors(fns):
    params = jax.tree.map(np.asarray, sample(fns, "sequence", seed=71))
    limbs.validate_params(params)
    broken = params.replace(task_kind=params.task_kind.copy())
    broken.task_kind[5] = 9
    with pytest.raises(ValueError, match=r"task_kind: invalid value\(s\) \[9\]"):
        limbs.validate_params(broken)
    with pytest.raises(ValueError, match="num_targets: must be an integer"):
        limbs.validate_params(params.replace(num_targets=params.num_targets.astype(np.float32)))
    with pytest.raises(ValueError, match="unknown EnvParams field"):
        limbs.make_task("reach", target=[0.1, 0.2])
    with pytest.raises(ValueError, match="concrete"):
        jax.jit(limbs.validate_params)(limbs.make_task("reach"))
    with pytest.raises(ValueError, match="num_links"):
        limbs.Limbs("reach", num_links=0)
    with pytest.raises(ValueError, match="default_task"):
        limbs.Limbs("reach", default_task=sample(fns, "reach"))
    with pytest.raises(ValueError, match="shape"):
        limbs.Limbs("reach", num_links=2, default_task=limbs.make_task("reach"))
    two = limbs.Limbs("reach", num_links=2)
    assert two.observation_space().shape == (limbs.observation_size(2),) == (26,)
    obs, state = two.reset(jax.random.key(0))
    assert obs.shape == (26,) and state.angles.shape == (2,)
    assert limbs.describe_task(limbs.make_task("reach")) == "reach: hand to (0.50, 0.40)"
    assert limbs.describe_task(limbs.make_task("draw")) == "draw: trace 4 strokes"


# --- solvability: an analytic inverse-kinematics controller ------------------------------------


@pytest.fixture(scope="module")
def solve(env):
    """Run the IK + PD controller for one episode per task (no auto-reset: ``step_env``);
    report the hand's final distance, whether the episode succeeded (sequence / draw: every
    target visited within the step limit; babble / reach: at the last step) and its length."""
    steps = max(limbs.DEFAULT_STEP_LIMITS.values())

    def one(params, key):
        _, state = env.reset(key, params)

        def body(carry, _):
            state, done, succeeded, length, last_distance = carry
            action = ik.controller(params, state)
            _, next_state, _, terminated, info = env.step_env(key, state, action, params)
            at_limit = next_state.time >= params.max_steps_in_episode
            live = ~done
            succeeded = succeeded | (live & (terminated | (at_limit & info["success"])))
            last_distance = jnp.where(live, info["distance"], last_distance)
            length = length + live.astype(jnp.int32)
            return (next_state, done | terminated | at_limit, succeeded, length, last_distance), None

        init = (state, jnp.asarray(False), jnp.asarray(False), jnp.asarray(0), jnp.asarray(0.0))
        (_, _, succeeded, length, distance), _ = jax.lax.scan(body, init, None, steps)
        return succeeded, length, distance

    return jax.jit(jax.vmap(one))


def test_inverse_kinematics_is_exact_and_within_the_limits(fns):
    params = sample(fns, "reach", seed=80, n=SOLVE_N)
    angles, ok = jax.jit(jax.vmap(lambda p: ik.inverse_kinematics(p.targets[0], p.physics)))(params)
    assert bool(ok.all())
    hands = limbs.hand_position(angles, params.physics.link_lengths)
    np.testing.assert_allclose(hands, params.targets[:, 0], atol=1e-4)
    assert (np.asarray(angles) >= np.asarray(params.physics.joint_low)).all()
    assert (np.asarray(angles) <= np.asarray(params.physics.joint_high)).all()


@pytest.mark.parametrize("kind", ["reach", "babble", "sequence", "draw"])
def test_ik_controller_solves_sampled_tasks_within_the_step_limit(fns, solve, kind):
    params = sample(fns, kind, seed=81, n=SOLVE_N)
    succeeded, length, distance = map(np.asarray, solve(params, keys(82, SOLVE_N)))
    assert succeeded.mean() >= 0.99, f"{kind}: solved {succeeded.mean():.3f}"
    limit = np.asarray(params.max_steps_in_episode)
    assert (length <= limit).all()
    if kind in ("reach", "babble"):
        assert (length == limit).all()  # no termination: the episode runs to its limit
        assert np.median(distance) < 0.01
