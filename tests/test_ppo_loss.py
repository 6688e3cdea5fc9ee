"""The clipped PPO loss and minibatching, against plain NumPy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from bootstrap_rl.distributions import Categorical
from bootstrap_rl.ppo import permutation, ppo_loss, radix_permutation, shuffle_into_minibatches


def log_softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def numpy_ppo_loss(logits, values, actions, old_log_probs, old_values, advantages, targets, clip, vf, ent):
    log_p = log_softmax(logits)
    log_prob = log_p[np.arange(len(actions)), actions]
    ratio = np.exp(log_prob - old_log_probs)
    adv = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    surrogate = np.minimum(ratio * adv, np.clip(ratio, 1 - clip, 1 + clip) * adv)
    policy_loss = -surrogate.mean()
    clipped_values = old_values + np.clip(values - old_values, -clip, clip)
    value_loss = 0.5 * np.maximum((values - targets) ** 2, (clipped_values - targets) ** 2).mean()
    entropy = -(np.exp(log_p) * log_p).sum(axis=-1).mean()
    return {
        "total_loss": policy_loss + vf * value_loss - ent * entropy,
        "policy_loss": policy_loss,
        "value_loss": value_loss,
        "entropy": entropy,
        "approx_kl": ((ratio - 1) - np.log(ratio)).mean(),
        "clip_fraction": (np.abs(ratio - 1) > clip).mean(),
    }


def test_loss_matches_numpy_reference():
    rng = np.random.default_rng(0)
    B, A = 64, 3
    logits = rng.normal(size=(B, A))
    actions = rng.integers(0, A, size=B)
    # Old log-probs far enough from the new ones that some ratios are clipped.
    old_log_probs = log_softmax(logits)[np.arange(B), actions] + rng.normal(scale=0.3, size=B)
    values, old_values, targets = rng.normal(size=B), rng.normal(size=B), rng.normal(size=B)
    advantages = rng.normal(size=B) * 3 + 1
    expected = numpy_ppo_loss(logits, values, actions, old_log_probs, old_values, advantages, targets,
                              0.2, 0.5, 0.01)
    total, diagnostics = ppo_loss(
        Categorical(jnp.asarray(logits, jnp.float32)), jnp.asarray(values, jnp.float32),
        jnp.asarray(actions), jnp.asarray(old_log_probs, jnp.float32),
        jnp.asarray(old_values, jnp.float32), jnp.asarray(advantages, jnp.float32),
        jnp.asarray(targets, jnp.float32), clip_eps=0.2, vf_coef=0.5, ent_coef=0.01,
    )
    assert 0.05 < expected["clip_fraction"] < 0.95  # the clipping branch is exercised
    assert float(total) == pytest.approx(expected["total_loss"], rel=1e-4)
    for name, value in expected.items():
        assert float(diagnostics[name]) == pytest.approx(value, rel=1e-4, abs=1e-6), name


def test_clipping_stops_the_gradient_beyond_the_trust_region():
    # Normalised advantages are [-1, +1]. Sample 0: ratio 0.5 < 1 - eps with A < 0; sample 1:
    # ratio 4.5 > 1 + eps with A > 0. Both sit on the clipped, flat side of the surrogate, so
    # the policy gradient is exactly zero (value and entropy terms off).
    def loss(logits):
        total, _ = ppo_loss(Categorical(logits), jnp.zeros(2), jnp.array([0, 0]),
                            jnp.log(jnp.array([0.2, 0.2])), jnp.zeros(2), jnp.array([1.0, 3.0]),
                            jnp.zeros(2), clip_eps=0.2, vf_coef=0.0, ent_coef=0.0)
        return total

    clipped = jnp.log(jnp.array([[0.1, 0.9], [0.9, 0.1]]))
    assert np.allclose(jax.grad(loss)(clipped), 0.0)
    inside = jnp.log(jnp.array([[0.19, 0.81], [0.21, 0.79]]))  # ratios 0.95 and 1.05
    assert np.abs(jax.grad(loss)(inside)).max() > 1e-3


def test_minibatches_partition_the_batch_and_keep_fields_aligned():
    T, N, M = 8, 4, 4
    index = np.arange(T * N).reshape(T, N)
    batch = {"obs": np.stack([index, -index], axis=-1).astype(np.float32), "action": index}
    key = jax.random.key(3)
    minibatches = shuffle_into_minibatches(key, batch, M)
    assert minibatches["obs"].shape == (M, T * N // M, 2)
    assert minibatches["action"].shape == (M, T * N // M)
    actions = np.asarray(minibatches["action"])
    # Every transition appears exactly once per epoch ...
    assert sorted(actions.ravel().tolist()) == list(range(T * N))
    # ... each field of a transition travels together ...
    np.testing.assert_array_equal(np.asarray(minibatches["obs"])[..., 0], actions)
    np.testing.assert_array_equal(np.asarray(minibatches["obs"])[..., 1], -actions)
    # ... and the split is the time-major flattening, permuted, cut into M equal pieces.
    order = np.asarray(permutation(key, T * N))
    np.testing.assert_array_equal(actions, index.reshape(-1)[order].reshape(M, -1))
    # A different key gives a different order (the shuffle is real).
    other = np.asarray(shuffle_into_minibatches(jax.random.key(4), batch, M)["action"])
    assert not np.array_equal(other, actions)


def _reference_permutation(key, n):
    """The documented construction, by numpy: a stable sort of ``range(n)`` by the random
    key made of the digits above ``ceil(log2 n)`` bits of each pass's ``uint32``, the last
    pass's digit most significant (``np.lexsort`` sorts by its last key first)."""
    index_bits = int(np.ceil(np.log2(n)))
    passes = int(np.ceil(max(32, 3 * np.log2(n)) / (32 - index_bits)))
    digits = np.asarray(jax.random.bits(key, (passes, n), jnp.uint32)) >> index_bits
    return np.lexsort(list(digits))


@pytest.mark.parametrize("n", [2, 3, 7, 64, 1000, 10_000, 70_000])
def test_radix_permutation_is_the_stable_sort_by_its_random_key(n):
    key = jax.random.key(n)
    order = np.asarray(jax.jit(radix_permutation, static_argnums=1)(key, n))
    assert order.dtype == np.int32
    assert sorted(order.tolist()) == list(range(n))
    np.testing.assert_array_equal(order, _reference_permutation(key, n))


def test_radix_permutation_is_uniform_and_vmaps():
    # All 24 orderings of 4 elements, 24,000 draws: a chi-square test of uniformity, and each
    # element equally likely at each position. The seeds are fixed, so this cannot flake.
    keys = jax.random.split(jax.random.key(0), 24_000)
    orders = np.asarray(jax.jit(jax.vmap(lambda k: radix_permutation(k, 4)))(keys))
    np.testing.assert_array_equal(orders[:5], [np.asarray(radix_permutation(k, 4)) for k in keys[:5]])
    codes = orders @ np.array([64, 16, 4, 1])
    counts = np.array([np.sum(codes == c) for c in np.unique(codes)])
    assert len(counts) == 24
    assert scipy.stats.chisquare(counts).pvalue > 1e-3
    for position in range(4):
        assert scipy.stats.chisquare(np.bincount(orders[:, position], minlength=4)).pvalue > 1e-3


def test_permutation_picks_by_size():
    key = jax.random.key(1)
    assert permutation(key, 0).shape == (0,)
    np.testing.assert_array_equal(permutation(key, 1), [0])
    # Up to 1625 elements (one pair sort for jax) and past 2^18 it is jax.random.permutation's;
    # between, the radix sort's.
    for n, expected in [(2, jax.random.permutation), (1625, jax.random.permutation),
                        (1626, radix_permutation), (10_000, radix_permutation),
                        (2**18, radix_permutation), (2**18 + 1, jax.random.permutation)]:
        order = permutation(key, n)
        assert order.dtype == jnp.int32, n
        np.testing.assert_array_equal(order, expected(key, n), err_msg=f"n={n}")
