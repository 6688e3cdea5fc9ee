"""Import the library first: it sets XLA's CPU flags, which only apply before the backend starts."""

import bootstrap_rl  # noqa: F401
