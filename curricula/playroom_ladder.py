"""Playroom ladder: turn -> step -> goto -> pickup -> unlock, then the adult task treasure.

Each rung reuses the last one's skill (L:childhood): facing a direction, walking to a cell,
reaching an object, carrying it, opening a door with a key; treasure needs all of them
(fetch the key, open the door, carry the ball to the goal in the other room).

Every stage is a task distribution over Playroom's one body and one observation space, built
by ``Playroom.task_distribution`` — the same function with other kind weights — so every
stage runs through one compiled training program, and so do the arms (``pbt``, which trains 4
learners per seed, compiles its own).
"""

from bootstrap_rl.curriculum import Curriculum, Evaluation, Stage
from bootstrap_rl.library import LibrarySpec
from bootstrap_rl.managers import (chain, episodic_memory, hypernetwork, kickstarting, meta_gradient, mixing, pbt,
                                   routing)
from bootstrap_rl.ppo import PPOConfig

# 64 envs x 64 steps = 4,096 transitions per update. The learning rate is constant: a linear
# anneal over an arm's whole budget would give a curriculum arm's adult stage a smaller step
# size than the direct arm's, confounding the comparison.
LEARNER = PPOConfig(
    num_envs=64, num_steps=64, update_epochs=2, num_minibatches=4, learning_rate=1e-3,
    anneal_lr=False, gamma=0.99, gae_lambda=0.95, ent_coef=0.01, hidden_sizes=(64, 64),
    activation="relu",
)
EVERY = 64 * 4096  # evaluate every 262,144 env steps


RUNGS = {"turn": 1, "step": 1, "goto": 4, "pickup": 4, "unlock": 6}
# Every arm's network: a shared encoder and a slot per stage (5 childhood + the adult), a
# hypernetwork with a task embedding per stage, and an episodic memory. A fresh library uses
# slot 0 only, so the direct and curriculum arms train an encoder and one head; the methods
# change which parts are used and how (docs/managers.md).
LIBRARY = LibrarySpec(slots=6, hidden=64, activation="relu", memory_size=1024, memory_k=8,
                      hyper_dim=8, tasks=6)


def methods(fit_updates: int = 16, population: bool = True) -> dict:
    """Childhood arms, one per management method (D:management_methods), and one chaining
    two of them. ``fit_updates``: adult updates that fit only the hypernetwork's new task
    embedding before its generated slot is fine-tuned. ``population``: add ``pbt``, which
    trains 4 learners per seed on a quarter of the envs each (a program of its own)."""
    return {
        "hyper": meta_gradient(),  # per-slot step sizes and the entropy coefficient, online
        "route": routing(earlier_lr=0.0),  # a slot per stage, earlier ones frozen, learned router
        "distil": kickstarting(coef=1.0, decay=0.99),  # KL to the previous stage's policy
        "generate": hypernetwork(slot=0, fit_updates=fit_updates),  # slot weights = H(task embedding)
        "memory": episodic_memory(writes_per_update=64),  # written in childhood, read always
        # Configuration switching: each stage is kickstarted from the policy built so far and
        # starts from a new slot mixed, by an evolution strategy, from the slots trained so far
        # (6 x 2 scored rollouts per stage start, outside the budget and reported).
        "chain": chain(kickstarting(coef=1.0, decay=0.99), mixing(candidates=6, generations=2)),
        # Population-based training: 4 learners per seed, exploit/explore every 10 updates.
        **({"pbt": pbt(size=4, every=10)} if population else {}),
    }


METHODS = methods()


def ladder(unit: int, *, rungs: dict[str, int] = RUNGS, learner: PPOConfig = LEARNER,
           every: int = EVERY, episodes: int = 64, seeds: int = 10, methods: dict | None = None,
           library: LibrarySpec = LIBRARY, description: str = "") -> Curriculum:
    """The ladder with stage budgets in multiples of ``unit`` env steps: ``rungs`` units per
    childhood stage, and as many for treasure as for all of childhood (half the budget)."""
    stages = tuple(Stage(kind, tasks=kind, env_steps=n * unit) for kind, n in rungs.items())
    childhood = sum(rungs.values())
    adult = Stage("treasure", tasks="treasure", env_steps=childhood * unit)
    return Curriculum(
        name="playroom_ladder",
        description=description or __doc__.splitlines()[0],
        env="Playroom-Treasure-v0",
        stages=stages,
        adult=adult,
        total_env_steps=2 * childhood * unit,
        learner=learner,
        evaluation=Evaluation(every_env_steps=every, episodes=episodes, success_threshold=0.0),
        methods=METHODS if methods is None else methods,
        seeds=seeds,
        library=library,
    )


CURRICULUM = ladder(2 * EVERY)  # 16.8M env steps per arm, 10 seeds

# A smoke test for a 2-core CPU: every arm and every piece of a study runs, in minutes; far too
# short and too few seeds for any claim (the report says so). The memory is smaller (its lookup
# dominates a CPU update at 1,024 entries).
QUICK_LEARNER = LEARNER.replace(num_envs=32, num_steps=32)
PRESETS = {
    "quick": ladder(  # 327,680 env steps per arm, 10 evaluations
        32 * 1024, rungs={"turn": 1, "step": 1, "goto": 1, "pickup": 1, "unlock": 1},
        # Without pbt: its program would take the quick study past 10 minutes on 2 cores.
        learner=QUICK_LEARNER, every=32 * 1024, episodes=16, seeds=2, methods=methods(fit_updates=4, population=False),
        library=LIBRARY.replace(memory_size=256, memory_k=4),
        description="playroom_ladder, quick preset: a smoke test, not a result",
    ),
}
