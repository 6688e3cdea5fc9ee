"""Automatic curricula (docs/ued.md): the level buffer's replay distribution by hand, ACCEL's
mutations stay valid levels, PLR concentrates on learnable-but-unsolved levels of a planted
toy, a UED learner spends exactly direct's env steps, and an interrupted UED study resumes to the
same table."""

import json
import textwrap
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from flax import struct
from gymnax.environments import environment, spaces

from bootstrap_rl import checkpoint, curriculum as cu, study
from bootstrap_rl.study import driver
from bootstrap_rl.study.plan import expand_runs
from bootstrap_rl.ppo import PPOConfig, make_ppo
from bootstrap_rl.ued import levels as lv
from bootstrap_rl.ued.config import UED_KINDS, UEDConfig
from bootstrap_rl.ued.env import LevelEnv
from bootstrap_rl.ued.learner import level_scores, make_ued
from bootstrap_rl.validation import ConfigError

pytestmark = pytest.mark.usefixtures("quick_compiles")  # compiling is what these tests cost


# --- the level buffer, by hand -----------------------------------------------------------------


def buffer_of(scores, timestamps, episode_count, capacity=5):
    """A buffer whose first len(scores) slots are filled (levels: their slot numbers)."""
    size = len(scores)
    level = lv.Level(task=jnp.int32(0), seed=jnp.zeros(2, jnp.uint32))
    buffer = lv.empty_buffer(level, capacity)
    return buffer.replace(
        levels=buffer.levels.replace(task=jnp.arange(capacity, dtype=jnp.int32)),
        scores=buffer.scores.at[:size].set(jnp.asarray(scores, jnp.float32)),
        timestamps=buffer.timestamps.at[:size].set(jnp.asarray(timestamps, jnp.int32)),
        size=jnp.int32(size), episode_count=jnp.int32(episode_count))


# Scores 0.5, 2.0, 1.0, 0.1 rank 3, 1, 2, 4; last sampled at episodes 2, 9, 5, 10 of 10.
SCORES, STAMPS, COUNT = [0.5, 2.0, 1.0, 0.1], [2, 9, 5, 10], 10


def test_rank_prioritisation_with_temperature_by_hand():
    buffer = buffer_of(SCORES, STAMPS, COUNT)
    # h = 1/rank = 1/3, 1, 1/2, 1/4; beta = 0.5: h^2 = 1/9, 1, 1/4, 1/16 (sum 205/144); slot 4 empty.
    expected = [Fraction(16, 205), Fraction(144, 205), Fraction(36, 205), Fraction(9, 205), 0]
    np.testing.assert_allclose(lv.score_weights(buffer, 0.5), [float(p) for p in expected], rtol=1e-6)
    # beta = 1: proportional to 1/rank (sum 25/12).
    expected = [Fraction(4, 25), Fraction(12, 25), Fraction(6, 25), Fraction(3, 25), 0]
    np.testing.assert_allclose(lv.score_weights(buffer, 1.0), [float(p) for p in expected], rtol=1e-6)


def test_staleness_and_the_mix_by_hand():
    buffer = buffer_of(SCORES, STAMPS, COUNT)
    # c - C_i = 8, 1, 5, 0 (sum 14).
    staleness = [Fraction(8, 14), Fraction(1, 14), Fraction(5, 14), 0, 0]
    np.testing.assert_allclose(lv.staleness_weights(buffer), [float(p) for p in staleness], rtol=1e-6)
    by_score = [Fraction(16, 205), Fraction(144, 205), Fraction(36, 205), Fraction(9, 205), 0]
    rho = Fraction(1, 4)
    mixed = [(1 - rho) * s + rho * c for s, c in zip(by_score, staleness)]
    np.testing.assert_allclose(lv.replay_weights(buffer, 0.5, 0.25), [float(p) for p in mixed], rtol=1e-6)
    # None stale: staleness is uniform over the filled slots.
    fresh = buffer_of(SCORES, [COUNT] * 4, COUNT)
    np.testing.assert_allclose(lv.staleness_weights(fresh), [0.25, 0.25, 0.25, 0.25, 0.0])


def test_replay_draws_follow_the_distribution_and_count_episodes():
    buffer = buffer_of(SCORES, STAMPS, COUNT)
    # rho = 0: the score weights do not move between draws, so draws are i.i.d. from P_S.
    after, slots, drawn = lv.sample_replay(buffer, jax.random.PRNGKey(0), 20_000, 0.5, 0.0)
    frequency = np.bincount(np.asarray(slots), minlength=5) / 20_000
    np.testing.assert_allclose(frequency, [16 / 205, 144 / 205, 36 / 205, 9 / 205, 0], atol=0.01)
    np.testing.assert_array_equal(drawn.task, slots)  # the levels of the slots drawn
    assert int(after.episode_count) == COUNT + 20_000
    last = {int(s): i for i, s in enumerate(np.asarray(slots))}  # each slot stamped with its last draw
    for slot, i in last.items():
        assert int(after.timestamps[slot]) == COUNT + i + 1


def test_insertion_fills_then_replaces_the_lowest_weighted_level_only_if_it_scores_higher():
    level = lv.Level(task=jnp.int32(-1), seed=jnp.zeros(2, jnp.uint32))
    buffer = lv.empty_buffer(level, 3)
    offer = lambda b, tasks, scores: lv.insert_levels(
        b, lv.Level(task=jnp.asarray(tasks, jnp.int32), seed=jnp.zeros((len(tasks), 2), jnp.uint32)),
        jnp.asarray(scores, jnp.float32), 1.0, 0.0)
    buffer = offer(buffer, [10, 11, 12], [0.3, 0.1, 0.2])  # best first into the free slots
    np.testing.assert_array_equal(buffer.levels.task, [10, 12, 11])
    np.testing.assert_allclose(buffer.scores, [0.3, 0.2, 0.1])
    np.testing.assert_array_equal(buffer.timestamps, [1, 3, 2])  # the count when each was offered
    assert int(buffer.size) == 3 and int(buffer.episode_count) == 3
    # Full, rho = 0: weights rank the scores; the best offer (0.5) meets the lowest-weighted
    # level (slot 2, 0.1) and replaces it; the next (0.15) meets slot 1 (0.2) and is kept out.
    buffer = offer(buffer, [13, 14], [0.15, 0.5])
    np.testing.assert_array_equal(buffer.levels.task, [10, 12, 14])
    np.testing.assert_allclose(buffer.scores, [0.3, 0.2, 0.5])
    assert int(buffer.episode_count) == 5 and int(buffer.timestamps[2]) == 5 and int(buffer.size) == 3
    # A level scoring above the lowest weighted one only: 0.25 replaces slot 1 (0.2).
    buffer = offer(buffer, [15], [0.25])
    np.testing.assert_array_equal(buffer.levels.task, [10, 15, 14])


def test_rescoring_a_slot_drawn_twice_keeps_its_last_score():
    buffer = buffer_of(SCORES, STAMPS, COUNT)
    buffer = lv.update_scores(buffer, jnp.asarray([2, 0, 2]), jnp.asarray([7.0, 8.0, 9.0]))
    np.testing.assert_allclose(buffer.scores[:4], [8.0, 2.0, 9.0, 0.1])


def test_ued_settings_are_checked():
    with pytest.raises(ConfigError, match="ued_config.temperature"):
        UEDConfig(temperature=0.0)
    with pytest.raises(ConfigError, match="ued_config.replay_prob"):
        UEDConfig(replay_prob=1.5)
    with pytest.raises(ConfigError, match="controls.ued"):
        cu.Controls(ued=("plr", "poet"))
    assert cu.Controls.none().ued is False


# --- ACCEL: mutations stay valid levels -----------------------------------------------------------


def test_playroom_mutations_stay_valid_levels_of_their_kind():
    from bootstrap_rl.envs.playroom import TASK_KINDS, Playroom

    family = Playroom(size=11)  # room for the wall to move (a 9 x 9 grid has one wall position)
    sampler = family.task_distribution(list(TASK_KINDS))
    keys = jax.random.split(jax.random.PRNGKey(3), 512)
    tasks = jax.vmap(sampler)(keys)
    seeds = jax.random.split(jax.random.PRNGKey(4), 512)

    def mutate_many(key, task, seed):  # 12 edits in a row: far from the drawn level
        def once(level, key):
            return family.mutate_level(key, *level), None
        return jax.lax.scan(once, (task, seed), jax.random.split(key, 12))[0]

    mutated, new_seeds = jax.jit(jax.vmap(mutate_many))(jax.random.split(jax.random.PRNGKey(5), 512), tasks, seeds)
    family.validate_params(mutated)  # raises ValueError naming the field if any is invalid
    for name in ("task_kind", "max_steps_in_episode", "target_colour", "target_type", "door_colour"):
        np.testing.assert_array_equal(getattr(mutated, name), getattr(tasks, name))  # the task stays its kind
    changed = {name: float(np.mean(np.asarray(getattr(mutated, name)) != np.asarray(getattr(tasks, name))))
               for name in ("num_distractors", "wall_pos", "door_pos", "wall_axis")}
    assert all(share > 0.2 for share in changed.values()), changed
    assert np.mean(np.any(np.asarray(new_seeds) != np.asarray(seeds), axis=1)) > 0.5
    # Mutated levels reset and step like any level of the family.
    obs, state = jax.vmap(family.reset_env)(new_seeds, mutated)
    assert obs.shape == (512, family.obs_size) and np.isfinite(np.asarray(obs)).all()


# --- a planted toy: levels that differ in learnability by construction ----------------------------


@struct.dataclass
class ToyParams(environment.EnvParams):
    kind: jax.Array = 0  # 0: unlearnable (never pays), 1: solved (always pays), 2: learnable (pays for the cue)
    max_steps_in_episode: jax.Array = 1


@struct.dataclass
class ToyState(environment.EnvState):
    cue: jax.Array = 0


TOY_KINDS = 3


class Toy(environment.Environment):
    """One-step levels: the observation shows the level's kind and a cue (from the layout
    seed); reward 1 for any action (solved), for the cue's action (learnable) or never
    (unlearnable). Positive value loss stays high only where the policy can still improve."""

    def __init__(self, counted: bool = False):
        super().__init__()
        self.counted = counted  # adds each step call's env steps to COUNTER, while a test counts

    @property
    def default_params(self):
        return ToyParams()

    def reset_env(self, key, params):
        state = ToyState(time=0, cue=jax.random.randint(key, (), 0, 4))
        return self.get_obs(state, params), state

    def step_env(self, key, state, action, params):
        reward = jnp.where(params.kind == 1, 1.0, jnp.where(params.kind == 2, (action == state.cue) * 1.0, 0.0))
        state = state.replace(time=state.time + 1)
        if self.counted:  # (a callback per step costs: 5 s over the 160 updates of the PLR test)
            jax.debug.callback(count_steps, action)
        return self.get_obs(state, params), state, reward, jnp.bool_(True), {}

    def get_obs(self, state, params, key=None):
        return jnp.concatenate([jax.nn.one_hot(params.kind, TOY_KINDS), jax.nn.one_hot(state.cue, 4)])

    def is_terminal(self, state, params):
        return jnp.bool_(True)

    def action_space(self, params=None):
        return spaces.Discrete(4)

    def observation_space(self, params=None):
        return spaces.Box(0.0, 1.0, (TOY_KINDS + 4,), jnp.float32)


COUNTER = None  # the env steps of each step call, while a test counts them


def count_steps(action):
    if COUNTER is not None:
        # Appending is atomic; a read-add-write is not, and XLA may run callbacks of a batch's
        # parts on two threads at once (it lost 8 of 384 steps that way).
        COUNTER.append(np.size(action))


def toy_sampler(key):
    return ToyParams(kind=jax.random.randint(key, (), 0, TOY_KINDS), max_steps_in_episode=jnp.int32(1))


TOY_LEARNER = PPOConfig(num_envs=16, num_steps=4, update_epochs=2, num_minibatches=2, learning_rate=3e-3,
                        anneal_lr=False, hidden_sizes=(32,), total_timesteps=16 * 4 * 100)


def toy_learner(kind, config: UEDConfig, counted: bool = False):
    """A UED learner of ``kind`` on the toy: its index into ``UED_KINDS``, or a traced one."""
    env = LevelEnv(Toy(counted), jax.tree_util.Partial(toy_sampler))
    ppo = make_ppo(TOY_LEARNER, env, env.sampler, manager=level_scores(TOY_LEARNER.num_steps, TOY_LEARNER.num_envs))
    return make_ued(ppo, env, config, kind, (True, False))


def on_stage(learner, state):
    from bootstrap_rl.managers import StageStart

    return learner.start_stage(state, StageStart(jnp.int32(0), jnp.bool_(False), None))


# The kind is data (as in a study, where the three automatic curricula share one program): one
# compiled init and one compiled update serve every kind at this setting (16 levels per update:
# the buffer is full after two updates of new levels, and every later update replays).
FILLS_IN_TWO = UEDConfig(capacity=32, min_fill=1.0, replay_prob=1.0)


@jax.jit
def start_toy(kind, key):
    learner = toy_learner(kind, FILLS_IN_TWO, counted=True)
    return on_stage(learner, learner.init(key))


update_toy = jax.jit(lambda kind, state: toy_learner(kind, FILLS_IN_TWO, counted=True).update(state))


def test_plr_buffer_concentrates_on_learnable_unsolved_levels():
    config = UEDConfig(capacity=24, replay_prob=0.7, temperature=0.3, staleness_coeff=0.1, min_fill=0.5)
    learner = toy_learner(UED_KINDS.index("plr"), config)

    @jax.jit
    def run(key):
        state = on_stage(learner, learner.init(key))
        return jax.lax.scan(lambda s, _: learner.update(s), state, None, 160)[0]

    state = jax.vmap(run)(jax.random.split(jax.random.PRNGKey(0), 3))
    kinds = np.asarray(state.buffer.levels.task.kind)  # [seeds, capacity]
    filled = np.arange(config.capacity)[None] < np.asarray(state.buffer.size)[:, None]
    share = {k: (kinds[filled] == k).mean() for k in range(TOY_KINDS)}
    # New levels are a third of each kind; the buffer keeps the learnable ones (measured on
    # seeds 0-2 after 160 updates: 0.62 learnable, 0.15 unlearnable, 0.22 solved).
    assert share[2] > 0.5 and share[2] > 2 * max(share[0], share[1]), share
    replay = np.asarray(jax.vmap(lambda b: lv.replay_weights(b, config.temperature, config.staleness_coeff))(
        state.buffer))
    assert (replay * (kinds == 2)).sum(axis=1).mean() > 0.5


def test_a_ued_learner_spends_exactly_direct_env_steps():
    global COUNTER
    updates = 6
    env = LevelEnv(Toy(counted=True), jax.tree_util.Partial(toy_sampler))
    direct = make_ppo(TOY_LEARNER, env, env.sampler)
    counts = {}

    def counted(state):
        jax.block_until_ready(state)
        jax.effects_barrier()  # unordered debug callbacks may still be running after the state is ready
        return sum(COUNTER)

    try:
        COUNTER = []
        state = jax.jit(lambda key: jax.lax.scan(lambda s, _: direct.update(s), direct.init(key), None, updates)[0])(
            jax.random.PRNGKey(1))
        counts["direct"] = counted(state)
        for kind, name in enumerate(UED_KINDS):  # new levels, then replays (and ACCEL's mutations)
            COUNTER, state = [], start_toy(kind, jax.random.PRNGKey(1))
            for _ in range(updates):
                state, _ = update_toy(kind, state)
            counts[name] = counted(state)
            # Updates 1-2 draw new levels, then PLR replays; ACCEL alternates replays and mutations.
            assert int(state.mode) == {"dr": 0, "plr": 1, "accel": 2}[name], name
    finally:
        COUNTER = None
    assert counts == dict.fromkeys(counts, updates * TOY_LEARNER.num_envs * TOY_LEARNER.num_steps), counts


# --- a study: the arms, their budget and a kill-and-resume ---------------------------------------

TINY = textwrap.dedent('''
    """A tiny Playroom ladder with the automatic curricula: 4 envs x 16 steps per update."""
    from bootstrap_rl.curriculum import Controls, Curriculum, Evaluation, Stage, UEDConfig
    from bootstrap_rl.ppo import PPOConfig

    CURRICULUM = Curriculum(
        name="tiny_ued", env="Playroom-Goto-v0",
        stages=(Stage("turn", "turn", env_steps=256), Stage("step", "step", env_steps=256)),
        adult=Stage("goto", "goto", env_steps=256), total_env_steps=768,
        learner=PPOConfig(num_envs=4, num_steps=16, update_epochs=1, num_minibatches=2, anneal_lr=False,
                          hidden_sizes=(16,)),
        evaluation=Evaluation(every_env_steps=128, episodes=4, probe_observations=32),
        controls=Controls.none().replace(ued=("accel",), ued_config=UEDConfig(capacity=8, min_fill=0.25)),
        seeds=2,
    )
''')


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("outside_repo") / "tiny_ued.py"
    path.write_text(TINY)
    return path


def direct_and_ued_arms(curriculum):
    """The study's UED arm beside ``direct`` (the plain learner's program, sharing evaluation
    programs with it); curriculum and direct_adult_steps are that program again."""
    return [run for run in expand_runs(curriculum) if run.kind in ("direct", "ued")]


@pytest.fixture(scope="module")
def tiny(tiny_file):
    """The curriculum, loaded once: a second study on it in this process reuses its programs."""
    return cu.load(str(tiny_file))


@pytest.fixture(scope="module")
def finished(tmp_path_factory, tiny):
    out = tmp_path_factory.mktemp("study") / "tiny"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(driver, "expand_runs", direct_and_ued_arms)
        study.run_study(tiny, out, root_seed=7, keep_programs=True, log=lambda line: None)
    return out


def test_the_playroom_ladder_plans_the_three_automatic_curricula():
    from bootstrap_rl.study.plan import UED_STAGE, expand_runs, program_key

    curriculum = cu.load("playroom_ladder")
    runs = {run.arms[0]: run for run in expand_runs(curriculum)}
    childhood = sum(s.env_steps for s in curriculum.stages)
    for kind in UED_KINDS:
        run = runs[f"ued/{kind}"]
        assert run.kind == "ued" and run.budget == curriculum.total_env_steps
        assert run.schedule == ((UED_STAGE, childhood), (curriculum.adult.name, curriculum.adult.env_steps))
        assert dict(run.mixtures)[UED_STAGE] == tuple((s.name, 1.0) for s in curriculum.stages)
    keys = {program_key(curriculum, runs[f"ued/{kind}"]) for kind in UED_KINDS}
    assert len(keys) == 1 and keys.isdisjoint({program_key(curriculum, runs["direct"])})
    assert not [r for r in expand_runs(curriculum.replace(controls=cu.Controls(ued=False))) if r.kind == "ued"]


def test_a_ued_arm_spends_direct_budget_and_checkpoints_its_levels(finished):
    table = pd.read_csv(finished / "results.csv")
    steps = table[table.split == "train"].groupby("arm").env_steps.max()
    assert steps["ued/accel"] == steps["direct"] == 768
    assert set(table[table.arm == "ued/accel"].stage) == {"childhood_ued", "goto"}
    levels = checkpoint.restore(finished / "checkpoints" / "ued-accel" / "levels" / "0_childhood_ued")
    assert np.asarray(levels.size if hasattr(levels, "size") else levels["size"]).min() > 0


class Interrupted(Exception):
    """A study stopped mid-run (in this process: no compile beyond what ``finished`` did)."""


def test_an_interrupted_ued_study_resumes_to_the_same_table(finished, tiny, tmp_path, monkeypatch):
    """Stopped mid-childhood with the level buffer filled, then resumed: the table of an
    uninterrupted study. The study keeps nothing in memory across the stop (it writes its resume
    state at each point, ``checkpoint_seconds=0``); ``test_study.py`` kills a study's process
    outright (SIGKILL) for the same check."""
    from bootstrap_rl.study.storage import PartWriter

    out = tmp_path / "interrupted"
    write = PartWriter.write

    def write_then_stop(self, point, rows):
        write(self, point, rows)
        if self.run.slug == "ued-accel" and point == 3:  # mid-childhood (points 1-4), buffer filled
            raise Interrupted

    monkeypatch.setattr(driver, "expand_runs", direct_and_ued_arms)
    monkeypatch.setattr(PartWriter, "write", write_then_stop)
    with pytest.raises(Interrupted):
        study.run_study(tiny, out, root_seed=7, checkpoint_seconds=0, keep_programs=True, log=lambda line: None)
    assert (out / "resume" / "ued-accel.npz").exists()
    monkeypatch.setattr(PartWriter, "write", write)

    study.run_study(tiny, out, root_seed=7, resume=True, keep_programs=True, log=lambda line: None)
    # Its programs were the curriculum object's, from the first study: nothing compiled again.
    first, resumed = (json.loads((path / "timing" / "ued-accel.json").read_text()) for path in (finished, out))
    assert resumed["persistent_cache_hits"] == 0 and resumed["compile_s"] < 0.1 * first["compile_s"], resumed

    def ordered(path):
        t = pd.read_csv(path)
        return t.sort_values(list(study.TABLE_COLUMNS[:-1])).reset_index(drop=True)

    pd.testing.assert_frame_equal(ordered(out / "results.csv"), ordered(finished / "results.csv"), check_exact=True)


def test_robust_plr_trains_only_on_replayed_levels_and_dr_on_every_level():
    for name, trains_on_new in (("plr", False), ("accel", False), ("dr", True)):
        kind = UED_KINDS.index(name)
        state = start_toy(kind, jax.random.PRNGKey(2))
        for update in range(3):
            before = state.params
            state, _ = update_toy(kind, state)
            changed = any(bool(jnp.any(a != b)) for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(state.params)))
            replayed = name != "dr" and update == 2  # the buffer is full after two updates of new levels
            assert changed == (trains_on_new or replayed), (name, update)
            assert int(state.mode) == (1 if replayed else 0)
        assert int(state.buffer.size) == (0 if name == "dr" else FILLS_IN_TWO.capacity)
