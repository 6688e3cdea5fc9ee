"""The manager protocol: identity changes nothing, chain applies in order, losses add up, and
only_in_stages switches a manager by stage."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct

from bootstrap_rl.managers import Manager, StageStart, chain, identity, only_in_stages, switch


@struct.dataclass
class State:
    hparams: dict
    manager_state: tuple = ()


def scaling(factor, offset, penalty):
    """lr -> lr * factor + offset at stage start and after every update; a constant loss."""
    def change(mstate, state, _):
        lr = state.hparams["learning_rate"] * factor + offset
        return mstate + 1, state.replace(hparams={**state.hparams, "learning_rate": lr})

    return Manager(
        init=lambda key, params: jnp.zeros((), jnp.int32),
        on_stage_start=change,
        loss=lambda mstate, params, obs, dist, values, policy: jnp.float32(penalty),
        after_update=change,
    )


STATE = State(hparams={"learning_rate": jnp.float32(1.0)})
STAGE = StageStart(jnp.int32(0), jnp.bool_(False), None)


def test_identity_changes_nothing():
    m = identity()
    mstate = m.init(jax.random.PRNGKey(0), {})
    assert m.on_stage_start(mstate, STATE, STAGE) == (mstate, STATE)
    assert m.after_update(mstate, STATE, {}) == (mstate, STATE)
    assert m.loss(mstate, {}, None, None, None, None) == 0


@pytest.mark.parametrize("hook, arg", [("on_stage_start", STAGE), ("after_update", {})])
def test_chain_applies_managers_in_order(hook, arg):
    double, plus_one = scaling(2.0, 0.0, 0.25), scaling(1.0, 1.0, 0.5)
    for managers, expected in (((double, plus_one), 3.0), ((plus_one, double), 4.0)):
        m = chain(*managers)
        mstate = m.init(jax.random.PRNGKey(0), {})
        mstate, state = getattr(m, hook)(mstate, STATE, arg)
        assert float(state.hparams["learning_rate"]) == expected  # (1*2)+1 or (1+1)*2
        assert [int(x) for x in mstate] == [1, 1]  # each kept its own state
        assert float(m.loss(mstate, {}, None, None, None, None)) == 0.75  # losses add up


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
        seen.append((float(state.hparams["learning_rate"]), float(m.loss(mstate, {}, None, None, None, None))))
    # Stage 0: x2 at start, x2 after the update; stage 1: off (kept, no loss); stage 2: x2 x2.
    assert seen == [(4.0, 1.0), (4.0, 0.0), (16.0, 1.0)]


# --- kickstarting (distillation) ------------------------------------------------------------

from bootstrap_rl.managers import kickstarting  # noqa: E402
from bootstrap_rl.networks import DiscreteActorCritic  # noqa: E402

NET = DiscreteActorCritic(num_actions=4, hidden_sizes=(8,))
OBS = jax.random.normal(jax.random.PRNGKey(3), (32, 5))


def policy(params, obs):
    return NET.apply(params, obs, method="policy")


@struct.dataclass
class Learner:
    params: dict
    hparams: dict = struct.field(default_factory=dict)


def teacher_and_student():
    teacher = NET.init(jax.random.PRNGKey(0), OBS)
    student = NET.init(jax.random.PRNGKey(1), OBS)
    m = kickstarting(coef=2.0, decay=0.5)
    mstate = m.init(jax.random.PRNGKey(2), teacher)
    mstate, _ = m.on_stage_start(mstate, Learner(teacher), StageStart(jnp.int32(1), jnp.bool_(False), None))
    return m, mstate, teacher, student


def kickstart_loss(m, mstate, params):
    dist, values = NET.apply(params, OBS)
    return m.loss(mstate, params, OBS, dist, values, policy)


def test_kickstarting_loss_is_zero_at_the_teacher_and_its_gradient_points_to_it():
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


def test_kickstarting_has_no_teacher_in_the_first_stage_and_its_weight_decays():
    m = kickstarting(coef=2.0, decay=0.5)
    params = NET.init(jax.random.PRNGKey(0), OBS)
    mstate = m.init(jax.random.PRNGKey(2), params)
    mstate, _ = m.on_stage_start(mstate, Learner(params), StageStart(jnp.int32(0), jnp.bool_(False), None))
    assert float(mstate["coef"]) == 0.0
    mstate, _ = m.on_stage_start(mstate, Learner(params), StageStart(jnp.int32(2), jnp.bool_(True), None))
    weights = []
    for _ in range(3):
        weights.append(float(mstate["coef"]))
        mstate, _ = m.after_update(mstate, Learner(params), {})
    assert weights == [2.0, 1.0, 0.5]
    with pytest.raises(ValueError, match="decay"):
        kickstarting(decay=1.5)


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
            state = State(hparams={"learning_rate": lr})
            mstate, state = m.on_stage_start(mstate, state, STAGE)
            mstate, state = m.after_update(mstate, state, {})
            return mstate, state.hparams["learning_rate"], m.loss(mstate, {}, None, None, None, None)
        return jax.vmap(one)(lrs)

    mstates, lrs, losses = run(index, jnp.array([1.0, 3.0]))
    for lr, start in zip(lrs, (1.0, 3.0)):
        expected = start
        for _ in range(2):
            expected = expected * (2.0 if index == 0 else 1.0) + (0.0 if index == 0 else 1.0)
        assert float(lr) == expected
    np.testing.assert_array_equal(mstates[index], [2, 2])  # the chosen manager acted twice
    np.testing.assert_array_equal(mstates[1 - index], [0, 0])  # the other kept its initial state
    np.testing.assert_array_equal(losses, [chosen.loss(None, None, None, None, None, None)] * 2)
