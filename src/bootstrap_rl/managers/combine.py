"""Managers built from managers: in sequence (:func:`chain`), by stage (:func:`only_in_stages`),
and chosen by data (:func:`switch`), as optax combines gradient transformations."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from bootstrap_rl.managers.base import Footprint, Manager, ManagerReport, no_targets, zero_loss


def _check_managers(managers) -> tuple[Manager, ...]:
    managers = tuple(managers)
    for i, manager in enumerate(managers):
        if not isinstance(manager, Manager):
            raise TypeError(f"managers[{i}]: expected a Manager, got {type(manager).__name__}")
    return managers


def _members(managers) -> int:
    """Learners per seed of managers combined: 1, or the one count above 1 among them."""
    counts = {m.members for m in managers} - {1}
    if len(counts) > 1:
        raise ValueError(f"managers: managers acting across different numbers of members {sorted(counts)} "
                         "cannot be combined")
    return counts.pop() if counts else 1


def _own_targets(inputs, i):
    """A combinator's loss inputs as its manager ``i`` sees them: its own targets only."""
    return inputs._replace(targets=inputs.targets[i])


def _zeros_like_output(fn, *args):
    """Zeros shaped as ``fn(*args)``'s output, without running it."""
    return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), jax.eval_shape(fn, *args))


def _total_report(managers, mstates) -> ManagerReport:
    """The managers' reports together: uncharged env steps added up, diagnostics side by side
    (two managers of one method in a chain: the later one's name gets a ``#i`` suffix)."""
    uncharged, diagnostics = jnp.zeros((), jnp.float32), {}
    for i, (manager, mstate) in enumerate(zip(managers, mstates)):
        report = manager.report(mstate)
        uncharged = uncharged + jnp.asarray(report.uncharged_env_steps, jnp.float32)
        for name, value in report.diagnostics.items():
            diagnostics[name if name not in diagnostics else f"{name}#{i}"] = value
    return ManagerReport(uncharged, diagnostics)


def chain(*managers: Manager) -> Manager:
    """Apply ``managers`` in order; their states form a tuple, their losses add up.

    As with ``optax.chain``, each hook threads the learner through the managers in the order
    given, so ``chain(a, b)`` sees ``b`` act on what ``a`` left.
    """
    managers = _check_managers(managers)

    def init(key, params):
        keys = jax.random.split(key, max(1, len(managers)))
        return tuple(m.init(k, params) for m, k in zip(managers, keys))

    def threaded(hook_name):
        def hook(mstates, learner, event):
            new = []
            for manager, mstate in zip(managers, mstates):
                mstate, learner = getattr(manager, hook_name)(mstate, learner, event)
                new.append(mstate)
            return tuple(new), learner

        return hook

    def targets(mstates, params, obs, policy):
        return tuple(m.targets(mstate, params, obs, policy) for m, mstate in zip(managers, mstates))

    def loss(mstates, params, inputs):
        total = jnp.zeros((), jnp.float32)
        for i, (manager, mstate) in enumerate(zip(managers, mstates)):
            total = total + manager.loss(mstate, params, _own_targets(inputs, i))
        return total

    return Manager(init=init, on_stage_start=threaded("on_stage_start"), loss=loss,
                   after_update=threaded("after_update"), targets=targets,
                   report=lambda mstates: _total_report(managers, mstates), members=_members(managers),
                   footprint=lambda stages: _union_footprint(managers, stages))


def _union_footprint(managers, stages: int) -> Footprint:
    """What managers acting together use: the most slots any of them activates, routed if any routes."""
    prints = [m.footprint(stages) for m in managers] or [Footprint()]
    return Footprint(max(p.slots for p in prints), any(p.routed for p in prints))


class StagedState(NamedTuple):
    """The state of a manager switched on by stage."""

    active: jax.Array  # bool: on in the current stage
    inner: Any  # the manager's own state, kept while it is off


def only_in_stages(manager: Manager, active: tuple[bool, ...], on=None) -> Manager:
    """``manager`` switched on in the stages where ``active[stage.index]`` holds, off elsewhere.

    Off means: no stage-start action, no loss term, no after-update action; its state is
    kept as it was (and still reported). The mask is data indexed by the stage, so every
    stage still runs one compiled program.

    Whether it is on in the current stage is kept in its state (``StagedState.active``), one
    flag per learner. Learners vmapped over seeds are all in the same stage; a program that
    knows the stage can pass ``on = active[stage]`` (unbatched, outside the vmap): the
    per-update hooks then branch on it with real conditionals, where a batched flag turns
    each into a select that runs the manager and then copies every state it could have kept.
    """
    mask = jnp.asarray(active, bool)

    def is_on(mstate):
        return mstate.active if on is None else on

    def init(key, params):
        return StagedState(jnp.zeros((), bool), manager.init(key, params))

    def on_stage_start(mstate, learner, stage):
        on = mask[stage.index]
        inner, learner = jax.lax.cond(
            on,
            lambda: manager.on_stage_start(mstate.inner, learner, stage),
            lambda: (mstate.inner, learner),
        )
        return StagedState(on, inner), learner

    def targets(mstate, params, obs, policy):
        def compute():
            return manager.targets(mstate.inner, params, obs, policy)

        return jax.lax.cond(is_on(mstate), compute, lambda: _zeros_like_output(compute))

    def loss(mstate, params, inputs):
        term = manager.loss(mstate.inner, params, inputs)
        return jnp.where(is_on(mstate), term, 0.0)

    def after_update(mstate, learner, handover):
        inner, learner = jax.lax.cond(
            is_on(mstate),
            lambda: manager.after_update(mstate.inner, learner, handover),
            lambda: (mstate.inner, learner),
        )
        return mstate._replace(inner=inner), learner

    return Manager(init=init, on_stage_start=on_stage_start, loss=loss, after_update=after_update,
                   targets=targets, report=lambda mstate: manager.report(mstate.inner), members=manager.members,
                   footprint=manager.footprint)


def switch(managers: tuple[Manager, ...], index) -> Manager:
    """The manager ``managers[index]``, with ``index`` data: one program serves every choice.

    Every manager's state is kept (a tuple); each hook runs only the chosen manager's branch
    through ``jax.lax.switch``. When ``index`` is not batched (a run's arms vmapped over seeds
    all make the same choice), only that branch executes, so the unchosen managers cost compile
    time once and nothing at run time. Studies use it to compile every childhood arm of a
    curriculum as one program.
    """
    managers = _check_managers(managers)
    if not managers:
        raise ValueError("managers: switch needs at least one manager")
    if any(m.members > 1 for m in managers):
        raise ValueError("managers: a manager acting across members changes the learner's shape; "
                         "it cannot be switched by data")
    index = jnp.asarray(index, jnp.int32)

    def init(key, params):
        keys = jax.random.split(key, len(managers))
        return tuple(m.init(k, params) for m, k in zip(managers, keys))

    def threaded(hook_name):
        def hook(mstates, learner, event):
            def branch(i):
                def run(mstates, learner):
                    mstate, learner = getattr(managers[i], hook_name)(mstates[i], learner, event)
                    return mstates[:i] + (mstate,) + mstates[i + 1:], learner
                return run

            return jax.lax.switch(index, [branch(i) for i in range(len(managers))], mstates, learner)

        return hook

    # Targets go through one lax.cond per manager that has them, not one lax.switch over all,
    # and the branches close over what they read instead of taking every argument: a
    # conditional then carries only what its manager uses. Losses go through one lax.switch
    # (below), one conditional per minibatch. Managers without targets or a loss (most) cost
    # nothing.
    def targets(mstates, params, obs, policy):
        out = []
        for i, manager in enumerate(managers):
            if manager.targets is no_targets:
                out.append(())
                continue
            compute = functools.partial(manager.targets, mstates[i], params, obs, policy)
            zeros = _zeros_like_output(compute)
            out.append(jax.lax.cond(index == i, compute, lambda zeros=zeros: zeros))
        return tuple(out)

    def loss(mstates, params, inputs):
        # One conditional for every manager's loss (a branch per manager with a loss, and one
        # zero branch for the rest): inside the minibatch loop and under jax.grad, each
        # conditional costs a forward and a backward conditional per minibatch.
        with_loss = [i for i, manager in enumerate(managers) if manager.loss is not zero_loss]
        if not with_loss:
            return jnp.zeros((), jnp.float32)
        branches = [lambda: jnp.zeros((), jnp.float32)] + [
            functools.partial(lambda i: jnp.asarray(managers[i].loss(mstates[i], params, _own_targets(inputs, i)),
                                                    jnp.float32), i) for i in with_loss]
        which = jnp.zeros((), jnp.int32)
        for branch, i in enumerate(with_loss, start=1):
            which = jnp.where(index == i, branch, which)
        return jax.lax.switch(which, branches)

    return Manager(init=init, on_stage_start=threaded("on_stage_start"), loss=loss,
                   after_update=threaded("after_update"), targets=targets,
                   report=lambda mstates: _chosen_report(managers, mstates, index))


def _chosen_report(managers, mstates, index) -> ManagerReport:
    """The chosen manager's report. Unchosen managers never act, so their uncharged env steps
    stay at their initial zeros and the sum is the chosen one's; a diagnostic is the chosen
    manager's value, NaN where it has no such diagnostic (a study writes no row for NaN), so an
    arm never reports a method it does not run."""
    uncharged = sum((jnp.asarray(m.report(s).uncharged_env_steps, jnp.float32) for m, s in zip(managers, mstates)),
                    jnp.zeros((), jnp.float32))
    reports = [m.report(s).diagnostics for m, s in zip(managers, mstates)]
    names = list(dict.fromkeys(name for diagnostics in reports for name in diagnostics))
    diagnostics = {}
    for name in names:
        value = jnp.full((), jnp.nan, jnp.float32)
        for i, report in enumerate(reports):
            if name in report:
                value = jnp.where(index == i, jnp.asarray(report[name], jnp.float32), value)
        diagnostics[name] = value
    return ManagerReport(uncharged, diagnostics)
