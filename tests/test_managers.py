"""The manager contract: unset hooks do nothing, identity changes nothing, chain applies in
order, losses and reports add up, only_in_stages switches a manager by stage, and switch
chooses one by data."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bootstrap_rl.managers import (LossInputs, Managed, Manager, ManagerReport, StageStart, chain, identity,
                                   only_in_stages, switch)

# Compilation dominates these tests: most XLA optimisations off (conftest).
pytestmark = pytest.mark.usefixtures("quick_compiles")


def scaling(factor, offset, penalty):
    """lr -> lr * factor + offset at stage start and after every update; a constant loss."""
    def change(mstate, learner, _):
        lr = learner.hparams["learning_rate"] * factor + offset
        return mstate + 1, learner._replace(hparams={**learner.hparams, "learning_rate": lr})

    return Manager(
        init=lambda key, params: jnp.zeros((), jnp.int32),
        on_stage_start=change,
        loss=lambda mstate, params, inputs: jnp.float32(penalty),
        after_update=change,
    )


def penalty(m, mstate):
    """``m``'s loss term, its targets computed first as the learner does (these read no obs)."""
    return m.loss(mstate, {}, loss_inputs(None, m.targets(mstate, {}, None, None)))


STATE = Managed(params={}, hparams={"learning_rate": jnp.float32(1.0)}, opt_state=())
STAGE = StageStart(jnp.int32(0), jnp.bool_(False), None)


def test_identity_changes_nothing():
    m = identity()
    mstate = m.init(jax.random.PRNGKey(0), {})
    assert m.on_stage_start(mstate, STATE, STAGE) == (mstate, STATE)
    assert m.after_update(mstate, STATE, {}) == (mstate, STATE)
    assert penalty(m, mstate) == 0


@pytest.mark.parametrize("hook, arg", [("on_stage_start", STAGE), ("after_update", {})])
def test_chain_applies_managers_in_order(hook, arg):
    double, plus_one = scaling(2.0, 0.0, 0.25), scaling(1.0, 1.0, 0.5)
    for managers, expected in (((double, plus_one), 3.0), ((plus_one, double), 4.0)):
        m = chain(*managers)
        mstate = m.init(jax.random.PRNGKey(0), {})
        mstate, state = getattr(m, hook)(mstate, STATE, arg)
        assert float(state.hparams["learning_rate"]) == expected  # (1*2)+1 or (1+1)*2
        assert [int(x) for x in mstate] == [1, 1]  # each kept its own state
        assert float(penalty(m, mstate)) == 0.75  # losses add up


def test_a_manager_defines_only_the_hooks_it_needs():
    m = Manager(after_update=lambda mstate, learner, handover: (mstate, learner._replace(hparams={})))
    mstate = m.init(jax.random.PRNGKey(0), {})
    assert mstate == ()
    assert m.on_stage_start(mstate, STATE, STAGE) == (mstate, STATE)
    assert m.after_update(mstate, STATE, None)[1].hparams == {}
    assert penalty(m, mstate) == 0 and m.members == 1
    assert float(m.report(mstate).uncharged_env_steps) == 0.0


def spending(steps):
    """A manager that reports ``steps`` uncharged env steps per stage start so far."""
    return Manager(init=lambda key, params: jnp.zeros((), jnp.float32),
                   on_stage_start=lambda mstate, learner, stage: (mstate + steps, learner),
                   report=lambda mstate: ManagerReport(uncharged_env_steps=mstate))


def test_combinators_add_up_their_managers_reports():
    def reported(m, stage_index=0):
        mstate = m.init(jax.random.PRNGKey(0), {})
        mstate, _ = m.on_stage_start(mstate, STATE, StageStart(jnp.int32(stage_index), jnp.bool_(False), None))
        return float(m.report(mstate).uncharged_env_steps)

    assert reported(chain(spending(3.0), identity(), spending(4.0))) == 7.0
    assert reported(switch((spending(3.0), spending(4.0)), 1)) == 4.0  # the other never acted
    assert reported(only_in_stages(spending(3.0), (True, False))) == 3.0
    assert reported(only_in_stages(spending(3.0), (True, False)), stage_index=1) == 0.0


def test_chain_rejects_what_is_not_a_manager():
    with pytest.raises(TypeError, match=r"managers\[1\]"):
        chain(identity(), lambda x: x)


def test_only_in_stages_switches_by_stage_index():
    m = only_in_stages(scaling(2.0, 0.0, 1.0), (True, False, True))
    mstate = m.init(jax.random.PRNGKey(0), {})
    state = STATE
    seen = []
    for index in range(3):
        mstate, state = m.on_stage_start(mstate, state, StageStart(jnp.int32(index), jnp.bool_(index == 2), None))
        mstate, state = jax.jit(m.after_update)(mstate, state, {})
        seen.append((float(state.hparams["learning_rate"]), float(penalty(m, mstate))))
    # Stage 0: x2 at start, x2 after the update; stage 1: off (kept, no loss); stage 2: x2 x2.
    assert seen == [(4.0, 1.0), (4.0, 0.0), (16.0, 1.0)]


def targeted(factor):
    """``scaling(factor, 0, ...)`` whose loss reads its targets: 7 per seed's learning rate."""
    return scaling(factor, 0.0, 0.0)._replace(
        targets=lambda mstate, params, obs, policy: jnp.float32(7.0),
        loss=lambda mstate, params, inputs: inputs.targets)


def test_only_in_stages_given_the_stage_flag_acts_as_with_each_seeds_own():
    """Seeds vmapped in one stage: the flag passed unbatched (``on``, as a study's chunk reads
    it) and each seed's own flag give the same updates, targets and losses, on and off."""
    mask = (True, False)
    m = only_in_stages(targeted(2.0), mask)
    seeds = jax.tree.map(lambda x: jnp.stack([x, 3 * x]), STATE)  # two seeds, apart
    for index in range(2):
        mstates = jax.vmap(lambda k: m.init(k, {}))(jax.random.split(jax.random.PRNGKey(0), 2))
        stage = StageStart(jnp.int32(index), jnp.bool_(False), None)
        mstates, start = jax.vmap(lambda ms, st: m.on_stage_start(ms, st, stage))(mstates, seeds)

        def update(mstates, states, flag):
            hooks = m if flag is None else only_in_stages(targeted(2.0), mask, flag)
            mstates, states = jax.vmap(lambda ms, st: hooks.after_update(ms, st, {}))(mstates, states)
            return states.hparams["learning_rate"], jax.vmap(lambda ms: penalty(hooks, ms))(mstates)

        own = jax.jit(lambda ms, st: update(ms, st, None))(mstates, start)
        given = jax.jit(lambda ms, st: update(ms, st, ms.active[0]))(mstates, start)
        np.testing.assert_array_equal(own[0], given[0])
        np.testing.assert_array_equal(own[1], given[1])
        expected = [4.0, 12.0] if index == 0 else [1.0, 3.0]  # x2 at the start and x2 after: on; off: kept
        np.testing.assert_array_equal(given[0], expected)
        np.testing.assert_array_equal(given[1], [7.0, 7.0] if index == 0 else [0.0, 0.0])  # targets, then loss


# --- kickstarting (distillation) ------------------------------------------------------------

from bootstrap_rl.managers import anchor, kickstarting  # noqa: E402
from bootstrap_rl.networks import DiscreteActorCritic  # noqa: E402
from bootstrap_rl.ppo.data import Batch  # noqa: E402

NET = DiscreteActorCritic(num_actions=4, hidden_sizes=(8,))
OBS = jax.random.normal(jax.random.PRNGKey(3), (32, 5))


def loss_inputs(obs, targets=(), dist=None, values=None):
    """A loss's inputs on a minibatch that carries only what these managers' losses read."""
    return LossInputs(Batch(obs, None, None, None, None, None), targets, dist, values, policy)


def policy(params, obs):
    return NET.apply(params, obs, method="policy")


def Learner(params):  # noqa: N802 (reads as the learner state it stands for)
    return Managed(params=params, hparams={}, opt_state=())


def teacher_and_student():
    teacher = NET.init(jax.random.PRNGKey(0), OBS)
    student = NET.init(jax.random.PRNGKey(1), OBS)
    m = anchor(coef=2.0, decay=0.5)
    mstate = m.init(jax.random.PRNGKey(2), teacher)
    mstate, _ = m.on_stage_start(mstate, Learner(teacher), StageStart(jnp.int32(1), jnp.bool_(False), None))
    return m, mstate, teacher, student


def kickstart_loss(m, mstate, params):
    dist, values = NET.apply(params, OBS)
    targets = m.targets(mstate, params, OBS, policy)  # once per update, in the learner
    return m.loss(mstate, params, loss_inputs(OBS, targets, dist, values))


def test_anchor_loss_is_zero_at_the_teacher_and_its_gradient_points_to_it():
    m, mstate, teacher, student = teacher_and_student()
    assert float(kickstart_loss(m, mstate, teacher)) == pytest.approx(0.0, abs=1e-7)
    at_teacher = jax.grad(lambda p: kickstart_loss(m, mstate, p))(teacher)
    assert max(float(jnp.abs(g).max()) for g in jax.tree.leaves(at_teacher)) < 1e-6
    # Away from the teacher: the loss is 2 * KL(teacher || student), and a small step against
    # its gradient brings the student's policy closer to the teacher's.
    kl = policy(teacher, OBS).kl(policy(student, OBS)).mean()
    before = float(kickstart_loss(m, mstate, student))
    assert before == pytest.approx(2.0 * float(kl), rel=1e-5) and before > 0
    grads = jax.grad(lambda p: kickstart_loss(m, mstate, p))(student)
    stepped = jax.tree.map(lambda p, g: p - 0.05 * g, student, grads)
    assert float(kickstart_loss(m, mstate, stepped)) < before


def test_anchor_has_no_teacher_in_the_first_stage_and_its_weight_decays():
    m = anchor(coef=2.0, decay=0.5)
    params = NET.init(jax.random.PRNGKey(0), OBS)
    mstate = m.init(jax.random.PRNGKey(2), params)
    mstate, _ = m.on_stage_start(mstate, Learner(params), StageStart(jnp.int32(0), jnp.bool_(False), None))
    assert float(mstate.coef) == 0.0
    mstate, _ = m.on_stage_start(mstate, Learner(params), StageStart(jnp.int32(2), jnp.bool_(True), None))
    weights = []
    for _ in range(3):
        weights.append(float(mstate.coef))
        mstate, _ = m.after_update(mstate, Learner(params), {})
    assert weights == [2.0, 1.0, 0.5]
    with pytest.raises(ValueError, match="decay"):
        anchor(decay=1.5)
    with pytest.raises(ValueError, match="decay"):
        kickstarting(decay=1.5)


def test_kickstarting_teaches_the_childhood_policy_to_a_fresh_student_at_the_adult_stage():
    """Childhood: no teacher, the learner untouched. Adult: the teacher is the policy childhood
    built, the student the network the seed started from, with a fresh optimizer state; the
    loss starts at coef * KL(childhood || fresh) > 0 (anchor's would start at 0)."""
    start = NET.init(jax.random.PRNGKey(0), OBS)
    built = NET.init(jax.random.PRNGKey(1), OBS)  # stands for what childhood trained
    m = kickstarting(coef=2.0, decay=0.5)
    mstate = m.init(jax.random.PRNGKey(2), start)
    opt_state = {"count": jnp.int32(7), "mu": jnp.ones(3)}
    childhood = Managed(params=built, hparams={}, opt_state=opt_state)
    mstate, after = m.on_stage_start(mstate, childhood, StageStart(jnp.int32(1), jnp.bool_(False), None))
    assert float(mstate.coef) == 0.0 and leaves_equal(after.params, built) and int(after.opt_state["count"]) == 7
    mstate, adult = m.on_stage_start(mstate, childhood, StageStart(jnp.int32(2), jnp.bool_(True), None))
    assert leaves_equal(adult.params, start) and leaves_equal(mstate.teacher, built)
    assert int(adult.opt_state["count"]) == 0 and float(jnp.abs(adult.opt_state["mu"]).max()) == 0.0
    kl = policy(built, OBS).kl(policy(start, OBS)).mean()
    assert float(kl) > 0
    assert float(kickstart_loss(m, mstate, adult.params)) == pytest.approx(2.0 * float(kl), rel=1e-5)
    assert float(m.report(mstate).diagnostics["kickstarting/coef"]) == 2.0


def leaves_equal(a, b):
    return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def test_combinators_give_each_manager_its_own_targets():
    """Manager k's targets are obs + k and its loss reads them back: every combinator must
    route the right targets to the right loss."""
    def offset(k):
        return Manager(loss=lambda m, params, inputs: jnp.mean(inputs.targets - inputs.batch.obs) * k,
                       targets=lambda m, params, obs, policy: obs + k)

    obs = jnp.arange(6.0).reshape(3, 2)

    def loss_of(m, stage_index=0):
        mstate = m.init(jax.random.PRNGKey(0), {})
        mstate, _ = m.on_stage_start(mstate, STATE, StageStart(jnp.int32(stage_index), jnp.bool_(False), None))
        targets = jax.jit(lambda: m.targets(mstate, {}, obs, None))()
        return float(m.loss(mstate, {}, loss_inputs(obs, targets)))

    assert loss_of(chain(offset(1), offset(2))) == 1 + 4
    assert loss_of(switch((offset(1), offset(2), offset(3)), 2)) == 9
    assert loss_of(chain(offset(1), switch((offset(2), chain(offset(3), offset(4))), 1))) == 1 + 9 + 16
    assert loss_of(only_in_stages(offset(3), (False, True)), stage_index=1) == 9
    assert loss_of(only_in_stages(offset(3), (False, True)), stage_index=0) == 0


def test_anchor_in_the_learner_matches_a_teacher_evaluated_on_every_minibatch():
    """The teacher's outputs are computed once per update and shuffled with the transitions;
    the reference evaluates the teacher on each minibatch's own observations (the textbook
    form). Equal parameters after two updates also show the targets stay aligned with their
    observations through the shuffle."""
    import bootstrap_rl
    from bootstrap_rl.ppo import PPOConfig, make_ppo

    env, env_params = bootstrap_rl.make("CartPole-v1")
    config = PPOConfig(num_envs=4, num_steps=16, num_minibatches=4, update_epochs=2, hidden_sizes=(16,),
                       learning_rate=1e-2, total_timesteps=4 * 16 * 2)
    new = anchor(coef=5.0, decay=0.9)

    def on_every_minibatch(mstate, params, inputs):
        teacher = inputs.policy(jax.lax.stop_gradient(mstate.teacher), inputs.batch.obs)
        return mstate.coef * teacher.kl(inputs.dist).mean()

    reference = new._replace(loss=on_every_minibatch, targets=lambda *args: ())

    def train(manager):
        ppo = make_ppo(config, env, env_params, manager=manager)
        state = ppo.init(jax.random.PRNGKey(0))
        teacher = ppo.init(jax.random.PRNGKey(1))  # another network: a teacher far from the student
        stage = StageStart(jnp.int32(1), jnp.bool_(False), None)
        mstate, _ = manager.on_stage_start(state.manager_state, teacher.managed(), stage)
        state = state.replace(manager_state=mstate)
        for _ in range(2):
            state, _ = jax.jit(ppo.update)(state)
        return state.params

    ours, textbook, plain = train(new), train(reference), train(anchor(coef=0.0))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), ours, textbook)
    moved = max(float(jnp.abs(a - b).max()) for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(plain)))
    assert moved > 1e-3  # the distillation term acts


@pytest.mark.parametrize("index", [0, 1])
def test_switch_acts_as_the_chosen_manager_and_keeps_the_others_state(index):
    double, plus_one = scaling(2.0, 0.0, 0.25), scaling(1.0, 1.0, 0.5)
    chosen = (double, plus_one)[index]
    # The index is data: one jitted function serves both choices; seeds vmapped, index not.
    @jax.jit
    def run(index, lrs):
        def one(lr):
            m = switch((double, plus_one), index)
            mstate = m.init(jax.random.PRNGKey(0), {})
            state = Managed(params={}, hparams={"learning_rate": lr}, opt_state=())
            mstate, state = m.on_stage_start(mstate, state, STAGE)
            mstate, state = m.after_update(mstate, state, {})
            return mstate, state.hparams["learning_rate"], penalty(m, mstate)
        return jax.vmap(one)(lrs)

    mstates, lrs, losses = run(index, jnp.array([1.0, 3.0]))
    for lr, start in zip(lrs, (1.0, 3.0)):
        expected = start
        for _ in range(2):
            expected = expected * (2.0 if index == 0 else 1.0) + (0.0 if index == 0 else 1.0)
        assert float(lr) == expected
    np.testing.assert_array_equal(mstates[index], [2, 2])  # the chosen manager acted twice
    np.testing.assert_array_equal(mstates[1 - index], [0, 0])  # the other kept its initial state
    np.testing.assert_array_equal(losses, [chosen.loss(None, None, None)] * 2)
