"""bootstrap-rl: does a childhood of self-built subsystems beat direct RL at an equal budget?"""

import os as _os

# XLA's CPU runtime can deadlock in its multi-threaded Eigen pool on vmapped while-loops (every
# worker idle, block_until_ready waiting forever; seen here with jax 0.10.2 on 16 vmapped PPO
# seeds, and reported upstream in PyAutoLabs/PyAutoFit#1528). Single-threaded Eigen avoids it,
# and is no slower for the small matrices RL networks use. Read when the CPU backend starts,
# so this must run before the first computation; it has no effect on GPUs or TPUs. Set
# BOOTSTRAP_RL_KEEP_XLA_FLAGS=1 to leave XLA_FLAGS alone.
if not _os.environ.get("BOOTSTRAP_RL_KEEP_XLA_FLAGS") and "multi_thread_eigen" not in _os.environ.get(
    "XLA_FLAGS", ""
):
    _os.environ["XLA_FLAGS"] = (
        _os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
    ).strip()
    try:  # too late if a backend already started (importing gymnax first starts one)
        from jax._src import xla_bridge as _xla_bridge

        if _xla_bridge._backends:
            import warnings as _warnings

            _warnings.warn(
                "bootstrap_rl was imported after JAX started its backend, so XLA's CPU flag "
                "--xla_cpu_multi_thread_eigen=false is not in effect (it avoids a deadlock): "
                "import bootstrap_rl before gymnax or any JAX computation.",
                stacklevel=2,
            )
    except (ImportError, AttributeError):
        pass

from bootstrap_rl.registry import UnknownEnvError, make, register, registered_ids

__all__ = ["make", "register", "registered_ids", "UnknownEnvError"]
__version__ = "0.1.0"
