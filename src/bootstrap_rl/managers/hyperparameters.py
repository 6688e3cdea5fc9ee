"""Hyperparameters (D:management_methods): learning rates and the entropy coefficient, online.

Three managers change the learner's hyperparameters while it learns (the first two here,
population-based training in :mod:`bootstrap_rl.managers.population_based`):

- :func:`stage_schedule` — hand-set values per stage (the teacher sets the pace): the
  reference an online method should beat besides the learner's own schedule.
- :func:`meta_gradient` — meta-gradient RL (Xu, van Hasselt & Silver 2018): after every PPO
  update, differentiate a held-out loss through one inner update — the learner's own clipped
  Adam step, from where that update started — with respect to the log-hyperparameters and
  take a small meta step. Per-slot step-size multipliers
  (``library["lr_scale"]``) when the network is the subsystem library, the global
  ``hparams["learning_rate"]`` otherwise, and ``hparams["ent_coef"]``.
- ``pbt`` — population-based training (Jaderberg et al. 2017): learners per seed vmapped
  with an axis name; every ``every`` updates the bottom ``fraction`` copy the weights,
  optimizer state and hyperparameters of a top member (exploit) and perturb the
  hyperparameters (explore).

The baseline the online two must beat is the learner's own schedule: Adam with a linear decay
of the learning rate to 0 over the run (``PPOConfig(anneal_lr=True)``, the default). All three
act on ``hparams["learning_rate"]``, which the learner still multiplies by that linear factor.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from bootstrap_rl import library
from bootstrap_rl.managers.base import AdamMoments, Manager, ManagerReport
from bootstrap_rl.validation import ConfigError, finite_number, is_finite_number, positive_int

CONTROLS = ("lr_scale", "learning_rate", "ent_coef")


def _positive_pair(name, value):
    if not (isinstance(value, (tuple, list)) and len(value) == 2
            and all(is_finite_number(v) and v > 0 for v in value) and value[0] < value[1]):
        raise ConfigError(name, f"must be a pair (low, high) with 0 < low < high, got {value!r}")
    return float(value[0]), float(value[1])


def _split_batch(key, batch, batch_size: int):
    """A random subsample of ``batch_size`` transitions of ``batch``, as two disjoint halves."""
    size = jax.tree.leaves(batch)[0].shape[0]
    if size < 2:
        raise ValueError(f"meta_gradient needs a batch of at least 2 transitions, got {size}")
    half = min(batch_size, size) // 2
    rows = jax.random.permutation(key, size)[: 2 * half]
    train = jax.tree.map(lambda x: x[rows[:half]], batch)
    held_out = jax.tree.map(lambda x: x[rows[half:]], batch)
    return train, held_out


def _learner_hooks(handover, learner):
    """The learner's step rule and its Adam moments now, shaped like the trained parameters."""
    if handover.learner_step is None or handover.adam_moments is None:
        raise ValueError("meta_gradient differentiates the learner's own update: it needs "
                         "Handover.learner_step and Handover.adam_moments")
    moments = handover.adam_moments(learner.opt_state)
    if jax.tree.structure(moments.nu) != jax.tree.structure(learner.params["params"]):
        raise ValueError("meta_gradient needs Adam moments shaped like the trained parameters, got "
                         f"{jax.tree.map(jnp.shape, moments.nu)}")
    return handover.learner_step, moments


class MetaGradientState(NamedTuple):
    key: jax.Array  # draws each update's train / held-out split
    opt: Any  # the meta optimizer's state over the log-hyperparameters
    # Where the learner's update that produced the current batch started: its trained
    # parameters and Adam moments (Xu et al.'s theta before the batch). Written by every
    # ``after_update``; the next one steps from them, so neither half of the new batch has
    # been trained on by the parameters the inner step starts from.
    start: Any
    moments: AdamMoments
    ready: jax.Array  # bool: ``start`` precedes this batch (false at init and each stage start)
    # d held-out loss / d log-hyperparameter at the last meta step (zeros before the first).
    hypergradient: dict
    # The values after the last meta-step (NaN before the first): ``learning_rate``,
    # ``ent_coef`` and the per-slot ``lr_scale``'s least and largest, for the diagnostics.
    values: dict = {}  # noqa: RUF012 (never mutated: a NamedTuple default)


def stage_schedule(**values: tuple[float, ...]) -> Manager:
    """Hand-set hyperparameters per stage: at each stage start ``hparams[name]`` becomes
    ``values[name][stage.index]`` (the last value for any later stage).

    ``stage_schedule(learning_rate=(1e-3, 5e-4), ent_coef=(0.05, 0.01))`` trains the first
    stage at 1e-3 with entropy 0.05 and every later one at 5e-4 and 0.01. Names are keys of
    the learner's ``hparams`` (``learning_rate``, ``ent_coef``); values are non-negative.
    """
    if not values:
        raise ConfigError("values", "give at least one of learning_rate=(...), ent_coef=(...)")
    table = {}
    for name, per_stage in values.items():
        if name not in ("learning_rate", "ent_coef"):
            raise ConfigError(name, "not a learner hyperparameter (learning_rate, ent_coef)")
        if not (isinstance(per_stage, (tuple, list)) and per_stage):
            raise ConfigError(name, f"must be a non-empty tuple of numbers >= 0, one per stage, got {per_stage!r}")
        for i, value in enumerate(per_stage):
            finite_number(value, f"{name}[{i}]", low=0)
        table[name] = jnp.asarray(per_stage, jnp.float32)

    def init(key, params):  # the values set at the last stage start (NaN before the first)
        return {name: jnp.full((), jnp.nan, jnp.float32) for name in table}

    def on_stage_start(mstate, learner, stage):
        chosen = {name: column[jnp.minimum(stage.index, column.shape[0] - 1)] for name, column in table.items()}
        return chosen, learner._replace(hparams={**learner.hparams, **chosen})

    def report(mstate):
        return ManagerReport(uncharged_env_steps=jnp.zeros((), jnp.float32),
                             diagnostics={f"stage_schedule/{k}": v for k, v in mstate.items()})

    return Manager(init=init, on_stage_start=on_stage_start, report=report)


def meta_gradient(
    meta_lr: float = 0.01,
    batch_size: int = 256,
    optimizer: str = "adam",
    max_step: float = 0.1,
    ref_ent_coef: float = 0.0,
    controls: tuple[str, ...] | None = None,
    lr_scale_bounds: tuple[float, float] = (0.1, 10.0),
    learning_rate_bounds: tuple[float, float] = (1e-6, 1e-2),
    ent_coef_bounds: tuple[float, float] = (1e-5, 1.0),
) -> Manager:
    """Online meta-gradient control of step sizes and the entropy coefficient.

    Meta-gradient RL (Xu, van Hasselt & Silver 2018, "Meta-gradient reinforcement learning",
    NeurIPS): the hyperparameters ``eta`` are tuned by the gradient of a held-out objective
    through one inner update ``theta'(eta)``. Every ``after_update`` snapshots the learner's
    trained parameters and Adam moments (``theta_k``, ``m_k``: where the next PPO update will
    start); the next ``after_update``, after PPO has trained on the fresh batch ``B`` that
    ``theta_k`` collected:

    1. a random ``batch_size`` transitions of ``B`` are split into a train half and a held-out
       half. ``theta_k`` has trained on neither (it collected ``B``; the learner trained on it
       from ``theta_k`` afterwards), and the inner step below trains on the train half only,
       so the held-out loss is on data the stepped parameters have not seen, as Xu et al.'s
       next-batch scheme. The snapshot costs one copy of the trained parameters and their two
       Adam moments in the manager's state; the first call after init or a stage start only
       takes it (no meta step);
    2. inner step, the learner's own: ``theta' = learner_step(theta_k, grad L_train(theta_k;
       ent_coef), m_k, lr)`` (``Handover.learner_step``): the frozen-slot mask, the gradient's
       global-norm clip, Adam from ``m_k`` with its first and second moments and bias
       correction, then ``lr`` times the per-group multipliers (``lr_scale[i] * (1 - frozen[i])``
       for a library slot, ``group_scale`` for the other groups), exactly as one of the
       learner's minibatch steps at this point. ``lr`` is the learning rate applied at this
       update (``hparams["learning_rate"]`` times the learner's linear anneal). ``L_train`` is
       PPO's loss (``Handover.objective``), without other managers' loss terms;
    3. meta objective ``L_held_out(theta'; ent_coef=ref_ent_coef)``: PPO's loss with a fixed
       entropy coefficient, 0 by default as in Xu et al. (so the entropy coefficient is kept
       only where the entropy bonus helps the un-regularised held-out loss; a value > 0 keeps
       an exploration term in the outer loss, as in STACX, Zahavy et al. 2020), differentiated
       through step 2 with respect to the log-hyperparameters (kept as ``hypergradient``);
    4. meta step on the log-hyperparameters: Adam (or sign-SGD) with step ``meta_lr``, each
       change clipped to ``[-max_step, max_step]`` and the results kept in bounds. The
       meta-gradient is divided by the step size ``lr`` first (a constant factor for the
       direction; it keeps Adam's epsilon negligible at PPO's small step sizes).

    ``controls`` picks the knobs: ``"lr_scale"`` (the library's per-slot multipliers, written
    back with ``library.replace``), ``"learning_rate"`` (``hparams["learning_rate"]``) and
    ``"ent_coef"`` (``hparams["ent_coef"]``). Default: ``("lr_scale", "ent_coef")`` when the
    network is the subsystem library, ``("learning_rate", "ent_coef")`` otherwise. A value the
    meta step leaves unchanged (zero meta-gradient: an inactive or frozen slot) is not
    rewritten, so a multiplier another manager set outside the bounds stays as it was; a value
    below its lower bound (an entropy coefficient of 0) is read as the lower bound.

    Under ``vmap`` over seeds the meta step runs every update (a data-dependent skip would run
    both branches anyway), so its cost is bounded by ``batch_size``: about four gradient
    evaluations on ``batch_size / 2`` transitions per update, plus one Adam update. The
    baseline it must beat is Adam with the linear schedule (``PPOConfig(anneal_lr=True)``).

    Args:
        meta_lr: the meta optimizer's step size (log-space units per meta step).
        batch_size: transitions sampled from each update's batch for the meta step.
        optimizer: ``"adam"`` or ``"sign"`` (sign-SGD).
        max_step: the largest change of a log-hyperparameter per meta step.
        ref_ent_coef: the entropy coefficient in the held-out (meta) objective.
        controls: the hyperparameters to tune (see above); ``None``: the default.
        lr_scale_bounds, learning_rate_bounds, ent_coef_bounds: ``(low, high)`` of each knob.
    """
    finite_number(meta_lr, "meta_lr", low=0, low_open=True)
    batch_size = positive_int(batch_size, "batch_size", minimum=2)
    if optimizer not in ("adam", "sign"):
        raise ConfigError("optimizer", f"must be 'adam' or 'sign', got {optimizer!r}")
    finite_number(max_step, "max_step", low=0, low_open=True)
    finite_number(ref_ent_coef, "ref_ent_coef", low=0)
    if controls is not None:
        if isinstance(controls, str) or not controls or any(c not in CONTROLS for c in controls) \
                or len(set(controls)) != len(controls):
            raise ConfigError("controls", f"must be a non-empty tuple of distinct names from {CONTROLS}, "
                              f"got {controls!r}")
        controls = tuple(controls)
    bounds = {
        "lr_scale": _positive_pair("lr_scale_bounds", lr_scale_bounds),
        "learning_rate": _positive_pair("learning_rate_bounds", learning_rate_bounds),
        "ent_coef": _positive_pair("ent_coef_bounds", ent_coef_bounds),
    }
    log_bounds = {name: (math.log(lo), math.log(hi)) for name, (lo, hi) in bounds.items()}
    direction = optax.scale_by_adam() if optimizer == "adam" else optax.scale_by_sign()
    meta_optimizer = optax.chain(direction, optax.scale(-meta_lr), optax.clip(max_step))

    def knobs(params) -> tuple[str, ...]:
        has_library = "library" in params
        chosen = controls or (("lr_scale" if has_library else "learning_rate"), "ent_coef")
        if "lr_scale" in chosen and not has_library:
            raise ValueError("controls: 'lr_scale' needs the subsystem library network "
                             "(bootstrap_rl.library); without it, control 'learning_rate'")
        return chosen

    def current(learner, chosen) -> dict:
        """The hyperparameters as they stand (``lr_scale`` from the library)."""
        values = {}
        for name in chosen:
            if name == "lr_scale":
                values[name] = library.get(learner.params)["lr_scale"]
            else:
                values[name] = learner.hparams[name]
        return {name: jnp.asarray(v, jnp.float32) for name, v in values.items()}

    def to_log(values: dict) -> dict:
        return {name: jnp.clip(jnp.log(jnp.maximum(v, bounds[name][0])), *log_bounds[name])
                for name, v in values.items()}

    def summary(values: dict) -> dict:
        out = {}
        for name, v in values.items():
            if name == "lr_scale":
                out["lr_scale_min"], out["lr_scale_max"] = v.min(), v.max()
            else:
                out[name] = v
        return out

    def init(key, params):
        chosen = knobs(params)
        zeros = {}
        for name in chosen:
            shape = params["library"]["state"]["lr_scale"].shape if name == "lr_scale" else ()
            zeros[name] = jnp.zeros(shape, jnp.float32)
        trained = params["params"]
        moments = AdamMoments(count=jnp.zeros((), jnp.int32), mu=jax.tree.map(jnp.zeros_like, trained),
                              nu=jax.tree.map(jnp.zeros_like, trained))
        return MetaGradientState(
            key=key, opt=meta_optimizer.init(zeros), start=trained, moments=moments,
            ready=jnp.zeros((), bool), hypergradient=zeros,
            values=summary({name: jnp.full(v.shape, jnp.nan, jnp.float32) for name, v in zeros.items()}))

    def on_stage_start(mstate, learner, stage):
        # New tasks, and other managers may rewrite the weights: the next batch is not one the
        # snapshot collected, so take a new one before the next meta step.
        return mstate._replace(ready=jnp.zeros((), bool)), learner

    def after_update(mstate, learner, handover):
        chosen = knobs(learner.params)
        step, moments_now = _learner_hooks(handover, learner)
        key, split_key = jax.random.split(mstate.key)
        train, held_out = _split_batch(split_key, handover.batch, batch_size)
        hparams = {name: jnp.asarray(v, jnp.float32) for name, v in learner.hparams.items()}
        base_lr = hparams["learning_rate"]
        # The learning rate applied at this update: hparams times the learner's linear anneal.
        applied = jnp.asarray(handover.metrics.get("learning_rate", base_lr), jnp.float32)
        anneal = jax.lax.stop_gradient(jnp.where(base_lr > 0, applied / jnp.where(base_lr > 0, base_lr, 1.0), 1.0))
        values = current(learner, chosen)
        eta = to_log(values)
        # The variables this update started from: the snapshot's weights, today's library state.
        start = {**learner.params, "params": mstate.start}

        def inner_update(eta):
            lr = jnp.exp(eta["learning_rate"]) if "learning_rate" in eta else base_lr
            ent = jnp.exp(eta["ent_coef"]) if "ent_coef" in eta else hparams["ent_coef"]
            h = {**hparams, "learning_rate": lr, "ent_coef": ent}
            grads = jax.grad(lambda p: handover.objective({**start, "params": p}, train, h))(start["params"])
            scaled_by = start
            if "lr_scale" in eta:
                scaled_by = library.replace(start, lr_scale=jnp.exp(eta["lr_scale"]))
            return step(scaled_by, grads, mstate.moments, lr * anneal)

        def meta_objective(eta):
            h = {**hparams, "ent_coef": jnp.float32(ref_ent_coef)}
            return handover.objective(inner_update(eta), held_out, h)

        hypergradient = jax.grad(meta_objective)(eta)
        step_size = jax.lax.stop_gradient(base_lr * anneal)
        meta_grad = jax.tree.map(lambda g: g / jnp.maximum(step_size, 1e-12), hypergradient)
        finite = jnp.all(jnp.asarray([jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(meta_grad)]))
        meta_grad = jax.tree.map(lambda g: jnp.where(finite, g, 0.0), meta_grad)
        changes, opt = meta_optimizer.update(meta_grad, mstate.opt)
        # Without a snapshot before this batch there is no inner update to differentiate:
        # move nothing and leave the meta optimizer's state as it was.
        ready = mstate.ready
        changes = jax.tree.map(lambda c: jnp.where(ready, c, 0.0), changes)
        opt = jax.tree.map(lambda new, old: jnp.where(ready, new, old), opt, mstate.opt)
        hypergradient = jax.tree.map(lambda g, old: jnp.where(ready, g, old), hypergradient, mstate.hypergradient)
        new = {}
        for name in chosen:
            moved = jnp.clip(eta[name] + changes[name], *log_bounds[name])
            new[name] = jnp.where(changes[name] != 0, jnp.exp(moved), values[name])
        params = learner.params
        if "lr_scale" in new:
            params = library.replace(params, lr_scale=new["lr_scale"])
        hparams_out = {**learner.hparams, **{k: v for k, v in new.items() if k != "lr_scale"}}
        # The next update starts from here (the meta step changes no weights).
        mstate = MetaGradientState(key=key, opt=opt, start=learner.params["params"], moments=moments_now,
                                   ready=jnp.ones((), bool), hypergradient=hypergradient, values=summary(new))
        return mstate, learner._replace(params=params, hparams=hparams_out)

    def report(mstate):
        # The meta-learned knobs over time: a flat line here means the method did nothing.
        return ManagerReport(uncharged_env_steps=jnp.zeros((), jnp.float32),
                             diagnostics={f"meta_gradient/{k}": v for k, v in mstate.values.items()})

    return Manager(init=init, on_stage_start=on_stage_start, after_update=after_update, report=report)
