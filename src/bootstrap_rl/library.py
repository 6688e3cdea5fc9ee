"""The subsystem library: the network that management methods build during childhood.

A shared encoder feeds ``slots`` module slots; a combiner mixes the slots' outputs into the
policy (logits, or a Gaussian mean) and the value::

    e = encoder(obs)                                   # shared features
    x = [e, memory_read(e)]                            # when the library has a memory
    out_i = slot_i(x)        for every slot i          # [policy outputs..., value]
    g = softmax over active slots of (routed * router(e))   (top-k optional)
    policy, value = sum_i g_i * out_i

Slots are stacked parameters with a leading ``[slots]`` axis, so shapes are static under jit
and a manager can allocate, freeze, copy or mix slots with array operations. The library's
bookkeeping lives in the non-trainable variable collection ``library`` beside ``params``:

``active[slots]``      which slots the combiner uses (inactive slots get gate 0)
``frozen[slots]``      slots whose weights do not move (the learner scales their updates by 0)
``lr_scale[slots]``    per-slot step-size multipliers (a hyperparameter manager's knob)
``group_scale``        step-size multipliers of the other parameter groups (encoder, router, …)
``routed``             1: the router's gates; 0: a uniform mixture over the active slots
``generated[slots]``   slots whose weights come from the hypernetwork ``H(task_embedding[task])``
``task``               which task embedding the hypernetwork reads
``memory``             the episodic memory's keys, values and occupancy (when it has one)

A fresh library has slot 0 active and nothing else switched on: an encoder and one MLP head,
the network of the direct arms. Every arm of a study uses the same library network (the same
parameter count); a method changes only the library's data. Learners train the ``params``
collection only and pass their updates through :func:`scale_updates`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from gymnax.environments import spaces

from bootstrap_rl.distributions import Categorical, Gaussian
from bootstrap_rl.networks import ACTIVATIONS, _flat
from bootstrap_rl.validation import ConfigError, is_integer, positive_int

# The parameter groups besides the slots; each has a step-size multiplier in ``group_scale``.
GROUPS = ("encoder", "router", "hyper", "task_embedding", "log_std")
_NEG = -1e9  # gate logit of an inactive slot


@dataclass(frozen=True)
class LibrarySpec:
    """The shape of a subsystem library (static: one compile per spec).

    ``slots``: module slots. ``hidden``: width of the encoder and of each slot's hidden
    layer. ``top_k``: keep only the ``k`` largest gates (``None``: soft over every active
    slot). ``memory_size``: entries of the episodic memory (0: no memory); ``memory_k``:
    neighbours read. ``hyper_dim``: size of the hypernetwork's task embeddings (0: no
    hypernetwork); ``tasks``: how many task embeddings it holds (one per stage).
    """

    slots: int = 4
    hidden: int = 64
    activation: str = "relu"
    top_k: int | None = None
    memory_size: int = 0
    memory_k: int = 8
    hyper_dim: int = 0
    tasks: int = 8

    def __post_init__(self):
        for name, minimum in (("slots", 1), ("hidden", 1), ("memory_k", 1), ("tasks", 1), ("memory_size", 0),
                              ("hyper_dim", 0)):
            object.__setattr__(self, name, positive_int(getattr(self, name), f"library.{name}", minimum=minimum))
        if self.activation not in ACTIVATIONS:
            raise ConfigError("library.activation", f"must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")
        if self.top_k is not None and not (is_integer(self.top_k) and 1 <= self.top_k <= self.slots):
            raise ConfigError("library.top_k", f"must be None or an integer in [1, slots={self.slots}], got {self.top_k!r}")
        if self.top_k is not None:
            object.__setattr__(self, "top_k", int(self.top_k))
        if self.memory_size and self.memory_k > self.memory_size:
            raise ConfigError("library.memory_k", f"must be <= memory_size={self.memory_size}, got {self.memory_k}")

    def replace(self, **changes) -> LibrarySpec:
        return dataclasses.replace(self, **changes)

    @property
    def memory_features(self) -> int:
        """What a memory read adds to the slots' input: the read value and the read's weight."""
        return 2 if self.memory_size else 0


def _stacked(init, slots: int):
    """An initialiser for ``[slots, ...]`` that initialises every slot independently."""
    def stacked(key, shape, dtype=jnp.float32):
        return jax.vmap(lambda k: init(k, shape[1:], dtype))(jax.random.split(key, slots))
    return stacked


def slot_shapes(spec: LibrarySpec, outputs: int) -> dict:
    """Shapes of one slot's parameters (without the leading slot axis)."""
    inputs = spec.hidden + spec.memory_features
    return {
        "hidden": {"kernel": (inputs, spec.hidden), "bias": (spec.hidden,)},
        "policy": {"kernel": (spec.hidden, outputs), "bias": (outputs,)},
        "value": {"kernel": (spec.hidden, 1), "bias": (1,)},
    }


def _init_slot(key, spec: LibrarySpec, outputs: int) -> dict:
    """One slot initialised as PureJaxRL initialises an MLP head (orthogonal; policy 0.01)."""
    shapes = slot_shapes(spec, outputs)
    k1, k2, k3 = jax.random.split(key, 3)
    orth = nn.initializers.orthogonal
    return {
        "hidden": {"kernel": orth(np.sqrt(2))(k1, shapes["hidden"]["kernel"]), "bias": jnp.zeros(shapes["hidden"]["bias"])},
        "policy": {"kernel": orth(0.01)(k2, shapes["policy"]["kernel"]), "bias": jnp.zeros(shapes["policy"]["bias"])},
        "value": {"kernel": orth(1.0)(k3, shapes["value"]["kernel"]), "bias": jnp.zeros(shapes["value"]["bias"])},
    }


def flatten_slot(slot: dict) -> jax.Array:
    """One slot's parameters as a flat vector (the hypernetwork's output layout)."""
    return jnp.concatenate([x.reshape(-1) for x in jax.tree.leaves(slot)])


def unflatten_slot(flat: jax.Array, spec: LibrarySpec, outputs: int) -> dict:
    """Inverse of :func:`flatten_slot`."""
    shapes = slot_shapes(spec, outputs)
    leaves, treedef = jax.tree.flatten(shapes, is_leaf=lambda x: isinstance(x, tuple))
    out, start = [], 0
    for shape in leaves:
        size = math.prod(shape)
        out.append(flat[start:start + size].reshape(shape))
        start += size
    return jax.tree.unflatten(treedef, out)


def memory_lookup(memory: dict, queries: jax.Array, k: int) -> tuple[jax.Array, jax.Array]:
    """The ``k`` nearest stored keys of each query (squared Euclidean distance).

    Returns ``(indices [B, k], squared distances [B, k])``, nearest first; unused entries
    (``memory["used"] == 0``) are never returned ahead of a used one and have distance inf.
    """
    keys, used = memory["keys"], memory["used"] > 0
    d2 = (jnp.sum(queries**2, -1, keepdims=True) - 2 * queries @ keys.T + jnp.sum(keys**2, -1)[None])
    d2 = jnp.where(used[None], jnp.maximum(d2, 0.0), jnp.inf)
    neg, indices = jax.lax.top_k(-d2, k)
    return indices, -neg


def memory_read(memory: dict, queries: jax.Array, k: int, delta: float = 1e-3) -> jax.Array:
    """Neural episodic control's read: the inverse-distance-weighted mean of the ``k``
    nearest entries' values, and the fraction of those ``k`` that exist. ``[B, 2]``; zeros
    from an empty memory."""
    indices, d2 = memory_lookup(memory, queries, k)
    present = jnp.isfinite(d2)
    weights = jnp.where(present, 1.0 / (jnp.where(present, d2, 0.0) + delta), 0.0)
    total = weights.sum(-1)
    value = (weights * memory["values"][indices]).sum(-1) / jnp.where(total > 0, total, 1.0)
    return jnp.stack([value, present.mean(-1)], axis=-1)


def empty_memory(spec: LibrarySpec) -> dict:
    return {
        "keys": jnp.zeros((spec.memory_size, spec.hidden), jnp.float32),
        "values": jnp.zeros((spec.memory_size,), jnp.float32),
        "used": jnp.zeros((spec.memory_size,), jnp.float32),
        "next": jnp.zeros((), jnp.int32),  # ring-buffer position of the next write
    }


class LibraryActorCritic(nn.Module):
    """obs -> (policy, value) through the subsystem library (see the module docstring).

    ``action_dim``: number of discrete actions, or the size of a Box action (``continuous``).
    """

    spec: LibrarySpec
    action_dim: int
    continuous: bool = False

    def setup(self):
        s, slots = self.spec, self.spec.slots
        act = ACTIVATIONS[s.activation]
        self.act = act
        self.encoder = nn.Dense(s.hidden, kernel_init=nn.initializers.orthogonal(np.sqrt(2)))
        self.router = nn.Dense(slots, kernel_init=nn.initializers.zeros)
        self.slots = self.param(
            "slots", lambda key: jax.vmap(lambda k: _init_slot(k, s, self.action_dim))(jax.random.split(key, slots))
        )
        if s.hyper_dim:
            size = sum(math.prod(shape) for shape in jax.tree.leaves(
                slot_shapes(s, self.action_dim), is_leaf=lambda x: isinstance(x, tuple)))
            # H(z) = z @ W + b: b starts as a freshly initialised slot and z near 0, so a
            # generated slot starts as a well-initialised head; gradients reach W, b and z.
            self.hyper = self.param("hyper", lambda key: {
                "kernel": 0.1 / np.sqrt(s.hyper_dim) * jax.random.normal(key, (s.hyper_dim, size)),
                "bias": flatten_slot(_init_slot(jax.random.fold_in(key, 1), s, self.action_dim)),
            })
            # Small embeddings: every stage's generated head starts near H(0) = b, a freshly
            # initialised slot, instead of a random head far from PureJaxRL's initial scale.
            self.task_embedding = self.param("task_embedding", nn.initializers.normal(0.01), (s.tasks, s.hyper_dim))
        if self.continuous:
            self.log_std = self.param("log_std", nn.initializers.zeros, (self.action_dim,))
        self.library = self.variable("library", "state", lambda: initial_library(s))

    def embed(self, obs: jax.Array) -> jax.Array:
        """The shared encoder's features (the memory's keys)."""
        return self.act(self.encoder(_flat(obs)))

    def slot_weights(self) -> dict:
        """The slots' weights in use: stored, or generated by the hypernetwork."""
        lib = self.library.value
        stored = flax.core.unfreeze(self.slots)
        if not self.spec.hyper_dim:
            return stored
        z = self.task_embedding[lib["task"]]
        generated = unflatten_slot(z @ self.hyper["kernel"] + self.hyper["bias"], self.spec, self.action_dim)
        use = lib["generated"]
        return jax.tree.map(
            lambda stored, gen: jnp.where(use.reshape(-1, *([1] * gen.ndim)) > 0, gen[None], stored),
            stored, generated,
        )

    def gates(self, e: jax.Array) -> jax.Array:
        """The combiner's weights over slots, ``[B, slots]`` (0 for inactive slots)."""
        lib = self.library.value
        logits = lib["routed"] * self.router(e)
        logits = jnp.where(lib["active"][None] > 0, logits, _NEG)
        if self.spec.top_k is not None and self.spec.top_k < self.spec.slots:
            # Exactly k slots (ties broken by slot order), not every slot tied with the k-th.
            _, top = jax.lax.top_k(logits, self.spec.top_k)
            keep = jax.nn.one_hot(top, self.spec.slots).sum(-2) > 0
            logits = jnp.where(keep, logits, _NEG)
        return jax.nn.softmax(logits, axis=-1)

    def heads(self, obs: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        """Every slot's policy outputs ``[B, slots, A]`` and values ``[B, slots]``, and the gates."""
        e = self.embed(obs)
        x = e
        if self.spec.memory_size:
            x = jnp.concatenate([e, memory_read(self.library.value["memory"], e, self.spec.memory_k)], -1)
        w = self.slot_weights()
        h = self.act(jnp.einsum("bi,sih->bsh", x, w["hidden"]["kernel"]) + w["hidden"]["bias"])
        out = jnp.einsum("bsh,sha->bsa", h, w["policy"]["kernel"]) + w["policy"]["bias"]
        value = jnp.einsum("bsh,sh->bs", h, w["value"]["kernel"][..., 0]) + w["value"]["bias"][..., 0]
        return out, value, self.gates(e)

    def __call__(self, obs: jax.Array):
        out, value, g = self.heads(obs)
        return self._dist(jnp.einsum("bs,bsa->ba", g, out)), jnp.einsum("bs,bs->b", g, value)

    def with_slots(self, obs: jax.Array):
        """``(policy, value)`` as :meth:`__call__`, and every slot's policy alone, from one pass.

        The third output is one distribution over the slots' outputs ``[B, slots, A]``; read
        slot ``i``'s with :func:`slot_policy`. It is the policy the network would have with
        slot ``i`` its only active slot (that slot's gate is then exactly 1, every other
        exactly 0, whatever the router), so a loss that needs it (Distral's shared policy)
        reads it here instead of running the network a second time.
        """
        out, value, g = self.heads(obs)
        policy = self._dist(jnp.einsum("bs,bsa->ba", g, out))
        return policy, jnp.einsum("bs,bs->b", g, value), self._dist(out)

    def policy(self, obs: jax.Array):
        return self(obs)[0]

    def value(self, obs: jax.Array) -> jax.Array:
        return self(obs)[1]

    def _dist(self, out: jax.Array):
        return Gaussian(out, self.log_std) if self.continuous else Categorical(out)

    @staticmethod
    def scale_updates(variables: dict, updates: dict) -> dict:
        """Scale the optimizer's updates of ``params`` by the library's step-size multipliers:
        per slot ``lr_scale * (1 - frozen)``, per other group ``group_scale``."""
        lib = variables["library"]["state"]
        per_slot = lib["lr_scale"] * (1.0 - lib["frozen"])
        scaled = {}
        for name, update in updates.items():
            if name == "slots":
                scaled[name] = jax.tree.map(lambda u: u * per_slot.reshape(-1, *([1] * (u.ndim - 1))), update)
            else:
                scaled[name] = jax.tree.map(lambda u: u * lib["group_scale"][name], update)
        return scaled


def initial_library(spec: LibrarySpec) -> dict:
    """A fresh library's state: slot 0 active, nothing frozen, routing and generation off."""
    one_hot = jnp.zeros(spec.slots, jnp.float32).at[0].set(1.0)
    state = {
        "active": one_hot,
        "frozen": jnp.zeros(spec.slots, jnp.float32),
        "lr_scale": jnp.ones(spec.slots, jnp.float32),
        "group_scale": {name: jnp.ones((), jnp.float32) for name in GROUPS},
        "routed": jnp.zeros((), jnp.float32),
        "generated": jnp.zeros(spec.slots, jnp.float32),
        "task": jnp.zeros((), jnp.int32),
    }
    if spec.memory_size:
        state["memory"] = empty_memory(spec)
    return state


# --- what managers use to read and change a library held in a learner's variables ----------


def get(variables: dict) -> dict:
    """The library state in ``variables`` (a learner's ``state.params``)."""
    if "library" not in variables:
        raise ValueError("this manager needs the subsystem library: build the network with "
                         "bootstrap_rl.library (in a curriculum: Curriculum(library=LibrarySpec(...)))")
    return variables["library"]["state"]


def replace(variables: dict, **changes) -> dict:
    """``variables`` with library entries replaced (``replace(v, routed=1.0)``)."""
    return {**variables, "library": {**variables["library"], "state": {**get(variables), **changes}}}


def slot_policy(slots, index):
    """Slot ``index``'s policy alone, out of every slot's (the third output of
    :meth:`LibraryActorCritic.with_slots`, a distribution over ``[B, slots, A]`` outputs)."""
    if isinstance(slots, Gaussian):
        return Gaussian(slots.mean[:, index], slots.log_std)
    return Categorical(slots.logits[:, index])


def get_slot(variables: dict, index) -> dict:
    """Slot ``index``'s stored weights (a tree without the slot axis)."""
    return jax.tree.map(lambda x: x[index], variables["params"]["slots"])


def set_slot(variables: dict, index, slot: dict) -> dict:
    """``variables`` with slot ``index``'s stored weights replaced."""
    slots = jax.tree.map(lambda x, y: x.at[index].set(y), variables["params"]["slots"], slot)
    return {**variables, "params": {**variables["params"], "slots": slots}}


def make_library_network(spec: LibrarySpec, action_space) -> LibraryActorCritic:
    """The library network for ``action_space`` (Discrete or Box)."""
    if isinstance(action_space, spaces.Discrete):
        return LibraryActorCritic(spec, int(action_space.n), False)
    if isinstance(action_space, spaces.Box):
        return LibraryActorCritic(spec, int(np.prod(action_space.shape)), True)
    raise NotImplementedError(f"action space {type(action_space).__name__} is not supported (Discrete or Box only)")


def trainable_count(variables: dict) -> int:
    """Number of trained parameters (the ``params`` collection; library state excluded)."""
    return int(sum(np.prod(x.shape) for x in jax.tree.leaves(variables["params"])))
