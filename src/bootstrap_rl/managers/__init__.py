"""Management methods (D:management_methods): optax-like bundles of pure functions that change
the learner during childhood. :mod:`bootstrap_rl.managers.base` defines the contract,
:mod:`bootstrap_rl.managers.combine` the combinators, and one module per method family the
methods.

Names are imported from their modules on first use, not when the package is imported: every
module here imports the contract from ``base``, and a package that imported its modules back
would form an import cycle with them. The learner, which needs only the contract, loads none
of the methods.
"""

from bootstrap_rl._lazy import lazy_exports

lazy_exports(globals(), {
    "base": ("AdamMoments", "Footprint", "Handover", "LossInputs", "Managed", "Manager", "ManagerReport", "StageStart",
             "identity", "no_state", "no_targets", "nothing_to_report", "unchanged", "zero_loss"),
    "combine": ("StagedState", "chain", "only_in_stages", "switch"),
    "distillation": ("anchor", "distral", "kickstarting"),
    "generation": ("hypernetwork", "mixing"),
    "hyperparameters": ("meta_gradient", "stage_schedule"),
    "population_based": ("pbt",),
    "memory": ("episodic_memory",),
    "connections": ("routing",),
    "plasticity": ("shrink_perturb",),
})
