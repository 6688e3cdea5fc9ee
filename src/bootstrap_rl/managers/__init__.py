"""Management methods (D:management_methods): optax-like bundles of pure functions that change
the learner during childhood. See :mod:`bootstrap_rl.managers.base` for the protocol."""

from bootstrap_rl.managers.base import (Manager, StageStart, Update, chain, identity, no_targets, only_in_stages,
                                       switch, zero_loss)
from bootstrap_rl.managers.distillation import distral, kickstarting
from bootstrap_rl.managers.generation import hypernetwork, mixing
from bootstrap_rl.managers.hyperparameters import meta_gradient, pbt, stage_schedule
from bootstrap_rl.managers.memory import episodic_memory
from bootstrap_rl.managers.routing import routing

__all__ = ["distral", "episodic_memory", "hypernetwork", "kickstarting", "meta_gradient", "mixing", "pbt", "routing", "stage_schedule", "Manager", "StageStart", "Update", "chain", "identity", "no_targets", "only_in_stages", "switch", "zero_loss"]
