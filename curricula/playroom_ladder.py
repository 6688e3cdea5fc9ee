"""Playroom ladder: turn -> step -> goto -> pickup -> unlock, then the adult task treasure.

Each rung reuses the last one's skill (L:childhood): facing a direction, walking to a cell,
reaching an object, carrying it, opening a door with a key; treasure needs all of them
(fetch the key, open the door, carry the ball to the goal in the other room).

Every stage is a task distribution over Playroom's one body and one observation space, built
by ``Playroom.task_distribution`` — the same function with other kind weights — so every
stage runs through one compiled training program, and so do the arms (``pbt``, which trains 4
learners per seed, compiles its own).
"""

from bootstrap_rl.curriculum import Controls, Curriculum, Evaluation, Stage
from bootstrap_rl.library import LibrarySpec
from bootstrap_rl.managers import (anchor, chain, distral, episodic_memory, hypernetwork, kickstarting, meta_gradient,
                                   mixing, pbt, routing, stage_schedule)
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


def methods(fit_updates: int = 256, population: bool = True) -> dict:
    """Childhood arms, one per management method (D:management_methods), and one chaining
    two of them. ``fit_updates``: adult updates that fit only the hypernetwork's new task
    embedding before its generated slot is fine-tuned (256: an eighth of the full study's
    adult stage, about 1M env steps, so task inference through the embedding has room to
    act before fine-tuning takes over). ``population``: add ``pbt``, which
    trains 4 learners per seed on a quarter of the envs each (a program of its own)."""
    return {
        "hyper": meta_gradient(),  # per-slot step sizes and the entropy coefficient, online
        "route": routing(earlier_lr=0.0),  # a slot per stage, earlier ones frozen, learned router
        "distil": kickstarting(coef=1.0, decay=0.99),  # adult: a fresh student taught by childhood's policy
        "generate": hypernetwork(slot=0, fit_updates=fit_updates),  # slot weights = H(task embedding)
        "memory": episodic_memory(writes_per_update=64),  # written in childhood, read always
        # Configuration switching: each stage is anchored to the policy built so far and
        # starts from a new slot mixed, by an evolution strategy, from the slots trained so far
        # (8 x 6 scored rollouts per stage start, outside the budget and reported).
        "chain": chain(anchor(coef=1.0, decay=0.99), mixing()),
        # Distral: a task policy per stage (slot = stage index; the adult shares the last
        # childhood stage's, the library having a slot per stage and the shared policy in the
        # last), each regularised toward, and distilled into, one shared policy.
        "distral": distral(coef=0.5, distil_coef=1.0),
        # The hand-set baseline for "hyper": a step size and entropy per stage, large while
        # the tasks are simple, smaller toward the adult task (6 values: 5 stages + adult).
        "schedule": stage_schedule(learning_rate=(1e-3, 1e-3, 1e-3, 7e-4, 5e-4, 5e-4),
                                   ent_coef=(0.02, 0.02, 0.01, 0.01, 0.01, 0.01)),
        # Population-based training: 4 learners per seed, exploit/explore every 10 updates.
        **({"pbt": pbt(size=4, every=10)} if population else {}),
    }


METHODS = methods()


def ladder(unit: int, *, rungs: dict[str, int] = RUNGS, adult: str = "treasure", adult_units: int | None = None,
           learner: PPOConfig = LEARNER, every: int = EVERY, episodes: int = 64, seeds: int = 10,
           methods: dict | None = None, library: LibrarySpec = LIBRARY, controls: Controls = Controls(),
           description: str = "") -> Curriculum:
    """The ladder with stage budgets in multiples of ``unit`` env steps: ``rungs`` units per
    childhood stage, and ``adult_units`` for the ``adult`` task (default: as many as all of
    childhood, half the budget)."""
    stages = tuple(Stage(kind, tasks=kind, env_steps=n * unit) for kind, n in rungs.items())
    childhood = sum(rungs.values())
    adult_units = childhood if adult_units is None else adult_units
    return Curriculum(
        name="playroom_ladder",
        description=description or __doc__.splitlines()[0],
        env=f"Playroom-{adult.title()}-v0",
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


CURRICULUM = ladder(2 * EVERY)  # 16.8M env steps per arm, 10 seeds

# The newcomer's study for a 2-core CPU, minutes from a fresh clone: a short ladder (turn ->
# step -> goto) whose adult task, pickup, direct PPO learns within the budget (pilots:
# ../shared/pilots.md, docs/baselines.md), so the arms are visibly apart. Two childhood arms
# (route: a module per stage; chain: an anchor to each stage's starting policy + ES-mixed
# modules) and the order control curriculum/mixed; the other controls and the UED arms are off
# to stay within 4 minutes from a fresh clone (direct+route and direct+chain train exactly as
# direct here: both methods act only at stage starts). Every managed arm shares one compiled
# program and every other arm another. Far too few seeds for a claim: the report says so.
QUICK_LEARNER = LEARNER.replace(num_envs=32, num_steps=32)
QUICK_UNIT = 16 * 32 * 32  # 16 updates of 32 envs x 32 steps
PRESETS = {
    "quick": ladder(  # 196,608 env steps per arm: 65,536 of childhood, 131,072 of pickup
        QUICK_UNIT, rungs={"turn": 1, "step": 1, "goto": 2}, adult="pickup", adult_units=8,
        learner=QUICK_LEARNER, every=QUICK_UNIT, episodes=16, seeds=3,
        methods={"route": METHODS["route"], "chain": METHODS["chain"]},
        library=LIBRARY.replace(slots=4, tasks=4, memory_size=0),
        controls=Controls(manager_alone=False, shuffled=False, capacity=False, shrink_perturb=False, ued=False),
        description="playroom_ladder, quick preset: turn -> step -> goto, then pickup; a demonstration, not a result",
    ),
}
