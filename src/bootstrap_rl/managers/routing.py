"""Connection patterns (D:management_methods): a module library grown one slot per stage, and a
learned router over it.

Follows PathNet (Fernando et al. 2017) — earlier modules frozen, new modules trained — with
the gate of a soft mixture of experts (Soft MoE in deep RL, Obando-Ceron et al. 2024): at
each stage start a fresh slot is allocated (slot ``stage.index``), the slots of earlier
stages are frozen (or trained at a fraction of the step size) and the router's gates over
every active slot are switched on. The adult stage allocates one more slot and learns the
routing over everything childhood built. Needs a curriculum with a library
(``Curriculum(library=LibrarySpec(slots=...))``) of at least as many slots as stages; in a
shorter library the last slot is reused.
"""

from __future__ import annotations

import jax.numpy as jnp

from bootstrap_rl import library
from bootstrap_rl.managers.base import Manager, zero_loss


def routing(earlier_lr: float = 0.0, adult_slot: bool = True) -> Manager:
    """Allocate a slot per stage and route over all of them.

    Args:
        earlier_lr: step-size multiplier of earlier stages' slots once their stage is over;
            0 freezes them (PathNet), 1 keeps training them at the full rate.
        adult_slot: whether the adult stage gets a fresh slot too (``False``: the adult
            stage only re-routes over, and fine-tunes through the router, what childhood built).
    """
    if not (isinstance(earlier_lr, (int, float)) and 0 <= earlier_lr <= 1):
        raise ValueError(f"earlier_lr: must lie in [0, 1], got {earlier_lr!r}")
    if not isinstance(adult_slot, bool):
        raise ValueError(f"adult_slot: must be True or False, got {adult_slot!r}")

    def init(key, params):
        library.get(params)  # fails clearly without a library
        return ()

    def on_stage_start(mstate, state, stage):
        lib = library.get(state.params)
        slots = lib["active"].shape[0]
        new = jnp.minimum(stage.index, slots - 1)
        allocate = jnp.logical_or(~stage.is_adult, adult_slot)
        new_slot = jnp.arange(slots) == new
        earlier = (lib["active"] > 0) & ~new_slot  # what the stages so far have built
        active = jnp.where(allocate & new_slot, 1.0, lib["active"])
        retire = allocate & earlier
        if earlier_lr == 0:
            frozen, lr_scale = jnp.where(retire, 1.0, lib["frozen"]), lib["lr_scale"]
        else:
            frozen, lr_scale = lib["frozen"], jnp.where(retire, jnp.float32(earlier_lr), lib["lr_scale"])
        params = library.replace(state.params, active=active, frozen=frozen, lr_scale=lr_scale,
                                 routed=jnp.ones((), jnp.float32))
        return mstate, state.replace(params=params)

    def after_update(mstate, state, update):
        return mstate, state

    return Manager(init, on_stage_start, zero_loss, after_update)
