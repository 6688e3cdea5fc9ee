"""GAE with terminations and truncations, against a hand computation and a NumPy reference."""

import numpy as np
import pytest

from bootstrap_rl.ppo import gae


def numpy_gae(rewards, values, next_values, terminated, truncated, gamma, lam):
    """Textbook backward recursion, one env at a time, in plain Python."""
    T, N = rewards.shape
    advantages = np.zeros((T, N))
    for n in range(N):
        running = 0.0
        for t in reversed(range(T)):
            bootstrap = 0.0 if terminated[t, n] else gamma * next_values[t, n]
            delta = rewards[t, n] + bootstrap - values[t, n]
            if terminated[t, n] or truncated[t, n]:
                running = 0.0  # the episode ended: nothing flows back across the boundary
            running = delta + gamma * lam * running
            advantages[t, n] = running
    return advantages, advantages + values


def test_hand_computed_example():
    # t=1 is truncated (time limit): its target bootstraps from V(final obs) = 2.0.
    # t=2 is terminated: no bootstrap, although next_values[2] is 0.9.
    rewards = np.array([[1.0], [1.0], [1.0]])
    values = np.array([[0.5], [0.6], [0.7]])
    next_values = np.array([[0.6], [2.0], [0.9]])
    terminated = np.array([[False], [False], [True]])
    truncated = np.array([[False], [True], [False]])
    advantages, targets = gae(rewards, values, next_values, terminated, truncated, 0.9, 0.8)
    # deltas: 1 + .9*.6 - .5 = 1.04;  1 + .9*2 - .6 = 2.2;  1 - .7 = 0.3
    # A2 = 0.3; A1 = 2.2 (episode boundary after t=1); A0 = 1.04 + .9*.8*2.2 = 2.624
    np.testing.assert_allclose(np.asarray(advantages)[:, 0], [2.624, 2.2, 0.3], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(targets)[:, 0], [3.124, 2.8, 1.0], rtol=1e-6)


def test_truncation_bootstraps_but_termination_does_not():
    # Same step, same numbers; only the kind of ending differs.
    args = dict(rewards=np.ones((1, 1)), values=np.zeros((1, 1)), next_values=np.full((1, 1), 5.0))
    _, truncated_target = gae(**args, terminated=np.zeros((1, 1), bool), truncated=np.ones((1, 1), bool),
                              gamma=0.9, gae_lambda=0.95)
    _, terminated_target = gae(**args, terminated=np.ones((1, 1), bool), truncated=np.zeros((1, 1), bool),
                               gamma=0.9, gae_lambda=0.95)
    assert float(truncated_target[0, 0]) == pytest.approx(1.0 + 0.9 * 5.0)
    assert float(terminated_target[0, 0]) == pytest.approx(1.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_numpy_reference(seed):
    rng = np.random.default_rng(seed)
    T, N = 17, 5
    rewards, values, next_values = (rng.normal(size=(T, N)).astype(np.float32) for _ in range(3))
    terminated = rng.random((T, N)) < 0.1
    truncated = rng.random((T, N)) < 0.1  # both at once happens too: termination wins
    advantages, targets = gae(rewards, values, next_values, terminated, truncated, 0.97, 0.9)
    ref_adv, ref_targets = numpy_gae(rewards, values, next_values, terminated, truncated, 0.97, 0.9)
    np.testing.assert_allclose(advantages, ref_adv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(targets, ref_targets, rtol=1e-5, atol=1e-5)
