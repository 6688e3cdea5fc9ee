"""The settings of the automatic-curriculum arms, checked before anything compiles."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from bootstrap_rl.validation import ConfigError

# The arm kinds, in the order their index is passed to the compiled program (data).
UED_KINDS = ("dr", "plr", "accel")


@dataclass(frozen=True)
class UEDConfig:
    """Robust PLR's and ACCEL's settings (Jiang et al. 2021; Parker-Holder et al. 2022), with
    jaxued's defaults where they apply.

    ``capacity``: levels the buffer holds. ``replay_prob``: the chance an update replays
    buffer levels once the buffer is ``min_fill`` full (else it scores new levels, no
    gradient). ``temperature`` (beta): rank prioritisation ``h(S_i)^(1/beta)``, ``h = 1/rank``.
    ``staleness_coeff`` (rho): the staleness mix ``P = (1-rho) P_S + rho P_C``. ``edits``:
    mutations applied to a replayed level to make one ACCEL child.
    """

    capacity: int = 256
    replay_prob: float = 0.8
    temperature: float = 0.3
    staleness_coeff: float = 0.3
    min_fill: float = 0.5
    edits: int = 2

    def __post_init__(self):
        for name in ("capacity", "edits"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"ued_config.{name}", f"must be a positive integer, got {value!r}")
        for name, low_open in (("replay_prob", False), ("staleness_coeff", False), ("min_fill", False),
                               ("temperature", True)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
                raise ConfigError(f"ued_config.{name}", f"must be a number, got {value!r}")
            if (value <= 0 if low_open else value < 0) or (name != "temperature" and value > 1):
                bound = "> 0" if low_open else "in [0, 1]"
                raise ConfigError(f"ued_config.{name}", f"must be {bound}, got {value!r}")

    def replace(self, **changes) -> UEDConfig:
        return dataclasses.replace(self, **changes)
