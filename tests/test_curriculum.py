"""Curricula: construction checks fields in pure Python, ``validate()`` checks the env and the
tasks, errors name the bad field before anything else compiles; modules are found by name, by
path and with presets."""

import contextlib
import json
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import pytest
from flax import struct
from gymnax.environments import environment, spaces
from jax.tree_util import Partial

from bootstrap_rl import curriculum as cu
from bootstrap_rl.curriculum import Curriculum, Evaluation, ProdigyGrid, Stage
from bootstrap_rl.envs import playroom as pr
from bootstrap_rl.family import TaskFamily
from bootstrap_rl.managers import identity
from bootstrap_rl.ppo import ConfigError, PPOConfig

pytestmark = pytest.mark.usefixtures("quick_compiles")  # compiling is what these tests cost

LEARNER = PPOConfig(num_envs=4, num_steps=16, anneal_lr=False)  # 64 transitions per update


def playroom(**changes):
    spec = dict(
        name="tiny", env="Playroom-Treasure-v0",
        stages=(Stage("turn", "turn", 256), Stage("goto", {"goto": 1.0}, 256)),
        adult=Stage("treasure", "treasure", 512),
        total_env_steps=1024, learner=LEARNER, evaluation=Evaluation(every_env_steps=128),
    )
    spec.update(changes)
    return Curriculum(**spec)


def error_field(**changes) -> str:
    with pytest.raises(ConfigError) as info:
        playroom(**changes).validate()
    return info.value.field


def test_a_valid_curriculum_resolves_every_stage_to_one_sampler_function():
    c = playroom()
    assert [s.name for s in c.all_stages] == ["turn", "goto", "treasure"]
    samplers = [c.sampler(n) for n in ("turn", "goto", "treasure")]
    # One function, other data: stages share a compiled program.
    assert len({jax.tree.structure(s) for s in samplers}) == 1
    assert int(c.sampler("turn")(jax.random.PRNGKey(0)).task_kind) == 0
    assert c.episode_limit == 8  # turn's step limit is the shortest


@pytest.mark.parametrize("changes, field", [
    (dict(total_env_steps=2048), "total_env_steps"),
    (dict(evaluation=Evaluation(every_env_steps=100)), "evaluation.every_env_steps"),
    (dict(evaluation=Evaluation(every_env_steps=512)), "stages[0].env_steps"),
    (dict(stages=(Stage("turn", "turn", 256), Stage("turn", "goto", 256))), "stages[1].name"),
    (dict(stages=(Stage("turn", "jump", 256), Stage("goto", "goto", 256))), "stages[0].tasks"),
    (dict(adult=Stage("treasure", ["treasure", "fly"], 512)), "adult.tasks"),
    (dict(stages=(Stage("turn", "turn", 256, methods=("distil",)), Stage("goto", "goto", 256))),
     "stages[0].methods"),
    (dict(methods={"x": "not a manager"}), "methods['x']"),
    (dict(env="Playroom-Nope-v0"), "env"),
    (dict(learner=LEARNER.replace(anneal_lr=True)), "learner.anneal_lr"),
    (dict(adult=Stage("treasure", 3, 512)), "adult.tasks"),
])
def test_errors_name_the_field(changes, field):
    assert error_field(**changes) == field


def test_stages_must_share_one_sampler_function_and_data_shapes():
    other = Partial(lambda key, w: pr.task_distribution("goto")(key), w=jnp.ones(3))
    assert error_field(stages=(Stage("turn", "turn", 256), Stage("goto", other, 256))) == "stages[1].tasks"
    assert error_field(adult=Stage("treasure", Partial(pr._sample_from_kinds, weights=jnp.ones(3) / 3,
                                                       step_limits=jnp.ones(3, jnp.int32),
                                                       wall_range=jnp.asarray([4, 4]), size=jnp.asarray(9)),
                                   512)) == "adult.tasks"


def test_the_shortest_time_limit_is_exact_even_for_a_rare_kind():
    # 1% turn (8 steps) among treasure (256): 64 random draws would likely miss it.
    c = playroom(adult=Stage("treasure", {"treasure": 0.99, "turn": 0.01}, 512),
                 stages=(Stage("unlock", "unlock", 256), Stage("goto", "goto", 256)))
    assert c.episode_limit == 8


def test_stage_and_evaluation_fields_are_checked_at_construction():
    with pytest.raises(ConfigError, match="methods"):
        Stage("turn", "turn", 64, methods="marker")
    with pytest.raises(ConfigError, match="env_steps"):
        Stage("turn", "turn", 0)
    with pytest.raises(ConfigError, match="name"):
        Stage("two words", "turn", 64)
    with pytest.raises(ConfigError, match="evaluation.episodes"):
        Evaluation(every_env_steps=64, episodes=0)
    with pytest.raises(ConfigError, match="prodigy_grid.learning_rate"):
        ProdigyGrid(learning_rate=(0.0,))
    with pytest.raises(ConfigError, match="prodigy_grid.learning_rate: values must be distinct"):
        ProdigyGrid(learning_rate=(1e-3, 0.001))  # both would be named lr=0.001


def test_a_sampler_of_another_family_is_refused():
    from gymnax.environments.classic_control.cartpole import EnvParams

    wrong = Partial(lambda key: EnvParams())
    assert error_field(stages=(Stage("turn", wrong, 256), Stage("goto", "goto", 256))) == "stages[0].tasks"


# A family whose observation size follows its params: stages can disagree on spaces.
@struct.dataclass
class EchoParams(environment.EnvParams):
    target: jax.Array = struct.field(default_factory=lambda: jnp.zeros(2))
    max_steps_in_episode: int = 10


@struct.dataclass
class EchoState(environment.EnvState):
    pass


class Echo(environment.Environment):
    @property
    def default_params(self):
        return EchoParams()

    def reset_env(self, key, params):
        return params.target, EchoState(time=0)

    def step_env(self, key, state, action, params):
        state = EchoState(time=state.time + 1)
        return params.target, state, jnp.float32(0), jnp.bool_(False), {}

    def action_space(self, params=None):
        return spaces.Discrete(2)

    def observation_space(self, params):
        return spaces.Box(-1, 1, params.target.shape)


def echo_tasks(key, target):
    return EchoParams(target=target)


def test_mismatched_observation_spaces_between_stages_are_refused():
    # The observation is the target: stages with targets of other lengths cannot share a network.
    def stages(first, second):
        return dict(stages=(Stage("a", Partial(echo_tasks, target=jnp.zeros(first)), 64),),
                    adult=Stage("b", Partial(echo_tasks, target=jnp.zeros(second)), 64))

    Curriculum(name="echo", env=Echo(), total_env_steps=128, learner=LEARNER,
               evaluation=Evaluation(every_env_steps=64), **stages(2, 2)).validate()
    with pytest.raises(ConfigError) as info:
        Curriculum(name="echo", env=Echo(), total_env_steps=128, learner=LEARNER,
                   evaluation=Evaluation(every_env_steps=64), **stages(2, 3)).validate()
    assert info.value.field == "adult.tasks" and "(3,)" in str(info.value)


def test_shipped_curricula_load_by_name_with_presets():
    names = cu.available()
    assert {"playroom_ladder", "cartpole_physics"} <= set(names)
    ladder = cu.load("playroom_ladder")
    assert [s.name for s in ladder.all_stages] == ["turn", "step", "goto", "pickup", "unlock", "treasure"]
    assert ladder.seeds >= 10  # claims need >= 10 seeds; presets may use fewer
    quick = cu.load("playroom_ladder", "quick")
    assert quick.total_env_steps < ladder.total_env_steps
    physics = cu.load("cartpole_physics")
    easy, hard = (physics.sampler(n)(jax.random.PRNGKey(1)) for n in ("easy", "hard"))
    assert easy.gravity < hard.gravity and easy.length > hard.length
    assert float(hard.polemass_length) == pytest.approx(float(hard.masspole * hard.length))
    with pytest.raises(cu.UnknownCurriculumError, match="no preset 'huge'"):
        cu.load("playroom_ladder", "huge")
    with pytest.raises(cu.UnknownCurriculumError, match="not found"):
        cu.load("no_such_curriculum")


def test_a_curriculum_file_outside_the_repository_loads_by_path(tmp_path):
    path = tmp_path / "my_ladder.py"
    path.write_text(textwrap.dedent("""
        from bootstrap_rl.curriculum import Curriculum, Evaluation, Stage
        from bootstrap_rl.ppo import PPOConfig

        CURRICULUM = Curriculum(
            name="my_ladder", env="Playroom-Goto-v0",
            stages=(Stage("step", "step", 128),), adult=Stage("goto", "goto", 128),
            total_env_steps=256, learner=PPOConfig(num_envs=4, num_steps=16, anneal_lr=False),
            evaluation=Evaluation(every_env_steps=64),
        )
    """))
    c = cu.load(str(path))
    assert c.name == "my_ladder" and c.adult.name == "goto"
    # Loaded in another process (another hash salt), it describes itself the same way, so a
    # study of it can be resumed there.
    described = subprocess.run(
        [sys.executable, "-c", "import json, sys; from bootstrap_rl import curriculum as cu; "
         "print(json.dumps(cu.load(sys.argv[1]).to_dict(), sort_keys=True, default=str))", str(path)],
        capture_output=True, text=True, check=True).stdout
    assert json.loads(described) == json.loads(json.dumps(c.to_dict(), sort_keys=True, default=str))
    (tmp_path / "empty.py").write_text("X = 1\n")
    with pytest.raises(cu.UnknownCurriculumError, match="does not export CURRICULUM"):
        cu.load(str(tmp_path / "empty.py"))


def test_methods_are_managers():
    c = playroom(methods={"noop": identity()},
                 stages=(Stage("turn", "turn", 256, methods=("noop",)), Stage("goto", "goto", 256, methods=())))
    described = c.to_dict()
    assert described["methods"] == ["noop"]
    assert described["prodigy_grid"] is None and "population" not in described


# --- construction is pure Python; validate() checks the env and the tasks ---------------------


def _in_curriculum_code() -> bool:
    """Whether the innermost frame of the repository's own code (not JAX, not a third-party
    or standard module, not this test) on the stack is the curriculum package's."""
    import traceback
    from pathlib import Path

    root = Path(cu.__file__).resolve().parents[2]
    ours = [f.filename for f in traceback.extract_stack()
            if f.filename.startswith(str(root)) and "site-packages" not in f.filename and f.filename != __file__]
    return bool(ours) and ("bootstrap_rl/_curriculum/" in ours[-1] or ours[-1].endswith("bootstrap_rl/curriculum.py"))


@contextlib.contextmanager
def jax_traces():
    """Every trace and compile JAX reports inside the block, each with whether the
    curriculum's code caused it."""
    events = []

    def listen(name, seconds, **kwargs):
        if name.startswith("/jax/core/compile/"):
            events.append((name, _in_curriculum_code()))

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        yield events
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)


def test_constructing_a_curriculum_traces_and_compiles_nothing():
    samplers = [Partial(echo_tasks, target=jnp.zeros(2)) for _ in range(2)]  # data made outside
    with jax_traces() as events:
        c = playroom()
        playroom(total_env_steps=None, stages=(Stage("turn", "turn", intervals=2), Stage("goto", "goto", 256)))
        c.replace(seeds=3)
        cu.describe(c)
        Curriculum(name="echo", env=Echo(), stages=(Stage("a", samplers[0], 64),), adult=Stage("b", samplers[1], 64),
                   learner=LEARNER, evaluation=Evaluation(every_env_steps=64))
        # A bad task spec and an unknown env are the family's to judge: construction accepts them.
        playroom(stages=(Stage("turn", "jump", 256), Stage("goto", "goto", 256)), env="Playroom-Nope-v0")
    assert events == []
    with jax_traces() as events:
        assert c.validate() is c and c.episode_limit == 8
    assert any(ours for _, ours in events)  # the listener sees validate()'s traces


def test_loading_every_curriculum_and_preset_traces_nothing_in_the_curriculum_code(monkeypatch):
    # Importing a curriculum module may trace in code it calls (a manager building its
    # constants, say); the curriculum machinery itself must not, for any curriculum or preset.
    for name in ("playroom_ladder", "limbs_ladder", "cartpole_physics"):
        monkeypatch.delitem(sys.modules, f"bootstrap_rl.curricula.{name}", raising=False)  # imported anew
    from bootstrap_rl._curriculum import tasks

    monkeypatch.setattr(tasks, "resolve", lambda curriculum: pytest.fail(f"{curriculum.name} validated on load"))
    with jax_traces() as events:
        for name in ("playroom_ladder", "limbs_ladder", "cartpole_physics"):
            cu.load(name)
            for preset in cu.presets(name):
                cu.load(name, preset)
    assert [name for name, ours in events if ours] == []


@pytest.mark.parametrize("changes, field", [
    (dict(stages=(Stage("turn", "jump", 256), Stage("goto", "goto", 256))), "stages[0].tasks"),
    (dict(adult=Stage("treasure", ["treasure", "fly"], 512)), "adult.tasks"),
    (dict(env="Playroom-Nope-v0"), "env"),
])
def test_bad_tasks_fail_in_validate_and_in_every_view_that_needs_them(changes, field):
    c = playroom(**changes)  # construction does not look at the env
    for use in (c.validate, c.validate, lambda: c.sampler("turn"), lambda: c.episode_limit, c.to_dict,
                lambda: c.family):
        with pytest.raises(ConfigError) as info:
            use()
        assert info.value.field == field


def test_validation_is_cached_and_a_replaced_copy_validates_again():
    c = playroom()
    sampler = c.sampler("goto")  # validates on first use
    assert c.validate().sampler("goto") is sampler and c.family is c.family
    copy = c.replace(seeds=3)
    assert "_resolved" not in copy.__dict__ and copy.sampler("goto") is not sampler


# --- budgets in evaluation intervals, a derived total ------------------------------------------


def test_a_derived_total_is_the_sum_of_the_stages_budgets():
    derived = playroom(total_env_steps=None)
    assert derived.total_env_steps == 256 + 256 + 512
    assert derived == playroom()
    assert error_of(lambda: playroom(total_env_steps=None, evaluation=None)) == "evaluation"


def test_stage_budgets_in_evaluation_intervals():
    c = playroom(stages=(Stage("turn", "turn", intervals=2), Stage("goto", {"goto": 1.0}, intervals=2)),
                 adult=Stage("treasure", "treasure", intervals=4), total_env_steps=None)
    assert [s.env_steps for s in c.all_stages] == [256, 256, 512] and c.total_env_steps == 1024
    assert c == playroom()  # same stages, budgets and total as when given in env steps
    # replace() re-resolves what was derived: the intervals of a new evaluation, the total.
    half = c.replace(evaluation=Evaluation(every_env_steps=64))
    assert [s.env_steps for s in half.all_stages] == [128, 128, 256] and half.total_env_steps == 512
    assert c.replace(stages=c.stages[:1]).total_env_steps == 256 + 512
    assert error_of(lambda: c.replace(total_env_steps=2048)) == "total_env_steps"


@pytest.mark.parametrize("make, field", [
    (lambda: Stage("turn", "turn", 256, intervals=2), "stage 'turn': intervals"),
    (lambda: Stage("turn", "turn"), "stage 'turn': env_steps"),
    (lambda: Stage("turn", "turn", intervals=0), "stage 'turn': intervals"),
    (lambda: playroom(stages=(Stage("turn", "turn", intervals=2), Stage("goto", "goto", 256)), evaluation=None),
     "evaluation"),
])
def test_a_stage_budget_is_env_steps_or_intervals(make, field):
    assert error_of(make) == field


# --- the task-family contract ------------------------------------------------------------------


class EchoFamily(Echo, TaskFamily):
    """Echo as a TaskFamily: a spec is the target's length; it knows its time limit exactly."""

    def task_distribution(self, spec, **kwargs):
        if spec not in ("two", "three"):
            raise ValueError(f"unknown spec {spec!r}")
        return Partial(echo_tasks, target=jnp.zeros({"two": 2, "three": 3}[spec]))

    def shortest_episode(self, distribution):
        return 7

    def validate_params(self, params):
        if jnp.any(params.target != 0):
            raise ValueError("target: must be zero")
        return params


def echo(env, first, second="two") -> Curriculum:
    return Curriculum(name="echo", env=env, stages=(Stage("a", first, 64),), adult=Stage("b", second, 64),
                      learner=LEARNER, evaluation=Evaluation(every_env_steps=64))


def test_a_task_family_turns_specs_into_samplers_through_its_hooks():
    c = echo(EchoFamily(), "two").validate()
    assert c.episode_limit == 7  # the family's shortest_episode, not the draws' 10
    assert c.sampler("a")(jax.random.PRNGKey(0)).target.shape == (2,)
    assert error_of(lambda: echo(EchoFamily(), "four").validate()) == "stages[0].tasks"
    ones = Partial(echo_tasks, target=jnp.ones(2))
    assert error_of(lambda: echo(EchoFamily(), ones).validate()) == "stages[0].tasks"  # validate_params


def test_a_plain_gymnax_environment_takes_samplers_but_not_specs():
    c = echo(Echo(), Partial(echo_tasks, target=jnp.zeros(2)), Partial(echo_tasks, target=jnp.zeros(2))).validate()
    assert c.episode_limit == 10  # estimated from the draws
    assert error_of(lambda: echo(Echo(), "two").validate()) == "stages[0].tasks"


def error_of(make) -> str:
    with pytest.raises(ConfigError) as info:
        make()
    return info.value.field


# --- the deprecated Population name ------------------------------------------------------------


def test_population_is_a_deprecated_name_of_prodigy_grid():
    grid = ProdigyGrid(learning_rate=(1e-3, 3e-4))
    with pytest.warns(DeprecationWarning, match="ProdigyGrid"):
        from bootstrap_rl.curriculum import Population
    assert Population is ProdigyGrid
    with pytest.warns(DeprecationWarning, match="prodigy_grid"):
        c = playroom(population=grid)
    assert c.prodigy_grid is grid and c == playroom(prodigy_grid=grid)
    with pytest.warns(DeprecationWarning):
        assert c.population is grid
    with pytest.warns(DeprecationWarning):
        assert c.replace(population=None).prodigy_grid is None
