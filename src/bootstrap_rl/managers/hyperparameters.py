"""Hyperparameters (D:management_methods): learning rates and the entropy coefficient, online.

Three managers change the learner's hyperparameters while it learns (the first two here,
population-based training in :mod:`bootstrap_rl.managers.population_based`):

- :func:`stage_schedule` — hand-set values per stage (the teacher sets the pace): the
  reference an online method should beat besides the learner's own schedule.
- :func:`meta_gradient` — meta-gradient RL (Xu, van Hasselt & Silver 2018): after every PPO
  update, differentiate a held-out loss through one inner update with respect to the
  log-hyperparameters and take a small meta step. Per-slot step-size multipliers
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
from bootstrap_rl.managers.base import Manager, ManagerReport
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


def _adam_moments(handover, learner):
    """The learner's Adam moments, shaped like the trained parameters."""
    if handover.adam_moments is None:
        raise ValueError("inner: 'adam' needs the learner's Adam moments (Handover.adam_moments)")
    adam = handover.adam_moments(learner.opt_state)
    if jax.tree.structure(adam.nu) != jax.tree.structure(learner.params["params"]):
        raise ValueError("inner: 'adam' needs Adam moments shaped like the trained parameters, got "
                         f"{jax.tree.map(jnp.shape, adam.nu)}")
    return adam


class MetaGradientState(NamedTuple):
    key: jax.Array  # draws each update's train / held-out split
    opt: Any  # the meta optimizer's state over the log-hyperparameters
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
    inner: str = "sgd",
    controls: tuple[str, ...] | None = None,
    lr_scale_bounds: tuple[float, float] = (0.1, 10.0),
    learning_rate_bounds: tuple[float, float] = (1e-6, 1e-2),
    ent_coef_bounds: tuple[float, float] = (1e-5, 1.0),
    inner_eps: float = 1e-5,
) -> Manager:
    """Online meta-gradient control of step sizes and the entropy coefficient.

    Meta-gradient RL (Xu, van Hasselt & Silver 2018, "Meta-gradient reinforcement learning",
    NeurIPS): the hyperparameters ``eta`` are tuned by the gradient of a held-out objective
    through one inner update ``theta'(eta)``. After every PPO update (``after_update``):

    1. a random ``batch_size`` transitions of the update's batch are split into a train half
       and a held-out half (Xu et al. use the next batch; a held-out half of this one costs no
       extra env steps). Both halves come from the batch PPO has just trained on for its
       epochs, so the held-out loss is not on unseen data: the meta-gradient measures how a
       step on some of the batch changes the loss on the rest of it, which is optimistic about
       generalisation. Xu et al.'s next-batch scheme would keep a copy of the parameters and
       a sample in the manager's state; it is not built yet;
    2. inner step, a plain gradient step as in Xu et al.:
       ``theta' = theta - lr * s * grad L_train(theta; ent_coef)``, ``lr`` the learning rate
       applied at this update (``hparams["learning_rate"]`` times the learner's linear anneal)
       and ``s`` the per-slot multiplier ``lr_scale[i] * (1 - frozen[i])`` for a library slot
       (``group_scale`` for the library's other groups, as the learner scales them). With
       ``inner="adam"`` the gradient is first divided by ``sqrt(nu_hat) + inner_eps``, the
       learner's own Adam second-moment estimate (``Handover.adam_moments``), so the inner
       step has the learner's scale;
    3. meta objective ``L_held_out(theta'; ent_coef=ref_ent_coef)``: PPO's loss with a fixed
       entropy coefficient, 0 by default as in Xu et al. (so the entropy coefficient is kept
       only where the entropy bonus helps the un-regularised held-out loss; a value > 0 keeps
       an exploration term in the outer loss, as in STACX, Zahavy et al. 2020);
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
    evaluations on ``batch_size / 2`` transitions per update. The baseline it must beat is Adam
    with the linear schedule (``PPOConfig(anneal_lr=True)``).

    Args:
        meta_lr: the meta optimizer's step size (log-space units per meta step).
        batch_size: transitions sampled from each update's batch for the meta step.
        optimizer: ``"adam"`` or ``"sign"`` (sign-SGD).
        max_step: the largest change of a log-hyperparameter per meta step.
        ref_ent_coef: the entropy coefficient in the held-out (meta) objective.
        inner: ``"sgd"`` (Xu et al.) or ``"adam"`` (preconditioned by the learner's Adam state).
        controls: the hyperparameters to tune (see above); ``None``: the default.
        lr_scale_bounds, learning_rate_bounds, ent_coef_bounds: ``(low, high)`` of each knob.
        inner_eps: epsilon of the ``inner="adam"`` preconditioner (the learner's ``adam_eps``).
    """
    finite_number(meta_lr, "meta_lr", low=0, low_open=True)
    batch_size = positive_int(batch_size, "batch_size", minimum=2)
    if optimizer not in ("adam", "sign"):
        raise ConfigError("optimizer", f"must be 'adam' or 'sign', got {optimizer!r}")
    finite_number(max_step, "max_step", low=0, low_open=True)
    finite_number(ref_ent_coef, "ref_ent_coef", low=0)
    if inner not in ("sgd", "adam"):
        raise ConfigError("inner", f"must be 'sgd' or 'adam', got {inner!r}")
    if controls is not None:
        if isinstance(controls, str) or not controls or any(c not in CONTROLS for c in controls) \
                or len(set(controls)) != len(controls):
            raise ConfigError("controls", f"must be a non-empty tuple of distinct names from {CONTROLS}, "
                              f"got {controls!r}")
        controls = tuple(controls)
    finite_number(inner_eps, "inner_eps", low=0, low_open=True)
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
        return MetaGradientState(key=key, opt=meta_optimizer.init(zeros), values=summary(
            {name: jnp.full(v.shape, jnp.nan, jnp.float32) for name, v in zeros.items()}))

    def after_update(mstate, learner, handover):
        chosen = knobs(learner.params)
        key, split_key = jax.random.split(mstate.key)
        train, held_out = _split_batch(split_key, handover.batch, batch_size)
        variables = learner.params
        hparams = {name: jnp.asarray(v, jnp.float32) for name, v in learner.hparams.items()}
        base_lr = hparams["learning_rate"]
        # The learning rate applied at this update: hparams times the learner's linear anneal.
        applied = jnp.asarray(handover.metrics.get("learning_rate", base_lr), jnp.float32)
        anneal = jax.lax.stop_gradient(jnp.where(base_lr > 0, applied / jnp.where(base_lr > 0, base_lr, 1.0), 1.0))
        if inner == "adam":
            adam = _adam_moments(handover, learner)
            correction = jnp.where(adam.count > 0, 1.0 - 0.999 ** adam.count.astype(jnp.float32), 1.0)
            preconditioner = jax.tree.map(lambda nu: 1.0 / (jnp.sqrt(nu / correction) + inner_eps), adam.nu)
        values = current(learner, chosen)
        eta = to_log(values)

        def inner_update(eta):
            lr = jnp.exp(eta["learning_rate"]) if "learning_rate" in eta else base_lr
            ent = jnp.exp(eta["ent_coef"]) if "ent_coef" in eta else hparams["ent_coef"]
            h = {**hparams, "learning_rate": lr, "ent_coef": ent}
            grads = jax.grad(lambda p: handover.objective({**variables, "params": p}, train, h))(variables["params"])
            if inner == "adam":
                grads = jax.tree.map(lambda g, c: g * c, grads, preconditioner)
            steps = jax.tree.map(lambda g: lr * anneal * g, grads)
            if "library" in variables:
                scaled_by = variables
                if "lr_scale" in eta:
                    scaled_by = library.replace(variables, lr_scale=jnp.exp(eta["lr_scale"]))
                steps = library.LibraryActorCritic.scale_updates(scaled_by, steps)
            return {**variables, "params": jax.tree.map(lambda p, s: p - s, variables["params"], steps)}

        def meta_objective(eta):
            h = {**hparams, "ent_coef": jnp.float32(ref_ent_coef)}
            return handover.objective(inner_update(eta), held_out, h)

        meta_grad = jax.grad(meta_objective)(eta)
        step_size = jax.lax.stop_gradient(base_lr * anneal)
        meta_grad = jax.tree.map(lambda g: g / jnp.maximum(step_size, 1e-12), meta_grad)
        finite = jnp.all(jnp.asarray([jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(meta_grad)]))
        meta_grad = jax.tree.map(lambda g: jnp.where(finite, g, 0.0), meta_grad)
        changes, opt = meta_optimizer.update(meta_grad, mstate.opt)
        new = {}
        for name in chosen:
            moved = jnp.clip(eta[name] + changes[name], *log_bounds[name])
            new[name] = jnp.where(changes[name] != 0, jnp.exp(moved), values[name])
        params = learner.params
        if "lr_scale" in new:
            params = library.replace(params, lr_scale=new["lr_scale"])
        hparams_out = {**learner.hparams, **{k: v for k, v in new.items() if k != "lr_scale"}}
        return MetaGradientState(key=key, opt=opt, values=summary(new)), learner._replace(
            params=params, hparams=hparams_out)

    def report(mstate):
        # The meta-learned knobs over time: a flat line here means the method did nothing.
        return ManagerReport(uncharged_env_steps=jnp.zeros((), jnp.float32),
                             diagnostics={f"meta_gradient/{k}": v for k, v in mstate.values.items()})

    return Manager(init=init, after_update=after_update, report=report)
