"""The task-family contract: what a family gives curricula.

A *task family* is a gymnax 1.x ``Environment`` whose ``EnvParams`` carry the task as data,
so one compiled step serves every task and tasks vmap. Curricula talk to a family only
through :class:`TaskFamily`; a plain gymnax ``Environment`` (CartPole with other physics, say)
is a family too, with a sampler ``key -> params`` written by the curriculum instead of a spec.
"""

from __future__ import annotations

from typing import Any

import jax
from gymnax.environments import environment


class TaskFamily(environment.Environment):
    """A gymnax ``Environment`` that also turns task specs into task distributions.

    Subclasses implement :meth:`task_distribution`; the other hooks have safe defaults.
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


def is_task_family(env: Any) -> bool:
    """Whether ``env`` builds task distributions from specs (implements the contract)."""
    return isinstance(env, TaskFamily) and type(env).task_distribution is not TaskFamily.task_distribution
