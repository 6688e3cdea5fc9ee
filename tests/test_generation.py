"""Direct weight modification: the hypernetwork manager (generated slot, gradients, adult fit,
exact copy into the slot) and the mixing manager (soups of slots, ES search, jit/vmap)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bootstrap_rl import library
from bootstrap_rl.library import LibraryActorCritic, LibrarySpec, flatten_slot, slot_shapes
from bootstrap_rl.managers import Managed, StageStart
from bootstrap_rl.managers.generation import (
    generated_slot, hypernetwork, mix_slots, mixing, mixing_env_steps,
)
from bootstrap_rl.ppo import PPOConfig

# Compilation dominates these tests: most XLA optimisations off (conftest).
pytestmark = pytest.mark.usefixtures("quick_compiles")

SPEC = LibrarySpec(slots=3, hidden=8, hyper_dim=4, tasks=4)
ACTIONS = 3
NET = LibraryActorCritic(SPEC, ACTIONS, False)
OBS = jax.random.normal(jax.random.PRNGKey(3), (16, 5))
INIT = jax.jit(NET.init)  # compiled once: an eager orthogonal init is slow on CPU


@functools.cache
def initial_variables():
    """NET's variables, made on first use (not at import: both test workers import every file)."""
    return INIT(jax.random.PRNGKey(0), OBS)


def Learner(params):  # noqa: N802 (reads as the learner state it stands for)
    return Managed(params=params, hparams={}, opt_state=())


def stage(index, adult=False, score=None, score_env_steps=0):
    return StageStart(jnp.int32(index), jnp.bool_(adult), None, score, score_env_steps)


@jax.jit
def logits(variables):
    return NET.apply(variables, OBS)[0].logits


def leaves_equal(a, b):
    return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


# --- hypernetwork ---------------------------------------------------------------------------


def test_generated_slot_has_the_slot_shapes_and_is_what_the_network_uses():
    gen = generated_slot(initial_variables(), 2)
    assert jax.tree.map(jnp.shape, gen) == jax.tree.map(
        tuple, slot_shapes(SPEC, ACTIONS), is_leaf=lambda x: isinstance(x, tuple))
    p = jax.tree.map(np.asarray, initial_variables()["params"])
    np.testing.assert_allclose(flatten_slot(gen), p["task_embedding"][2] @ p["hyper"]["kernel"] + p["hyper"]["bias"],
                               rtol=1e-6, atol=1e-6)
    # The network with slot 0 generated for task 2 computes what it computes with those
    # weights stored in slot 0 (same layout as the network's own unflattening).
    on = library.replace(initial_variables(), generated=jnp.array([1.0, 0, 0]), task=jnp.int32(2))
    stored = library.set_slot(initial_variables(), 0, gen)
    np.testing.assert_allclose(logits(on), logits(stored), rtol=1e-5, atol=1e-6)


def ppo_like_loss(trainable, variables, actions, advantages, targets):
    dist, values = NET.apply({**variables, "params": trainable}, OBS)
    return -(dist.log_prob(actions) * advantages).mean() + 0.5 * ((values - targets) ** 2).mean()


def test_childhood_stage_generates_the_slot_and_gradients_reach_the_hypernetwork_and_embedding():
    m = hypernetwork(slot=1)
    mstate = m.init(jax.random.PRNGKey(0), initial_variables())
    mstate, learner = m.on_stage_start(mstate, Learner(initial_variables()), stage(2))
    lib = library.get(learner.params)
    assert int(lib["task"]) == 2 and int(mstate.phase) == 0
    np.testing.assert_array_equal(lib["generated"], [0, 1, 0])
    np.testing.assert_array_equal(lib["active"], [0, 1, 0])
    # The policy is exactly the generated head: H(z_2) stored in slot 1, slot 1 alone.
    alone = library.replace(library.set_slot(initial_variables(), 1, generated_slot(initial_variables(), 2)), active=jnp.array([0.0, 1, 0]))
    np.testing.assert_allclose(logits(learner.params), logits(alone), rtol=1e-5, atol=1e-6)

    keys = jax.random.split(jax.random.PRNGKey(5), 3)
    actions = jax.random.randint(keys[0], (16,), 0, ACTIONS)
    advantages, targets = jax.random.normal(keys[1], (16,)), jax.random.normal(keys[2], (16,))
    g = jax.jit(jax.grad(ppo_like_loss))(learner.params["params"], learner.params, actions, advantages, targets)
    assert float(jnp.abs(g["hyper"]["kernel"]).max()) > 1e-6
    assert float(jnp.abs(g["hyper"]["bias"]).max()) > 1e-6
    norms = jnp.abs(g["task_embedding"]).sum(-1)
    assert float(norms[2]) > 1e-6 and float(norms[jnp.array([0, 1, 3])].max()) == 0.0  # only z_2
    # The stored slots get nothing: slot 1 is replaced by H(z_2), the others are inactive.
    assert max(float(jnp.abs(x).max()) for x in jax.tree.leaves(g["slots"])) == 0.0


def scaled_ones(variables):
    ones = jax.tree.map(jnp.ones_like, variables["params"])
    return NET.scale_updates(variables, ones)


def adult_setup(fit_updates, finetune=True):
    m = hypernetwork(slot=0, fit_updates=fit_updates, finetune=finetune)
    variables = library.replace(initial_variables(), lr_scale=jnp.array([1.0, 0.5, 1.0]))  # restored after the fit
    mstate = m.init(jax.random.PRNGKey(0), variables)
    learner = Learner(variables)
    for index in (0, 1):
        mstate, learner = m.on_stage_start(mstate, learner, stage(index))
    mstate, learner = m.on_stage_start(mstate, learner, stage(2, adult=True))
    return m, mstate, learner


def test_adult_fit_trains_only_the_new_embedding_then_the_copy_keeps_the_policy_exactly():
    m, mstate, learner = adult_setup(fit_updates=3)
    emb = np.asarray(initial_variables()["params"]["task_embedding"])
    new = np.asarray(learner.params["params"]["task_embedding"])
    np.testing.assert_allclose(new[2], (emb[0] + emb[1]) / 2, rtol=1e-6)  # mean of the childhood ones
    np.testing.assert_array_equal(np.delete(new, 2, axis=0), np.delete(emb, 2, axis=0))
    assert int(library.get(learner.params)["task"]) == 2 and int(mstate.phase) == 1

    scaled = scaled_ones(learner.params)
    np.testing.assert_array_equal(scaled["task_embedding"], np.ones_like(emb))
    others = {k: v for k, v in scaled.items() if k != "task_embedding"}
    assert max(float(jnp.abs(x).max()) for x in jax.tree.leaves(others)) == 0.0

    after_update = jax.jit(m.after_update)
    for _ in range(2):
        mstate, learner = after_update(mstate, learner, None)
    assert int(mstate.phase) == 1 and int(mstate.updates) == 2  # still fitting
    before = learner.params
    mstate, learner = after_update(mstate, learner, None)  # the third update ends the fit
    assert int(mstate.phase) == 2 and int(mstate.updates) == 3
    lib = library.get(learner.params)
    np.testing.assert_array_equal(lib["generated"], [0, 0, 0])
    np.testing.assert_array_equal(lib["lr_scale"], [1.0, 0.5, 1.0])
    assert all(float(s) == 1.0 for s in lib["group_scale"].values())
    assert leaves_equal(library.get_slot(learner.params, 0), generated_slot(before, 2))
    np.testing.assert_array_equal(logits(learner.params), logits(before))  # same policy, exactly
    scaled = scaled_ones(learner.params)
    assert float(jnp.abs(scaled["slots"]["hidden"]["kernel"][0] - 1).max()) == 0.0  # slot 0 trains now
    mstate, learner2 = after_update(mstate, learner, None)  # nothing more happens
    assert leaves_equal(learner2.params, learner.params)


def test_without_finetune_the_slot_stays_generated_and_fit_updates_zero_switches_at_once():
    m, mstate, learner = adult_setup(fit_updates=1, finetune=False)
    stored = library.get_slot(learner.params, 0)
    mstate, learner = m.after_update(mstate, learner, None)
    lib = library.get(learner.params)
    assert int(mstate.phase) == 2
    np.testing.assert_array_equal(lib["generated"], [1, 0, 0])
    np.testing.assert_array_equal(lib["lr_scale"], [1.0, 0.5, 1.0])
    assert float(lib["group_scale"]["hyper"]) == 1.0
    assert leaves_equal(library.get_slot(learner.params, 0), stored)

    m, mstate, learner = adult_setup(fit_updates=0)
    assert int(mstate.phase) == 2
    np.testing.assert_array_equal(library.get(learner.params)["generated"], [0, 0, 0])


def test_hypernetwork_validates_its_arguments_and_the_library():
    for kwargs, name in (({"slot": -1}, "slot"), ({"fit_updates": 1.5}, "fit_updates"), ({"finetune": 1}, "finetune")):
        with pytest.raises(ValueError, match=name):
            hypernetwork(**kwargs)
    with pytest.raises(ValueError, match="slot"):
        hypernetwork(slot=3).init(jax.random.PRNGKey(0), initial_variables())
    plain_net = LibraryActorCritic(SPEC.replace(hyper_dim=0), ACTIONS, False)
    plain = jax.eval_shape(plain_net.init, jax.random.PRNGKey(0), OBS)
    with pytest.raises(ValueError, match="hyper_dim"):
        hypernetwork().init(jax.random.PRNGKey(0), plain)


# --- mixing ---------------------------------------------------------------------------------


def test_mix_slots_with_one_hot_coefficients_reproduces_the_source_exactly():
    slots = initial_variables()["params"]["slots"]
    for j in range(3):
        one_hot = jnp.zeros(3).at[j].set(1.0)
        assert leaves_equal(mix_slots(slots, one_hot), library.get_slot(initial_variables(), j))
    alpha = jnp.array([0.2, -0.5, 1.3])
    mixed = mix_slots(slots, alpha)
    for got, stacked in zip(jax.tree.leaves(mixed), jax.tree.leaves(slots)):
        np.testing.assert_allclose(got, np.tensordot(np.asarray(alpha), np.asarray(stacked), 1), rtol=1e-5, atol=1e-6)


def no_score(params, key):
    raise AssertionError("generations=0 must not score anything")


def test_mixing_without_search_copies_one_source_then_soups_two():
    m = mixing(generations=0)
    mstate = m.init(jax.random.PRNGKey(0), initial_variables())
    learner = Learner(initial_variables())
    mstate, learner = m.on_stage_start(mstate, learner, stage(0, score=no_score))
    assert leaves_equal(learner.params, initial_variables())  # the first stage mixes nothing
    mstate, learner = m.on_stage_start(mstate, learner, stage(1, score=no_score))
    lib = library.get(learner.params)
    assert int(mstate.target) == 1
    np.testing.assert_array_equal(mstate.alpha, [1, 0, 0])
    np.testing.assert_array_equal(lib["active"], [0, 1, 0])
    np.testing.assert_array_equal(lib["frozen"], [1, 0, 0])
    assert leaves_equal(library.get_slot(learner.params, 1), library.get_slot(initial_variables(), 0))
    np.testing.assert_array_equal(logits(learner.params), logits(initial_variables()))  # one source: the same policy

    trained = library.set_slot(learner.params, 1, library.get_slot(initial_variables(), 2))  # stage 1 "trained" slot 1
    mstate, learner = m.on_stage_start(mstate, Learner(trained), stage(2, score=no_score))
    lib = library.get(learner.params)
    assert int(mstate.target) == 2
    np.testing.assert_allclose(mstate.alpha, [0.5, 0.5, 0], rtol=1e-6)
    np.testing.assert_array_equal(lib["active"], [0, 0, 1])
    np.testing.assert_array_equal(lib["frozen"], [1, 1, 0])
    expected = jax.tree.map(lambda a, b: 0.5 * a + 0.5 * b, library.get_slot(initial_variables(), 0), library.get_slot(initial_variables(), 2))
    for got, want in zip(jax.tree.leaves(library.get_slot(learner.params, 2)), jax.tree.leaves(expected)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


PLANTED = jnp.array([0.9, 0.1, 0.0])


def planted_score(variables):
    """Rewards closeness of the active slot's weights to the planted soup of slots 0 and 1."""
    target = mix_slots(variables["params"]["slots"], PLANTED)

    def score(params, key):
        lib = library.get(params)
        slot = jax.tree.map(lambda x: jnp.tensordot(lib["active"], x, axes=1), params["params"]["slots"])
        d2 = sum(jnp.mean((a - b) ** 2) for a, b in zip(jax.tree.leaves(slot), jax.tree.leaves(target)))
        return -d2 + 1e-4 * jax.random.normal(key)  # a little rollout noise

    return score


def two_sources(variables):
    return library.replace(variables, active=jnp.array([1.0, 1.0, 0.0]))


MIXING = mixing(candidates=8, generations=40, sigma=0.1, learning_rate=0.05)


def mixing_starts(seeds, net_seeds):
    """MIXING's stage start 1 on the planted problem, one compile for every call, vmapped over
    seeds: each seed's library has slots 0 and 1 as sources; returns (mstates, learners)."""
    inits = [two_sources(INIT(k, OBS)) for k in net_seeds]
    mstates = [MIXING.init(k, v) for k, v in zip(seeds, inits)]
    stack = lambda trees: jax.tree.map(lambda *xs: jnp.stack(xs), *trees)  # noqa: E731
    return inits, _STARTS(stack(mstates), stack(inits), jnp.int32(1))


def _start(mstate, variables, index):
    return MIXING.on_stage_start(mstate, Learner(variables),
                                 stage(index, score=planted_score(variables), score_env_steps=10))


_STARTS = jax.jit(jax.vmap(_start, in_axes=(0, 0, None)))
KEYS = jax.random.split(jax.random.PRNGKey(7), 4)


def test_mixing_es_finds_the_planted_soup():
    inits, (mstates, learners) = mixing_starts(KEYS[:3], [jax.random.PRNGKey(0)] * 3)
    for i in range(3):  # three ES runs (seeds) on the same library
        alpha = np.asarray(mstates.alpha[i])
        # From the uniform soup (0.5, 0.5) to within 0.1 of (0.9, 0.1); the unused slot stays 0.
        assert np.abs(alpha - np.asarray(PLANTED)).max() < 0.1 and alpha[2] == 0.0
        fitness = np.asarray(mstates.fitness[i])
        assert fitness[-5:].mean() > fitness[:5].mean()
    assert (np.asarray(mstates.target) == 2).all()
    # The candidates' rollouts are reported as env steps outside the budget: 8 x 40 of 10 steps.
    np.testing.assert_array_equal(jax.vmap(MIXING.report)(mstates).uncharged_env_steps, [8 * 40 * 10] * 3)


def test_mixing_stage_start_jits_and_vmaps_over_seeds_without_mixing_them():
    batch, changed = [0, 1, 2], [3, 1, 2]  # seed 0 swapped for seed 3: seeds 1 and 2 must not notice
    inits, (ms1, l1) = mixing_starts(KEYS[jnp.array(batch)], KEYS[jnp.array(batch)])
    _, (ms2, l2) = mixing_starts(KEYS[jnp.array(changed)], KEYS[jnp.array(changed)])
    np.testing.assert_array_equal(ms1.alpha[1:], ms2.alpha[1:])
    assert leaves_equal(jax.tree.map(lambda x: x[1:], l1.params), jax.tree.map(lambda x: x[1:], l2.params))
    assert not np.allclose(ms1.alpha[0], ms2.alpha[0])
    assert not np.allclose(ms1.alpha[1], ms1.alpha[2])  # each seed searched its own
    lib = library.get(l1.params)
    np.testing.assert_array_equal(lib["active"], [[0, 0, 1]] * 3)
    np.testing.assert_array_equal(lib["frozen"], [[1, 1, 0]] * 3)
    for i in range(3):  # every seed's new slot is its own library's soup with its own alpha
        mixed = mix_slots(inits[i]["params"]["slots"], ms1.alpha[i])
        own = library.get_slot(jax.tree.map(lambda x: x[i], l1.params), 2)
        assert leaves_equal(own, mixed)


def test_mixing_env_steps_and_argument_validation():
    config = PPOConfig(num_envs=4, num_steps=32, total_timesteps=4 * 32 * 10)
    assert mixing_env_steps(config, candidates=8, generations=4) == 8 * 4 * 4 * 32
    for kwargs, name in (({"candidates": 3}, "candidates"), ({"generations": -1}, "generations"),
                         ({"sigma": 0}, "sigma"), ({"learning_rate": -1.0}, "learning_rate"), ({"slot": "a"}, "slot")):
        with pytest.raises(ValueError, match=name):
            mixing(**kwargs)
    with pytest.raises(ValueError, match="slot"):
        mixing(slot=5).init(jax.random.PRNGKey(0), initial_variables())


def test_mixing_defaults_move_a_coefficient_past_a_tenth_in_one_stage_start_and_report_it():
    """The defaults must be able to reach a soup away from uniform in one stage start (the old
    two generations at 0.05 could not move a coefficient past about 0.1)."""
    m = mixing()
    variables = two_sources(INIT(jax.random.PRNGKey(0), OBS))
    mstate = m.init(jax.random.PRNGKey(1), variables)
    mstate, _ = jax.jit(lambda s, v: m.on_stage_start(s, Learner(v), stage(1, score=planted_score(v))))(
        mstate, variables)
    alpha = np.asarray(mstate.alpha)
    report = m.report(mstate)
    shift = np.abs(alpha[:2] - 0.5).max()
    assert shift > 0.1 and alpha[0] > 0.6  # toward (0.9, 0.1) from (0.5, 0.5)
    np.testing.assert_allclose(report.diagnostics["mixing/coef_shift"], shift, rtol=1e-6)
    assert float(report.diagnostics["mixing/tied_generations"]) == 0
    assert float(report.diagnostics["mixing/fitness_gain"]) > 0


def test_mixing_with_every_candidate_tied_stays_uniform_and_counts_the_ties():
    """A success-only reward no candidate earns scores every candidate 0: no direction, so
    no step (not a random walk), and the report says each generation tied."""
    m = mixing(generations=5)
    variables = two_sources(initial_variables())
    mstate = m.init(jax.random.PRNGKey(1), variables)
    zero = lambda params, key: jnp.float32(0.0)  # noqa: E731
    mstate, _ = m.on_stage_start(mstate, Learner(variables), stage(1, score=zero))
    np.testing.assert_allclose(mstate.alpha, [0.5, 0.5, 0.0])
    report = m.report(mstate)
    assert float(report.diagnostics["mixing/tied_generations"]) == 5
    assert float(report.diagnostics["mixing/coef_shift"]) == 0
