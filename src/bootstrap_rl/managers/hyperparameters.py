"""Hyperparameters (D:management_methods): learning rates and the entropy coefficient, online.

Three managers change the learner's hyperparameters while it learns:

- :func:`stage_schedule` — hand-set values per stage (the teacher sets the pace): the
  reference an online method should beat besides the learner's own schedule.
- :func:`meta_gradient` — meta-gradient RL (Xu, van Hasselt & Silver 2018): after every PPO
  update, differentiate a held-out loss through one inner update with respect to the
  log-hyperparameters and take a small meta step. Per-slot step-size multipliers
  (``library["lr_scale"]``) when the network is the subsystem library, the global
  ``hparams["learning_rate"]`` otherwise, and ``hparams["ent_coef"]``.
- :func:`pbt` — population-based training (Jaderberg et al. 2017): members of a population
  vmapped with an axis name; every ``every`` updates the bottom ``fraction`` copy the weights,
  optimizer state and hyperparameters of a top member (exploit) and perturb the
  hyperparameters (explore).

The baseline the online two must beat is the learner's own schedule: Adam with a linear decay
of the learning rate to 0 over the run (``PPOConfig(anneal_lr=True)``, the default). All three
act on ``hparams["learning_rate"]``, which the learner still multiplies by that linear factor.
"""

from __future__ import annotations

import math
import numbers

import jax
import jax.flatten_util
import jax.numpy as jnp
import optax

from bootstrap_rl.managers.base import Manager, zero_loss

CONTROLS = ("lr_scale", "learning_rate", "ent_coef")


def _positive_pair(name, value):
    if not (isinstance(value, (tuple, list)) and len(value) == 2
            and all(_number(v) and v > 0 for v in value) and value[0] < value[1]):
        raise ValueError(f"{name}: must be a pair (low, high) with 0 < low < high, got {value!r}")
    return float(value[0]), float(value[1])


def _number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


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


def _adam_state(opt_state, params):
    """The learner's ``ScaleByAdamState`` inside its optimizer state, with its moments shaped
    like ``params`` (the learner's Adam runs on them flattened into one vector)."""
    found = [s for s in jax.tree.leaves(opt_state, is_leaf=lambda x: isinstance(x, optax.ScaleByAdamState))
             if isinstance(s, optax.ScaleByAdamState)]
    if len(found) != 1:
        raise ValueError("inner: 'adam' needs the learner's optimizer state to hold one Adam state, "
                         f"found {len(found)}")
    adam = found[0]
    if jax.tree.structure(adam.nu) == jax.tree.structure(params):
        return adam
    flat, unflatten = jax.flatten_util.ravel_pytree(params)
    if jax.tree.structure(adam.nu).num_leaves != 1 or jnp.shape(adam.nu) != flat.shape:
        raise ValueError("inner: 'adam' needs Adam moments shaped like the parameters or flattened "
                         f"into one vector of {flat.size}, got {jax.tree.map(jnp.shape, adam.nu)}")
    return adam._replace(mu=unflatten(adam.mu), nu=unflatten(adam.nu))


def stage_schedule(**values: tuple[float, ...]) -> Manager:
    """Hand-set hyperparameters per stage: at each stage start ``hparams[name]`` becomes
    ``values[name][stage.index]`` (the last value for any later stage).

    ``stage_schedule(learning_rate=(1e-3, 5e-4), ent_coef=(0.05, 0.01))`` trains the first
    stage at 1e-3 with entropy 0.05 and every later one at 5e-4 and 0.01. Names are keys of
    the learner's ``hparams`` (``learning_rate``, ``ent_coef``); values are non-negative.
    """
    if not values:
        raise ValueError("values: give at least one of learning_rate=(...), ent_coef=(...)")
    table = {}
    for name, per_stage in values.items():
        if name not in ("learning_rate", "ent_coef"):
            raise ValueError(f"{name}: not a learner hyperparameter (learning_rate, ent_coef)")
        if not (isinstance(per_stage, (tuple, list)) and per_stage and all(_number(v) and v >= 0 for v in per_stage)):
            raise ValueError(f"{name}: must be a non-empty tuple of numbers >= 0, one per stage, got {per_stage!r}")
        table[name] = jnp.asarray(per_stage, jnp.float32)

    def on_stage_start(mstate, state, stage):
        chosen = {name: column[jnp.minimum(stage.index, column.shape[0] - 1)] for name, column in table.items()}
        return mstate, state.replace(hparams={**state.hparams, **chosen})

    return Manager(
        init=lambda key, params: (),
        on_stage_start=on_stage_start,
        loss=zero_loss,
        after_update=lambda mstate, state, update: (mstate, state),
    )


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
       learner's own Adam second-moment estimate, so the inner step has the learner's scale;
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
    if not (_number(meta_lr) and meta_lr > 0):
        raise ValueError(f"meta_lr: must be a positive number, got {meta_lr!r}")
    if not (isinstance(batch_size, int) and not isinstance(batch_size, bool) and batch_size >= 2):
        raise ValueError(f"batch_size: must be an integer >= 2, got {batch_size!r}")
    if optimizer not in ("adam", "sign"):
        raise ValueError(f"optimizer: must be 'adam' or 'sign', got {optimizer!r}")
    if not (_number(max_step) and max_step > 0):
        raise ValueError(f"max_step: must be a positive number, got {max_step!r}")
    if not (_number(ref_ent_coef) and ref_ent_coef >= 0):
        raise ValueError(f"ref_ent_coef: must be a number >= 0, got {ref_ent_coef!r}")
    if inner not in ("sgd", "adam"):
        raise ValueError(f"inner: must be 'sgd' or 'adam', got {inner!r}")
    if controls is not None:
        if isinstance(controls, str) or not controls or any(c not in CONTROLS for c in controls) \
                or len(set(controls)) != len(controls):
            raise ValueError(f"controls: must be a non-empty tuple of distinct names from {CONTROLS}, got {controls!r}")
        controls = tuple(controls)
    if not (_number(inner_eps) and inner_eps > 0):
        raise ValueError(f"inner_eps: must be a positive number, got {inner_eps!r}")
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

    def current(state, chosen) -> dict:
        """The hyperparameters as they stand (``lr_scale`` from the library)."""
        values = {}
        for name in chosen:
            if name == "lr_scale":
                values[name] = state.params["library"]["state"]["lr_scale"]
            else:
                values[name] = state.hparams[name]
        return {name: jnp.asarray(v, jnp.float32) for name, v in values.items()}

    def to_log(values: dict) -> dict:
        return {name: jnp.clip(jnp.log(jnp.maximum(v, bounds[name][0])), *log_bounds[name])
                for name, v in values.items()}

    def init(key, params):
        chosen = knobs(params)
        zeros = {}
        for name in chosen:
            shape = params["library"]["state"]["lr_scale"].shape if name == "lr_scale" else ()
            zeros[name] = jnp.zeros(shape, jnp.float32)
        return {"key": key, "opt": meta_optimizer.init(zeros)}

    def after_update(mstate, state, update):
        chosen = knobs(state.params)
        key, split_key = jax.random.split(mstate["key"])
        train, held_out = _split_batch(split_key, update.batch, batch_size)
        variables = state.params
        hparams = {name: jnp.asarray(v, jnp.float32) for name, v in state.hparams.items()}
        base_lr = hparams["learning_rate"]
        # The learning rate applied at this update: hparams times the learner's linear anneal.
        applied = jnp.asarray(update.metrics.get("learning_rate", base_lr), jnp.float32)
        anneal = jax.lax.stop_gradient(jnp.where(base_lr > 0, applied / jnp.where(base_lr > 0, base_lr, 1.0), 1.0))
        if inner == "adam":
            adam = _adam_state(state.opt_state, variables["params"])
            correction = jnp.where(adam.count > 0, 1.0 - 0.999 ** adam.count.astype(jnp.float32), 1.0)
            preconditioner = jax.tree.map(lambda nu: 1.0 / (jnp.sqrt(nu / correction) + inner_eps), adam.nu)
        values = current(state, chosen)
        eta = to_log(values)

        def inner_update(eta):
            lr = jnp.exp(eta["learning_rate"]) if "learning_rate" in eta else base_lr
            ent = jnp.exp(eta["ent_coef"]) if "ent_coef" in eta else hparams["ent_coef"]
            h = {**hparams, "learning_rate": lr, "ent_coef": ent}
            grads = jax.grad(lambda p: update.objective({**variables, "params": p}, train, h))(variables["params"])
            if inner == "adam":
                grads = jax.tree.map(lambda g, c: g * c, grads, preconditioner)
            steps = jax.tree.map(lambda g: lr * anneal * g, grads)
            if "library" in variables:
                # Imported here: bootstrap_rl.library imports the ppo package, which imports
                # bootstrap_rl.managers (a cycle at import time, not at trace time).
                from bootstrap_rl.library import LibraryActorCritic, replace

                scaled_by = variables
                if "lr_scale" in eta:
                    scaled_by = replace(variables, lr_scale=jnp.exp(eta["lr_scale"]))
                steps = LibraryActorCritic.scale_updates(scaled_by, steps)
            return {**variables, "params": jax.tree.map(lambda p, s: p - s, variables["params"], steps)}

        def meta_objective(eta):
            h = {**hparams, "ent_coef": jnp.float32(ref_ent_coef)}
            return update.objective(inner_update(eta), held_out, h)

        meta_grad = jax.grad(meta_objective)(eta)
        step_size = jax.lax.stop_gradient(base_lr * anneal)
        meta_grad = jax.tree.map(lambda g: g / jnp.maximum(step_size, 1e-12), meta_grad)
        finite = jnp.all(jnp.asarray([jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(meta_grad)]))
        meta_grad = jax.tree.map(lambda g: jnp.where(finite, g, 0.0), meta_grad)
        changes, opt = meta_optimizer.update(meta_grad, mstate["opt"])
        new = {}
        for name in chosen:
            moved = jnp.clip(eta[name] + changes[name], *log_bounds[name])
            new[name] = jnp.where(changes[name] != 0, jnp.exp(moved), values[name])
        params = state.params
        if "lr_scale" in new:
            from bootstrap_rl.library import replace

            params = replace(params, lr_scale=new["lr_scale"])
        hparams_out = {**state.hparams, **{k: v for k, v in new.items() if k != "lr_scale"}}
        return {"key": key, "opt": opt}, state.replace(params=params, hparams=hparams_out)

    return Manager(
        init=init,
        on_stage_start=lambda mstate, state, stage: (mstate, state),
        loss=zero_loss,
        after_update=after_update,
    )


def pbt(
    every: int = 10,
    fraction: float = 0.25,
    perturb: tuple[float, ...] = (0.8, 1.25),
    axis_name: str = "population",
    ema: float = 0.9,
    copy_opt_state: bool = True,
    size: int = 4,
) -> Manager:
    """Population-based training across a vmapped population.

    Population-based training (Jaderberg et al. 2017, "Population based training of neural
    networks"), truncation selection: the learners of a population are vmapped with
    ``jax.vmap(..., axis_name=axis_name)`` — nested inside the seeds' ``vmap`` (which has no
    axis name), so seeds stay independent and members of one seed's population interact only
    through this manager's collectives. Each member's fitness is an exponential moving average
    (weight ``ema`` on the past) of ``metrics["episode_return"]``, NaN-safe: an update where
    no episode ended leaves it as it was; a member with no fitness yet ranks last.

    Every ``every`` updates (counted in the manager's state), members are ranked by fitness;
    each member in the bottom ``fraction`` picks a member of the top ``fraction`` uniformly at
    random and, if its fitness is strictly higher, copies (exploit) its variables (all of
    ``state.params``: weights and library state), its optimizer state (Adam's moments;
    ``copy_opt_state=False`` keeps the member's own) and its hyperparameters, then multiplies
    each hyperparameter in ``state.hparams`` by a factor drawn from ``perturb`` (explore). The
    copy inherits its source's fitness. Env state, RNG key and counters stay the member's own.

    Members start from the learner's configured hyperparameters; diversity comes from the
    perturbations. The baseline is a single learner with Adam and the linear schedule
    (``PPOConfig(anneal_lr=True)``); the learner still applies that schedule to each member's
    ``hparams["learning_rate"]``.

    Args:
        every: updates between exploit/explore steps.
        fraction: the share of the population copied from (top) and into (bottom), in (0, 0.5].
        perturb: the factors a copied hyperparameter is multiplied by (one drawn per value).
        axis_name: the vmap axis name of the population.
        ema: the fitness average's weight on the past, in [0, 1).
        copy_opt_state: also copy the optimizer state (Jaderberg et al. copy the whole state).
        size: members per seed when a study runs it (``Manager.population``): the study
            builds the population with :func:`bootstrap_rl.ppo.population.make_population`,
            each member on ``num_envs / size`` envs, so the arm spends the budget of one
            learner, and evaluates the member with the highest fitness (this manager's
            ``fitness`` entry).
    """
    if not (isinstance(every, int) and not isinstance(every, bool) and every >= 1):
        raise ValueError(f"every: must be a positive integer, got {every!r}")
    if not (_number(fraction) and 0 < fraction <= 0.5):
        raise ValueError(f"fraction: must lie in (0, 0.5], got {fraction!r}")
    if not (isinstance(perturb, (tuple, list)) and perturb and all(_number(f) and f > 0 for f in perturb)):
        raise ValueError(f"perturb: must be a non-empty tuple of positive numbers, got {perturb!r}")
    if not (isinstance(axis_name, str) and axis_name):
        raise ValueError(f"axis_name: must be a non-empty string, got {axis_name!r}")
    if not (_number(ema) and 0 <= ema < 1):
        raise ValueError(f"ema: must lie in [0, 1), got {ema!r}")
    if not isinstance(copy_opt_state, bool):
        raise ValueError(f"copy_opt_state: must be a bool, got {copy_opt_state!r}")
    if not (isinstance(size, int) and not isinstance(size, bool) and size >= 2):
        raise ValueError(f"size: must be an integer >= 2 (members per seed), got {size!r}")
    if int(fraction * size) < 1:
        raise ValueError(f"fraction: {fraction} of a population of size {size} is no member: nothing would be "
                         "copied (raise fraction or size)")
    factors = jnp.asarray(perturb, jnp.float32)

    def init(key, params):
        return {
            "key": key,
            "count": jnp.zeros((), jnp.int32),
            "fitness": jnp.full((), jnp.nan, jnp.float32),
        }

    def after_update(mstate, state, update):
        ret = jnp.asarray(update.metrics["episode_return"], jnp.float32)
        old = mstate["fitness"]
        fitness = jnp.where(jnp.isfinite(ret), jnp.where(jnp.isnan(old), ret, ema * old + (1 - ema) * ret), old)
        count = mstate["count"] + 1
        key, pick_key, perturb_key = jax.random.split(mstate["key"], 3)
        try:
            size = jax.lax.axis_size(axis_name)
        except NameError as error:
            raise ValueError(f"axis_name: pbt runs inside jax.vmap(..., axis_name={axis_name!r}) over the "
                             "population (nested inside the seeds' vmap); no such axis is bound") from error
        n = int(fraction * size)
        if n == 0:  # a population too small for this fraction: nothing to copy
            return {"key": key, "count": count, "fitness": fitness}, state

        me = jax.lax.axis_index(axis_name)
        everyone = jax.lax.all_gather(fitness, axis_name)  # [size]
        ranked_by = jnp.where(jnp.isnan(everyone), -jnp.inf, everyone)
        order = jnp.argsort(-ranked_by, stable=True)  # best first; ties: lower index first
        rank = jnp.argsort(order)[me]
        source = order[jax.random.randint(pick_key, (), 0, n)]
        copy = (count % every == 0) & (rank >= size - n) & (ranked_by[source] > ranked_by[me])

        def take(tree):
            return jax.tree.map(lambda x: jax.lax.all_gather(x, axis_name)[source], tree)

        def pick(theirs, mine):
            return jax.tree.map(lambda a, b: jnp.where(copy, a, b), theirs, mine)

        names = sorted(state.hparams)
        draws = jax.random.randint(perturb_key, (len(names),), 0, factors.shape[0])
        theirs = take(state.hparams)
        hparams = {name: theirs[name] * factors[draws[i]].astype(jnp.asarray(theirs[name]).dtype)
                   for i, name in enumerate(names)}
        state = state.replace(
            params=pick(take(state.params), state.params),
            hparams=pick(hparams, state.hparams),
        )
        if copy_opt_state:
            state = state.replace(opt_state=pick(take(state.opt_state), state.opt_state))
        fitness = jnp.where(copy, everyone[source], fitness)
        return {"key": key, "count": count, "fitness": fitness}, state

    return Manager(
        init=init,
        on_stage_start=lambda mstate, state, stage: (mstate, state),
        loss=zero_loss,
        after_update=after_update,
        population=size,
    )
