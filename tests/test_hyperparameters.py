"""Hyperparameter managers: the meta-gradient controller's hypergradient is that of the
learner's own clipped Adam step (finite differences, not a plain gradient step's) on held-out
rows, and it moves step sizes and the entropy coefficient toward their known optima on
quadratics, per slot and per seed; PBT copies from the
top performers to the bottom of a seed's vmapped members, perturbs what it copied, and never
crosses seeds."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bootstrap_rl.library import LibraryActorCritic, LibrarySpec, initial_library
from bootstrap_rl.managers import AdamMoments, Handover, Managed, StageStart, only_in_stages
from bootstrap_rl.managers.hyperparameters import meta_gradient, stage_schedule
from bootstrap_rl.managers.population_based import pbt
from bootstrap_rl.ppo import PPOConfig
from bootstrap_rl.ppo.optimizer import adam_moments, adam_state, learner_step, no_scaling

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


LEARNER = PPOConfig(max_grad_norm=0.5)  # the learner's optimizer: clip at 0.5, then Adam


def fresh_moments(params):
    zeros = jax.tree.map(jnp.zeros_like, params["params"])
    return AdamMoments(jnp.zeros((), jnp.int32), zeros, zeros)


def plain_state(lr, ent=0.01, w=(1.0, -2.0), moments=None):
    """A learner with weights ``w`` and Adam state ``moments`` (fresh by default: the first
    Adam step is lr * sign(gradient) per coordinate, whatever the clip)."""
    params = {"params": {"w": jnp.asarray(w, jnp.float32)}}
    return State(params=params, hparams={"learning_rate": jnp.float32(lr), "ent_coef": jnp.float32(ent)},
                 opt_state=adam_state(moments or fresh_moments(params)))


def handover(batch, objective, like, metrics=None, config=LEARNER, scale_updates=no_scaling):
    """What the learner hands over: its objective, its Adam moments and its own step rule."""
    return Handover({} if metrics is None else metrics, batch, objective,
                    adam_moments=functools.partial(adam_moments, like=like["params"]),
                    learner_step=learner_step(config, scale_updates))


def run(manager, state, objective, steps, batch=BATCH, key=0):
    mstate = manager.init(jax.random.PRNGKey(key), state.params)
    hook = jax.jit(lambda m, s: manager.after_update(m, s, handover(batch, objective, state.params)))
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


# --- meta_gradient: a reference inner step in float64 NumPy, written out from the update rules --

B1, B2 = 0.9, 0.999  # optax.scale_by_adam's defaults, which the learner uses


def reference_step(rule, w, g, moments, lr, max_norm, eps):
    """One inner step: the learner's rule (global-norm clip, then Adam with bias correction)
    or plain SGD, as Xu et al. and the old manager differentiated."""
    if rule == "sgd":
        return w - lr * g
    norm = np.sqrt(np.sum(g**2))
    g = g * min(1.0, max_norm / norm)
    count, mu, nu = moments
    t = count + 1
    mu = B1 * mu + (1 - B1) * g
    nu = B2 * nu + (1 - B2) * g**2
    return w - lr * (mu / (1 - B1**t)) / (np.sqrt(nu / (1 - B2**t)) + eps)


def finite_difference(rule, problem, w, moments, train, held_out, log_lr, log_ent, lr_factor, h=1e-4):
    """Central differences of the held-out loss (entropy coefficient 0) after one inner step
    from ``w`` on ``train``, in log learning rate and log entropy coefficient."""
    loss, grad = problem

    def outer(log_lr, log_ent):
        g = grad(w, train, np.exp(log_ent))
        stepped = reference_step(rule, w, g, moments, np.exp(log_lr) * lr_factor, LEARNER.max_grad_norm,
                                 LEARNER.adam_eps)
        return loss(stepped, held_out, 0.0)

    return {"learning_rate": (outer(log_lr + h, log_ent) - outer(log_lr - h, log_ent)) / (2 * h),
            "ent_coef": (outer(log_lr, log_ent + h) - outer(log_lr, log_ent - h)) / (2 * h)}


CENTRE = np.array([0.5, -1.0, 2.0])  # where the planted entropy bonus pulls the weights


def regression_loss(w, batch, ent):
    """0.5 mean (x.w - y)^2 - ent * H(w), H(w) = -0.5 |w - CENTRE|^2, in NumPy."""
    x, y = batch
    return 0.5 * np.mean((x @ w - y) ** 2) + ent * 0.5 * np.sum((w - CENTRE) ** 2)


def regression_grad(w, batch, ent):
    x, y = batch
    return x.T @ (x @ w - y) / len(y) + ent * (w - CENTRE)


def regression_objective(seen):
    """The same loss for the manager; it notes the (concrete) batches it is evaluated on."""
    def objective(params, batch, hparams):
        seen.append((np.asarray(batch["x"], np.float64), np.asarray(batch["y"], np.float64)))
        w = params["params"]["w"]
        fit = 0.5 * jnp.mean((batch["x"] @ w - batch["y"]) ** 2)
        return fit + hparams["ent_coef"] * 0.5 * jnp.sum((w - CENTRE) ** 2)
    return objective


def as_moments(count, mu, nu):
    return AdamMoments(jnp.int32(count), {"w": jnp.asarray(mu, jnp.float32)}, {"w": jnp.asarray(nu, jnp.float32)})


def hypergradient_after_a_snapshot(problem_objective, batch, start, moments, lr, ent, lr_factor):
    """Run the manager twice, unjitted: the first call snapshots ``start`` and ``moments``; by
    the second the learner has trained on (other weights, other moments), as PPO would have.
    Returns the second call's hypergradient, its state and the train / held-out halves it used."""
    seen = []
    objective = problem_objective(seen)
    m = meta_gradient(batch_size=16, learning_rate_bounds=(1e-4, 1.0))
    before = plain_state(lr, ent=ent, w=start, moments=moments)
    mstate = m.init(jax.random.PRNGKey(3), before.params)
    metrics = {"learning_rate": jnp.float32(lr * lr_factor)}
    mstate, _ = m.after_update(mstate, before, handover(batch, objective, before.params, metrics))
    later = as_moments(9, np.full(len(start), 0.2), np.full(len(start), 5.0))
    trained = plain_state(lr, ent=ent, w=np.asarray(start) + 0.3, moments=later)
    mstate, after = m.after_update(mstate, trained, handover(batch, objective, trained.params, metrics))
    train, held_out = seen[-2], seen[-1]  # the inner step's loss, then the held-out loss
    return mstate, after, train, held_out


def test_meta_gradient_matches_finite_differences_through_the_learners_clipped_adam_step():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype(np.float32)
    y = (x @ np.array([1.0, 2.0, -1.0]) + 0.3 * rng.normal(size=16)).astype(np.float32)
    start = np.array([0.2, -0.4, 0.1], np.float32)
    moments = (5, np.array([0.3, -0.1, 0.05]), np.array([0.4, 0.2, 0.9]))
    lr, ent, lr_factor = 0.05, 0.2, 0.5
    mstate, after, train, held_out = hypergradient_after_a_snapshot(
        regression_objective, {"x": jnp.asarray(x), "y": jnp.asarray(y)}, start, as_moments(*moments),
        lr, ent, lr_factor)
    # The outer loss is on rows the inner step did not train on (and the snapshot's weights
    # never saw: the learner trained from them on this batch afterwards).
    assert len(train[1]) == len(held_out[1]) == 8
    assert not {tuple(r) for r in train[0]} & {tuple(r) for r in held_out[0]}
    w = start.astype(np.float64)
    moments64 = tuple(np.float64(v) if np.ndim(v) == 0 else np.asarray(v, np.float32).astype(np.float64)
                      for v in moments)
    # The case exercises the clip: the train gradient's norm is above the learner's max.
    assert np.linalg.norm(regression_grad(w, train, ent)) > LEARNER.max_grad_norm
    problem = (regression_loss, regression_grad)
    log_lr, log_ent = np.log(np.float32(lr)), np.log(np.float32(ent))
    adam = finite_difference("adam", problem, w, moments64, train, held_out, log_lr, log_ent, lr_factor)
    for name in ("learning_rate", "ent_coef"):
        got = float(mstate.hypergradient[name])
        assert abs(adam[name]) > 1e-4, name  # not a vacuous match
        assert got == pytest.approx(adam[name], rel=2e-3), name
    # The next inner step starts where this update left the learner.
    np.testing.assert_allclose(mstate.start["w"], start + 0.3)
    assert int(mstate.moments.count) == 9 and bool(mstate.ready)
    assert float(after.hparams["learning_rate"]) != pytest.approx(lr, rel=1e-6)  # it acted


def quadratic_loss(w, batch, ent):
    return 0.5 * 10.0 * np.mean(np.sum((w[None] - batch[0]) ** 2, -1))


def quadratic_grad(w, batch, ent):
    return 10.0 * (w - batch[0].mean(0))


def quadratic_objective(seen):
    def objective(params, batch, hparams):
        seen.append((np.asarray(batch["x"], np.float64), None))
        return quadratic(10.0)(params, batch, hparams)
    return objective


def test_meta_gradient_is_not_that_of_a_plain_sgd_inner_step():
    # Planted: lr * curvature = 3, so a plain gradient step overshoots (lower the learning
    # rate), while the learner's Adam step, its second moment large, undershoots (raise it).
    start = np.array([1.0, -2.0], np.float32)
    moments = (100, np.zeros(2), np.full(2, 1e4))
    lr, ent = 0.3, 0.01
    mstate, after, train, held_out = hypergradient_after_a_snapshot(
        quadratic_objective, {"x": jnp.zeros((16, 2))}, start, as_moments(*moments), lr, ent, 1.0)
    problem = (quadratic_loss, quadratic_grad)
    log_lr, log_ent = np.log(np.float32(lr)), np.log(np.float32(ent))
    w = start.astype(np.float64)
    adam = finite_difference("adam", problem, w, moments, train, held_out, log_lr, log_ent, 1.0)
    sgd = finite_difference("sgd", problem, w, moments, train, held_out, log_lr, log_ent, 1.0)
    got = float(mstate.hypergradient["learning_rate"])
    assert got == pytest.approx(adam["learning_rate"], rel=2e-3)
    assert adam["learning_rate"] < 0 < sgd["learning_rate"]
    assert got != pytest.approx(sgd["learning_rate"], rel=0.5)
    assert float(after.hparams["learning_rate"]) > lr  # raised, where an SGD inner step would lower it


@pytest.mark.parametrize("start", [0.15, 6.0])  # applied lr: too small; overshooting
def test_meta_gradient_moves_the_learning_rate_toward_the_known_optimum(start):
    # From fresh moments the learner's Adam step is lr * sign(g) per coordinate, so from
    # w = (1, -2) the held-out loss 0.5 a ((1 - lr)^2 + (2 - lr)^2) is least at lr = 1.5.
    # (A plain gradient step's best lr would be 1 / a = 0.1: lr 0.15 would be lowered.)
    m = meta_gradient(meta_lr=0.1, max_step=0.2, learning_rate_bounds=(1e-3, 10.0))
    _, state, trace = run(m, plain_state(start), quadratic(10.0), 80)
    # The first call only snapshots; at the second, the first Adam meta step moves log lr by
    # meta_lr against the sign of the meta-gradient, 2 (lr - 1.5) a: up below 1.5, down above.
    assert trace[0] == pytest.approx(start)
    assert trace[1] == pytest.approx(start * np.exp(0.1 if start < 1.5 else -0.1), rel=1e-4)
    assert trace[-1] == pytest.approx(1.5, rel=0.1)
    np.testing.assert_array_equal(state.params["params"]["w"], [1.0, -2.0])  # the weights untouched
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
    # Fresh Adam: slot i's step is 0.25 * lr_scale[i] * sign(w) on weights of 1, which lands on
    # the optimum at lr_scale[i] = 4. Slot 0 starts too small, slot 1 overshoots, slot 2 is
    # frozen (its step is 0: no meta-gradient).
    m = meta_gradient(meta_lr=0.1, max_step=0.2)
    params = library_params([1.0, 8.0, 2.0], [0, 0, 1])
    state = State(params=params, hparams={"learning_rate": jnp.float32(0.25), "ent_coef": jnp.float32(0.01)},
                  opt_state=adam_state(fresh_moments(params)))
    mstate = m.init(jax.random.PRNGKey(0), state.params)
    given = handover(BATCH, slot_quadratic, params, scale_updates=LibraryActorCritic.scale_updates)
    hook = jax.jit(lambda ms, s: m.after_update(ms, s, given))
    mstate, state = hook(mstate, state)  # the snapshot
    mstate, first = hook(mstate, state)
    scale = np.asarray(first.params["library"]["state"]["lr_scale"])
    np.testing.assert_allclose(scale, [1.0 * np.exp(0.1), 8.0 * np.exp(-0.1), 2.0], rtol=1e-4)
    for _ in range(80):
        mstate, state = hook(mstate, state)
    scale = np.asarray(state.params["library"]["state"]["lr_scale"])
    np.testing.assert_allclose(scale[:2], [4.0, 4.0], rtol=0.1)
    assert scale[2] == 2.0
    # With a library the global learning rate is left to the learner; the weights untouched.
    assert float(state.hparams["learning_rate"]) == pytest.approx(0.25)
    np.testing.assert_array_equal(state.params["params"]["slots"]["w"], np.ones((3, 2)))


def entropic(h):
    """0.5 w^2 - ent_coef * H(w), H(w) = -0.5 (w - h)^2: the bonus pulls w toward h."""
    def objective(params, batch, hparams):
        w = params["params"]["w"]
        entropy = -0.5 * jnp.sum((w - h) ** 2)
        return 0.5 * jnp.sum(w**2) - hparams["ent_coef"] * entropy + 0 * batch["x"].mean()
    return objective


@pytest.mark.parametrize("h, direction", [(-1.0, 1), (3.0, -1)])
def test_meta_gradient_keeps_the_entropy_bonus_only_where_it_helps_the_held_out_loss(h, direction):
    # From w = 0.3 the held-out loss (ent_coef 0) wants w -> 0: a bonus pulling toward h = -1
    # helps (a larger gradient w + c (w - h), a longer step toward 0: raise c), toward h = 3
    # hurts (lower c). The gradient stays under the learner's clip (0.5; in one dimension a
    # clipped gradient would not depend on c), and a large second moment keeps Adam's step
    # short and increasing in it.
    m = meta_gradient(meta_lr=0.05, optimizer="sign", controls=("ent_coef",))
    state = plain_state(0.1, w=(0.3,), moments=as_moments(10, [0.0], [100.0]))
    _, out, trace = run(m, state, entropic(h), 2)
    assert float(out.hparams["ent_coef"]) == pytest.approx(0.01 * np.exp(0.05 * direction), rel=1e-5)
    assert trace == [pytest.approx(0.1)] * 2  # not controlled


def test_meta_gradient_jits_and_vmaps_over_seeds_without_mixing_them():
    m = meta_gradient(meta_lr=0.1, learning_rate_bounds=(1e-3, 10.0))
    starts = (0.01, 6.0)  # below the fresh-Adam optimum 1.5 (raise it) and above (lower it)
    batches = {"x": jnp.stack([jnp.zeros((8, 2)), jnp.full((8, 2), 0.5)])}  # different data
    states = jax.tree.map(lambda *x: jnp.stack(x), *(plain_state(s) for s in starts))
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    objective = quadratic(10.0)
    like = plain_state(1.0).params
    mstates = jax.vmap(m.init)(keys, states.params)
    single = jax.jit(lambda ms, s, b: m.after_update(ms, s, handover(b, objective, like)))
    hook = jax.jit(jax.vmap(single))
    for _ in range(5):
        mstates, states = hook(mstates, states, batches)
    together = np.asarray(states.hparams["learning_rate"])
    assert together[0] > 0.01 and together[1] < 6.0
    for seed, start in enumerate(starts):
        alone = plain_state(start)
        mstate = m.init(keys[seed], alone.params)
        batch = jax.tree.map(lambda x: x[seed], batches)
        for _ in range(5):
            mstate, alone = single(mstate, alone, batch)
        assert float(alone.hparams["learning_rate"]) == pytest.approx(together[seed], rel=1e-5)


def test_meta_gradient_uses_the_applied_learning_rate_and_subsamples_the_batch():
    # The learner applies hparams lr * anneal (metrics["learning_rate"]): with lr 4 and the
    # anneal at 1/8 the fresh-Adam step is 0.5 < 1.5, so lr goes up; without the anneal it
    # overshoots and goes down. The objective sees batch_size // 2 rows.
    seen = []

    def objective(params, batch, hparams):
        seen.append(batch["x"].shape[0])
        return quadratic(10.0)(params, batch, hparams)

    batch = {"x": jnp.zeros((64, 2))}
    m = meta_gradient(meta_lr=0.1, optimizer="sign", batch_size=16, learning_rate_bounds=(1e-3, 10.0))
    state = plain_state(4.0)
    mstate = m.init(jax.random.PRNGKey(0), state.params)
    moved = {}
    for name, metrics in (("annealed", {"learning_rate": jnp.float32(0.5)}), ("constant", {})):
        given = handover(batch, objective, state.params, metrics)
        snapshot, unchanged = m.after_update(mstate, state, given)
        assert float(unchanged.hparams["learning_rate"]) == 4.0  # the first call only snapshots
        _, out = m.after_update(snapshot, state, given)
        moved[name] = float(out.hparams["learning_rate"])
    assert moved["annealed"] == pytest.approx(4.0 * np.exp(0.1), rel=1e-5)
    assert moved["constant"] == pytest.approx(4.0 * np.exp(-0.1), rel=1e-5)
    assert set(seen) == {8}


def test_meta_gradient_stays_finite_and_put_when_the_objective_is_not_or_it_is_off():
    m = meta_gradient()
    state = plain_state(0.005)
    nan = lambda params, batch, hparams: jnp.nan * jnp.sum(params["params"]["w"])  # noqa: E731
    _, out, _ = run(m, state, nan, 3)
    assert float(out.hparams["learning_rate"]) == pytest.approx(0.005)
    assert float(out.hparams["ent_coef"]) == pytest.approx(0.01)
    off = only_in_stages(meta_gradient(), (False,))
    mstate = off.init(jax.random.PRNGKey(0), state.params)
    mstate, state2 = off.on_stage_start(mstate, state, StageStart(jnp.int32(0), jnp.bool_(False), None))
    _, state2 = jax.jit(lambda ms, s: off.after_update(ms, s, handover(BATCH, quadratic(10.0), state.params)))(
        mstate, state2)
    assert float(state2.hparams["learning_rate"]) == pytest.approx(0.005)
    assert float(off.loss(mstate, state.params, None)) == 0.0


def test_meta_gradient_takes_a_new_snapshot_at_each_stage_start():
    # A stage start (new tasks; other managers may rewrite weights) drops the snapshot: the
    # next call snapshots again instead of stepping from weights that did not collect its batch.
    m = meta_gradient(meta_lr=0.1, learning_rate_bounds=(1e-3, 10.0))
    state = plain_state(0.15)
    mstate, _, trace = run(m, state, quadratic(10.0), 2)
    assert trace[1] != pytest.approx(0.15) and bool(mstate.ready)
    mstate, state = m.on_stage_start(mstate, state, STAGE_0)
    assert not bool(mstate.ready)
    _, again = m.after_update(mstate, state, handover(BATCH, quadratic(10.0), state.params))
    assert float(again.hparams["learning_rate"]) == pytest.approx(0.15)


def test_meta_gradient_validates_its_arguments_and_needs_the_learners_step():
    for kwargs, name in [({"meta_lr": 0}, "meta_lr"), ({"batch_size": 1}, "batch_size"),
                         ({"optimizer": "sgd"}, "optimizer"), ({"max_step": -1}, "max_step"),
                         ({"ref_ent_coef": -0.1}, "ref_ent_coef"),
                         ({"controls": ("gamma",)}, "controls"), ({"controls": "ent_coef"}, "controls"),
                         ({"lr_scale_bounds": (2.0, 1.0)}, "lr_scale_bounds"),
                         ({"ent_coef_bounds": (0.0, 1.0)}, "ent_coef_bounds")]:
        with pytest.raises(ValueError, match=name):
            meta_gradient(**kwargs)
    with pytest.raises(ValueError, match="controls"):  # no library to hold lr_scale
        meta_gradient(controls=("lr_scale",)).init(jax.random.PRNGKey(0), plain_state(0.1).params)
    # Without the learner's step rule and moments, or with moments of another shape, it says so.
    m, state = meta_gradient(), plain_state(0.1)
    mstate = m.init(jax.random.PRNGKey(0), state.params)
    with pytest.raises(ValueError, match="Handover.learner_step"):
        m.after_update(mstate, state, Handover({}, BATCH, quadratic(10.0)))
    flat = lambda opt_state: AdamMoments(jnp.int32(1), jnp.zeros(2), jnp.full(2, 0.004))  # noqa: E731
    given = handover(BATCH, quadratic(10.0), state.params)._replace(adam_moments=flat)
    with pytest.raises(ValueError, match="shaped like the trained parameters"):
        m.after_update(mstate, state, given)


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
