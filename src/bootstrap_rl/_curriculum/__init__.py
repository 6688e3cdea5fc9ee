"""The implementation of :mod:`bootstrap_rl.curriculum`, which re-exports its public names.

``config``: the frozen config dataclasses; ``checks``: the pure-Python checks construction
runs; ``tasks``: the env and task checks of ``Curriculum.validate()`` (the only part that
traces or compiles); ``load``: discovery by name, path and entry point. This package imports
nothing itself, so its modules import one another without a cycle through it.
"""
