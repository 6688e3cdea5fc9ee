"""A run's inputs, all derived from the curriculum and the root seed.

Common random numbers: every key is folded in from the root seed, a stream (what the key is
for), an index (the evaluation point) and the seed's own number, so seed ``s`` of every arm
(and every arm of a D:prodigy grid) gets the same key, whichever chunk of seeds it trains in.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from bootstrap_rl.curriculum import Curriculum
from bootstrap_rl.family import mix_distributions
from bootstrap_rl.sharding import Layout
from bootstrap_rl.study.plan import Run

# Distinct streams derived from the root seed: initial networks, evaluation episodes.
INIT_STREAM, EVAL_STREAM = 0, 1


class RunInputs(NamedTuple):
    """What :func:`run_inputs` gives: batch-leading ``keys`` and ``hparams`` (host arrays,
    padded to the layout's batch, not yet placed), a task sampler per stage name, and the
    per-episode samplers of one evaluation (every split's episodes in one loop)."""

    keys: jax.Array
    hparams: dict[str, jax.Array]
    samplers: dict[str, Any]
    per_episode: Any


def stack(trees):
    """Trees of equal structure stacked leaf by leaf along a new leading axis."""
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def seed_keys(root: jax.Array, stream: int, index: int, members: int, seeds: int,
              first_seed: int = 0) -> jax.Array:
    """Keys ``[members*seeds]`` for one use, for seeds ``first_seed ... first_seed+seeds-1``:
    the same for every member (and arm) of a seed, and in any chunk of seeds (each seed's key
    is folded in from its own number)."""
    base = jax.random.fold_in(jax.random.fold_in(root, stream), index)
    per_seed = jax.vmap(lambda s: jax.random.fold_in(base, s))(first_seed + jnp.arange(seeds))
    return jnp.tile(per_seed, (members, 1))


def stage_samplers(curriculum: Curriculum, run: Run) -> dict[str, Any]:
    """The task sampler of every stage a run trains or is evaluated on, by name: the
    curriculum's, or a mixture of them (``Run.mixtures``: ``curriculum/mixed``'s childhood)."""
    mixtures = dict(run.mixtures)
    samplers = {}
    for name in dict(run.schedule) | dict.fromkeys(run.splits):
        if name in mixtures:
            parts, weights = zip(*mixtures[name])
            samplers[name] = mix_distributions([curriculum.sampler(p) for p in parts], weights)
        else:
            samplers[name] = curriculum.sampler(name)
    return samplers


def run_inputs(curriculum: Curriculum, run: Run, seeds: int, root: jax.Array, layout: Layout | None = None,
               first_seed: int = 0) -> RunInputs:
    """A run's initial keys, per-member hyperparameters, stage samplers and the per-episode
    samplers of its evaluation, for ``seeds`` seeds from ``first_seed`` on. Batch rows are
    members, then seeds."""
    layout = layout or Layout()
    members = len(run.arms)
    samplers = stage_samplers(curriculum, run)
    per_episode = jax.tree.map(lambda x: jnp.repeat(x, curriculum.evaluation.episodes, axis=0),
                               stack([samplers[name] for name in run.splits]))
    hparams = {name: jnp.repeat(jnp.asarray([h[name] for h in run.hparams], jnp.float32), seeds)
               for name in run.hparams[0]}
    keys = seed_keys(root, INIT_STREAM, 0, members, seeds, first_seed)
    keys, hparams = layout.pad((keys, hparams), members * seeds)
    return RunInputs(keys, hparams, samplers, per_episode)
