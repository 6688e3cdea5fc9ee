"""End-to-end PPO: it learns, chunked runs equal one scan, and time limits are bootstrapped."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct
from gymnax.environments import environment, spaces

import bootstrap_rl
from bootstrap_rl import stats
from bootstrap_rl.evaluation import evaluate
from bootstrap_rl.ppo import PPOConfig, make_ppo
from bootstrap_rl.runner import chunk_size, run

# Compilation dominates these tests: most XLA optimisations off (conftest).
pytestmark = pytest.mark.usefixtures("quick_compiles")

SEEDS = 2


@pytest.fixture(scope="module")
def cartpole():
    """A short PureJaxRL-configured CartPole run, 2 seeds; compiled once for the module."""
    env, env_params = bootstrap_rl.make("CartPole-v1")
    config = PPOConfig(total_timesteps=40_960)
    ppo = make_ppo(config, env, env_params)
    keys = jax.random.split(jax.random.key(0), SEEDS)
    state, metrics = run(ppo.init, ppo.update, keys, config.num_updates, chunks=4)
    return env, env_params, config, ppo, keys, state, metrics


def test_ppo_clearly_beats_a_random_policy(cartpole):
    env, env_params, config, ppo, keys, state, metrics = cartpole
    # Random baseline measured here, not assumed: the untrained network is near-uniform
    # (policy head initialised at scale 0.01).
    untrained = jax.vmap(ppo.init)(keys).params
    evaluate_all = jax.jit(jax.vmap(
        lambda params, key: evaluate(ppo.network, params, env, env_params, key, 64)[0]
    ))
    eval_keys = jax.random.split(jax.random.key(1), SEEDS)
    random_return = float(np.mean(evaluate_all(untrained, eval_keys)))
    trained_return = np.asarray(evaluate_all(state.params, eval_keys)).mean(axis=1)
    assert 15 < random_return < 35  # CartPole's random policy lasts ~22 steps
    assert (trained_return > 4 * random_return).all(), (trained_return, random_return)
    # The training curve tells the same story.
    final = stats.final_window(metrics["episode_return"])
    early = np.nanmean(metrics["episode_return"][:, :5], axis=1)
    assert (final > 3 * early).all()


def test_metrics_are_bounded_scalars_per_update(cartpole):
    *_, config, ppo, keys, state, metrics = cartpole
    for name, values in metrics.items():
        assert values.shape == (SEEDS, config.num_updates), name
    np.testing.assert_array_equal(np.asarray(state.update), config.num_updates)
    # The learning rate anneals linearly to zero, stepwise per update.
    lr = metrics["learning_rate"][0]
    assert lr[0] == pytest.approx(config.learning_rate, rel=1e-5)
    assert lr[-1] == pytest.approx(config.learning_rate / config.num_updates, rel=1e-5)
    # Finished episodes are counted: over the run, every env step belongs to some episode.
    episodes, lengths = metrics["episodes"], np.nan_to_num(metrics["episode_length"])
    assert (episodes * lengths).sum(axis=1).max() <= config.env_steps
    assert (episodes * lengths).sum(axis=1).min() > 0.9 * config.env_steps - 500 * config.num_envs


def test_chunked_run_equals_one_scan():
    """16 updates in 8 chunks (7 boundaries) against one scan, on the same keys. The two programs
    may fuse differently, so floats may differ in the last bits; over a long run that flips a
    sampled action at some point and the runs part ways (both valid RL runs: at PureJaxRL's
    sizes, from update 21 here). Over these 16 small updates they agree to rounding, so a wrong
    carry across a boundary (keys, env, optimiser or schedule state) fails the test."""
    env, env_params = bootstrap_rl.make("CartPole-v1")
    config = PPOConfig(num_envs=4, num_steps=32, num_minibatches=2, update_epochs=2, hidden_sizes=(32, 32),
                       total_timesteps=4 * 32 * 16)
    ppo = make_ppo(config, env, env_params)
    keys = jax.random.split(jax.random.key(0), SEEDS)
    assert chunk_size(config.num_updates, 8) == 2
    state, metrics = run(ppo.init, ppo.update, keys, config.num_updates, chunks=8)
    one_scan_state, one_scan_metrics = jax.jit(jax.vmap(ppo.train))(keys)
    for name in metrics:
        np.testing.assert_allclose(metrics[name], one_scan_metrics[name], rtol=1e-4, atol=1e-6, err_msg=name)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6),
                 state.params, one_scan_state.params)
    np.testing.assert_array_equal(state.update, one_scan_state.update)


@pytest.mark.parametrize("updates, chunks, expected", [(976, 20, 61), (100, 20, 5), (7, 20, 1), (97, 4, 25)])
def test_chunk_size(updates, chunks, expected):
    # 976 = 16 * 61: one compile. 97 is prime: chunks of 25 and a remainder of 22.
    assert chunk_size(updates, chunks) == expected


# --- truncation: a planted effect on the learned values -----------------------------------------

@struct.dataclass
class _State(environment.EnvState):
    pass


@struct.dataclass
class _Params(environment.EnvParams):
    max_steps_in_episode: int = 8


class EndlessReward(environment.Environment):
    """Never terminates; truncated after 8 steps. Two observations: ``start`` at reset, ``later``.

    The step out of ``start`` pays -10, every later step +1, forever (the time limit is not
    part of the task). With gamma = 0.9 the true values are V(later) = 1 / (1 - 0.9) = 10 and
    V(start) = -10 + 0.9 * 10 = -1. A learner that treats the time limit as a termination
    (PureJaxRL) fits V(later) ~ 3.6, the mean truncated return; one that bootstraps from the
    observation *after* the auto-reset (``start``, not ``info["final_observation"]``) pulls
    V(later) down too, since the last step's target becomes 1 + 0.9 * V(start) = 0.1.
    """

    start = jnp.array([1.0, 0.0])
    later = jnp.array([0.0, 1.0])

    @property
    def default_params(self):
        return _Params()

    def step_env(self, key, state, action, params):
        reward = jnp.where(state.time == 0, -10.0, 1.0)
        return self.later, _State(time=state.time + 1), reward, jnp.bool_(False), {}

    def reset_env(self, key, params):
        return self.start, _State(time=0)

    def action_space(self, params=None):
        return spaces.Discrete(2)

    def observation_space(self, params):
        return spaces.Box(0.0, 1.0, (2,), jnp.float32)


def test_time_limits_bootstrap_from_the_final_observation():
    env = EndlessReward()
    config = PPOConfig(total_timesteps=4 * 16 * 500, num_envs=4, num_steps=16, num_minibatches=1,
                       learning_rate=3e-3, anneal_lr=False, gamma=0.9, gae_lambda=0.95,
                       clip_eps=10.0, max_grad_norm=10.0, hidden_sizes=(16,))
    ppo = make_ppo(config, env, env.default_params)
    state, _ = jax.jit(ppo.train)(jax.random.key(0))
    values = ppo.network.apply(state.params, jnp.stack([env.start, env.later]), method="value")
    assert float(values[1]) == pytest.approx(10.0, abs=0.5)
    assert float(values[0]) == pytest.approx(-1.0, abs=0.5)


def test_truncation_budget_and_its_overflow_is_reported():
    from bootstrap_rl.ppo.train import max_truncations

    config = PPOConfig(num_envs=4, num_steps=16, num_minibatches=1, total_timesteps=64)
    # One truncation per env per 8 steps at most: 2 per env in 16 steps.
    assert max_truncations(config, _Params(max_steps_in_episode=8)) == 8
    assert max_truncations(config, _Params(max_steps_in_episode=500)) == 4
    assert max_truncations(config, _Params(max_steps_in_episode=3)) == 4 * 6
    assert max_truncations(config, object()) == 64  # no limit to read: every step may truncate

    env = EndlessReward()
    ppo = make_ppo(config, env, _Params(max_steps_in_episode=8))
    state = ppo.init(jax.random.key(0))
    _, metrics = jax.jit(ppo.update)(state)
    assert float(metrics["unbootstrapped_truncations"]) == 0  # 2 per env, within budget
    # A shorter limit than make_ppo was told about: 16 steps / 2 = 8 truncations per env,
    # 32 in all, against a budget of 8; the overflow is reported, not hidden.
    shorter = state.replace(env_params=_Params(max_steps_in_episode=2))
    _, metrics = jax.jit(ppo.update)(shorter)
    assert float(metrics["unbootstrapped_truncations"]) == 32 - 8


def test_vmapped_init_never_runs_batched_qr_on_cpu():
    # Batched LAPACK QR (orthogonal init) inside a vmapped program deadlocked XLA's CPU thread
    # pool (16 seeds, 2 cores); init runs the seeds' QRs one at a time instead.
    env, env_params = bootstrap_rl.make("CartPole-v1")
    ppo = make_ppo(PPOConfig(), env, env_params)
    keys = jax.random.split(jax.random.key(0), 16)
    lowered = jax.jit(jax.vmap(ppo.init)).lower(keys).as_text()
    qr_calls = [line for line in lowered.splitlines() if "geqrf" in line and "custom_call" in line]
    assert qr_calls, "expected orthogonal init to call LAPACK's QR"
    assert all('num_batch_dims = "0"' in line for line in qr_calls)
    # ... and sequential initialisation gives each seed exactly what it gets on its own.
    batched = jax.vmap(ppo.init)(keys[:3]).params
    for i in range(3):
        alone = ppo.init(keys[i]).params
        jax.tree.map(lambda b, a: np.testing.assert_allclose(b[i], a, rtol=1e-6, atol=1e-7), batched, alone)


def test_the_learner_hands_managers_its_adam_moments_and_reports_what_they_spent():
    import jax.flatten_util

    from bootstrap_rl.managers import AdamMoments, Manager, ManagerReport

    def init(key, params):
        zeros = jax.tree.map(jnp.zeros_like, params["params"])
        return AdamMoments(jnp.zeros((), jnp.int32), zeros, zeros)

    def keep_moments(mstate, learner, handover):
        return handover.adam_moments(learner.opt_state), learner

    manager = Manager(init=init, after_update=keep_moments, report=lambda mstate: ManagerReport(jnp.float32(123.0)))
    env, env_params = bootstrap_rl.make("CartPole-v1")
    config = PPOConfig(num_envs=2, num_steps=8, num_minibatches=2, update_epochs=1, hidden_sizes=(4,),
                       total_timesteps=16)
    ppo = make_ppo(config, env, env_params, manager=manager)
    state, metrics = jax.jit(ppo.update)(ppo.init(jax.random.key(0)))
    assert float(metrics["uncharged_env_steps"]) == 123.0
    moments, (_, adam) = state.manager_state, state.opt_state
    assert int(moments.count) == 2  # one Adam step per minibatch
    for shaped, flat in ((moments.mu, adam.mu), (moments.nu, adam.nu)):
        assert jax.tree.structure(shaped) == jax.tree.structure(state.params["params"])
        np.testing.assert_array_equal(jax.flatten_util.ravel_pytree(shaped)[0], flat)
