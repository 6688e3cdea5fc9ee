"""``--set key=value``: a curriculum's fields changed by dotted path, parsed with the field's
type and checked by the same construction as the module's own values. Nothing here compiles."""

from __future__ import annotations

import dataclasses
import textwrap

import pytest

from bootstrap_rl import api
from bootstrap_rl._curriculum.overrides import OverrideError, apply_overrides, overrides_of
from bootstrap_rl.curriculum import Curriculum, Evaluation, ProdigyGrid, Stage
from bootstrap_rl.ppo import PPOConfig
from bootstrap_rl.validation import ConfigError

MODULE = textwrap.dedent('''
    from bootstrap_rl.curriculum import Curriculum, Evaluation, Stage
    from bootstrap_rl.ppo import PPOConfig

    CURRICULUM = Curriculum(
        name="written",
        env="CartPole-v1",
        stages=(Stage("crawl", tasks="a", intervals=2), Stage("walk", tasks="b", env_steps=256)),
        adult=Stage("run", tasks="c", env_steps=512),
        total_env_steps=None,  # the sum of the stages
        learner=PPOConfig(num_envs=4, num_steps=16, num_minibatches=2, anneal_lr=False),
        evaluation=Evaluation(every_env_steps=128, episodes=4),
        seeds=3,
    )
''')


@pytest.fixture
def written(tmp_path) -> str:
    path = tmp_path / "written.py"
    path.write_text(MODULE)
    return str(path)


def test_values_are_parsed_with_the_fields_types(written):
    c = api.load_curriculum(written, overrides=[
        "learner.learning_rate=3e-4", "seeds=2e1", "learner.hidden_sizes=32,16", "evaluation.greedy=true",
        "evaluation.success_threshold=0.5", "controls.manager_alone=false", "controls.mixed=no",
        "stages.walk.methods=", "prodigy_grid.learning_rate=(1e-3, 3e-4)", "description=a sweep: lr 3e-4",
    ])
    assert c.learner.learning_rate == 3e-4 and isinstance(c.learner.learning_rate, float)
    assert c.seeds == 20 and isinstance(c.seeds, int)
    assert c.learner.hidden_sizes == (32, 16)
    assert c.evaluation.greedy is True and c.evaluation.success_threshold == 0.5
    assert c.controls.manager_alone is False and c.controls.mixed is False
    assert c.stages[1].methods == ()
    assert c.prodigy_grid == ProdigyGrid(learning_rate=(1e-3, 3e-4))  # was None: built from the field given
    assert c.description == "a sweep: lr 3e-4"
    # Untouched fields stay as the module wrote them.
    assert c.learner.num_envs == 4 and c.evaluation.episodes == 4 and c.name == "written"


def test_the_result_equals_the_module_edited_by_hand(written):
    """An override is the module with that field changed: derived budgets stay derived."""
    original = api.load_curriculum(written)
    changed = api.load_curriculum(written, overrides={"evaluation.every_env_steps": 64, "adult.env_steps": 1024})
    by_hand = Curriculum(
        name="written", env="CartPole-v1",
        stages=(Stage("crawl", tasks="a", intervals=2), Stage("walk", tasks="b", env_steps=256)),
        adult=Stage("run", tasks="c", env_steps=1024), total_env_steps=None,
        learner=original.learner, evaluation=Evaluation(every_env_steps=64, episodes=4), seeds=3)
    for field in dataclasses.fields(Curriculum):
        assert getattr(changed, field.name) == getattr(by_hand, field.name), field.name
    assert changed.stages[0].env_steps == 2 * 64  # two intervals of the new evaluation interval
    assert changed.total_env_steps == 128 + 256 + 1024
    assert original.stages[0].env_steps == 256 and original.total_env_steps == 1024  # the module is unchanged


def test_stages_are_named_or_numbered(written):
    by_name = api.load_curriculum(written, overrides=["stages.walk.env_steps=384"])
    by_index = api.load_curriculum(written, overrides=["stages.1.env_steps=384"])
    assert by_name.stages == by_index.stages and by_name.stages[1].env_steps == 384
    assert by_name.total_env_steps == 256 + 384 + 512
    assert overrides_of(by_name) == overrides_of(by_index) == {"stages.walk.env_steps": 384}


def test_overrides_are_recorded_as_json_values_and_accumulate(written):
    c = api.load_curriculum(written, overrides=["learner.hidden_sizes=8,8", "seeds=5", "seeds=6"])
    assert overrides_of(c) == {"learner.hidden_sizes": [8, 8], "seeds": 6}  # a later key wins
    more = apply_overrides(c, {"evaluation.episodes": 2})
    assert overrides_of(more) == {"learner.hidden_sizes": [8, 8], "seeds": 6, "evaluation.episodes": 2}
    plain = api.load_curriculum(written)
    assert overrides_of(plain) == {} and apply_overrides(plain, []) is plain


@pytest.mark.parametrize("override, error, message", [
    # the checks of the dataclasses themselves, named by the full key
    ("learner.learning_rate=-3e-4", ConfigError, "learner.learning_rate: must be a positive, finite number"),
    ("learner.num_minibatches=3", ConfigError, "learner.num_minibatches: the batch of"),
    ("learner.anneal_lr=true", ConfigError, "learner.anneal_lr: must be False in a curriculum with childhood"),
    ("evaluation.episodes=0", ConfigError, "evaluation.episodes: must be a positive integer"),
    ("stages.walk.env_steps=200", ConfigError, "stages[1].env_steps: 200 is not a multiple"),
    ("total_env_steps=4096", ConfigError, "total_env_steps: 4096 does not equal the stages' budgets"),
    ("stages.0.env_steps=256", ConfigError, "give the budget as env_steps or as intervals, not both"),
    ("prodigy_grid.width=0", ConfigError, "prodigy_grid.width: values must be positive"),
    # what cannot be read or found
    ("learner.lr=1", OverrideError, "--set learner.lr: PPOConfig has no field 'lr'; its fields: total_timesteps"),
    ("seed=3", OverrideError, "--set seed: Curriculum has no field 'seed'"),
    ("seeds=3.5", OverrideError, "--set seeds: cannot read '3.5' as int (not a whole number)"),
    ("evaluation.greedy=maybe", OverrideError, "--set evaluation.greedy: cannot read 'maybe' as bool"),
    ("learner.hidden_sizes=32,wide", OverrideError, "cannot read '32,wide' as a tuple of int"),
    ("stages.swim.env_steps=128", OverrideError, "--set stages.swim: no such stage; the stages: crawl, walk"),
    ("stages.5.env_steps=128", OverrideError, "--set stages.5: no such stage"),
    ("stages=()", OverrideError, "--set stages: set a stage's field"),
    ("learner=PPOConfig()", OverrideError, "--set learner: cannot read 'PPOConfig()' as PPOConfig"),
    ("methods.x=1", OverrideError, "--set methods: managers are built in the curriculum module"),
    ("seeds.x=1", OverrideError, "--set seeds: is not a group of fields"),
    ("learner..gamma=1", OverrideError, "has an empty name between dots"),
    ("=3", OverrideError, "must be KEY=VALUE"),
])
def test_a_bad_override_names_the_key_or_the_field(written, override, error, message):
    with pytest.raises(error) as raised:
        api.load_curriculum(written, overrides=[override])
    assert message in str(raised.value)
    if error is OverrideError:
        assert str(raised.value).startswith("--set ")


def test_values_from_python_are_checked_not_parsed(written):
    with pytest.raises(ConfigError, match="learner.num_envs: must be a positive integer, got 4.5"):
        api.load_curriculum(written, overrides={"learner.num_envs": 4.5})
    c = api.load_curriculum(written, overrides={"learner": PPOConfig(num_envs=8, num_steps=16, anneal_lr=False)})
    assert c.learner.num_envs == 8 and overrides_of(c)["learner"]


def test_plan_shows_a_study_with_its_overrides(tmp_path, capsys):
    import json

    from bootstrap_rl import cli

    path = tmp_path / "plain.py"
    path.write_text(MODULE.replace('tasks="a"', 'tasks=physics((3.0, 5.0), (0.8, 1.0))')
                    .replace('tasks="b"', 'tasks=physics((8.0, 11.0), (0.45, 0.6))')
                    .replace('tasks="c"', 'tasks=physics((15.0, 20.0), (0.15, 0.25))')
                    .replace("from bootstrap_rl.ppo import PPOConfig",
                             "from bootstrap_rl.ppo import PPOConfig\n"
                             "from bootstrap_rl.curricula.cartpole_physics import physics"))

    def plan(*flags):
        capsys.readouterr()
        assert cli.main(["plan", str(path), "--json", *flags]) == 0
        return json.loads(capsys.readouterr().out)

    plain, changed = plan(), plan("--set", "seeds=5", "--set", "learner.hidden_sizes=16", "--set", "adult.env_steps=1024")
    assert (plain["seeds"], changed["seeds"]) == (3, 5)
    assert (plain["total_env_steps"], changed["total_env_steps"]) == (1024, 1536)
    direct = {p["arm"]: p for p in changed["arms"]}["direct"]
    # CartPole: 4 observations, 2 actions; actor 4-16-2 and critic 4-16-1 with biases.
    assert direct["total_params"] == (4 * 16 + 16 + 16 * 2 + 2) + (4 * 16 + 16 + 16 + 1)
