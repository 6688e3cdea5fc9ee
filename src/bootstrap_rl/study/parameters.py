"""Parameter counts a study can state before it trains: total, and what the acting policy uses.

Arms of a study share one network (the curriculum's subsystem library), but the methods use
different parts of it: ``route`` acts through a slot per stage and a router, ``direct`` through
the encoder and one slot. A childhood arm that wins only because it acts with more parameters
says nothing about the childhood, so a study plans every arm's *active* count from its
method's :class:`~bootstrap_rl.managers.Footprint` (checked against the count it measures on
the trained network: the ``active_parameters`` metric) and adds a direct arm wide enough to
match each larger one (``Controls.capacity``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from bootstrap_rl.curriculum import Curriculum
from bootstrap_rl.library import initial_library, make_library_network
from bootstrap_rl.managers.base import Footprint
from bootstrap_rl.plasticity import active_parameter_count

MAX_WIDTH_FACTOR = 16  # a capacity-matched arm is at most this many times wider than the learner


def network_shapes(curriculum: Curriculum, hidden_sizes: tuple[int, ...]):
    """The network's variables as shape structs (nothing compiled): the library network (at the
    library's width for the learner's ``hidden_sizes``, else at ``hidden_sizes[0]``), or the
    learner's actor-critic at ``hidden_sizes``."""
    from bootstrap_rl.networks import make_actor_critic

    env, sampler = curriculum.family, curriculum.sampler(curriculum.adult.name)
    task = jax.eval_shape(sampler, jax.random.PRNGKey(0))
    obs_shape = jax.eval_shape(env.reset, jax.random.PRNGKey(0), task)[0].shape
    space = env.action_space(env.default_params)
    if curriculum.library is not None:
        # As the study builds it (programs._library_network): the library's own width at the
        # learner's hidden sizes, the given width otherwise (a capacity-matched arm).
        spec = curriculum.library
        if tuple(hidden_sizes) != tuple(curriculum.learner.hidden_sizes):
            spec = spec.replace(hidden=int(hidden_sizes[0]))
        network = make_library_network(spec, space)
    else:
        network = make_actor_critic(space, tuple(hidden_sizes), curriculum.learner.activation)
    return jax.eval_shape(network.init, jax.random.PRNGKey(0), jnp.zeros((1, *obs_shape)))


def parameter_counts(curriculum: Curriculum, hidden_sizes: tuple[int, ...], footprint: Footprint) -> tuple[int, int]:
    """``(active, total)`` trained parameters of the network at ``hidden_sizes`` when the acting
    policy uses ``footprint`` of the library (every parameter is active without a library)."""
    shapes = network_shapes(curriculum, hidden_sizes)
    total = int(sum(np.prod(x.shape) for x in jax.tree.leaves(shapes["params"])))
    if curriculum.library is None:
        return total, total
    spec = curriculum.library
    lib = initial_library(spec.replace(memory_size=0))  # the memory holds no parameters
    slots = min(footprint.slots, spec.slots)
    lib = {**lib, "active": (jnp.arange(spec.slots) < slots).astype(jnp.float32),
           "routed": jnp.float32(footprint.routed)}
    active = int(active_parameter_count({"params": shapes["params"], "library": {"state": lib}}))
    return active, total


def matching_width(curriculum: Curriculum, target_active: int) -> int | None:
    """The narrowest width (hidden units per layer) at which a direct arm acts with at least
    ``target_active`` parameters; None beyond :data:`MAX_WIDTH_FACTOR` times the learner's."""
    # From one unit wider than the learner: at the learner's own sizes the network is built at
    # the library's width (network_shapes), which is not part of the monotone sequence.
    low = int(curriculum.learner.hidden_sizes[0]) + 1
    depth = len(curriculum.learner.hidden_sizes)

    def active(width: int) -> int:
        return parameter_counts(curriculum, (width,) * depth, Footprint())[0]

    high = (low - 1) * MAX_WIDTH_FACTOR
    if active(high) < target_active:
        return None
    while low < high:  # the smallest width with enough active parameters (counts grow with width)
        mid = (low + high) // 2
        if active(mid) >= target_active:
            high = mid
        else:
            low = mid + 1
    return low
