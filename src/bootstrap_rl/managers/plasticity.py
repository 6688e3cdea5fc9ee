"""A control for lost plasticity: shrink and perturb the weights when the adult stage starts.

Ash & Adams (2020) restore a warm-started network's ability to learn by shrinking its weights
toward zero and adding a fresh initialisation's noise: ``θ ← λ θ + σ ε``. A study derives
``curriculum/shrink_perturb`` from it — the curriculum arm with this reset at the adult
stage's start — so that a childhood that hurts the adult through primacy bias or lost
plasticity (Nikishin et al. 2022; Lyle et al. 2023) shows up against a version of itself that
keeps the childhood's weights, scaled down, and regains trainability.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bootstrap_rl.managers.base import Manager
from bootstrap_rl.validation import finite_number


def shrink_perturb(shrink: float = 0.5, perturb: float = 0.1) -> Manager:
    """At the adult stage's start, ``θ ← shrink · θ + perturb · ε`` for the trained ``params``,
    ``ε`` a fresh draw with each array's initial scale (its standard deviation at initialisation:
    an orthogonal kernel's, say; zero-initialised biases get no noise, as a fresh init would
    give them none). Childhood stages are left alone.

    Args:
        shrink: the factor ``λ`` in [0, 1] the weights are scaled by (1: no shrink).
        perturb: the noise's scale ``σ`` >= 0, relative to a fresh initialisation's.
    """
    shrink = finite_number(shrink, "shrink", low=0, high=1)
    perturb = finite_number(perturb, "perturb", low=0)

    def init(key, params):
        # The initial weights' scales stand in for a fresh initialisation's (same shapes and
        # initialisers), and the key draws the noise once the adult stage starts.
        return {"key": key, "scale": jax.tree.map(lambda x: jnp.std(x), params["params"])}

    def on_stage_start(mstate, learner, stage):
        def reset(params):
            leaves, treedef = jax.tree.flatten(params["params"])
            keys = jax.random.split(mstate["key"], len(leaves))
            scales = jax.tree.leaves(mstate["scale"])
            noisy = [shrink * x + perturb * s * jax.random.normal(k, x.shape, x.dtype)
                     for x, s, k in zip(leaves, scales, keys)]
            return {**params, "params": jax.tree.unflatten(treedef, noisy)}

        params = jax.lax.cond(stage.is_adult, reset, lambda p: p, learner.params)
        return mstate, learner._replace(params=params)

    return Manager(init=init, on_stage_start=on_stage_start)
