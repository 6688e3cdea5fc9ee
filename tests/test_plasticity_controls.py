"""The pieces of the fair-arm controls, against values computed by hand: plasticity metrics,
the shrink-and-perturb reset, the mixed-childhood task distribution and capacity matching."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bootstrap_rl import plasticity
from bootstrap_rl.family import mix_distributions
from bootstrap_rl.managers import StageStart, shrink_perturb
from bootstrap_rl.managers.base import Managed

pytestmark = pytest.mark.usefixtures("quick_compiles")  # compiling is what these tests cost


def test_dormant_fraction_counts_units_far_below_the_layer_mean():
    # Four units over three rows: mean |activation| 1, 1, 2, 0.01 -> layer mean 1.0025; unit 3's
    # score 0.01 / 1.0025 < 0.025: dormant. A fourth row with weight 0 is ignored.
    features = jnp.array([[1.0, -1.0, 2.0, 0.01], [1.0, 1.0, -2.0, -0.01], [-1.0, 1.0, 2.0, 0.01],
                          [0.0, 0.0, 0.0, 100.0]])
    weights = jnp.array([1.0, 1.0, 1.0, 0.0])
    assert float(plasticity.dormant_fraction(features, weights)) == pytest.approx(0.25)
    # With the masked row counted, unit 3 is the busiest: nothing dormant.
    assert float(plasticity.dormant_fraction(features, jnp.ones(4))) == 0.0


def test_feature_rank_is_the_srank_of_the_singular_values():
    # Singular values 10, 1, 0.001 (orthogonal columns): 10 < 0.99 * 11.001 <= 11, so srank 2.
    features = jnp.diag(jnp.array([10.0, 1.0, 0.001]))
    assert float(plasticity.feature_rank(features, jnp.ones(3))) == 2.0
    # A dominant direction alone reaches 99%.
    features = jnp.diag(jnp.array([100.0, 1.0, 0.001]))
    assert float(plasticity.feature_rank(features, jnp.ones(3))) == 1.0  # 100 >= 0.99 * 101.001
    assert float(plasticity.feature_rank(jnp.zeros((4, 3)), jnp.ones(4))) == 0.0


def test_weight_norm_and_active_parameters_without_a_library():
    variables = {"params": {"a": jnp.full((2, 3), 2.0), "b": jnp.array([3.0])}}
    assert float(plasticity.weight_norm(variables)) == pytest.approx(np.sqrt(6 * 4 + 9))
    assert float(plasticity.active_parameter_count(variables)) == 7


def _stage(is_adult: bool) -> StageStart:
    return StageStart(index=jnp.int32(1), is_adult=jnp.bool_(is_adult), tasks=None)


def test_shrink_perturb_scales_the_weights_only_when_the_adult_stage_starts():
    params = {"params": {"w": jnp.arange(6.0).reshape(2, 3), "b": jnp.ones(3)}, "library": {"x": jnp.ones(2)}}
    manager = shrink_perturb(shrink=0.5, perturb=0.0)
    mstate = manager.init(jax.random.PRNGKey(0), params)
    learner = Managed(params=params, hparams={}, opt_state=())
    _, same = manager.on_stage_start(mstate, learner, _stage(False))
    np.testing.assert_array_equal(same.params["params"]["w"], params["params"]["w"])
    _, reset = manager.on_stage_start(mstate, learner, _stage(True))
    np.testing.assert_allclose(reset.params["params"]["w"], 0.5 * params["params"]["w"])
    np.testing.assert_array_equal(reset.params["library"]["x"], params["library"]["x"])  # untrained: untouched
    # The perturbation has the scale asked for: 0.1 x each tensor's initial standard deviation.
    noisy = shrink_perturb(shrink=0.0, perturb=0.1)
    big = {"params": {"w": jax.random.normal(jax.random.PRNGKey(1), (200, 200)) * 3.0}}
    state = noisy.init(jax.random.PRNGKey(2), big)
    _, out = noisy.on_stage_start(state, learner._replace(params=big), _stage(True))
    assert float(jnp.std(out.params["params"]["w"])) == pytest.approx(0.1 * float(jnp.std(big["params"]["w"])),
                                                                      rel=0.02)


def _draw_kinds(distribution, n=4000):
    tasks = jax.vmap(distribution)(jax.random.split(jax.random.PRNGKey(3), n))
    return np.asarray(tasks.task_kind)


def test_the_mixed_childhood_draws_each_stage_s_tasks_with_its_budget_share():
    from bootstrap_rl.envs.playroom import TASK_KINDS, Playroom

    family = Playroom()
    turn, goto = family.task_distribution("turn"), family.task_distribution("goto")
    mixed = mix_distributions([turn, goto], [1.0, 3.0])
    kinds = _draw_kinds(mixed)
    share = np.mean(kinds == TASK_KINDS.index("goto"))
    assert set(np.unique(kinds)) == {TASK_KINDS.index("turn"), TASK_KINDS.index("goto")}
    assert abs(share - 0.75) < 4 * np.sqrt(0.75 * 0.25 / len(kinds))
    # Same pytree structure as its parts: the mixture runs through the stages' compiled program.
    assert jax.tree.structure(mixed) == jax.tree.structure(turn)


def test_a_mixture_of_samplers_of_other_functions_draws_by_weight():
    def constant(key, value):
        return value

    low = jax.tree_util.Partial(constant, value=jnp.float32(0.0))
    high = jax.tree_util.Partial(constant, value=jnp.float32(1.0))
    draws = np.asarray(jax.vmap(mix_distributions([low, high], [0.2, 0.8]))(jax.random.split(jax.random.PRNGKey(4),
                                                                                               4000)))
    assert set(np.unique(draws)) == {0.0, 1.0}
    assert abs(draws.mean() - 0.8) < 4 * np.sqrt(0.8 * 0.2 / len(draws))
    with pytest.raises(ValueError, match="weights"):
        mix_distributions([low, high], [0.0, 0.0])


def test_capacity_matching_picks_the_narrowest_width_with_enough_active_parameters():
    from bootstrap_rl.curriculum import load
    from bootstrap_rl.managers import Footprint
    from bootstrap_rl.study.parameters import matching_width, parameter_counts

    curriculum = load("playroom_ladder", "quick")
    depth = len(curriculum.learner.hidden_sizes)
    base = parameter_counts(curriculum, curriculum.learner.hidden_sizes, Footprint())[0]
    target = base + 5000
    width = matching_width(curriculum, target)
    assert parameter_counts(curriculum, (width,) * depth, Footprint())[0] >= target
    assert parameter_counts(curriculum, (width - 1,) * depth, Footprint())[0] < target
    assert matching_width(curriculum, 10**12) is None  # beyond 16x the learner's width
