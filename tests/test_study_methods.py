"""Every childhood arm of a study runs through one compiled program with its method chosen by
data: each arm's own method acts, in the stages the curriculum says, on a subsystem library
whose state is checkpointed with the weights."""

import json

import jax
import numpy as np
import pytest

from bootstrap_rl import checkpoint, report, study
from bootstrap_rl.curricula.cartpole_physics import physics
from bootstrap_rl.curriculum import Controls, Curriculum, Evaluation, Stage
from bootstrap_rl.library import LibrarySpec
from bootstrap_rl.managers import pbt, routing, stage_schedule
from bootstrap_rl.ppo import PPOConfig
from bootstrap_rl.study.plan import program_key
from bootstrap_rl.study.programs import Programs

DEFAULT_LR = 2.5e-4
pytestmark = pytest.mark.usefixtures("quick_compiles")


def marker(scale: float):
    """Sets the learning rate to ``scale * (stage index + 1)`` when a stage starts."""
    return stage_schedule(learning_rate=(scale, 2 * scale, 3 * scale))


CURRICULUM = Curriculum(
    name="tiny_methods",
    env="CartPole-v1",
    stages=(
        Stage("easy", physics((3.0, 5.0), (0.8, 1.0)), env_steps=128, methods=("a", "route")),
        Stage("medium", physics((8.0, 11.0), (0.45, 0.6)), env_steps=128),  # every method
    ),
    adult=Stage("hard", physics((15.0, 20.0), (0.15, 0.25)), env_steps=128, methods=("b", "route")),
    total_env_steps=384,
    learner=PPOConfig(num_envs=4, num_steps=16, update_epochs=1, num_minibatches=2, anneal_lr=False,
                      learning_rate=DEFAULT_LR),
    evaluation=Evaluation(every_env_steps=128, episodes=2, probe_observations=8),
    # pbt: 2 learners per seed on 2 envs each, on in medium only (the stages' method lists).
    methods={"a": marker(1e-3), "b": marker(2e-3), "route": routing(),
             "pbt": pbt(size=2, every=1, fraction=0.5, perturb=(2.0,))},
    library=LibrarySpec(slots=3, hidden=8),
    # The control arms are asserted in test_study.py (manager alone, shuffled, shrink and perturb)
    # and in the slow test below (every control, the capacity-matched arm's own program included).
    controls=Controls.none(),
    seeds=2,
)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("methods")
    study.run_study(CURRICULUM, out, root_seed=3, log=lambda line: None)
    return out


def test_childhood_arms_share_one_program_but_a_population_method():
    runs = [r for r in study.expand_runs(CURRICULUM) if r.kind == "childhood"]
    shared = {program_key(CURRICULUM, r) for r in runs if r.method != "pbt"}
    own = program_key(CURRICULUM, next(r for r in runs if r.method == "pbt"))
    assert len(shared) == 1 and own not in shared


def test_a_population_arm_spends_one_learners_budget_and_acts_with_one_network(finished):
    run = next(r for r in study.expand_runs(CURRICULUM) if r.method == "pbt")
    programs = Programs(CURRICULUM, program_key(CURRICULUM, run))
    member = programs.config  # 2 members x 2 envs x 16 steps per update: the direct arm's 4 x 16
    assert (member.num_envs, 2 * member.num_envs * member.num_steps * programs.updates_per_chunk) == (2, 128)
    table = study.read_results(finished)
    pbt_rows, direct_rows = table[table.arm == "childhood/pbt"], table[table.arm == "direct"]
    assert sorted(set(pbt_rows.env_steps)) == sorted(set(direct_rows.env_steps)) == [0, 128, 256, 384]
    lr = pbt_rows[(pbt_rows.split == "train") & (pbt_rows.metric == "learning_rate")]
    np.testing.assert_allclose(lr[lr.stage == "easy"].value, DEFAULT_LR, rtol=1e-6)  # off in easy
    arms = {a["name"]: a for a in json.loads((finished / "study.json").read_text())["arms"]}
    assert arms["childhood/pbt"]["param_count"] == arms["direct"]["param_count"]
    assert (arms["childhood/pbt"]["learners_per_seed"], arms["direct"]["learners_per_seed"]) == (2, 1)
    # Checkpoints hold the acting member's network: one per seed, like every arm's.
    ours = checkpoint.restore(finished / "checkpoints" / "childhood-pbt" / "2_hard")
    theirs = checkpoint.restore(finished / "checkpoints" / "direct" / "0_hard")
    assert jax.tree.map(np.shape, ours) == jax.tree.map(np.shape, theirs)
    md = report.write_report(finished, resamples=20).read_text()
    assert "`childhood/pbt` trains 2 learners per seed" in md


def test_each_arm_runs_its_own_method_in_its_stages(finished):
    table = study.read_results(finished)
    lr = table[(table.split == "train") & (table.metric == "learning_rate")]
    expected = {  # by hand: on in a stage -> scale * (index + 1); off -> kept as it was
        "childhood/a": {"easy": 1e-3, "medium": 2e-3, "hard": 2e-3},
        "childhood/b": {"easy": DEFAULT_LR, "medium": 4e-3, "hard": 6e-3},
        "childhood/route": {"easy": DEFAULT_LR, "medium": DEFAULT_LR, "hard": DEFAULT_LR},
        "curriculum": {"easy": DEFAULT_LR, "medium": DEFAULT_LR, "hard": DEFAULT_LR},
    }
    for arm, stages in expected.items():
        for stage, value in stages.items():
            rows = lr[(lr.arm == arm) & (lr.stage == stage)]
            assert len(rows) == 2, (arm, stage)  # both seeds
            np.testing.assert_allclose(rows.value, value, rtol=1e-6, err_msg=f"{arm} in {stage}")


def test_library_state_is_checkpointed_with_the_weights(finished):
    def library_state(arm, folder):
        return checkpoint.restore(finished / "checkpoints" / arm / folder)["library"]["state"]

    # routing allocated a slot per stage and froze the earlier ones; the marker arm did not.
    route = library_state("childhood-route", "2_hard")
    np.testing.assert_array_equal(route["active"], [[1, 1, 1]] * 2)
    np.testing.assert_array_equal(route["frozen"], [[1, 1, 0]] * 2)
    np.testing.assert_array_equal(library_state("childhood-route", "0_easy")["active"], [[1, 0, 0]] * 2)
    np.testing.assert_array_equal(library_state("childhood-a", "2_hard")["active"], [[1, 0, 0]] * 2)
    # Frozen slot 0 is bit-identical from the end of medium to the end of hard.
    before = checkpoint.restore(finished / "checkpoints" / "childhood-route" / "1_medium")["params"]["slots"]
    after = checkpoint.restore(finished / "checkpoints" / "childhood-route" / "2_hard")["params"]["slots"]
    jax.tree.map(lambda x, y: np.testing.assert_array_equal(np.asarray(x)[:, 0], np.asarray(y)[:, 0]), before, after)


def test_a_method_that_does_not_fit_the_network_is_named(tmp_path):
    from bootstrap_rl.managers import episodic_memory

    broken = CURRICULUM.replace(methods={**CURRICULUM.methods, "remember": episodic_memory()})
    with pytest.raises(study.StudyError, match="method 'remember'.*memory_size"):
        study.run_study(broken, tmp_path / "broken", log=lambda line: None)


@pytest.mark.slow
def test_every_control_arm_trains_to_the_budget(tmp_path):
    """Every control arm of this curriculum — direct+<method>, curriculum/shuffled,
    curriculum/mixed, curriculum/shrink_perturb and the capacity-matched direct arm, which
    compiles a program of its own — trains to the budget and is evaluated (returns and network
    metrics) at every point. Slow (two more compilations: the capacity arm's program and the
    mixed sampler's): the default run trains this curriculum without controls."""
    curriculum = CURRICULUM.replace(controls=Controls())
    out = tmp_path / "controls"
    study.run_study(curriculum, out, root_seed=3, log=lambda line: None, progress=False)
    arms = {a["name"]: a for a in json.loads((out / "study.json").read_text())["arms"]}
    kinds = {a["kind"] for a in arms.values()}
    assert {"direct_managed", "order_control", "plasticity_control", "capacity_control"} <= kinds
    assert "curriculum/mixed" in arms and any(name.startswith("direct/width=") for name in arms)
    table = study.read_results(out)
    for name, arm in arms.items():
        rows = table[(table.arm == name) & (table.split == "hard") & (table.metric == "return")]
        assert sorted(set(rows.env_steps)) == list(range(0, arm["budget_env_steps"] + 1, 128)), name
        network = table[(table.arm == name) & (table.split == "network") & (table.metric == "active_parameters")]
        assert sorted(set(network.env_steps)) == sorted(set(rows.env_steps)), name
    mixed = table[(table.arm == "curriculum/mixed") & (table.split == "train")]
    assert set(mixed.stage) == {"childhood_mixed", "hard"}


def test_each_childhood_arm_reports_what_its_method_did(finished):
    """Every managed arm writes its own method's diagnostics (split ``manager``) and no other
    method's; unmanaged arms write none; report.json and report.md carry them."""
    table = study.read_results(finished)
    diagnostics = table[table.split == "manager"]
    prefixes = {"a": "stage_schedule/", "b": "stage_schedule/", "route": "routing/", "pbt": "pbt/"}
    managed = [a for a in table.arm.unique() if a.startswith(("childhood/", "direct+"))]
    assert managed
    for arm in managed:
        method = arm.split("/", 1)[1] if arm.startswith("childhood/") else arm.split("+", 1)[1]
        own = diagnostics[diagnostics.arm == arm]
        assert len(own), arm
        assert own.metric.str.startswith(prefixes[method]).all(), (arm, set(own.metric))
    for arm in ("direct", "curriculum"):
        assert not len(diagnostics[diagnostics.arm == arm])
    # By hand: marker(1e-3) sets 1e-3 * (index + 1) at each stage start it is on in.
    a = diagnostics[(diagnostics.arm == "childhood/a") & (diagnostics.metric == "stage_schedule/learning_rate")]
    np.testing.assert_allclose(a[a.stage == "medium"].value, 2e-3, rtol=1e-6)
    route = diagnostics[(diagnostics.arm == "childhood/route") & (diagnostics.metric == "routing/gate_entropy")]
    assert (route.value >= 0).all() and (route[route.stage == "hard"].value > 0).all()  # several slots routed
    report.write_report(finished, resamples=20)
    summary = json.loads((finished / "report.json").read_text())["diagnostics"]
    assert set(summary) == set(managed)
    assert "## What each manager did" in (finished / "report.md").read_text()


def test_planned_active_parameters_equal_those_measured_on_the_library_network(finished):
    """study.json's active counts (planned from footprints, nothing compiled) equal the
    ``active_parameters`` measured on each trained network at the end: the library is built at
    its own width, not the learner's."""
    table = study.read_results(finished)
    arms = json.loads((finished / "study.json").read_text())["arms"]
    for arm in arms:
        rows = table[(table.arm == arm["name"]) & (table.split == "network") & (table.metric == "active_parameters")]
        assert len(rows), arm["name"]
        final = rows[rows.env_steps == rows.env_steps.max()].value
        np.testing.assert_array_equal(final, arm["active_param_count"], err_msg=arm["name"])
