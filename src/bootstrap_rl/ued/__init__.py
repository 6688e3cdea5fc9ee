"""Automatic curricula (unsupervised environment design) as study arms: domain randomisation,
robust Prioritized Level Replay and ACCEL over a task family's levels (docs/ued.md).

A *level* is one task's params plus the layout seed its episodes reset from. ``levels``: the
level buffer (a plain pytree, as jaxued's ``LevelSampler``); ``env``: the env wrapper whose
episodes replay their level; ``learner``: the PPO learner that picks, scores and replays levels.
"""

from bootstrap_rl._lazy import lazy_exports

lazy_exports(globals(), {
    "config": ("UED_KINDS", "UEDConfig"),
    "levels": ("Level", "LevelBuffer", "empty_buffer", "insert_levels", "replay_weights", "sample_replay",
               "score_weights", "staleness_weights", "update_scores"),
    "env": ("LevelEnv", "LevelState", "draw_level"),
    "learner": ("UEDState", "level_scores", "make_ued"),
})
