"""PPO hyperparameters: a frozen dataclass validated at construction, before anything compiles."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from bootstrap_rl.networks import ACTIVATIONS
from bootstrap_rl.validation import ConfigError, finite_number, positive_int

__all__ = ["ConfigError", "PPOConfig"]


@dataclass(frozen=True)
class PPOConfig:
    """PPO hyperparameters. Defaults are PureJaxRL's CartPole-v1 configuration."""

    total_timesteps: int = 500_000
    num_envs: int = 4
    num_steps: int = 128  # rollout length per env per update
    update_epochs: int = 4
    num_minibatches: int = 4
    learning_rate: float = 2.5e-4
    anneal_lr: bool = True  # linear decay to 0 over the run
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    adam_eps: float = 1e-5
    hidden_sizes: tuple[int, ...] = (64, 64)
    activation: str = "tanh"

    def __post_init__(self):
        # Accept lists (from JSON or a CLI) but store a hashable tuple of plain ints.
        sizes = tuple(self.hidden_sizes)
        if not sizes:
            raise ConfigError("hidden_sizes", "must be positive integers, got ()")
        object.__setattr__(self, "hidden_sizes", tuple(positive_int(w, "hidden_sizes") for w in sizes))
        for name in ("total_timesteps", "num_envs", "num_steps", "update_epochs", "num_minibatches"):
            object.__setattr__(self, name, positive_int(getattr(self, name), name))  # numpy ints: plain ints
        for name in ("learning_rate", "max_grad_norm", "adam_eps"):
            finite_number(getattr(self, name), name, low=0, low_open=True)
        for name in ("gamma", "gae_lambda"):
            finite_number(getattr(self, name), name, low=0, high=1)
        for name in ("clip_eps", "ent_coef", "vf_coef"):
            finite_number(getattr(self, name), name, low=0)
        if self.batch_size % self.num_minibatches:
            raise ConfigError(
                "num_minibatches",
                f"the batch of num_envs * num_steps = {self.batch_size} transitions does not "
                f"divide into {self.num_minibatches} minibatches",
            )
        if self.total_timesteps < self.batch_size:
            raise ConfigError(
                "total_timesteps",
                f"{self.total_timesteps} is less than one update's batch "
                f"(num_envs * num_steps = {self.batch_size})",
            )
        if self.activation not in ACTIVATIONS:
            raise ConfigError(
                "activation", f"{self.activation!r} is not one of {sorted(ACTIVATIONS)}"
            )

    @property
    def batch_size(self) -> int:
        """Transitions collected per update."""
        return self.num_envs * self.num_steps

    @property
    def minibatch_size(self) -> int:
        return self.batch_size // self.num_minibatches

    @property
    def num_updates(self) -> int:
        """Updates in the run; the remainder of total_timesteps is dropped, as in PureJaxRL."""
        return self.total_timesteps // self.batch_size

    @property
    def env_steps(self) -> int:
        """Env steps actually taken: num_updates * batch_size."""
        return self.num_updates * self.batch_size

    def replace(self, **changes) -> PPOConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

