"""MiniGrid ladder (XLand-MiniGrid): Empty -> DoorKey -> Unlock -> UnlockPickUp, then BlockedUnlockPickUp.

A peer's worlds, not ours: XLand-MiniGrid's JAX ports of MiniGrid (``envs/minigrid.py``,
docs/minigrid.md). Each rung adds a skill the next uses: walking to a goal, fetching a key to
open a door on the way, opening a door in a two-room layout, carrying an object out of the
other room; the adult task needs all of them and clears an object from in front of the door
first. Every stage is ``MiniGrid.task_distribution`` with other kind weights, so every stage
(and every arm but ``pbt``) runs through one compiled program: the kinds share one canvas
(6 x 11), one observation and one action space, and XLand-MiniGrid's dynamics.
"""

from bootstrap_rl.curricula.playroom_ladder import LIBRARY as PLAYROOM_LIBRARY
from bootstrap_rl.curricula.playroom_ladder import methods
from bootstrap_rl.curriculum import Controls, Curriculum, Evaluation, Stage
from bootstrap_rl.envs._minigrid_ids import ENV_IDS  # not the env: importing a curriculum stays cheap
from bootstrap_rl.managers import chain, kickstarting, mixing
from bootstrap_rl.ppo import PPOConfig

# Playroom's learner (a constant learning rate, so every arm's adult stage steps alike), with
# a wider network for the 1,261-wide one-hot observation.
LEARNER = PPOConfig(
    num_envs=64, num_steps=64, update_epochs=2, num_minibatches=4, learning_rate=1e-3,
    anneal_lr=False, gamma=0.99, gae_lambda=0.95, ent_coef=0.01, hidden_sizes=(128, 128),
    activation="relu",
)
EVERY = 64 * 4096  # evaluate every 262,144 env steps

RUNGS = {"empty_random": 1, "doorkey": 4, "unlock": 4, "unlockpickup": 6}
METHODS = methods()  # Playroom's management methods, so the two families compare
# A slot and a task embedding per stage: 4 childhood stages and the adult.
LIBRARY = PLAYROOM_LIBRARY.replace(slots=5, tasks=5)


def ladder(unit: int, *, rungs: dict[str, int] = RUNGS, adult: str = "blockedunlockpickup",
           adult_units: int | None = None, learner: PPOConfig = LEARNER, every: int = EVERY,
           episodes: int = 64, seeds: int = 10, methods: dict | None = None, library=LIBRARY,
           controls: Controls = Controls(), description: str = "") -> Curriculum:
    """The ladder with stage budgets in multiples of ``unit`` env steps: ``rungs`` units per
    childhood stage (kinds of ``envs/minigrid.py``), ``adult_units`` for the ``adult`` kind
    (default: as many as all of childhood, half the budget)."""
    stages = tuple(Stage(kind, tasks=kind, env_steps=n * unit) for kind, n in rungs.items())
    childhood = sum(rungs.values())
    adult_units = childhood if adult_units is None else adult_units
    return Curriculum(
        name="minigrid_ladder",
        description=description or __doc__.splitlines()[0],
        env=ENV_IDS[adult],
        stages=stages,
        adult=Stage(adult, tasks=adult, env_steps=adult_units * unit),
        total_env_steps=(childhood + adult_units) * unit,
        learner=learner,
        evaluation=Evaluation(every_env_steps=every, episodes=episodes, success_threshold=0.0),
        methods=METHODS if methods is None else methods,
        seeds=seeds,
        library=library,
        controls=controls,
    )


CURRICULUM = ladder(2 * EVERY)  # 15.7M env steps per arm, 10 seeds

# The newcomer's study for a 2-core CPU: Empty (random start) -> DoorKey-5x5, then Unlock
# as the adult task (a door and a key again, in the two-room layout). Like playroom_ladder's
# quick preset: route and chain with their direct+<method> controls and curriculum/mixed; far
# too few seeds for a claim.
QUICK_LEARNER = LEARNER.replace(num_envs=32, num_steps=32, hidden_sizes=(64, 64))
QUICK_UNIT = 16 * 32 * 32  # 16 updates of 32 envs x 32 steps
PRESETS = {
    "quick": ladder(  # 196,608 env steps per arm: 65,536 of childhood, 131,072 of unlock
        QUICK_UNIT, rungs={"empty_random": 2, "doorkey_5x5": 2}, adult="unlock", adult_units=8,
        learner=QUICK_LEARNER, every=QUICK_UNIT, episodes=16, seeds=3,
        methods={"route": METHODS["route"], "chain": chain(kickstarting(coef=1.0, decay=0.99),
                                                           mixing(candidates=6, generations=2))},
        library=LIBRARY.replace(slots=3, tasks=3, memory_size=0),
        controls=Controls(manager_alone=False, shuffled=False, capacity=False, shrink_perturb=False),
        description="minigrid_ladder, quick preset: Empty -> DoorKey-5x5, then Unlock; a demonstration, not a result",
    ),
}
