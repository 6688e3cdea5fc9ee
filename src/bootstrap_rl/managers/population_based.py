"""Population-based training (D:management_methods, hyperparameters): learners of one seed
copy from the best among them and perturb what they copied (Jaderberg et al. 2017).

The one manager that acts across learners: its ``Manager.members`` is above 1, so a study
runs its arm as that many learners per seed (:mod:`bootstrap_rl.ppo.members`), vmapped with
the axis name its collectives use.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from bootstrap_rl.managers.base import Manager, ManagerReport
from bootstrap_rl.validation import ConfigError, finite_number, is_finite_number, positive_int


class PBTState(NamedTuple):
    key: jax.Array  # draws the source of a copy and the perturbation factors
    count: jax.Array  # updates so far (exploit/explore every ``every`` of them)
    fitness: jax.Array  # moving average of this member's training return (NaN: none yet)
    drawn: jax.Array  # this member's hyperparameters were drawn from the prior
    exploits: jax.Array  # copies of a better member so far
    explores: jax.Array  # perturbations of copied hyperparameters so far


def pbt(
    every: int = 10,
    fraction: float = 0.25,
    perturb: tuple[float, ...] = (0.8, 1.25),
    axis_name: str = "members",
    ema: float = 0.9,
    copy_opt_state: bool = True,
    size: int = 4,
    prior_spread: float = 3.0,
    prior: dict | None = None,
) -> Manager:
    """Population-based training across the learners of one seed.

    Population-based training (Jaderberg et al. 2017, "Population based training of neural
    networks"), truncation selection: a seed's learners (members) are vmapped with
    ``jax.vmap(..., axis_name=axis_name)`` — nested inside the seeds' ``vmap`` (which has no
    axis name), so seeds stay independent and the members of one seed interact only through
    this manager's collectives. Each member's fitness is an exponential moving average
    (weight ``ema`` on the past) of ``metrics["episode_return"]``, NaN-safe: an update where
    no episode ended leaves it as it was; a member with no fitness yet ranks last.

    Every ``every`` updates (counted in the manager's state), members are ranked by fitness;
    each member in the bottom ``fraction`` picks a member of the top ``fraction`` uniformly at
    random and, if its fitness is strictly higher, copies (exploit) its variables (all of
    ``learner.params``: weights and library state), its optimizer state (Adam's moments;
    ``copy_opt_state=False`` keeps the member's own) and its hyperparameters, then multiplies
    each hyperparameter in ``learner.hparams`` by a factor drawn from ``perturb`` (explore).
    The copy inherits its source's fitness. Env state, RNG key and counters stay the member's
    own (they are not part of :class:`~bootstrap_rl.managers.Managed`).

    Members start from hyperparameters drawn from a prior (Jaderberg et al. draw the initial
    population at random): when the manager first acts (its first stage start), each member
    draws each hyperparameter log-uniformly in ``[h / prior_spread, h * prior_spread]``
    around its configured value ``h`` (``prior_spread=1``: every member starts from the
    configuration, diversity then comes only from the perturbations), or, for the names in
    ``prior``, log-uniformly in ``prior[name] = (low, high)``. Exploits (copies) and explores
    (perturbations) are counted: diagnostics ``pbt/exploits`` and ``pbt/explores``, summed over
    a seed's members. The baseline is a single learner with Adam and the linear schedule
    (``PPOConfig(anneal_lr=True)``); the learner still applies that schedule to each member's
    ``hparams["learning_rate"]``.

    Args:
        every: updates between exploit/explore steps.
        fraction: the share of the members copied from (top) and into (bottom), in (0, 0.5].
        perturb: the factors a copied hyperparameter is multiplied by (one drawn per value).
        axis_name: the vmap axis name of the members (``bootstrap_rl.ppo.members.AXIS``).
        ema: the fitness average's weight on the past, in [0, 1).
        copy_opt_state: also copy the optimizer state (Jaderberg et al. copy the whole state).
        prior_spread: the factor either side of a configured hyperparameter that the initial
            log-uniform draw spans (>= 1).
        prior: ``{name: (low, high)}``, absolute log-uniform bounds for the named
            hyperparameters' initial draw (``learning_rate``, ``ent_coef``).
        size: members per seed when a study runs it (``Manager.members``): the study builds
            them with :func:`bootstrap_rl.ppo.members.make_members`, each member on
            ``num_envs / size`` envs, so the arm spends the budget of one learner, and
            evaluates the member that ``make_members`` ranks fittest.
    """
    every = positive_int(every, "every")
    finite_number(fraction, "fraction", low=0, high=0.5, low_open=True)
    if not (isinstance(perturb, (tuple, list)) and perturb and all(is_finite_number(f) and f > 0 for f in perturb)):
        raise ConfigError("perturb", f"must be a non-empty tuple of positive numbers, got {perturb!r}")
    if not (isinstance(axis_name, str) and axis_name):
        raise ConfigError("axis_name", f"must be a non-empty string, got {axis_name!r}")
    if finite_number(ema, "ema", low=0, high=1) == 1:
        raise ConfigError("ema", "must lie in [0, 1): at 1 the fitness would never move")
    if not isinstance(copy_opt_state, bool):
        raise ConfigError("copy_opt_state", f"must be a bool, got {copy_opt_state!r}")
    size = positive_int(size, "size", minimum=2)
    if int(fraction * size) < 1:
        raise ConfigError("fraction", f"{fraction} of {size} members is no member: nothing would be "
                          "copied (raise fraction or size)")
    factors = np.asarray(perturb, np.float32)  # numpy: building a manager runs no JAX
    finite_number(prior_spread, "prior_spread", low=1)
    prior = dict(prior or {})
    for name, bounds in prior.items():
        if name not in ("learning_rate", "ent_coef"):
            raise ConfigError("prior", f"{name!r} is not a learner hyperparameter (learning_rate, ent_coef)")
        if not (isinstance(bounds, (tuple, list)) and len(bounds) == 2
                and all(is_finite_number(b) and b > 0 for b in bounds) and bounds[0] <= bounds[1]):
            raise ConfigError("prior", f"{name}: must be (low, high) with 0 < low <= high, got {bounds!r}")

    def init(key, params):
        zero = jnp.zeros((), jnp.float32)
        return PBTState(key=key, count=jnp.zeros((), jnp.int32), fitness=jnp.full((), jnp.nan, jnp.float32),
                        drawn=jnp.zeros((), bool), exploits=zero, explores=zero)

    def draw(key, hparams: dict) -> dict:
        """Every hyperparameter drawn log-uniformly from the prior (see the docstring)."""
        names = sorted(hparams)
        u = jax.random.uniform(key, (len(names),))
        out = {}
        for i, name in enumerate(names):
            h = jnp.asarray(hparams[name], jnp.float32)
            if name in prior:
                low, high = (jnp.log(jnp.float32(b)) for b in prior[name])
            else:
                low, high = jnp.log(h) - np.log(prior_spread), jnp.log(h) + np.log(prior_spread)
            drawn = jnp.exp(low + u[i] * (high - low))
            out[name] = jnp.where(h > 0, drawn, h) if name not in prior else drawn
        return {name: out[name].astype(jnp.asarray(hparams[name]).dtype) for name in names}

    def on_stage_start(mstate, learner, stage):
        key, draw_key = jax.random.split(mstate.key)
        drawn = draw(draw_key, learner.hparams)
        hparams = {k: jnp.where(mstate.drawn, v, drawn[k]) for k, v in learner.hparams.items()}
        return mstate._replace(key=key, drawn=jnp.ones((), bool)), learner._replace(hparams=hparams)

    def report(mstate):
        return ManagerReport(uncharged_env_steps=jnp.zeros((), jnp.float32),
                             diagnostics={"pbt/exploits": mstate.exploits, "pbt/explores": mstate.explores})

    def after_update(mstate, learner, handover):
        ret = jnp.asarray(handover.metrics["episode_return"], jnp.float32)
        old = mstate.fitness
        fitness = jnp.where(jnp.isfinite(ret), jnp.where(jnp.isnan(old), ret, ema * old + (1 - ema) * ret), old)
        count = mstate.count + 1
        key, pick_key, perturb_key = jax.random.split(mstate.key, 3)
        try:
            members = jax.lax.axis_size(axis_name)
        except NameError as error:
            raise ValueError(f"axis_name: pbt runs inside jax.vmap(..., axis_name={axis_name!r}) over a seed's "
                             "members (nested inside the seeds' vmap); no such axis is bound") from error
        n = int(fraction * members)
        if n == 0:  # too few members for this fraction: nothing to copy
            return mstate._replace(key=key, count=count, fitness=fitness), learner

        me = jax.lax.axis_index(axis_name)
        everyone = jax.lax.all_gather(fitness, axis_name)  # [members]
        ranked_by = jnp.where(jnp.isnan(everyone), -jnp.inf, everyone)
        order = jnp.argsort(-ranked_by, stable=True)  # best first; ties: lower index first
        rank = jnp.argsort(order)[me]
        source = order[jax.random.randint(pick_key, (), 0, n)]
        copy = (count % every == 0) & (rank >= members - n) & (ranked_by[source] > ranked_by[me])

        def take(tree):
            return jax.tree.map(lambda x: jax.lax.all_gather(x, axis_name)[source], tree)

        def pick(theirs, mine):
            return jax.tree.map(lambda a, b: jnp.where(copy, a, b), theirs, mine)

        names = sorted(learner.hparams)
        draws = jax.random.randint(perturb_key, (len(names),), 0, factors.shape[0])
        theirs = take(learner.hparams)
        hparams = {name: theirs[name] * jnp.asarray(factors)[draws[i]].astype(jnp.asarray(theirs[name]).dtype)
                   for i, name in enumerate(names)}
        learner = learner._replace(
            params=pick(take(learner.params), learner.params),
            hparams=pick(hparams, learner.hparams),
        )
        if copy_opt_state:
            learner = learner._replace(opt_state=pick(take(learner.opt_state), learner.opt_state))
        fitness = jnp.where(copy, everyone[source], fitness)
        event = copy.astype(jnp.float32)  # every copy is perturbed: one exploit, one explore
        return mstate._replace(key=key, count=count, fitness=fitness, exploits=mstate.exploits + event,
                               explores=mstate.explores + event), learner

    return Manager(init=init, on_stage_start=on_stage_start, after_update=after_update, report=report, members=size)
