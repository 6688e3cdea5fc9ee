"""Limbs ladder: babble -> reach -> track, then the adult task sequence.

Motor childhood below the level of actions (L:childhood): first moving each joint to an
angle (babble), then putting the hand on a point (reach), then keeping it on a moving point
(track); the adult task visits 2-4 targets in order with reward only at each target and at
the end (sequence), which needs reaching made fast and reliable.

Every stage is a task distribution over Limbs' one arm (3 links) and one observation space,
built by ``Limbs.task_distribution`` — the same function with other kind weights — so every
stage of every arm runs through one compiled training program. The learner is the Gaussian
PPO (``ContinuousActorCritic``) configured as in ``benchmarks/limbs_reach.py``, which learns reach
alone to a mean final distance under 5% of the arm's length in 6M env steps (annealed). The
ladder's reach stage gets 1M steps at a constant rate, so a childhood arm leaves it far less
precise: the study measures what such a short childhood buys the adult task.
"""

from bootstrap_rl.curriculum import Curriculum, Evaluation, Stage
from bootstrap_rl.managers import kickstarting
from bootstrap_rl.ppo import PPOConfig

# 64 envs x 64 steps = 4,096 transitions per update (limbs_reach's configuration), but a
# constant learning rate: a linear anneal over an arm's whole budget would give a curriculum
# arm's adult stage a smaller step size than the direct arm's, confounding the comparison.
LEARNER = PPOConfig(
    num_envs=64, num_steps=64, update_epochs=4, num_minibatches=4, learning_rate=1e-3,
    anneal_lr=False, gamma=0.98, gae_lambda=0.95, clip_eps=0.2, ent_coef=0.0,
    max_grad_norm=0.5, hidden_sizes=(64, 64), activation="tanh",
)
EVERY = 64 * 4096  # evaluate every 262,144 env steps

RUNGS = {"babble": 2, "reach": 4, "track": 4}
# Childhood arms, one per management method (D:management_methods), as playroom_ladder's.
METHODS = {"distil": kickstarting(coef=1.0, decay=0.99)}


def ladder(unit: int, *, rungs: dict[str, int] = RUNGS, learner: PPOConfig = LEARNER,
           every: int = EVERY, episodes: int = 64, seeds: int = 10, methods: dict | None = None,
           description: str = "") -> Curriculum:
    """The ladder with stage budgets in multiples of ``unit`` env steps: ``rungs`` units per
    childhood stage, and as many for sequence as for all of childhood (half the budget).

    Scores are episode returns (no success threshold): the childhood kinds' rewards are dense
    distances, so one return threshold cannot mean success for every split.
    """
    stages = tuple(Stage(kind, tasks=kind, env_steps=n * unit) for kind, n in rungs.items())
    childhood = sum(rungs.values())
    adult = Stage("sequence", tasks="sequence", env_steps=childhood * unit)
    return Curriculum(
        name="limbs_ladder",
        description=description or __doc__.splitlines()[0],
        env="Limbs-Sequence-v0",
        stages=stages,
        adult=adult,
        total_env_steps=2 * childhood * unit,
        learner=learner,
        evaluation=Evaluation(every_env_steps=every, episodes=episodes),
        methods=METHODS if methods is None else methods,
        seeds=seeds,
    )


CURRICULUM = ladder(EVERY)  # 5.2M env steps per arm, 10 seeds

# A smoke test for a 2-core CPU: every piece of a study runs, in minutes; far too short and
# too few seeds for any claim (the report says so).
QUICK_LEARNER = LEARNER.replace(num_envs=32, num_steps=32)
PRESETS = {
    "quick": ladder(  # 393,216 env steps per arm, 12 evaluations
        32 * 1024, rungs={"babble": 1, "reach": 2, "track": 3}, learner=QUICK_LEARNER,
        every=32 * 1024, episodes=16, seeds=2, methods={},
        description="limbs_ladder, quick preset: a smoke test, not a result",
    ),
}
