"""Proximal policy optimisation: config, pure losses, and the ``init``/``update`` learner."""

from bootstrap_rl.ppo.config import ConfigError, PPOConfig
from bootstrap_rl.ppo.losses import gae, permutation, ppo_loss, radix_permutation, shuffle_into_minibatches
from bootstrap_rl.ppo.train import METRICS, PPO, TrainState, Transition, make_ppo
from bootstrap_rl.ppo.population import PopulationState, make_population

__all__ = [
    "ConfigError", "PPOConfig", "gae", "permutation", "ppo_loss", "radix_permutation", "shuffle_into_minibatches",
    "METRICS", "PPO", "TrainState", "Transition", "make_ppo", "PopulationState", "make_population",
]
