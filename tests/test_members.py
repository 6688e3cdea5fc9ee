"""Several learners (members) per seed: members are independent learners unless a manager
couples them, their metrics pool into one learner's, and the fittest member acts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bootstrap_rl
from bootstrap_rl.managers import pbt
from bootstrap_rl.ppo import PPOConfig, make_members, make_ppo
from bootstrap_rl.ppo.members import pooled_metrics

# Compilation dominates these tests: most XLA optimisations off (conftest).
pytestmark = pytest.mark.usefixtures("quick_compiles")

CONFIG = PPOConfig(num_envs=2, num_steps=16, num_minibatches=2, update_epochs=1, hidden_sizes=(8,),
                   total_timesteps=2 * 16 * 3)


@pytest.fixture(scope="module")
def cartpole():
    return bootstrap_rl.make("CartPole-v1")


def test_members_train_as_independent_learners_from_their_own_keys(cartpole):
    member = make_ppo(CONFIG, *cartpole)
    learner = make_members(member, 3)
    key = jax.random.PRNGKey(4)
    state, metrics = jax.jit(learner.train)(key)
    fitness = []
    for m, member_key in enumerate([key, jax.random.fold_in(key, 1), jax.random.fold_in(key, 2)]):
        alone, alone_metrics = jax.jit(member.train)(member_key)
        for a, b in zip(jax.tree.leaves(alone.params), jax.tree.leaves(state.members.params)):
            np.testing.assert_allclose(b[m], a, rtol=1e-5, atol=1e-6)
        average = np.nan  # the moving average of training return, by hand (0.9 on the past)
        for ret in np.asarray(alone_metrics["episode_return"]):
            if not np.isnan(ret):
                average = ret if np.isnan(average) else 0.9 * average + 0.1 * ret
        fitness.append(average)
    np.testing.assert_allclose(state.fitness, fitness, rtol=1e-5)
    assert metrics["episodes"].shape == (CONFIG.num_updates,)  # pooled: one scalar per update
    # The member with the best average acts.
    acting = learner.acting_params(state)
    best = int(np.nanargmax(fitness))
    jax.tree.map(lambda a, b: np.testing.assert_array_equal(a, b[best]), acting, state.members.params)
    # Before any member finished an episode, member 0 acts: it starts as the seed's learner does.
    fresh = learner.init(key)
    jax.tree.map(lambda a, b: np.testing.assert_array_equal(a, b[0]), learner.acting_params(fresh),
                 fresh.members.params)


def test_pooled_metrics_weight_episode_statistics_by_episodes():
    metrics = {"episodes": jnp.array([1.0, 3.0, 0.0]), "episode_return": jnp.array([10.0, 2.0, jnp.nan]),
               "episode_length": jnp.array([5.0, 1.0, jnp.nan]), "uncharged_env_steps": jnp.array([1.0, 2.0, 3.0]),
               "entropy": jnp.array([0.5, 1.0, 1.5])}
    pooled = pooled_metrics(metrics)
    assert float(pooled["episodes"]) == 4.0
    assert float(pooled["episode_return"]) == pytest.approx((10 + 3 * 2) / 4)
    assert float(pooled["episode_length"]) == pytest.approx((5 + 3 * 1) / 4)
    assert float(pooled["uncharged_env_steps"]) == 6.0 and float(pooled["entropy"]) == 1.0
    assert np.isnan(float(pooled_metrics({**metrics, "entropy": jnp.array([0.5, jnp.nan, 1.0])})["entropy"]))
    none = pooled_metrics({**metrics, "episodes": jnp.zeros(3)})
    assert np.isnan(float(none["episode_return"]))


def test_pbt_across_members_copies_and_the_fittest_member_acts(cartpole):
    manager = pbt(every=1, fraction=0.5, size=2, perturb=(2.0,))
    learner = make_members(make_ppo(CONFIG, *cartpole, manager=manager), manager.members)
    state, _ = jax.jit(learner.train)(jax.random.PRNGKey(0))
    assert np.all(np.isfinite(np.asarray(state.fitness)))
    best = int(np.argmax(state.fitness))
    acting = learner.acting_params(state)
    jax.tree.map(lambda a, b: np.testing.assert_array_equal(a, b[best]), acting, state.members.params)
    # Exploit and explore happened: some member's learning rate is the perturbed copy of another's.
    rates = np.asarray(state.members.hparams["learning_rate"])
    assert sorted(rates.tolist()) != [CONFIG.learning_rate] * 2


def test_members_that_do_not_split_the_envs_are_rejected_naming_the_method():
    from bootstrap_rl import curriculum as cu
    from bootstrap_rl.ppo.config import ConfigError

    quick = cu.load("cartpole_physics", "quick")  # 16 envs
    with pytest.raises(ConfigError, match=r"methods\['pbt'\].*population of 3.*num_envs = 16"):
        quick.replace(methods={"pbt": pbt(size=3, fraction=0.5)})
    assert quick.replace(methods={"pbt": pbt(size=4)}).methods["pbt"].members == 4


def test_managers_across_members_combine_only_at_one_count():
    from bootstrap_rl.managers import chain, identity, only_in_stages, switch

    assert chain(identity(), pbt(size=4)).members == 4
    assert only_in_stages(pbt(size=2, fraction=0.5), (True,)).members == 2
    with pytest.raises(ValueError, match="different numbers of members"):
        chain(pbt(size=2, fraction=0.5), pbt(size=4))
    with pytest.raises(ValueError, match="switched by data"):
        switch((identity(), pbt(size=2, fraction=0.5)), 0)
    with pytest.raises(ValueError, match="size"):
        pbt(size=1)
    with pytest.raises(ValueError, match="fraction.*nothing would be copied"):
        pbt(size=2)  # a quarter of 2 members is none
    with pytest.raises(ValueError, match="size"):
        make_members(None, 0)  # checked before the learner is read
