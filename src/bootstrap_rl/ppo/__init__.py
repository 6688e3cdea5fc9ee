"""Proximal policy optimisation: config, pure losses, the ``init``/``update`` learner, and
several learners per seed for managers that act across them.

Names are imported from their modules on first use, not when the package is imported, so
the modules here import one another without an import cycle through the package.
"""

from bootstrap_rl._lazy import lazy_exports

lazy_exports(globals(), {
    "config": ("ConfigError", "PPOConfig"),
    "losses": ("gae", "permutation", "ppo_loss", "radix_permutation", "shuffle_into_minibatches"),
    "data": ("Batch", "TrainState", "Transition"),
    "train": ("METRICS", "PPO", "make_ppo"),
    "members": ("MembersState", "make_members"),
})
