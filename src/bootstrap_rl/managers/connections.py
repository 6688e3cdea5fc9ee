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
from bootstrap_rl.managers.base import Footprint, Manager, ManagerReport
from bootstrap_rl.validation import ConfigError, finite_number


_PROBE = 64  # states of each update the router's diagnostics are measured on


def routing(earlier_lr: float = 0.0, adult_slot: bool = True, freeze_encoder: bool = False) -> Manager:
    """Allocate a slot per stage and route over all of them.

    Args:
        earlier_lr: step-size multiplier of earlier stages' slots once their stage is over;
            0 freezes them (PathNet), 1 keeps training them at the full rate.
        adult_slot: whether the adult stage gets a fresh slot too (``False``: the adult
            stage only re-routes over, and fine-tunes through the router, what childhood built).
        freeze_encoder: also freeze the shared encoder once the first slot is retired, so a
            frozen slot's outputs, and so its skill, stay exactly as its stage left them (the
            later slots and the router learn on the first stage's features). ``False``: the
            encoder keeps training, and a frozen slot's outputs drift with it (PathNet's
            frozen modules sit on their own frozen inputs; here they share the encoder).

    Diagnostics: ``routing/gate_entropy`` (the router's mean gate entropy in nats on 64
    states of each update; 0: one slot does everything) and ``routing/acting_slot`` (the slot
    with the largest mean gate).
    """
    finite_number(earlier_lr, "earlier_lr", low=0, high=1)
    if not isinstance(adult_slot, bool):
        raise ConfigError("adult_slot", f"must be True or False, got {adult_slot!r}")
    if not isinstance(freeze_encoder, bool):
        raise ConfigError("freeze_encoder", f"must be True or False, got {freeze_encoder!r}")
    if freeze_encoder and earlier_lr != 0:
        raise ConfigError("freeze_encoder", "keeps frozen slots' skill; it needs earlier_lr=0 (frozen slots)")

    def init(key, params):
        library.get(params)  # fails clearly without a library
        return {"gate_entropy": jnp.zeros((), jnp.float32), "acting_slot": jnp.zeros((), jnp.float32)}

    def on_stage_start(mstate, learner, stage):
        lib = library.get(learner.params)
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
        changes = {}
        if freeze_encoder:
            groups = lib["group_scale"]
            changes["group_scale"] = {**groups, "encoder": jnp.where((retire & (frozen > 0)).any(), 0.0,
                                                                     groups["encoder"])}
        params = library.replace(learner.params, active=active, frozen=frozen, lr_scale=lr_scale,
                                 routed=jnp.ones((), jnp.float32), **changes)
        return mstate, learner._replace(params=params)

    def after_update(mstate, learner, handover):
        # The router on a slice of the update's states: its gates' mean entropy (nats; 0: one
        # slot does everything) and the slot with the largest mean gate (the acting one).
        obs = handover.batch.obs[:_PROBE]
        gates = handover.network.apply(learner.params, obs, method=lambda net, o: net.gates(net.embed(o)))
        entropy = -(gates * jnp.log(jnp.maximum(gates, 1e-12))).sum(-1).mean()
        return {"gate_entropy": entropy, "acting_slot": jnp.argmax(gates.mean(0)).astype(jnp.float32)}, learner

    def report(mstate):
        return ManagerReport(uncharged_env_steps=jnp.zeros((), jnp.float32),
                             diagnostics={f"routing/{k}": v for k, v in mstate.items()})

    def footprint(stages):
        # A slot per stage it acted in (the adult's only with ``adult_slot``), all routed.
        return Footprint(slots=max(1, stages - (0 if adult_slot else 1)), routed=True)

    return Manager(init=init, on_stage_start=on_stage_start, after_update=after_update, report=report,
                   footprint=footprint)
