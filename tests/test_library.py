"""The subsystem library network, and the managers that act only through it: routing (slots
allocated, frozen, routed) and the episodic memory (writes, nearest-neighbour reads)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct

import bootstrap_rl
from bootstrap_rl import library
from bootstrap_rl.library import LibrarySpec, make_library_network, memory_lookup, memory_read
from bootstrap_rl.managers import Handover, LossInputs, Managed, StageStart, distral, episodic_memory, routing
from bootstrap_rl.ppo import PPOConfig, make_ppo
from bootstrap_rl.ppo.config import ConfigError
from bootstrap_rl.ppo.data import Batch

# Compilation dominates these tests: most XLA optimisations off (conftest).
pytestmark = pytest.mark.usefixtures("quick_compiles")


def loss_inputs(obs, dist, policy):
    """A loss's inputs on a minibatch that carries only what these managers' losses read."""
    return LossInputs(Batch(obs, None, None, None, None, None), (), dist, None, policy)


OBS = jax.random.normal(jax.random.PRNGKey(1), (7, 4))


def State(params):  # noqa: N802 (reads as the learner state it stands for)
    return Managed(params=params, hparams={}, opt_state=())


def network(**spec):
    env, params = bootstrap_rl.make("CartPole-v1")
    return make_library_network(LibrarySpec(hidden=16, **{"slots": 3, **spec}), env.action_space(params))


def stage(index, adult=False):
    return StageStart(jnp.int32(index), jnp.bool_(adult), None)


def test_fresh_library_is_one_mlp_head_on_the_encoder():
    net = network()
    v = net.init(jax.random.PRNGKey(0), OBS)
    lib = library.get(v)
    np.testing.assert_array_equal(lib["active"], [1, 0, 0])
    # By hand: encoder, then slot 0's two layers.
    p, s = v["params"], library.get_slot(v, 0)
    e = jax.nn.relu(OBS @ p["encoder"]["kernel"] + p["encoder"]["bias"])
    h = jax.nn.relu(e @ s["hidden"]["kernel"] + s["hidden"]["bias"])
    dist, value = net.apply(v, OBS)
    np.testing.assert_allclose(dist.logits, h @ s["policy"]["kernel"] + s["policy"]["bias"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(value, (h @ s["value"]["kernel"] + s["value"]["bias"])[:, 0], rtol=1e-5, atol=1e-6)


def test_gates_mix_active_slots_only_and_top_k_keeps_the_largest():
    net = network(slots=4)
    v = net.init(jax.random.PRNGKey(0), OBS)
    v = library.replace(v, active=jnp.array([1.0, 0.0, 1.0, 1.0]))
    g = net.apply(v, OBS, method=lambda m, o: m.gates(m.embed(o)))
    np.testing.assert_allclose(g, np.tile([1 / 3, 0, 1 / 3, 1 / 3], (7, 1)), atol=1e-6)  # unrouted: uniform
    # Routed, with a planted router that prefers slot 3, then slot 2; top-2 drops slot 0.
    routed = library.replace(v, routed=jnp.float32(1.0))
    routed["params"]["router"]["bias"] = jnp.array([0.0, 5.0, 1.0, 2.0])
    top2 = network(slots=4, top_k=2)
    g = top2.apply(routed, OBS, method=lambda m, o: m.gates(m.embed(o)))
    expected = np.exp([1.0, 2.0]) / np.exp([1.0, 2.0]).sum()
    np.testing.assert_allclose(g[:, 2:], np.tile(expected, (7, 1)), rtol=1e-5)
    np.testing.assert_allclose(g[:, :2], 0.0, atol=1e-7)
    # Tied gates (unrouted): top-2 keeps exactly two of the three active slots, half each.
    g = top2.apply(v, OBS, method=lambda m, o: m.gates(m.embed(o)))
    np.testing.assert_allclose(np.sort(np.asarray(g), axis=1), np.tile([0, 0, 0.5, 0.5], (7, 1)), atol=1e-6)


def test_library_spec_rejects_bad_fields():
    with pytest.raises(ConfigError, match="library.top_k"):
        LibrarySpec(slots=2, top_k=3)
    with pytest.raises(ConfigError, match="library.memory_k"):
        LibrarySpec(memory_size=4, memory_k=8)
    with pytest.raises(ConfigError, match="library.slots"):
        LibrarySpec(slots=0)


def test_routing_allocates_a_slot_per_stage_and_freezes_earlier_ones():
    net = network(slots=3)
    m = routing()
    state = State(net.init(jax.random.PRNGKey(0), OBS))
    mstate = m.init(None, state.params)
    for index, active, frozen in ((0, [1, 0, 0], [0, 0, 0]), (1, [1, 1, 0], [1, 0, 0]), (2, [1, 1, 1], [1, 1, 0])):
        mstate, state = jax.jit(m.on_stage_start)(mstate, state, stage(index, adult=index == 2))
        lib = library.get(state.params)
        np.testing.assert_array_equal(lib["active"], active)
        np.testing.assert_array_equal(lib["frozen"], frozen)
        assert lib["routed"] == 1.0
    # A partial rate instead of freezing; and an adult stage without a new slot.
    state = State(net.init(jax.random.PRNGKey(0), OBS))
    m = routing(earlier_lr=0.1, adult_slot=False)
    _, state = m.on_stage_start((), state, stage(1))
    _, state = m.on_stage_start((), state, stage(2, adult=True))
    lib = library.get(state.params)
    np.testing.assert_array_equal(lib["active"], [1, 1, 0])
    np.testing.assert_allclose(lib["lr_scale"], [0.1, 1, 1])
    np.testing.assert_array_equal(lib["frozen"], [0, 0, 0])


def test_routing_refuses_a_network_without_library():
    with pytest.raises(ValueError, match="subsystem library"):
        routing().init(None, {"params": {}})


@pytest.fixture(scope="module")
def routed_ppo():
    env, env_params = bootstrap_rl.make("CartPole-v1")
    config = PPOConfig(num_envs=4, num_steps=16, num_minibatches=2, update_epochs=2, total_timesteps=64 * 4)
    ppo = make_ppo(config, env, env_params, network=network(slots=3), manager=routing())
    state = ppo.init(jax.random.PRNGKey(0))
    state = ppo.start_stage(state, stage(0))
    return ppo, ppo.start_stage(state, stage(1))


def test_frozen_slot_weights_do_not_change(routed_ppo):
    ppo, state = routed_ppo
    after, _ = jax.jit(lambda s: jax.lax.scan(lambda s, _: ppo.update(s), s, None, 3))(state)
    before_slot, after_slot = (library.get_slot(s.params, 0) for s in (state, after))
    jax.tree.map(np.testing.assert_array_equal, before_slot, after_slot)  # frozen: bit-identical
    moved = lambda i: any(np.any(a != b) for a, b in zip(*(jax.tree.leaves(library.get_slot(s.params, i)) for s in (state, after))))
    assert moved(1)  # the stage's new slot trains
    assert not moved(2)  # an inactive slot gets no gradient, hence no update
    assert np.any(after.params["params"]["router"]["kernel"] != state.params["params"]["router"]["kernel"])


def test_memory_lookup_returns_the_true_nearest_neighbours():
    rng = np.random.default_rng(0)
    keys = rng.normal(size=(50, 8)).astype(np.float32)
    used = (rng.random(50) < 0.7).astype(np.float32)
    values = rng.normal(size=50).astype(np.float32)
    queries = rng.normal(size=(20, 8)).astype(np.float32)
    memory = {"keys": keys, "values": values, "used": used}
    indices, d2 = jax.jit(memory_lookup, static_argnums=2)(memory, queries, 5)
    # NumPy reference: brute force over the used entries.
    dist = ((queries[:, None] - keys[None]) ** 2).sum(-1)
    dist[:, used == 0] = np.inf
    expected = np.argsort(dist, axis=1)[:, :5]
    np.testing.assert_array_equal(np.asarray(indices), expected)
    np.testing.assert_allclose(d2, np.take_along_axis(dist, expected, 1), rtol=1e-4, atol=1e-4)
    # The read: inverse-distance-weighted mean of their values, all 5 present.
    w = 1.0 / (np.take_along_axis(dist, expected, 1) + 1e-3)
    read = memory_read(memory, queries, 5)
    np.testing.assert_allclose(read[:, 0], (w * values[expected]).sum(1) / w.sum(1), rtol=1e-3)
    np.testing.assert_allclose(read[:, 1], 1.0)
    # Vmapped over seeds, each seed's memory answers its own queries.
    two = jax.tree.map(lambda x: np.stack([x, x[::-1]]), memory)
    batched, _ = jax.vmap(memory_lookup, in_axes=(0, None, None))(two, queries, 5)
    np.testing.assert_array_equal(np.asarray(batched[0]), expected)
    np.testing.assert_array_equal(np.asarray(batched[1]), 49 - expected)


def test_empty_memory_reads_zero():
    spec = LibrarySpec(hidden=8, memory_size=16, memory_k=4)
    read = memory_read(library.empty_memory(spec), jnp.ones((3, 8)), 4)
    np.testing.assert_array_equal(read, np.zeros((3, 2)))


def test_episodic_memory_writes_a_ring_buffer_in_childhood_only():
    net = network(slots=2, memory_size=8, memory_k=2)
    state = State(net.init(jax.random.PRNGKey(0), OBS))
    m = episodic_memory(writes_per_update=5)
    mstate = m.init(jax.random.PRNGKey(3), state.params)
    batch = type("B", (), {})()
    batch.obs = jax.random.normal(jax.random.PRNGKey(2), (6, 4))
    batch.target = jnp.arange(6, dtype=jnp.float32) + 10
    update = Handover({}, batch, None, net)
    mstate, state = m.on_stage_start(mstate, state, stage(0))
    mstate, state = m.after_update(mstate, state, update)
    mem = library.get(state.params)["memory"]
    assert int(mem["next"]) == 5 and float(mem["used"].sum()) == 5
    # What was written: the embeddings of the chosen observations and their returns.
    rows = np.asarray(mem["values"][:5]).astype(int) - 10
    np.testing.assert_allclose(mem["keys"][:5], net.apply(state.params, batch.obs[rows], method="embed"), rtol=1e-5)
    mstate, state = m.after_update(mstate, state, update)  # wraps around: 10 writes in 8 entries
    mem = library.get(state.params)["memory"]
    assert int(mem["next"]) == 2 and float(mem["used"].sum()) == 8
    # The network now reads it: the policy differs from the one with an empty memory.
    empty = library.replace(state.params, memory=library.empty_memory(net.spec))
    assert not np.allclose(net.apply(state.params, OBS)[0].logits, net.apply(empty, OBS)[0].logits)
    # Adult stage: no more writes.
    mstate, state = m.on_stage_start(mstate, state, stage(1, adult=True))
    _, after = m.after_update(mstate, state, update)
    jax.tree.map(np.testing.assert_array_equal, library.get(after.params)["memory"], mem)


def test_distral_regularises_the_task_policy_and_distils_the_shared_one():
    net = network(slots=3)
    state = State(net.init(jax.random.PRNGKey(0), OBS))
    _, state = distral().on_stage_start((), state, stage(1))
    np.testing.assert_array_equal(library.get(state.params)["active"], [0, 1, 0])  # stage 1 acts with slot 1
    policy = lambda p, o: net.apply(p, o, method="policy")

    def grads(coef, distil_coef, params):
        m = distral(coef, distil_coef)
        def loss(trainable):
            variables = {**params, "params": trainable}
            return m.loss((), variables, loss_inputs(OBS, policy(variables, OBS), policy))
        return jax.grad(loss)(params["params"])

    def slot_norm(g, i):
        return sum(float(jnp.abs(x[i]).sum()) for x in jax.tree.leaves(g["slots"]))

    g = grads(1.0, 0.0, state.params)  # regularise only: the task slot moves, pi_0 does not
    assert slot_norm(g, 1) > 0 and slot_norm(g, 2) == 0
    g = grads(0.0, 1.0, state.params)  # distil only: pi_0 moves, the task slot does not
    assert slot_norm(g, 2) > 0 and slot_norm(g, 1) == 0
    # With the task slot equal to the shared slot, the policies agree and the loss is zero.
    same = library.set_slot(state.params, 1, library.get_slot(state.params, 2))
    m = distral(1.0, 1.0)
    assert abs(float(m.loss((), same, loss_inputs(OBS, policy(same, OBS), policy)))) < 1e-6


def _randomised(net, key, **library_changes):
    """``net``'s variables with every parameter drawn at unit scale (slots far apart, unlike
    the near-zero initial policy heads) and the library changed as given."""
    v = net.init(key, OBS)
    leaves, treedef = jax.tree.flatten(v["params"])
    keys = jax.random.split(jax.random.fold_in(key, 1), len(leaves))
    params = jax.tree.unflatten(treedef, [0.5 * jax.random.normal(k, x.shape) for k, x in zip(keys, leaves)])
    return library.replace({**v, "params": params}, **library_changes)


@pytest.mark.parametrize("continuous", [False, True])
def test_with_slots_gives_each_slot_alone_from_the_acting_pass(continuous):
    """``with_slots``' per-slot policies are the policies with that slot the only active one,
    whatever the gates (routed, top-k, a memory read, a generated slot), and its policy and
    value are ``__call__``'s."""
    spec = LibrarySpec(slots=4, hidden=16, top_k=2, memory_size=8, memory_k=2, hyper_dim=3, tasks=2)
    net = library.LibraryActorCritic(spec, action_dim=2, continuous=continuous)
    v = _randomised(net, jax.random.PRNGKey(2), active=jnp.array([1.0, 0.0, 1.0, 1.0]), routed=jnp.float32(1.0),
                    generated=jnp.array([0.0, 0.0, 0.0, 1.0]))
    mem = library.get(v)["memory"]
    v = library.replace(v, memory={**mem, "keys": jax.random.normal(jax.random.PRNGKey(3), mem["keys"].shape),
                                   "values": jnp.arange(8.0), "used": jnp.ones(8)})
    dist, value, slots = net.apply(v, OBS, method="with_slots")
    ref_dist, ref_value = net.apply(v, OBS)
    jax.tree.map(np.testing.assert_array_equal, (dist, value), (ref_dist, ref_value))
    for i in range(4):
        alone = net.apply(library.replace(v, active=jnp.zeros(4).at[i].set(1.0)), OBS, method="policy")
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6),
                     library.slot_policy(slots, i), alone)


def _reference_distral_loss(net, coef, distil_coef):
    """Distral's loss written out independently of the manager: a second forward pass with the
    last slot alone for pi_0, and the two KL terms of categorical policies by hand."""
    def loss(trainable, variables, obs):
        v = {**variables, "params": trainable}
        slots = library.get(v)["active"].shape[0]
        pi = jax.nn.log_softmax(net.apply(v, obs)[0].logits)
        alone = library.replace(v, active=jnp.zeros(slots).at[slots - 1].set(1.0))
        pi0 = jax.nn.log_softmax(net.apply(alone, obs)[0].logits)
        sg = jax.lax.stop_gradient
        regularise = jnp.sum(jnp.exp(pi) * (pi - sg(pi0)), -1).mean()  # KL(pi || sg pi_0)
        distil = jnp.sum(jnp.exp(sg(pi)) * (sg(pi) - pi0), -1).mean()  # KL(sg pi || pi_0)
        return coef * regularise + distil_coef * distil
    return loss


def test_distral_loss_from_the_acting_pass_equals_the_two_pass_formula():
    """The learner's path (pi_0 read from the acting forward pass, ``LossInputs.slots``) gives
    the loss and the gradient of the reference formula, which runs the network again with the
    shared slot alone; on a routed library with a memory, so the gates are not trivial."""
    spec = LibrarySpec(slots=4, hidden=16, memory_size=8, memory_k=2)
    net = library.LibraryActorCritic(spec, action_dim=2)
    v = _randomised(net, jax.random.PRNGKey(4), active=jnp.array([0.0, 1.0, 1.0, 0.0]), routed=jnp.float32(1.0))
    mem = library.get(v)["memory"]
    v = library.replace(v, memory={**mem, "keys": jax.random.normal(jax.random.PRNGKey(5), mem["keys"].shape),
                                   "values": jnp.arange(8.0), "used": jnp.ones(8)})
    obs = jax.random.normal(jax.random.PRNGKey(6), (64, 4))
    coef, distil_coef = 0.7, 1.3
    m = distral(coef, distil_coef)
    policy = lambda p, o: net.apply(p, o, method="policy")

    def ours(trainable):
        p = {**v, "params": trainable}
        dist, values, slots = net.apply(p, obs, method="with_slots")
        inputs = LossInputs(Batch(obs, None, None, None, None, None), (), dist, values, policy, slots)
        return m.loss((), p, inputs)

    def without_slots(trainable):  # the manager's own fallback: a second pass
        p = {**v, "params": trainable}
        return m.loss((), p, loss_inputs(obs, policy(p, obs), policy))

    reference = _reference_distral_loss(net, coef, distil_coef)
    value, grads = jax.value_and_grad(ours)(v["params"])
    ref_value, ref_grads = jax.value_and_grad(reference)(v["params"], v, obs)
    assert float(ref_value) > 1e-2  # the two policies differ: a non-trivial check
    np.testing.assert_allclose(value, ref_value, rtol=1e-5)
    np.testing.assert_allclose(without_slots(v["params"]), ref_value, rtol=1e-5)
    scale = max(float(jnp.abs(g).max()) for g in jax.tree.leaves(ref_grads))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * scale), grads, ref_grads)
    # Each term reaches only its own slot (task slots 1 and 2 mixed; the shared one, 3).
    assert float(jnp.abs(grads["slots"]["policy"]["kernel"][3]).sum()) > 0
    assert float(jnp.abs(grads["slots"]["policy"]["kernel"][0]).sum()) == 0


def test_distral_in_the_learner_matches_the_two_pass_formula():
    """PPO trained with distral (pi_0 from the acting pass) and with the reference loss (a
    second pass per minibatch) ends with the same parameters after two updates."""
    env, env_params = bootstrap_rl.make("CartPole-v1")
    config = PPOConfig(num_envs=4, num_steps=16, num_minibatches=2, update_epochs=2, learning_rate=1e-2,
                       total_timesteps=64 * 2)
    net = network(slots=3)
    ours = distral(coef=0.5, distil_coef=1.0)
    reference = _reference_distral_loss(net, 0.5, 1.0)
    textbook = ours._replace(loss=lambda mstate, params, inputs: reference(params["params"], params,
                                                                           inputs.batch.obs))

    def train(manager):
        ppo = make_ppo(config, env, env_params, network=net, manager=manager)
        state = ppo.start_stage(ppo.init(jax.random.PRNGKey(0)), stage(1))
        # Slots apart, so the distillation terms are not zero from the start.
        state = state.replace(params=library.set_slot(state.params, 2, library.get_slot(
            _randomised(net, jax.random.PRNGKey(7)), 2)))
        for _ in range(2):
            state, _ = jax.jit(ppo.update)(state)
        return state.params["params"]

    a, b, plain = train(ours), train(textbook), train(ours._replace(loss=lambda *args: jnp.zeros(())))
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5), a, b)
    moved = max(float(jnp.abs(x - y).max()) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(plain)))
    assert moved > 1e-3  # the distral terms act


def test_a_frozen_routed_slot_keeps_its_outputs_only_with_the_encoder_frozen():
    """Later stages' training must leave a frozen slot's own outputs (its skill) bit-identical
    with freeze_encoder; without it the shared encoder moves them."""
    env, env_params = bootstrap_rl.make("CartPole-v1")
    config = PPOConfig(num_envs=4, num_steps=16, num_minibatches=2, update_epochs=2, learning_rate=1e-2,
                       total_timesteps=64 * 4)
    net = network(slots=3)

    def slot0_outputs(freeze):
        ppo = make_ppo(config, env, env_params, network=net, manager=routing(freeze_encoder=freeze))
        state = ppo.init(jax.random.PRNGKey(0))
        state = ppo.start_stage(state, stage(0))
        state, _ = jax.jit(lambda s: jax.lax.scan(lambda s, _: ppo.update(s), s, None, 2))(state)  # stage 0 trains
        state = ppo.start_stage(state, stage(1))
        after, _ = jax.jit(lambda s: jax.lax.scan(lambda s, _: ppo.update(s), s, None, 3))(state)
        heads = jax.jit(lambda p: net.apply(p, OBS, method="heads"))
        (out0, value0, _), (out1, value1, _) = heads(state.params), heads(after.params)
        moved = np.any(after.params["params"]["router"]["kernel"] != state.params["params"]["router"]["kernel"])
        return (out0[:, 0], value0[:, 0]), (out1[:, 0], value1[:, 0]), moved

    before, after, router_moved = slot0_outputs(True)
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_array_equal(before[1], after[1])
    assert router_moved  # the routing over the slots still learns
    before, after, _ = slot0_outputs(False)
    assert np.any(before[0] != after[0])  # the encoder trained on: the frozen slot's outputs drifted
    with pytest.raises(ConfigError, match="freeze_encoder"):
        routing(earlier_lr=0.5, freeze_encoder=True)
