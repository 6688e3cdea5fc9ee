"""How much a network can still learn, and how much of it acts: measured on observations.

The cost side of a childhood (the counter-hypothesis to A:childhood_implications) is loss of
plasticity — a network trained first on other tasks may fit the adult task worse than a fresh
one (primacy bias, Nikishin et al. 2022; Lyle et al. 2023). A study measures, for every arm at
every evaluation point, on the observations its policy met in that point's adult-task episodes:

``dormant_fraction``
    the fraction of the encoder's units that are τ-dormant (Sokar et al. 2023): a unit's mean
    absolute activation divided by the layer's mean is at most ``τ = 0.025``.
``feature_rank``
    the effective rank of the encoder's features (srank, Kumar et al. 2021): the fewest
    singular values whose sum reaches ``1 - δ = 0.99`` of the total.
``weight_norm``
    the L2 norm of every trained parameter (growing norms go with lost plasticity).
``active_parameters``
    the trained parameters the acting policy uses (:func:`active_parameter_count`).

The encoder is the network's ``embed`` method: the library's shared encoder, or a plain
actor-critic's last hidden layer of the actor.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

DORMANT_TAU = 0.025
RANK_DELTA = 0.01
METRICS = ("dormant_fraction", "feature_rank", "weight_norm", "active_parameters")


def dormant_fraction(features: jax.Array, weights: jax.Array, tau: float = DORMANT_TAU) -> jax.Array:
    """Fraction of units (columns of ``features [N, units]``) that are τ-dormant over the rows
    with ``weights [N]`` > 0: mean |activation| at most ``tau`` times the layer's mean."""
    w = weights.astype(jnp.float32)
    mean_abs = (jnp.abs(features) * w[:, None]).sum(0) / jnp.maximum(w.sum(), 1.0)
    layer = mean_abs.mean()
    score = jnp.where(layer > 0, mean_abs / jnp.where(layer > 0, layer, 1.0), 0.0)
    return (score <= tau).mean()


def feature_rank(features: jax.Array, weights: jax.Array, delta: float = RANK_DELTA) -> jax.Array:
    """srank: the fewest singular values of the (weighted rows of) ``features`` whose sum
    reaches ``1 - delta`` of their total; 0 for features that are all zero."""
    singular = jnp.linalg.svd(features * (weights > 0)[:, None], compute_uv=False)
    total = singular.sum()
    reached = jnp.cumsum(singular) >= (1 - delta) * total
    return jnp.where(total > 0, jnp.argmax(reached) + 1, 0).astype(jnp.float32)


def weight_norm(variables: dict) -> jax.Array:
    """The L2 norm of the trained ``params`` collection."""
    return jnp.sqrt(sum(jnp.sum(jnp.square(x)) for x in jax.tree.leaves(variables["params"])))


def active_parameter_count(variables: dict) -> jax.Array:
    """Trained parameters the acting policy uses (jittable).

    With a subsystem library: the encoder, the router where its gates are on over more than one
    slot, every active stored slot, the hypernetwork and one task embedding where an active slot
    is generated, and ``log_std``. Without one: every trained parameter.
    """
    params = variables["params"]
    if "library" not in variables:
        return jnp.asarray(_size(params), jnp.float32)
    lib = variables["library"]["state"]
    active = lib["active"] > 0
    generated = active & (lib["generated"] > 0)
    slots = params["slots"]
    slot_size = _size(slots) // lib["active"].shape[0]
    count = _size(params["encoder"]) + _size(params.get("log_std", {}))
    count = count + jnp.where((lib["routed"] > 0) & (active.sum() > 1), _size(params["router"]), 0)
    count = count + slot_size * (active & ~generated).sum()
    if "hyper" in params:
        one_embedding = params["task_embedding"].shape[-1]
        count = count + jnp.where(generated.any(), _size(params["hyper"]) + one_embedding, 0)
    return jnp.asarray(count, jnp.float32)


def network_metrics(network, variables: dict, obs: jax.Array, weights: jax.Array) -> dict[str, jax.Array]:
    """Every metric of the module docstring for one learner's acting ``variables`` on
    ``obs [N, ...]`` (rows with ``weights [N]`` > 0)."""
    features = network.apply(variables, obs, method="embed")
    return {
        "dormant_fraction": dormant_fraction(features, weights),
        "feature_rank": feature_rank(features, weights),
        "weight_norm": weight_norm(variables),
        "active_parameters": active_parameter_count(variables),
    }


def _size(tree) -> int:
    return int(sum(math.prod(x.shape) for x in jax.tree.leaves(tree)))
