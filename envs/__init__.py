"""Task families. Every module in this folder is imported by ``bootstrap_rl.registry.discover``
and registers its ids with ``bootstrap_rl.registry.register``. Modules whose name starts with
an underscore are skipped (use them for shared helpers)."""
