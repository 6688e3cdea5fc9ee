"""Curricula: validation names the bad field before anything compiles; modules are found by
name, by path and with presets."""

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
from bootstrap_rl.curriculum import Curriculum, Evaluation, Population, Stage
from bootstrap_rl.envs import playroom as pr
from bootstrap_rl.managers import identity
from bootstrap_rl.ppo import ConfigError, PPOConfig

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
        playroom(**changes)
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
    with pytest.raises(ConfigError, match="population.learning_rate"):
        Population(learning_rate=(0.0,))
    with pytest.raises(ConfigError, match="population.learning_rate: values must be distinct"):
        Population(learning_rate=(1e-3, 0.001))  # both would be named lr=0.001


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
               evaluation=Evaluation(every_env_steps=64), **stages(2, 2))
    with pytest.raises(ConfigError) as info:
        Curriculum(name="echo", env=Echo(), total_env_steps=128, learner=LEARNER,
                   evaluation=Evaluation(every_env_steps=64), **stages(2, 3))
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
    assert c.to_dict()["methods"] == ["noop"]
