"""bootstrap-rl: does a childhood of self-built subsystems beat direct RL at an equal budget?"""

__all__ = ["make", "register", "registered_ids", "UnknownEnvError"]
__version__ = "0.1.0"


def __getattr__(name: str):
    # Imported on first use: importing gymnax (which the registry does) starts JAX's backends,
    # and a distributed study must call jax.distributed.initialize before that happens.
    if name in __all__:
        from bootstrap_rl import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'bootstrap_rl' has no attribute {name!r}")
