"""bootstrap-rl: does a childhood of self-built subsystems beat direct RL at an equal budget?"""

from bootstrap_rl.registry import UnknownEnvError, make, register, registered_ids

__all__ = ["make", "register", "registered_ids", "UnknownEnvError"]
__version__ = "0.1.0"
