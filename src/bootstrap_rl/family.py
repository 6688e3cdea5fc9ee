"""The task-family contract, and the pieces every family shares.

A *task family* is a gymnax 1.x ``Environment`` whose ``EnvParams`` carry the task as data,
so one compiled step serves every task and tasks vmap. Curricula talk to a family only
through :class:`TaskFamily`; a plain gymnax ``Environment`` (CartPole with other physics, say)
is a family too, with a sampler ``key -> params`` written by the curriculum instead of a spec.

Besides the contract, this module holds what the families in ``envs/`` would otherwise each
write again: a cheap counter-based hash RNG for resets and samplers that run on every step
(:func:`random_words`, :func:`uniforms`), the parsing of task-kind specs (:func:`kind_index`,
:func:`kind_weights`, :func:`kind_step_limits`) and the registration of one env id per kind
(:func:`register_kinds`). It imports nothing from the library but the registry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from gymnax.environments import environment

from bootstrap_rl.registry import register


class TaskFamily(environment.Environment[environment.TEnvState, environment.TEnvParams]):
    """A gymnax ``Environment`` that also turns task specs into task distributions.

    Subclasses implement :meth:`task_distribution`; the other hooks have safe defaults.
    Code that builds stages (curricula) should ask :func:`is_task_family` first and then call
    the hooks directly, rather than probe for them by name:

    * ``env.task_distribution(spec)`` for a stage given as a spec (a kind, a list of kinds, a
      dict of weights); a family raises ``ValueError`` for a bad spec;
    * ``env.shortest_episode(distribution)`` for the exact shortest time limit (``None``:
      estimate it from draws);
    * ``env.validate_params(params)`` on a batch of drawn tasks (raises ``ValueError``);
    * ``env.describe(params)`` for captions.

    Every method here is a plain host-side hook (outside jit); the environment's jitted
    ``reset``/``step`` are gymnax's.
    """

    def task_distribution(self, spec: Any, **kwargs: Any) -> jax.tree_util.Partial:
        """A stage's tasks as data: ``key -> EnvParams``, a ``jax.tree_util.Partial`` of one
        module-level sampler, so every stage of the family shares one compiled program.
        ``spec`` is the family's own (task kinds, say); bad specs raise ``ValueError``."""
        raise NotImplementedError(f"{type(self).__name__} does not build task distributions from specs")

    def validate_params(self, params: Any) -> Any:
        """Raise ``ValueError`` naming the field if a (batch of) task params is invalid;
        return the params. Default: every params is valid."""
        return params

    def shortest_episode(self, distribution: jax.tree_util.Partial) -> int | None:
        """The shortest episode time limit a distribution can draw, if the family knows it
        exactly; ``None`` lets the curriculum estimate it from draws."""
        return None

    def describe(self, params: Any | None = None) -> str:
        """A one-line, human-readable description of a task (default params if None)."""
        return self.name

    def mutate_level(self, key: jax.Array, task: Any, seed: jax.Array) -> tuple[Any, jax.Array]:
        """One small edit of a level — a task (unbatched params) and the key its episodes reset
        from — for ACCEL (``ued/accel``, docs/ued.md): jittable, and the result must be a valid
        level of the same task distribution's shapes. Default: the same task on a new layout
        seed, the one edit every family allows; a family overrides it with edits of its own."""
        return task, jax.random.split(key)[0]


def is_task_family(env: Any) -> bool:
    """Whether ``env`` builds task distributions from specs (implements the contract)."""
    return isinstance(env, TaskFamily) and type(env).task_distribution is not TaskFamily.task_distribution


# --- task kinds (outside jit) ----------------------------------------------------------------


def kind_index(kind: str | int, kinds: Sequence[str]) -> int:
    """The index of a task kind given by name or by index into ``kinds``.

    Raises ``ValueError`` (naming ``task_kind``) for an unknown name or an index out of range.
    """
    if isinstance(kind, str):
        if kind not in kinds:
            raise ValueError(f"task_kind: unknown kind {kind!r}; expected one of {tuple(kinds)}")
        return list(kinds).index(kind)
    index = int(kind)
    if not 0 <= index < len(kinds):
        raise ValueError(f"task_kind: unknown kind {kind!r}; expected 0..{len(kinds) - 1} {tuple(kinds)}")
    return index


def kind_weights(spec: str | Sequence[str] | dict[str, float], kinds: Sequence[str], *,
                 dtype: Any = np.float64) -> np.ndarray:
    """A task-kind spec as normalised weights over ``kinds``: one kind (a string), uniform over
    a list, or the weights of a dict. The vector is accumulated and normalised in ``dtype``
    (each family keeps the precision its draws were recorded with).

    Raises ``ValueError`` for an empty spec, an unknown kind, a weight that is not a finite
    number >= 0, or weights that are all zero.
    """
    if isinstance(spec, str):
        spec = [spec]
    weights = dict(spec) if isinstance(spec, dict) else {kind: 1.0 for kind in spec}
    if not weights:
        raise ValueError("kinds: need at least one task kind")
    vector = np.zeros(len(kinds), dtype)
    for kind, weight in weights.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float, np.number)) \
                or not np.isfinite(weight) or weight < 0:
            raise ValueError(f"kinds: weight of {kind!r} must be a finite number >= 0, got {weight!r}")
        vector[kind_index(kind, kinds)] += weight
    if vector.sum() <= 0:
        raise ValueError("kinds: weights must not all be zero")
    return vector / vector.sum()


def kind_step_limits(overrides: Mapping[str, int] | None, defaults: Mapping[str, int],
                     kinds: Sequence[str]) -> list[int]:
    """Each kind's episode step limit, in the order of ``kinds``: ``defaults`` with
    ``overrides`` (kind name -> positive int). Raises ``ValueError`` for a bad limit."""
    limits = dict(defaults)
    for kind, limit in (overrides or {}).items():
        kind_index(kind, kinds)
        if isinstance(limit, bool) or int(limit) != limit or limit < 1:
            raise ValueError(f"step_limits: limit of {kind!r} must be a positive integer, got {limit!r}")
        limits[kind] = int(limit)
    return [limits[kind] for kind in kinds]


# --- mixtures of task distributions (outside jit) -------------------------------------------


def mix_distributions(distributions: Sequence[jax.tree_util.Partial], weights: Sequence[float]) -> jax.tree_util.Partial:
    """One task distribution that draws each task from ``distributions[i]`` with probability
    ``weights[i]`` (normalised): a curriculum's childhood stages mixed into one stage.

    Where the distributions are one function that picks a task kind by a ``weights`` keyword
    and differ in nothing else (Playroom's and Limbs' kind specs), the mixture is that function
    with the weighted kind weights — the same pytree structure as its parts, so it runs
    through their compiled program. Otherwise it is :func:`sample_mixture` over the parts'
    data stacked (one function with the same shapes: its own program).
    """
    w = np.asarray(weights, np.float64)
    if len(distributions) != len(w) or not len(w) or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"weights: need one finite weight >= 0 per distribution, not all zero; got {list(weights)}")
    w = w / w.sum()
    first = distributions[0]
    if all(_mixes_by_kind_weights(first, d) for d in distributions):
        kinds = sum(p * np.asarray(d.keywords["weights"], np.float64) for p, d in zip(w, distributions))
        dtype = np.asarray(first.keywords["weights"]).dtype
        return jax.tree_util.Partial(first.func, *first.args, **{**first.keywords, "weights": jnp.asarray(kinds, dtype)})
    stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *distributions)
    return jax.tree_util.Partial(sample_mixture, stacked=stacked,
                                    log_weights=jnp.asarray(np.log(np.maximum(w, 1e-30)), jnp.float32))


def _mixes_by_kind_weights(first: Any, other: Any) -> bool:
    """Whether ``other`` is ``first``'s function, with a ``weights`` keyword and every other
    argument equal (so a mixture is a weighted sum of kind weights)."""
    if not (isinstance(other, jax.tree_util.Partial) and isinstance(first, jax.tree_util.Partial)):
        return False
    if other.func is not first.func or "weights" not in other.keywords or set(other.keywords) != set(first.keywords):
        return False
    same = [np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(first.args, other.args)]
    same += [np.array_equal(np.asarray(first.keywords[k]), np.asarray(other.keywords[k]))
             for k in first.keywords if k != "weights"]
    return len(first.args) == len(other.args) and all(same)


def sample_mixture(key: jax.Array, stacked: jax.tree_util.Partial, log_weights: jax.Array) -> Any:
    """A task from distribution ``i ~ log_weights`` of ``stacked`` (distributions of one
    function, their data stacked on a leading axis)."""
    choice_key, task_key = jax.random.split(key)
    i = jax.random.categorical(choice_key, log_weights)
    return jax.tree.map(lambda x: x[i], stacked)(task_key)


# --- a hash RNG for per-step resets and samplers (jittable) -----------------------------------

_GOLDEN = 0x9E3779B9  # 2^32 / golden ratio: spreads consecutive counters over the words


def hash32(x: jax.Array) -> jax.Array:
    """murmur3's 32-bit finaliser on uint32 words: a cheap, well-mixed integer hash."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x85EBCA6B)
    x = x ^ (x >> 13)
    x = x * jnp.uint32(0xC2B2AE35)
    return x ^ (x >> 16)


def random_words(key: jax.Array, count: int) -> jax.Array:
    """``count`` pseudo-random uint32 words from a key (typed or raw uint32), by hashing the
    key's words with a counter.

    Much cheaper than threefry, which matters because gymnax's auto-reset (and
    ``TaskSamplingEnv``'s resample) compute a reset, and so these draws, on every step.
    Not a cryptographic or splittable RNG: use it for a fixed, small number of draws per key.
    """
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    words = key.reshape(-1).astype(jnp.uint32)
    seed = hash32(words[0] ^ hash32(words[-1] + jnp.uint32(_GOLDEN)))
    counters = jnp.arange(count, dtype=jnp.uint32) * jnp.uint32(_GOLDEN)
    return hash32(seed + counters)


def uniforms(key: jax.Array, count: int) -> jax.Array:
    """``count`` float32 numbers uniform in [0, 1) from a key: the top 24 bits of
    :func:`random_words`, so every value is exact in float32 and below 1."""
    return (random_words(key, count) >> 8).astype(jnp.float32) * jnp.float32(2.0**-24)


# --- registration ----------------------------------------------------------------------------


def register_kinds(ids: Mapping[str, str], make_env: Callable[..., Any], origin: str) -> dict[str, Callable[..., Any]]:
    """Register one env id per task kind: ``ids[kind]`` makes ``make_env(kind, **kwargs)``.

    ``make_env`` is the family's class (or any ``(kind, **kwargs) -> Environment``);
    ``origin`` is the module listed as the ids' provider (``bootstrap-rl list``). Returns the
    factories by kind. An id already taken by another factory raises ``ValueError``.
    """
    factories = {}
    for kind, env_id in ids.items():
        factories[kind] = _kind_factory(make_env, kind, origin)
        register(env_id, factories[kind], origin=origin)
    return factories


def _kind_factory(make_env: Callable[..., Any], kind: str, origin: str) -> Callable[..., Any]:
    def factory(**kwargs: Any) -> Any:
        return make_env(kind, **kwargs)

    factory.__name__ = factory.__qualname__ = f"make_{make_env.__name__.lower()}_{kind}"
    factory.__module__ = origin
    return factory
