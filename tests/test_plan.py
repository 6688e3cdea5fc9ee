"""`bootstrap-rl plan`: a study's arms, budgets, parameters and shared programs, before anything trains."""

import json

import pytest

from bootstrap_rl import cli
from bootstrap_rl.curriculum import load


@pytest.fixture(scope="module")
def ladder_plan():
    """The full playroom_ladder's plan as `plan --json` prints it, and the functions JAX compiled
    while planning (read from JAX's compile log)."""
    import contextlib
    import io
    import logging

    import jax

    compiled = []

    class Collect(logging.Handler):
        def emit(self, record):
            message = record.getMessage()
            if message.startswith("Compiling "):
                compiled.append(message.split()[1])

    def log_probe(x):  # compiled here first: shows that the log is read
        return x * 1.2345

    handler, stdout = Collect(), io.StringIO()
    logging.getLogger("jax").addHandler(handler)
    try:
        with jax.log_compiles(True), contextlib.redirect_stdout(stdout):
            jax.jit(log_probe)(1.0)
            assert cli.main(["plan", "playroom_ladder", "--json"]) == 0
    finally:
        logging.getLogger("jax").removeHandler(handler)
    return json.loads(stdout.getvalue()), compiled


def test_plan_lists_every_control_arm_at_the_study_budget(ladder_plan):
    plan, _ = ladder_plan
    curriculum = load("playroom_ladder")
    arms = {arm["arm"]: arm for arm in plan["arms"]}
    expected = {"direct", "curriculum", "direct_adult_steps", "curriculum/shuffled", "curriculum/mixed",
                "curriculum/shrink_perturb"}
    expected |= {f"childhood/{m}" for m in curriculum.methods} | {f"direct+{m}" for m in curriculum.methods}
    assert expected <= set(arms)
    # Every arm but the sunk-cost reference spends the whole budget, childhood included.
    for name, arm in arms.items():
        steps = sum(stage["env_steps"] for stage in arm["stages"])
        assert arm["budget_env_steps"] == steps
        if name != "direct_adult_steps":
            assert steps == curriculum.total_env_steps, name
    adult = curriculum.adult.name
    assert [s["name"] for s in arms["direct+route"]["stages"]] == [adult]
    assert [s["name"] for s in arms["curriculum/shuffled"]["stages"]] == (
        [s.name for s in reversed(curriculum.stages)] + [adult])


def test_plan_counts_active_parameters_and_matches_capacity(ladder_plan):
    plan, _ = ladder_plan
    arms = {arm["arm"]: arm for arm in plan["arms"]}
    direct = arms["direct"]
    for arm in arms.values():
        assert 0 < arm["active_params"] <= arm["total_params"]
    # route acts through a slot per stage and a router: more than direct's one slot.
    assert arms["childhood/route"]["active_params"] > direct["active_params"]
    capacity = [arm for arm in arms.values() if arm["kind"] == "capacity_control"]
    assert capacity, "an arm acts with more parameters than direct, so a capacity-matched direct arm is planned"
    for arm in capacity:
        assert arm["matches"] and all(arm["active_params"] >= arms[m]["active_params"] for m in arm["matches"])
        assert arm["stages"] == direct["stages"]


def test_plan_groups_arms_into_shared_programs_without_compiling(ladder_plan):
    plan, compiled = ladder_plan
    arms = {arm["arm"]: arm for arm in plan["arms"]}
    program = {name: arm["program"] for name, arm in arms.items()}
    # No manager: one program; one manager chosen by data: another; PBT trains several learners.
    assert program["direct"] == program["curriculum"] == program["curriculum/mixed"]
    assert program["childhood/route"] == program["direct+route"] == program["childhood/hyper"]
    assert program["childhood/route"] != program["direct"]
    assert program["childhood/pbt"] not in (program["direct"], program["childhood/route"])
    # Drawing tasks and counting parameters runs a few eager ops; no program of the study compiles.
    assert "jit(log_probe)" in compiled, "the compile log was read"
    assert not [name for name in compiled if any(p in name for p in ("chunk", "begin", "start_stage", "evaluate",
                                                                       "lambda", "scan", "while"))], compiled


def test_plan_table_names_every_arm(capsys):
    assert cli.main(["plan", "playroom_ladder", "--preset", "quick"]) == 0
    out = capsys.readouterr().out
    curriculum = load("playroom_ladder", "quick")
    assert f"{curriculum.total_env_steps:,} env steps per arm" in out
    for method in curriculum.methods:
        assert f"childhood/{method}" in out


def test_plan_of_an_unknown_curriculum_is_one_line(capsys):
    assert cli.main(["plan", "no_such_curriculum"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no_such_curriculum" in err[0]
