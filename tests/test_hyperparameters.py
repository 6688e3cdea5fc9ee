"""Hyperparameter managers: the meta-gradient controller moves step sizes and the entropy
coefficient toward their known optima on quadratics, per slot and per seed; PBT copies from the
top performers to the bottom of a seed's vmapped members, perturbs what it copied, and never
crosses seeds."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from bootstrap_rl.library import LibrarySpec, initial_library
from bootstrap_rl.managers import AdamMoments, Handover, Managed, StageStart, only_in_stages
from bootstrap_rl.managers.hyperparameters import meta_gradient, stage_schedule
from bootstrap_rl.managers.population_based import pbt
from bootstrap_rl.ppo.train import adam_moments

# Compilation dominates these tests: most XLA optimisations off (conftest).
pytestmark = pytest.mark.usefixtures("quick_compiles")


def State(params, hparams, opt_state=()):  # noqa: N802 (reads as the learner state it stands for)
    return Managed(params=params, hparams=hparams, opt_state=opt_state)


BATCH = {"x": jnp.zeros((8, 2))}  # the quadratics' targets: the optimum is w = 0


def quadratic(curvature):
    """0.5 * curvature * |w - x|^2 averaged over the batch: one SGD step of size lr lands on the
    optimum iff lr * curvature = 1; above, it overshoots."""
    def objective(params, batch, hparams):
        w = params["params"]["w"]
        return 0.5 * curvature * jnp.mean(jnp.sum((w[None] - batch["x"]) ** 2, -1))
    return objective


def plain_state(lr, ent=0.01):
    return State(params={"params": {"w": jnp.array([1.0, -2.0])}},
                 hparams={"learning_rate": jnp.float32(lr), "ent_coef": jnp.float32(ent)})


def run(manager, state, objective, steps, batch=BATCH, key=0, moments=None):
    mstate = manager.init(jax.random.PRNGKey(key), state.params)
    hook = jax.jit(lambda m, s: manager.after_update(m, s, Handover({}, batch, objective, adam_moments=moments)))
    trace = []
    for _ in range(steps):
        mstate, state = hook(mstate, state)
        trace.append(float(state.hparams["learning_rate"]))
    return mstate, state, trace


def test_stage_schedule_sets_each_stages_values_and_keeps_the_last_for_later_stages():
    m = stage_schedule(learning_rate=(1e-3, 5e-4), ent_coef=(0.05, 0.02, 0.0))
    hook = jax.jit(lambda s, i: m.on_stage_start((), s, StageStart(i, jnp.bool_(False), None))[1].hparams)
    seen = [hook(plain_state(7.0, ent=9.0), jnp.int32(i)) for i in range(4)]
    np.testing.assert_allclose([float(h["learning_rate"]) for h in seen], [1e-3, 5e-4, 5e-4, 5e-4])
    np.testing.assert_allclose([float(h["ent_coef"]) for h in seen], [0.05, 0.02, 0.0, 0.0])
    only_lr = jax.jit(lambda s: stage_schedule(learning_rate=(0.1,)).on_stage_start((), s, STAGE_0)[1].hparams)
    assert float(only_lr(plain_state(7.0, ent=9.0))["ent_coef"]) == 9.0  # names not given: untouched
    for bad, match in (({}, "at least one"), ({"gamma": (0.9,)}, "gamma"), ({"learning_rate": ()}, "learning_rate"),
                       ({"ent_coef": (0.1, -1.0)}, "ent_coef")):
        with pytest.raises(ValueError, match=match):
            stage_schedule(**bad)


STAGE_0 = StageStart(jnp.int32(0), jnp.bool_(False), None)


@pytest.mark.parametrize("start", [0.1, 4.0])  # lr * curvature: too small; overshooting
def test_meta_gradient_moves_the_learning_rate_toward_the_known_optimum(start):
    curvature = 10.0  # the best step size is 1 / curvature = 0.1
    m = meta_gradient(meta_lr=0.1, max_step=0.2, learning_rate_bounds=(1e-3, 1.0))
    state = plain_state(start / curvature)
    _, state, trace = run(m, state, quadratic(curvature), 60)
    # First Adam step: the change of log lr is meta_lr against the meta-gradient's sign, which
    # is d/dlog lr of 0.5 a |w (1 - lr a)|^2 = -lr a^2 |w|^2 (1 - lr a): up below 1/a, down above.
    expected_first = start / curvature * np.exp(0.1 if start < 1 else -0.1)
    assert trace[0] == pytest.approx(expected_first, rel=1e-4)
    # ...and it settles at the optimum; the weights were not touched.
    assert trace[-1] * curvature == pytest.approx(1.0, abs=0.1)
    np.testing.assert_array_equal(state.params["params"]["w"], [1.0, -2.0])
    assert float(state.hparams["ent_coef"]) == pytest.approx(0.01)  # the loss has no entropy term


def library_params(lr_scale, frozen):
    spec = LibrarySpec(slots=3, hidden=4)
    lib = {**initial_library(spec), "lr_scale": jnp.asarray(lr_scale, jnp.float32),
           "frozen": jnp.asarray(frozen, jnp.float32)}
    return {"params": {"slots": {"w": jnp.ones((3, 2))}, "encoder": {"w": jnp.ones(2)}},
            "library": {"state": lib}}


def slot_quadratic(params, batch, hparams):
    p = params["params"]
    slots = 0.5 * 10.0 * jnp.sum(p["slots"]["w"] ** 2)
    return slots + 0.5 * jnp.sum(p["encoder"]["w"] ** 2) + 0 * batch["x"].mean()


def test_meta_gradient_tunes_each_slot_multiplier_of_the_library():
    # Base lr 0.1, curvature 10: slot i's step lands on the optimum at lr_scale[i] = 1. Slot 0
    # starts too small, slot 1 overshoots, slot 2 is frozen (its step is 0: no meta-gradient).
    m = meta_gradient(meta_lr=0.1, max_step=0.2)
    state = State(params=library_params([0.3, 3.0, 2.0], [0, 0, 1]),
                  hparams={"learning_rate": jnp.float32(0.1), "ent_coef": jnp.float32(0.01)})
    mstate = m.init(jax.random.PRNGKey(0), state.params)
    hook = jax.jit(lambda ms, s: m.after_update(ms, s, Handover({}, BATCH, slot_quadratic)))
    mstate, first = hook(mstate, state)
    scale = np.asarray(first.params["library"]["state"]["lr_scale"])
    np.testing.assert_allclose(scale, [0.3 * np.exp(0.1), 3.0 * np.exp(-0.1), 2.0], rtol=1e-4)
    for _ in range(60):
        mstate, state = hook(mstate, state)
    scale = np.asarray(state.params["library"]["state"]["lr_scale"])
    np.testing.assert_allclose(scale[:2], [1.0, 1.0], atol=0.1)
    assert scale[2] == 2.0
    # With a library the global learning rate is left to the learner; the weights untouched.
    assert float(state.hparams["learning_rate"]) == pytest.approx(0.1)
    np.testing.assert_array_equal(state.params["params"]["slots"]["w"], np.ones((3, 2)))


def test_meta_gradient_preconditions_the_inner_step_with_the_learners_adam_state():
    # nu_hat = 4 (count 1: nu / (1 - 0.999)), so the Adam-shaped inner step is lr * g / 2:
    # lr * curvature = 1.5 overshoots a plain step but is 0.75 of the preconditioned optimum.
    # The learner keeps its Adam moments flattened into one vector (optax.flatten) and hands
    # over the function that shapes them like the parameters.
    params = {"params": {"w": jnp.array([1.0, -2.0])}}
    adam = optax.ScaleByAdamState(count=jnp.int32(1), mu=jnp.zeros(2), nu=jnp.full(2, 0.004))
    state = State(params=params, hparams={"learning_rate": jnp.float32(0.15), "ent_coef": jnp.float32(0.01)},
                  opt_state=(optax.EmptyState(), adam))
    moments = functools.partial(adam_moments, like=params["params"])
    moved = {}
    for inner in ("sgd", "adam"):
        m = meta_gradient(meta_lr=0.1, optimizer="sign", inner=inner, learning_rate_bounds=(1e-3, 1.0))
        _, out, _ = run(m, state, quadratic(10.0), 1, moments=moments)
        moved[inner] = float(out.hparams["learning_rate"]) / 0.15
    assert moved["sgd"] == pytest.approx(np.exp(-0.1), rel=1e-5)
    assert moved["adam"] == pytest.approx(np.exp(0.1), rel=1e-5)
    # Without the learner's moments, or with moments of another shape, it says so.
    with pytest.raises(ValueError, match="Handover.adam_moments"):
        run(meta_gradient(inner="adam"), state, quadratic(10.0), 1)
    flat = lambda opt_state: AdamMoments(jnp.int32(1), jnp.zeros(2), jnp.full(2, 0.004))  # noqa: E731
    with pytest.raises(ValueError, match="shaped like the trained parameters"):
        run(meta_gradient(inner="adam"), state, quadratic(10.0), 1, moments=flat)


def entropic(h):
    """0.5 w^2 - ent_coef * H(w), H(w) = -0.5 (w - h)^2: the bonus pulls w toward h."""
    def objective(params, batch, hparams):
        w = params["params"]["w"]
        entropy = -0.5 * jnp.sum((w - h) ** 2)
        return 0.5 * jnp.sum(w**2) - hparams["ent_coef"] * entropy + 0 * batch["x"].mean()
    return objective


@pytest.mark.parametrize("h, direction", [(-1.0, 1), (3.0, -1)])
def test_meta_gradient_keeps_the_entropy_bonus_only_where_it_helps_the_held_out_loss(h, direction):
    # From w = 1 the held-out loss (ent_coef 0) wants w -> 0: a bonus pulling toward h = -1
    # helps (d meta / d c = -lr w' (w - h) < 0: raise c), toward h = 3 hurts (lower c).
    m = meta_gradient(meta_lr=0.05, optimizer="sign", controls=("ent_coef",))
    state = State(params={"params": {"w": jnp.array([1.0])}},
                  hparams={"learning_rate": jnp.float32(0.1), "ent_coef": jnp.float32(0.01)})
    _, out, trace = run(m, state, entropic(h), 1)
    assert float(out.hparams["ent_coef"]) == pytest.approx(0.01 * np.exp(0.05 * direction), rel=1e-5)
    assert trace == [pytest.approx(0.1)]  # not controlled


def test_meta_gradient_jits_and_vmaps_over_seeds_without_mixing_them():
    m = meta_gradient(meta_lr=0.1, learning_rate_bounds=(1e-3, 1.0))
    starts = (0.01, 0.4)  # lr * curvature 0.1 (raise it) and 4 (lower it)
    batches = {"x": jnp.stack([jnp.zeros((8, 2)), jnp.full((8, 2), 0.5)])}  # different data
    states = jax.tree.map(lambda *x: jnp.stack(x), *(plain_state(s) for s in starts))
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    objective = quadratic(10.0)
    mstates = jax.vmap(m.init)(keys, states.params)
    single = jax.jit(lambda ms, s, b: m.after_update(ms, s, Handover({}, b, objective)))
    hook = jax.jit(jax.vmap(single))
    for _ in range(5):
        mstates, states = hook(mstates, states, batches)
    together = np.asarray(states.hparams["learning_rate"])
    assert together[0] > 0.01 and together[1] < 0.4
    for seed, start in enumerate(starts):
        alone = plain_state(start)
        mstate = m.init(keys[seed], alone.params)
        batch = jax.tree.map(lambda x: x[seed], batches)
        for _ in range(5):
            mstate, alone = single(mstate, alone, batch)
        assert float(alone.hparams["learning_rate"]) == pytest.approx(together[seed], rel=1e-5)


def test_meta_gradient_uses_the_applied_learning_rate_and_subsamples_the_batch():
    # The learner applies hparams lr * anneal (metrics["learning_rate"]): with lr 0.4 and the
    # anneal at 1/8, the inner step is 0.05 * curvature 10 = 0.5 < 1, so lr goes up; without
    # the anneal it overshoots (4) and goes down. The objective sees batch_size // 2 rows.
    seen = []

    def objective(params, batch, hparams):
        seen.append(batch["x"].shape[0])
        return quadratic(10.0)(params, batch, hparams)

    batch = {"x": jnp.zeros((64, 2))}
    m = meta_gradient(meta_lr=0.1, optimizer="sign", batch_size=16, learning_rate_bounds=(1e-3, 1.0))
    state = plain_state(0.4)
    mstate = m.init(jax.random.PRNGKey(0), state.params)
    _, annealed = m.after_update(mstate, state, Handover({"learning_rate": jnp.float32(0.05)}, batch, objective))
    _, constant = m.after_update(mstate, state, Handover({}, batch, objective))
    assert float(annealed.hparams["learning_rate"]) == pytest.approx(0.4 * np.exp(0.1), rel=1e-5)
    assert float(constant.hparams["learning_rate"]) == pytest.approx(0.4 * np.exp(-0.1), rel=1e-5)
    assert set(seen) == {8}


def test_meta_gradient_stays_finite_and_put_when_the_objective_is_not_or_it_is_off():
    m = meta_gradient()
    state = plain_state(0.05)
    nan = lambda params, batch, hparams: jnp.nan * jnp.sum(params["params"]["w"])  # noqa: E731
    _, out, _ = run(m, state, nan, 3)
    assert float(out.hparams["learning_rate"]) == pytest.approx(0.05)
    assert float(out.hparams["ent_coef"]) == pytest.approx(0.01)
    off = only_in_stages(meta_gradient(), (False,))
    mstate = off.init(jax.random.PRNGKey(0), state.params)
    mstate, state2 = off.on_stage_start(mstate, state, StageStart(jnp.int32(0), jnp.bool_(False), None))
    _, state2 = jax.jit(lambda ms, s: off.after_update(ms, s, Handover({}, BATCH, quadratic(10.0))))(mstate, state2)
    assert float(state2.hparams["learning_rate"]) == pytest.approx(0.05)
    assert float(off.loss(mstate, state.params, None)) == 0.0


def test_meta_gradient_validates_its_arguments():
    for kwargs, name in [({"meta_lr": 0}, "meta_lr"), ({"batch_size": 1}, "batch_size"),
                         ({"optimizer": "sgd"}, "optimizer"), ({"max_step": -1}, "max_step"),
                         ({"ref_ent_coef": -0.1}, "ref_ent_coef"), ({"inner": "rmsprop"}, "inner"),
                         ({"controls": ("gamma",)}, "controls"), ({"controls": "ent_coef"}, "controls"),
                         ({"lr_scale_bounds": (2.0, 1.0)}, "lr_scale_bounds"),
                         ({"ent_coef_bounds": (0.0, 1.0)}, "ent_coef_bounds")]:
        with pytest.raises(ValueError, match=name):
            meta_gradient(**kwargs)
    with pytest.raises(ValueError, match="controls"):  # no library to hold lr_scale
        meta_gradient(controls=("lr_scale",)).init(jax.random.PRNGKey(0), plain_state(0.1).params)


# --- population-based training ---------------------------------------------------------------

SIZE = 8
RETURNS = jnp.array([5.0, jnp.nan, 7.0, 3.0, 8.0, 2.0, 6.0, 4.0])  # member 1 never finished
TOP, BOTTOM, MIDDLE = (4, 2), (1, 5), (0, 3, 6, 7)
FACTORS = (0.8, 1.25)


def members(offset=0.0):
    i = jnp.arange(SIZE, dtype=jnp.float32) + offset
    return State(
        params={"params": {"w": i[:, None] * jnp.ones((SIZE, 3))}, "library": {"state": {"lr_scale": i + 0.5}}},
        hparams={"learning_rate": 1e-3 * (i + 1), "ent_coef": 1e-2 * (i + 1)},
        opt_state={"mu": 100.0 + i},
    )


@functools.lru_cache
def member_hooks(manager, seeds):
    """``init`` and the jitted ``after_update`` vmapped over a seed's members (and seeds)."""
    def one(mstate, state, ret):
        return manager.after_update(mstate, state, Handover({"episode_return": ret}, None, None))

    hook, init = jax.vmap(one, axis_name="members"), jax.vmap(manager.init)
    if seeds:
        hook, init = jax.vmap(hook), jax.vmap(init)
    return init, jax.jit(hook)


def exploit(manager, states, returns, keys, calls=1, mstates=None):
    """Run ``after_update`` ``calls`` times over the members (and seeds if keys are 2-D)."""
    init, hook = member_hooks(manager, keys.ndim > 2)
    if mstates is None:
        mstates = init(keys, states.params)
    for _ in range(calls):
        mstates, states = hook(mstates, states, returns)
    return mstates, states


def check_copies(before, after, fitness, source_offset=0.0):
    """Bottom members are factor-perturbed copies of a top member; everyone else is untouched."""
    w, lr, ent = (np.asarray(x) for x in (after.params["params"]["w"], after.hparams["learning_rate"],
                                          after.hparams["ent_coef"]))
    w0, lr0, ent0 = (np.asarray(x) for x in (before.params["params"]["w"], before.hparams["learning_rate"],
                                             before.hparams["ent_coef"]))
    for member in MIDDLE + TOP:
        np.testing.assert_array_equal(w[member], w0[member])
        assert lr[member] == lr0[member] and ent[member] == ent0[member]
        assert float(after.opt_state["mu"][member]) == float(before.opt_state["mu"][member])
    for member in BOTTOM:
        source = int(w[member][0] - source_offset)
        assert source in TOP, (member, source)
        np.testing.assert_array_equal(w[member], w0[source])
        assert float(after.params["library"]["state"]["lr_scale"][member]) == source + source_offset + 0.5
        assert float(after.opt_state["mu"][member]) == 100.0 + source + source_offset
        for new, old in ((lr[member], lr0[source]), (ent[member], ent0[source])):
            assert min(abs(new / old - f) for f in FACTORS) < 1e-6
        assert float(fitness[member]) == float(RETURNS[source])  # inherits its source's fitness


def test_pbt_copies_from_the_top_performers_to_the_bottom():
    before = members()
    m = pbt(every=1, fraction=0.25, perturb=FACTORS)
    mstates, after = exploit(m, before, RETURNS, jax.random.split(jax.random.PRNGKey(0), SIZE))
    check_copies(before, after, mstates.fitness)
    np.testing.assert_array_equal(mstates.count, 1)
    # One exploit and one explore per bottom member, none elsewhere; a seed's report sums them.
    expected = np.isin(np.arange(SIZE), BOTTOM).astype(np.float32)
    np.testing.assert_array_equal(mstates.exploits, expected)
    np.testing.assert_array_equal(mstates.explores, expected)
    assert float(jax.vmap(m.report)(mstates).diagnostics["pbt/exploits"].sum()) == len(BOTTOM)


def test_pbt_waits_every_updates_and_averages_fitness():
    before = members()
    m = pbt(every=3, ema=0.5, perturb=FACTORS)
    keys = jax.random.split(jax.random.PRNGKey(1), SIZE)
    mstates, after = exploit(m, before, RETURNS, keys, calls=2)
    np.testing.assert_array_equal(after.params["params"]["w"], before.params["params"]["w"])
    np.testing.assert_array_equal(mstates.count, 2)
    np.testing.assert_array_equal(mstates.fitness, RETURNS)  # constant returns: the EMA holds
    mstates, after = exploit(m, after, RETURNS, keys, mstates=mstates)
    check_copies(before, after, mstates.fitness)
    np.testing.assert_array_equal(mstates.count, 3)


def test_pbt_never_copies_across_seeds():
    # Two seeds (outer vmap, no axis name); seed 1's members are offset by 1000 and ranked in
    # the same order. Every copy must come from the member's own seed.
    seeds = jax.tree.map(lambda a, b: jnp.stack([a, b]), members(), members(1000.0))
    returns = jnp.stack([RETURNS, RETURNS])
    keys = jax.random.split(jax.random.PRNGKey(2), (2, SIZE))
    mstates, after = exploit(pbt(every=1, perturb=FACTORS), seeds, returns, keys)
    for seed, offset in ((0, 0.0), (1, 1000.0)):
        pick = lambda tree: jax.tree.map(lambda x: x[seed], tree)  # noqa: E731
        check_copies(pick(seeds), pick(after), mstates.fitness[seed], source_offset=offset)


def test_pbt_is_off_when_masked_and_validates_its_arguments():
    before = members()
    off = only_in_stages(pbt(every=1), (False,))
    keys = jax.random.split(jax.random.PRNGKey(0), SIZE)
    mstates, after = exploit(off, before, RETURNS, keys)
    np.testing.assert_array_equal(after.params["params"]["w"], before.params["params"]["w"])
    np.testing.assert_array_equal(after.hparams["learning_rate"], before.hparams["learning_rate"])
    assert float(off.loss(jax.tree.map(lambda x: x[0], mstates), None, None)) == 0.0
    for kwargs, name in [({"every": 0}, "every"), ({"fraction": 0.6}, "fraction"),
                         ({"perturb": (0.8, -1.0)}, "perturb"), ({"perturb": ()}, "perturb"),
                         ({"axis_name": ""}, "axis_name"), ({"ema": 1.0}, "ema"),
                         ({"copy_opt_state": 1}, "copy_opt_state")]:
        with pytest.raises(ValueError, match=name):
            pbt(**kwargs)
    m = pbt()  # outside a vmap with the members' axis name
    with pytest.raises(ValueError, match="axis_name"):
        m.after_update(m.init(keys[0], None), None, Handover({"episode_return": jnp.float32(1.0)}, None, None))


def test_pbt_members_start_from_hyperparameters_drawn_from_the_log_uniform_prior():
    """Many members' first draws follow the prior (Kolmogorov-Smirnov against the uniform law
    of log h); a second stage start keeps them."""
    from scipy import stats as sps

    m = pbt(prior_spread=3.0, prior={"ent_coef": (1e-3, 1e-1)})
    n = 2000
    keys = jax.random.split(jax.random.PRNGKey(5), n)
    learner = State(params={}, hparams={"learning_rate": jnp.full((n,), 1e-3), "ent_coef": jnp.full((n,), 0.01)},
                    opt_state={})
    start = jax.jit(jax.vmap(lambda s, l: m.on_stage_start(s, l, None)))
    mstates, drawn = start(jax.vmap(m.init, in_axes=(0, None))(keys, {}), learner)
    log_lr = np.log(np.asarray(drawn.hparams["learning_rate"], np.float64))
    low, high = np.log(1e-3 / 3), np.log(1e-3 * 3)
    assert sps.kstest((log_lr - low) / (high - low), "uniform").pvalue > 1e-3
    assert log_lr.min() >= low - 1e-5 and log_lr.max() <= high + 1e-5
    log_ent = np.log(np.asarray(drawn.hparams["ent_coef"], np.float64))
    assert sps.kstest((log_ent - np.log(1e-3)) / (np.log(1e-1) - np.log(1e-3)), "uniform").pvalue > 1e-3
    # Not one shared draw: the members differ, and the two hyperparameters are drawn independently.
    assert abs(np.corrcoef(log_lr, log_ent)[0, 1]) < 0.1
    _, again = start(mstates, drawn)
    np.testing.assert_array_equal(again.hparams["learning_rate"], drawn.hparams["learning_rate"])
    # prior_spread=1: every member starts from the configuration.
    same = pbt(prior_spread=1.0)
    _, kept = jax.vmap(lambda s, l: same.on_stage_start(s, l, None))(
        jax.vmap(same.init, in_axes=(0, None))(keys[:4], {}), jax.tree.map(lambda x: x[:4], learner))
    np.testing.assert_allclose(kept.hparams["learning_rate"], 1e-3, rtol=1e-6)
