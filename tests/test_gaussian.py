"""The Gaussian policy: distribution maths against scipy, the continuous actor-critic, the
observation normaliser, and PPO running on a Box action space."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnax.environments import spaces
from scipy import stats

import bootstrap_rl
from bootstrap_rl.distributions import Categorical, Gaussian
from bootstrap_rl.networks import ContinuousActorCritic, DiscreteActorCritic, make_actor_critic
from bootstrap_rl.obs_normalization import (NormalizedNetwork, NormalizeObservation, RunningStats, merge, normalize,
                                           running_stats)

pytestmark = pytest.mark.usefixtures("quick_compiles")  # compiling is what these tests cost

RNG = np.random.default_rng(0)
MEAN = RNG.normal(size=(5, 3)).astype(np.float32)
LOG_STD = RNG.normal(scale=0.5, size=3).astype(np.float32)
ACTION = RNG.normal(size=(5, 3)).astype(np.float32) * 2


def test_log_prob_and_entropy_match_scipy():
    dist = Gaussian(jnp.asarray(MEAN), jnp.asarray(LOG_STD))
    expected = stats.norm(MEAN, np.exp(LOG_STD)).logpdf(ACTION).sum(-1)
    np.testing.assert_allclose(dist.log_prob(jnp.asarray(ACTION)), expected, rtol=1e-5, atol=1e-5)
    mvn = stats.multivariate_normal(MEAN[0], np.diag(np.exp(2 * LOG_STD)))
    np.testing.assert_allclose(dist.log_prob(jnp.asarray(ACTION))[0], mvn.logpdf(ACTION[0]), rtol=1e-5)
    entropy = dist.entropy()
    assert entropy.shape == (5,)
    np.testing.assert_allclose(entropy, np.full(5, mvn.entropy()), rtol=1e-5)
    np.testing.assert_allclose(entropy[0], stats.norm(0, np.exp(LOG_STD)).entropy().sum(), rtol=1e-5)
    np.testing.assert_array_equal(dist.mode(), MEAN)


def test_kl_matches_numerical_integration_and_is_zero_on_itself():
    p = Gaussian(jnp.asarray([0.3, -1.0]), jnp.asarray([0.2, -0.4]))
    q = Gaussian(jnp.asarray([-0.5, 0.1]), jnp.asarray([-0.1, 0.3]))
    expected = 0.0
    for i in range(2):
        pi = stats.norm(float(p.mean[i]), np.exp(float(p.log_std[i])))
        qi = stats.norm(float(q.mean[i]), np.exp(float(q.log_std[i])))
        x = np.linspace(-12, 12, 200_001)
        expected += np.trapezoid(pi.pdf(x) * (pi.logpdf(x) - qi.logpdf(x)), x)
    np.testing.assert_allclose(p.kl(q), expected, rtol=1e-4)
    assert abs(float(p.kl(p))) < 1e-6
    assert float(q.kl(p)) != pytest.approx(float(p.kl(q)))  # not symmetric


def test_samples_follow_the_distribution():
    dist = Gaussian(jnp.broadcast_to(jnp.asarray([1.0, -2.0]), (50_000, 2)), jnp.log(jnp.asarray([0.5, 2.0])))
    samples = np.asarray(dist.sample(jax.random.key(0)))
    assert samples.shape == (50_000, 2)
    np.testing.assert_allclose(samples.mean(0), [1.0, -2.0], atol=0.03)
    np.testing.assert_allclose(samples.std(0), [0.5, 2.0], rtol=0.02)
    for i, (m, s) in enumerate([(1.0, 0.5), (-2.0, 2.0)]):
        assert stats.kstest(samples[:2000, i], stats.norm(m, s).cdf).pvalue > 0.01


def test_make_actor_critic_picks_the_network_by_action_space():
    box = spaces.Box(-2.0, 2.0, (2,), jnp.float32)
    network = make_actor_critic(box, (16, 16), "tanh")
    assert isinstance(network, ContinuousActorCritic) and network.action_dim == 2
    assert isinstance(make_actor_critic(spaces.Discrete(4), (16,), "relu"), DiscreteActorCritic)
    obs = jnp.ones((7, 5))

    @jax.jit
    def run(key):
        params = network.init(key, obs)
        dist, value = network.apply(params, obs)
        policy = network.apply(params, obs, method="policy")
        action = dist.sample(jax.random.key(1))
        return (params, dist, value, policy, network.apply(params, obs, method="value"),
                dist.log_prob(action), dist.entropy())

    params, dist, value, policy, value_only, log_prob, entropy = run(jax.random.key(0))
    np.testing.assert_array_equal(params["params"]["log_std"], jnp.zeros(2))  # state-independent, std 1
    assert isinstance(dist, Gaussian) and dist.mean.shape == (7, 2) and value.shape == (7,)
    assert float(jnp.abs(dist.mean).max()) < 0.1  # small policy head at initialisation
    assert log_prob.shape == (7,) and entropy.shape == (7,)
    np.testing.assert_array_equal(policy.mean, dist.mean)
    np.testing.assert_array_equal(value_only, value)
    with pytest.raises(NotImplementedError, match="Discrete or Box"):
        make_actor_critic(spaces.Dict({"a": box}))
    assert isinstance(Categorical(jnp.zeros((1, 3))).entropy(), jax.Array)


def test_running_statistics_match_numpy_and_are_shared_by_the_env_batch():
    data = RNG.normal(loc=3.0, scale=2.0, size=(3, 64, 4)).astype(np.float32)
    stats_ = RunningStats.create((4,))
    for chunk in data:
        stats_ = merge(stats_, jnp.asarray(chunk))
    flat = data.reshape(-1, 4)
    np.testing.assert_allclose(stats_.mean, flat.mean(0), rtol=1e-3)
    np.testing.assert_allclose(stats_.var, flat.var(0), rtol=1e-3)
    normalised = normalize(stats_, jnp.asarray(flat))
    np.testing.assert_allclose(np.asarray(normalised).mean(0), 0.0, atol=1e-3)
    assert float(jnp.abs(normalize(stats_, jnp.asarray(flat) * 100, clip=5.0)).max()) == 5.0

    env, params = bootstrap_rl.make("Pendulum-v1")
    wrapped = NormalizeObservation(env)

    def one_seed(key):
        keys = jax.random.split(key, 16)
        obs, state = jax.vmap(wrapped.reset, in_axes=(0, None))(keys, params)
        raw, _ = jax.vmap(env.reset, in_axes=(0, None))(keys, params)
        step = jax.vmap(wrapped.step, in_axes=(0, 0, 0, None))
        obs2, state2, *_ = step(keys, state, jnp.zeros((16, 1)), params)
        return raw, state.stats, state2.stats, obs2

    @jax.jit
    def single_env(stats_, key):
        # Frozen: normalise with given statistics, never update them.
        frozen = wrapped.frozen(stats_)
        obs, state = frozen.reset(key, params)
        raw_obs, _ = env.reset(key, params)
        _, state, *_ = frozen.step(key, state, jnp.zeros(1), params)
        # step_env (what evaluators call: no auto-reset) normalises and updates like step.
        _, fresh = wrapped.reset(key, params)
        raw_next, _, reward, _, _ = env.step_env(key, fresh.env_state, jnp.ones(1), params)
        obs_next, state_next, reward_wrapped, _, _ = wrapped.step_env(key, fresh, jnp.ones(1), params)
        return (obs, normalize(stats_, raw_obs), state.stats.count,
                obs_next, normalize(state_next.stats, raw_next), state_next.stats.count, reward, reward_wrapped)

    raw, first, second, obs2 = jax.jit(jax.vmap(one_seed))(jax.random.split(jax.random.key(0), 2))
    # Vmapped over envs, one update merges the whole batch; every env holds the same copy.
    np.testing.assert_allclose(first.mean, np.broadcast_to(raw.mean(1, keepdims=True), first.mean.shape), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(first.count, 16 + 1e-4)
    np.testing.assert_allclose(second.count, 32 + 1e-4)
    # The outer (seed) vmap keeps seeds apart.
    assert not np.allclose(first.mean[0, 0], first.mean[1, 0])
    np.testing.assert_allclose(running_stats(jax.tree.map(lambda x: x[1], _state(first)), 0).mean, first.mean[1, 0])
    (obs, expected, count, obs_next, expected_next, count_next, reward, reward_wrapped) = single_env(
        jax.tree.map(lambda x: x[0, 0], second), jax.random.key(3))
    np.testing.assert_allclose(obs, expected, rtol=1e-5)
    np.testing.assert_array_equal(count, second.count[0, 0])
    np.testing.assert_allclose(obs_next, expected_next, rtol=1e-5)
    assert float(count_next) == pytest.approx(2 + 1e-4) and float(reward_wrapped) == float(reward)


def _state(stats_):
    """A stand-in wrapped state holding ``stats_`` (running_stats only reads ``.stats``)."""
    from bootstrap_rl.obs_normalization import NormalizedState

    return NormalizedState(env_state=None, stats=stats_)


def test_ppo_trains_a_gaussian_policy_on_pendulum_behind_the_normaliser():
    from bootstrap_rl.ppo import PPOConfig, make_ppo

    env, params = bootstrap_rl.make("Pendulum-v1")
    env = NormalizeObservation(env)
    config = PPOConfig(total_timesteps=2 * 8 * 32, num_envs=8, num_steps=32, update_epochs=1,
                       num_minibatches=2, hidden_sizes=(16,))
    ppo = make_ppo(config, env, params)
    assert isinstance(ppo.network, ContinuousActorCritic)
    state, metrics = jax.jit(ppo.train)(jax.random.key(0))
    assert metrics["entropy"].shape == (2,)
    assert np.isfinite(np.asarray(metrics["total_loss"])).all()
    np.testing.assert_allclose(metrics["entropy"][0], 0.5 * np.log(2 * np.pi * np.e), rtol=1e-3)  # std 1, 1-D
    obs_stats = running_stats(state.env_state)
    assert float(obs_stats.count) == pytest.approx(8 * (1 + 2 * 32) + 1e-4)
    # Evaluating the raw env through NormalizedNetwork sees what the trained policy saw.
    raw_obs = jnp.ones((4, 3))
    wrapped_policy = NormalizedNetwork(ppo.network).apply((state.params, obs_stats), raw_obs, method="policy")
    direct = ppo.network.apply(state.params, normalize(obs_stats, raw_obs), method="policy")
    np.testing.assert_allclose(wrapped_policy.mean, direct.mean, rtol=1e-6)
