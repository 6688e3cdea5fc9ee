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


# The hand-set schedule of "schedule", per stage kind: large step sizes and entropy while the
# tasks are simple, smaller toward the adult task.
SCHEDULE = {"turn": (1e-3, 0.02), "step": (1e-3, 0.02), "goto": (1e-3, 0.01), "pickup": (7e-4, 0.01),
            "unlock": (5e-4, 0.01), "treasure": (5e-4, 0.01)}


def methods(fit_updates: int = 256, decay: float = 0.99, kinds: tuple[str, ...] = (*RUNGS, "treasure"),
            population: bool = True) -> dict:
    """Childhood arms, one per management method (D:management_methods), and one chaining
    two of them. ``fit_updates``: adult updates that fit only the hypernetwork's new task
    embedding before its generated slot is fine-tuned (256: an eighth of the full study's
    adult stage, about 1M env steps, so task inference through the embedding has room to
    act before fine-tuning takes over). ``decay``: per update, of the distillation and
    anchor coefficients. ``kinds``: the stages' kinds, adult last (the schedule's values).
    ``population``: add ``pbt``, which trains 4 learners per seed on a quarter of the envs
    each (a program of its own)."""
    return {
        "hyper": meta_gradient(),  # per-slot step sizes and the entropy coefficient, online
        "route": routing(earlier_lr=0.0),  # a slot per stage, earlier ones frozen, learned router
        "distil": kickstarting(coef=1.0, decay=decay),  # adult: a fresh student taught by childhood's policy
        "generate": hypernetwork(slot=0, fit_updates=fit_updates),  # slot weights = H(task embedding)
        "memory": episodic_memory(writes_per_update=64),  # written in childhood, read always
        # Configuration switching: each stage is anchored to the policy built so far and
        # starts from a new slot mixed, by an evolution strategy, from the slots trained so far
        # (8 x 6 scored rollouts per stage start, outside the budget and reported).
        "chain": chain(anchor(coef=1.0, decay=decay), mixing()),
        # Distral: a task policy per stage (slot = stage index; the adult shares the last
        # childhood stage's, the library having a slot per stage and the shared policy in the
        # last), each regularised toward, and distilled into, one shared policy.
        "distral": distral(coef=0.5, distil_coef=1.0),
        # The hand-set baseline for "hyper": a step size and entropy per stage (SCHEDULE).
        "schedule": stage_schedule(learning_rate=tuple(SCHEDULE[kind][0] for kind in kinds),
                                   ent_coef=tuple(SCHEDULE[kind][1] for kind in kinds)),
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

# The CPU flagship: the first study meant for a claim, sized for the 2-core CPU (at most 90
# minutes, 10 seeds, every childhood arm, every control and the UED arms). The ladder stops
# at pickup and the adult task is unlock: fetch the key, open the door — childhood's skills
# composed. Treasure, the full study's adult task, sits at the floor at any CPU budget
# (docs/baselines.md). Calibration (the only knob moved is the budget; step limits, grid and
# reward are the full study's): direct PPO on unlock with this learner, 10 seeds, reached an
# IQM success of 0.35 at 131,072 env steps and 0.69 at 163,840, then levelled off near 0.85
# (a 64-step limit instead of 128 changed nothing), so a budget of 147,456 env steps puts
# direct between floor and ceiling — the regime where a head start or a handicap shows.
# Every arm has 147,456 env steps; a childhood arm spends half on turn -> step -> goto ->
# pickup and half on unlock.
CPU_UNIT = 8 * 32 * 32  # 8 updates of 32 envs x 32 steps
CPU_RUNGS = {"turn": 1, "step": 1, "goto": 2, "pickup": 5}
# An eighth of the 72 adult updates fit the hypernetwork's embedding alone; the distillation
# and anchor coefficients halve in about 14 updates (0.99 would leave half at the adult end).
CPU_METHODS = methods(fit_updates=9, decay=0.95, kinds=(*CPU_RUNGS, "unlock"))


PRESETS = {
    "cpu": ladder(
        CPU_UNIT, rungs=CPU_RUNGS, adult="unlock", learner=QUICK_LEARNER, every=CPU_UNIT, episodes=32,
        seeds=10, methods=CPU_METHODS,
        library=LIBRARY.replace(slots=len(CPU_RUNGS) + 1, tasks=len(CPU_RUNGS) + 1, memory_size=256),
        description="playroom_ladder, CPU flagship: turn -> step -> goto -> pickup, then unlock; 10 seeds",
    ),
    "quick": ladder(  # 196,608 env steps per arm: 65,536 of childhood, 131,072 of pickup
        QUICK_UNIT, rungs={"turn": 1, "step": 1, "goto": 2}, adult="pickup", adult_units=8,
        learner=QUICK_LEARNER, every=QUICK_UNIT, episodes=16, seeds=3,
        methods={"route": METHODS["route"], "chain": METHODS["chain"]},
        library=LIBRARY.replace(slots=4, tasks=4, memory_size=0),
        controls=Controls(manager_alone=False, shuffled=False, capacity=False, shrink_perturb=False, ued=False),
        description="playroom_ladder, quick preset: turn -> step -> goto, then pickup; a demonstration, not a result",
    ),
}
