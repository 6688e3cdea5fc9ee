"""JAX's persistent compilation cache, on by default for the command line and the API.

A study compiles the same programs every time it runs with the same curriculum; kept on disk,
a second run loads them instead of compiling (``timing/<run>.json`` counts the
``persistent_cache_hits``). The folder, in order of precedence:

1. a folder given explicitly (``--compilation-cache DIR``, ``compilation_cache=DIR``), or none
   at all (``--no-compilation-cache``, ``compilation_cache=False``);
2. ``$BOOTSTRAP_RL_COMPILATION_CACHE``: a folder, or ``0`` / ``off`` / ``none`` / ``false``
   (or empty) for none;
3. a folder JAX was already told about (``$JAX_COMPILATION_CACHE_DIR``, ``jax.config``);
4. ``$XDG_CACHE_HOME/bootstrap-rl/jax``, by default ``~/.cache/bootstrap-rl/jax``.

Importing the library turns nothing on: :func:`enable_default` is called by the entry points
(``bootstrap-rl study``/``train``, :func:`bootstrap_rl.run_study`, :func:`bootstrap_rl.train`).
JAX stores only programs whose compilation took at least
``jax_persistent_cache_min_compile_time_secs`` (1 s by default; ``$JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS``).
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "BOOTSTRAP_RL_COMPILATION_CACHE"
_OFF = {"", "0", "off", "none", "false", "no"}


def default_dir() -> Path:
    """``$XDG_CACHE_HOME/bootstrap-rl/jax`` (``~/.cache/bootstrap-rl/jax`` without it)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "bootstrap-rl" / "jax"


def resolve(option: str | os.PathLike | bool | None = True) -> Path | None:
    """The cache folder that ``option`` asks for, or None for no cache (nothing is changed).

    ``option``: a folder; ``False`` or ``None`` for none; ``True`` for the default, in the
    order of the module docstring (the environment variable, JAX's own setting, the user cache
    folder).
    """
    if option is None or option is False:
        return None
    if option is not True:
        return Path(option).expanduser()
    value = os.environ.get(ENV_VAR)
    if value is not None:
        return None if value.strip().lower() in _OFF else Path(value.strip()).expanduser()
    import jax

    configured = jax.config.jax_compilation_cache_dir
    return Path(configured) if configured else default_dir()


def enable(path: str | os.PathLike) -> Path:
    """Keep compiled programs in ``path`` (created if need be), for every program compiled from
    now on in this process, also when JAX has compiled before. Returns the absolute path."""
    import jax
    from jax.experimental.compilation_cache import compilation_cache as cache

    folder = Path(path).expanduser().absolute()
    folder.mkdir(parents=True, exist_ok=True)
    if jax.config.jax_compilation_cache_dir != str(folder):
        jax.config.update("jax_compilation_cache_dir", str(folder))
        cache.reset_cache()  # JAX decides once per process whether a cache is used; let it decide again
    return folder


def enable_default(option: str | os.PathLike | bool | None = True) -> Path | None:
    """:func:`enable` the folder :func:`resolve` picks for ``option``; None when there is
    none or it cannot be created (a read-only home: a warning, and the run goes on uncached)."""
    folder = resolve(option)
    if folder is None:
        return None
    try:
        return enable(folder)
    except OSError as error:
        if option is not True:  # a folder asked for by name must work
            raise
        import warnings

        warnings.warn(f"no persistent compilation cache: cannot create {folder} ({error}); "
                      f"set {ENV_VAR} to a writable folder, or to 0 to silence this", stacklevel=2)
        return None
