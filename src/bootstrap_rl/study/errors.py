"""The one error a study raises for what it was asked to do (as opposed to a bug)."""

from __future__ import annotations

from bootstrap_rl.validation import ConfigError, positive_int


class StudyError(ValueError):
    """A study cannot start or resume as asked (the message says why and what to do)."""


def positive_count(value, field: str) -> int:
    """``value`` as a positive int (see :func:`bootstrap_rl.validation.positive_int`), or a
    :class:`StudyError` naming ``field``: the shared check, with the study's error type."""
    try:
        return positive_int(value, field)
    except ConfigError as error:
        raise StudyError(str(error)) from None
