"""Studies end to end at toy size: arms at an equal budget, evaluation with retention and
drift, managers switched per stage, a D:prodigy grid, checkpoints, and resume after SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pandas as pd
import pytest

from bootstrap_rl import checkpoint, curriculum as cu, study
from bootstrap_rl.study import chunks, driver, inputs
from bootstrap_rl.study.programs import RunPrograms
from bootstrap_rl.study.storage import PartWriter


TINY = textwrap.dedent('''
    """A toy CartPole curriculum for tests: 4 envs x 16 steps per update."""
    from bootstrap_rl.curricula.cartpole_physics import physics
    from bootstrap_rl.curriculum import Controls, Curriculum, Evaluation, ProdigyGrid, Stage
    from bootstrap_rl.managers import stage_schedule
    from bootstrap_rl.ppo import PPOConfig


    CURRICULUM = Curriculum(
        name="tiny_physics",
        env="CartPole-v1",
        stages=(
            Stage("easy", physics((3.0, 5.0), (0.8, 1.0)), env_steps=256, methods=("marker",)),
            Stage("medium", physics((8.0, 11.0), (0.45, 0.6)), env_steps=512, methods=()),
        ),
        adult=Stage("hard", physics((15.0, 20.0), (0.15, 0.25)), env_steps=512),
        total_env_steps=1280,
        learner=PPOConfig(num_envs=4, num_steps=16, update_epochs=1, num_minibatches=2,
                          anneal_lr=False, hidden_sizes=(16, 16)),
        evaluation=Evaluation(every_env_steps=128, episodes=4, probe_observations=32),
        methods={"marker": stage_schedule(learning_rate=(1e-3, 2e-3, 3e-3))},
        prodigy_grid=ProdigyGrid(learning_rate=(1e-3, 3e-4)),
        controls=Controls(mixed=False),  # the mixed arm compiles its own sampler: tested in test_controls
        seeds=2,
    )
''')
EVERY, ADULT, TOTAL = 128, 512, 1280
STAGES = {"easy": (0, 256), "medium": (256, 768), "hard": (768, 1280)}


pytestmark = pytest.mark.usefixtures("quick_compiles")


@pytest.fixture(scope="module")
def compile_cache():
    """The test run's compilation cache (conftest), keeping every program while this module
    runs: identical programs compiled in its runs (and its subprocess) compile once. (JAX
    decides once per process whether it uses a cache, at its first compilation, so the folder
    must be the one the process started with: a folder set later would be ignored here and
    used only by the subprocess.)"""
    before = jax.config.jax_persistent_cache_min_compile_time_secs
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    yield os.environ["JAX_COMPILATION_CACHE_DIR"]
    jax.config.update("jax_persistent_cache_min_compile_time_secs", before)


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("outside_repo") / "tiny_physics.py"
    path.write_text(TINY)
    return path


@pytest.fixture(scope="module")
def tiny(tiny_file):
    """The curriculum, loaded once: the studies of this module that run it again in this process
    reuse its programs (kept on the object), as a resumed study or a notebook's second run does."""
    return cu.load(str(tiny_file))


@pytest.fixture(scope="module")
def finished(tmp_path_factory, tiny, compile_cache):
    import contextlib
    import io

    out = tmp_path_factory.mktemp("study") / "tiny"
    shown = io.StringIO()  # the progress display (stderr; not a terminal: plain lines)
    with contextlib.redirect_stderr(shown):
        study.run_study(tiny, out, root_seed=7, keep_programs=True, log=lambda line: None)
    (out.parent / "progress.txt").write_text(shown.getvalue())
    return out


def test_progress_counts_every_arm_and_env_step_and_announces_each_compiled_program(finished, tiny_file):
    from bootstrap_rl.study.plan import plan_arms

    lines = (finished.parent / "progress.txt").read_text().splitlines()
    plan = plan_arms(cu.load(str(tiny_file)))
    programs = len({arm["program"] for arm in plan})
    steps = 2 * (8 * TOTAL + ADULT)  # 2 seeds; every arm the whole budget but direct_adult_steps
    assert len(plan) == 9 and programs > 1
    assert lines[0] == (f"study: 9 arms x 2 seeds, {steps:,} env steps in all, {programs} compiled programs "
                        "(each compiled when its first arm starts)")
    compiling = [line for line in lines if line.startswith("compiling program")]
    assert compiling[0] == f"compiling program 1/{programs} (arm direct) ..."
    assert len(compiling) == programs
    assert lines[-1].startswith(f"arms 9/9 | env steps {steps / 1000:.3g}k/{steps / 1000:.3g}k (100%) | ")


@pytest.fixture(scope="module")
def table(finished):
    return pd.read_csv(finished / "results.csv")


def test_every_arm_gets_the_same_budget_and_is_evaluated_on_the_same_steps(finished, table):
    meta = json.loads((finished / "study.json").read_text())
    arms = {a["name"]: a for a in meta["arms"]}
    assert set(arms) == {"direct", "curriculum", "childhood/marker", "direct_adult_steps",
                         "grid/lr=0.001,ent=0.01,width=16", "grid/lr=0.0003,ent=0.01,width=16",
                         "direct+marker", "curriculum/shuffled", "curriculum/shrink_perturb"}
    assert list(table.columns) == list(study.TABLE_COLUMNS)
    for name, arm in arms.items():
        budget = ADULT if name == "direct_adult_steps" else TOTAL
        assert arm["budget_env_steps"] == budget
        evaluated = table[(table.arm == name) & (table.split == "hard") & (table.metric == "return")]
        assert sorted(evaluated.env_steps.unique()) == list(range(0, budget + 1, EVERY))
        assert sorted(evaluated.seed.unique()) == [0, 1]
    assert [s["name"] for s in arms["curriculum"]["stages"]] == ["easy", "medium", "hard"]
    assert arms["curriculum"]["stages"][1] == {"name": "medium", "start_env_steps": 256, "end_env_steps": 768}
    assert arms["direct"]["param_count"] == arms["curriculum"]["param_count"] > 0
    assert meta["score_metric"] == "return" and meta["adult_stage"] == "hard"


def test_rows_carry_the_stage_the_arm_was_in(table):
    rows = table[(table.arm == "curriculum") & (table.split == "train")]
    for stage, (start, end) in STAGES.items():
        at = rows[(rows.env_steps > start) & (rows.env_steps <= end)]
        assert set(at.stage) == {stage}, stage
    assert set(table[table.arm == "direct"].stage) == {"hard"}


def test_arms_share_initial_networks_and_evaluation_episodes(table):
    # Common random numbers: at step 0 every arm is the same network on the same episodes.
    start = table[(table.env_steps == 0) & (table.metric == "return")]
    by_arm = start.pivot_table(index=["seed", "split"], columns="arm", values="value")
    reference = by_arm["direct"]
    for arm in ("curriculum", "childhood/marker", "direct_adult_steps"):
        np.testing.assert_array_equal(by_arm[arm], reference)
    # With a constant learning rate, direct_adult_steps is direct cut at the adult budget.
    def rows(arm):
        t = table[(table.arm == arm) & (table.env_steps <= ADULT)].drop(columns="arm")
        return t.sort_values(list(t.columns)).reset_index(drop=True)
    pd.testing.assert_frame_equal(rows("direct"), rows("direct_adult_steps"), check_exact=True)


def test_retention_splits_and_drift_from_each_finished_stage(table):
    curriculum = table[table.arm == "curriculum"]
    assert set(curriculum.split) == {"train", "easy", "medium", "hard", "network"}
    drift = curriculum[curriculum.metric == "policy_kl"]
    assert set(drift.split) == {"easy", "medium"}
    easy = drift[drift.split == "easy"]
    assert easy.env_steps.min() == STAGES["easy"][1] + EVERY  # measured once the stage is over
    assert drift[drift.split == "medium"].env_steps.min() == STAGES["medium"][1] + EVERY
    assert (drift.value >= 0).all() and (easy.value > 0).any()  # training moves the policy
    assert table[table.arm == "direct"].metric.ne("policy_kl").all()


def test_every_arm_has_plasticity_metrics_at_every_evaluation_point(finished, table):
    planned = {a["name"]: a["active_param_count"] for a in json.loads((finished / "study.json").read_text())["arms"]}
    network = table[table.split == "network"]
    for arm in table.arm.unique():
        rows = network[network.arm == arm]
        budget = ADULT if arm == "direct_adult_steps" else TOTAL
        assert set(rows.metric) == {"dormant_fraction", "feature_rank", "weight_norm", "active_parameters"}, arm
        assert sorted(rows.env_steps.unique()) == list(range(0, budget + 1, EVERY)), arm
        # What the acting network measurably uses at the end is what the plan said.
        final = rows[(rows.metric == "active_parameters") & (rows.env_steps == budget)].value
        assert (final == planned[arm]).all(), arm
    by_metric = {m: network[network.metric == m].value for m in ("dormant_fraction", "feature_rank", "weight_norm")}
    assert by_metric["dormant_fraction"].between(0, 1).all()
    assert by_metric["feature_rank"].between(1, 16).all()  # srank of 16 features
    assert (by_metric["weight_norm"] > 0).all()


def test_shrink_and_perturb_control_shrinks_the_curriculum_at_the_adult_start(table):
    norm = table[(table.split == "network") & (table.metric == "weight_norm")]
    def at(arm, step):
        return norm[(norm.arm == arm) & (norm.env_steps == step)].sort_values("seed").value.to_numpy()
    adult_start = STAGES["hard"][0]
    # Identical (same seeds, same childhood) until the adult stage starts, then shrunk by half
    # plus a little noise; two small updates later it is still well below the curriculum's.
    np.testing.assert_allclose(at("curriculum/shrink_perturb", adult_start), at("curriculum", adult_start), rtol=1e-5)
    after = adult_start + EVERY
    assert (at("curriculum/shrink_perturb", after) < 0.7 * at("curriculum", after)).all()


def test_manager_alone_control_runs_the_method_on_the_adult_task_only(table):
    lr = table[(table.split == "train") & (table.metric == "learning_rate") & (table.arm == "direct+marker")]
    assert set(lr.stage) == {"hard"}
    # Without a childhood the adult stage is the first stage the manager meets: a stage
    # schedule applies its first value (docs/curricula.md, "Controls").
    np.testing.assert_allclose(lr.value, 1e-3, rtol=1e-6)


def test_methods_run_only_in_their_stages(table):
    lr = table[(table.split == "train") & (table.metric == "learning_rate")]
    marker = lr[lr.arm == "childhood/marker"]
    expected = {"easy": 1e-3, "medium": 1e-3, "hard": 3e-3}  # switched off in medium: kept
    for stage, value in expected.items():
        np.testing.assert_allclose(marker[marker.stage == stage].value, value, rtol=1e-6)
    np.testing.assert_allclose(lr[lr.arm == "curriculum"].value, 2.5e-4, rtol=1e-6)


def test_grid_arms_train_with_their_own_hyperparameters(finished, table):
    lr = table[(table.split == "train") & (table.metric == "learning_rate")]
    for arm, value in (("grid/lr=0.001,ent=0.01,width=16", 1e-3),
                       ("grid/lr=0.0003,ent=0.01,width=16", 3e-4)):
        np.testing.assert_allclose(lr[lr.arm == arm].value, value, rtol=1e-6)
        assert set(table[table.arm == arm].split) == {"train", "hard", "network"}
    meta = json.loads((finished / "study.json").read_text())
    hparams = {a["name"]: a["hparams"] for a in meta["arms"] if a["kind"] == "grid"}
    assert hparams["grid/lr=0.0003,ent=0.01,width=16"] == {"learning_rate": 3e-4, "ent_coef": 0.01}


def test_checkpoints_at_stage_boundaries(finished):
    folders = sorted(p.name for p in (finished / "checkpoints" / "curriculum").iterdir())
    assert folders == ["0_easy", "1_medium", "2_hard"]
    params = checkpoint.restore(finished / "checkpoints" / "curriculum" / "1_medium")
    kernels = [x for x in jax.tree.leaves(params) if np.ndim(x) == 3]
    assert kernels and all(k.shape[0] == 2 for k in kernels)  # every seed's parameters
    # The finished study leaves no resume state behind.
    assert not list((finished / "resume").glob("*.npz")) if (finished / "resume").exists() else True


def test_an_existing_study_is_not_overwritten_and_resume_checks_the_config(finished, tiny_file, tmp_path):
    with pytest.raises(study.StudyError, match="--resume"):
        study.run_study(cu.load(str(tiny_file)), finished, root_seed=7, log=lambda line: None)
    with pytest.raises(study.StudyError, match="root_seed"):
        study.run_study(cu.load(str(tiny_file)), finished, root_seed=8, resume=True, log=lambda line: None)


KILLED_ARMS = ("direct+marker", "childhood/marker", "curriculum/shrink_perturb")


def manager_arms_only(curriculum):
    """Three arms of one compiled program (the one with the manager), in this order: finished
    before the kill, killed mid-stage, not started."""
    runs = {run.arms[0]: run for run in study.expand_runs(curriculum)}
    return [runs[arm] for arm in KILLED_ARMS]


KILLER = textwrap.dedent('''
    import os, signal, sys
    from bootstrap_rl import curriculum, study
    from bootstrap_rl.study import driver
    from bootstrap_rl.study.storage import PartWriter
    from test_study import manager_arms_only

    write = PartWriter.write

    def write_then_die(self, point, rows):
        write(self, point, rows)
        # Mid-stage (medium spans points 3-6), right after the easy -> medium boundary, whose
        # saved state (point 2) has not entered medium yet: the resume must start that stage
        # (and the manager's stage start) exactly as the uninterrupted run did.
        if self.run.slug == "childhood-marker" and point == 3:
            os.kill(os.getpid(), signal.SIGKILL)

    PartWriter.write = write_then_die
    driver.expand_runs = manager_arms_only
    study.run_study(curriculum.load(sys.argv[1]), sys.argv[2], root_seed=7, checkpoint_seconds=0)
''')


def test_a_study_killed_mid_stage_resumes_to_the_same_table(finished, tiny, tiny_file, tmp_path, compile_cache,
                                                           quick_compiles, monkeypatch):
    out = tmp_path / "killed"
    env = {**os.environ, **quick_compiles, "JAX_COMPILATION_CACHE_DIR": compile_cache,
           "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
           "PYTHONPATH": os.pathsep.join(filter(None, [os.path.dirname(__file__), os.environ.get("PYTHONPATH")]))}
    killed = subprocess.run([sys.executable, "-c", KILLER, str(tiny_file), str(out)], env=env,
                            capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert not (out / "results.csv").exists()
    assert (out / "resume" / "childhood-marker.npz").exists()
    assert (out / "parts" / "childhood-marker" / "00003.csv").exists()  # written past the saved state
    assert (out / "parts" / "direct+marker" / "DONE").exists()
    assert not (out / "parts" / "curriculum-shrink_perturb").exists()  # trained on resume

    monkeypatch.setattr(driver, "expand_runs", manager_arms_only)
    study.run_study(tiny, out, root_seed=7, resume=True, keep_programs=True, log=lambda line: None)

    def ordered(path):
        t = pd.read_csv(path)
        t = t[t.arm.isin(KILLED_ARMS)]
        return t.sort_values(list(study.TABLE_COLUMNS[:-1])).reset_index(drop=True)

    pd.testing.assert_frame_equal(ordered(out / "results.csv"), ordered(finished / "results.csv"), check_exact=True)
    assert set(pd.read_csv(out / "results.csv").arm) == set(KILLED_ARMS)


def test_a_broken_manager_fails_before_anything_trains(tiny_file, tmp_path, compile_cache):
    from bootstrap_rl.managers import Manager, identity

    good = cu.load(str(tiny_file))
    broken = identity()._replace(loss=lambda mstate, params, obs, dist, values: 0.0)  # old signature
    curriculum = good.replace(methods={"marker": broken})
    with pytest.raises(study.StudyError, match="marker"):
        study.run_study(curriculum, tmp_path / "broken", log=lambda line: None)
    assert not (tmp_path / "broken" / "study.json").exists()
    assert isinstance(broken, Manager)


# --- seeds in chunks (a study whose batch does not fit in device memory) ---------------------
# Four seeds in chunks of two: each chunk runs the programs of ``finished`` (two seeds, from the
# compilation cache), and its first chunk must give ``finished``'s table bit for bit (keys are
# folded in per seed, whatever the chunk); the second chunk's seeds are other seeds.

KEY = list(study.TABLE_COLUMNS[:-1])


def _without_method(curriculum):
    """The tiny curriculum's direct, curriculum and direct_adult_steps arms only (one compiled
    learner, the same programs and numbers as these arms in ``finished``), with four seeds."""
    import dataclasses

    stages = tuple(dataclasses.replace(s, methods=None) for s in curriculum.stages)
    return curriculum.replace(methods={}, prodigy_grid=None, stages=stages, seeds=4, controls=cu.Controls.none())


def only_runs_of_kinds(monkeypatch, *kinds):
    """Studies started in this test run only their runs of ``kinds``."""
    expand = study.expand_runs
    monkeypatch.setattr(driver, "expand_runs", lambda c: [r for r in expand(c) if r.kind in kinds])


@pytest.fixture(scope="module")
def without_method(tiny):
    return _without_method(tiny)


def _assert_chunks_of_two_give_the_table_of_one_batch(out, finished, arms):
    chunked = pd.read_csv(out / "results.csv")
    whole = pd.read_csv(finished / "results.csv")
    whole = whole[whole.arm.isin(arms)].sort_values(KEY).reset_index(drop=True)
    first = chunked[chunked.seed < 2].sort_values(KEY).reset_index(drop=True)
    pd.testing.assert_frame_equal(first, whole, check_exact=True)  # every row written once, no other
    second = chunked[chunked.seed >= 2].assign(seed=lambda t: t.seed - 2).sort_values(KEY).reset_index(drop=True)
    pd.testing.assert_frame_equal(second[KEY], whole[KEY])
    returns = whole.metric.eq("return") & whole.env_steps.gt(0)
    assert (second.value[returns] != whole.value[returns]).mean() > 0.5  # their own keys


def test_seeds_in_chunks_interrupted_and_resumed_give_the_table_of_one_batch(finished, without_method, tmp_path,
                                                                            compile_cache, monkeypatch):
    curriculum, out = without_method, tmp_path / "chunked"
    write = PartWriter.write

    class Interrupted(Exception):
        pass

    def write_then_stop(self, point, rows):  # mid-stage, in the second chunk, past its saved state
        write(self, point, rows)
        if self.run.slug == "curriculum" and self.tag == "seeds2-3" and point == 3:
            raise Interrupted

    # direct, finished in chunks before the stop (kept on resume); curriculum, stopped.
    only_runs_of_kinds(monkeypatch, "direct", "curriculum")
    monkeypatch.setattr(PartWriter, "write", write_then_stop)
    with pytest.raises(Interrupted):
        study.run_study(curriculum, out, root_seed=7, seed_chunk=2, checkpoint_seconds=0, keep_programs=True,
                        log=lambda line: None)
    parts = out / "parts" / "curriculum"
    assert (parts / "DONE.seeds0-1").exists() and (parts / "00003.seeds2-3.csv").exists()
    assert (out / "resume" / "curriculum.seeds2-3.npz").exists()
    monkeypatch.setattr(PartWriter, "write", write)
    lines = []
    study.run_study(curriculum, out, root_seed=7, resume=True, keep_programs=True, log=lines.append)  # the study's chunk is kept
    assert "arm curriculum: 4 seeds in chunks of 2, as asked" in lines
    _assert_chunks_of_two_give_the_table_of_one_batch(out, finished, {"direct", "curriculum"})
    # The chunks' checkpoints are merged into the unchunked layout; nothing of the chunks is left.
    assert sorted(p.name for p in (out / "checkpoints" / "curriculum").iterdir()) == ["0_easy", "1_medium", "2_hard"]
    merged = checkpoint.restore(out / "checkpoints" / "curriculum" / "1_medium")
    whole = checkpoint.restore(finished / "checkpoints" / "curriculum" / "1_medium")
    for a, b in zip(jax.tree.leaves(merged), jax.tree.leaves(whole)):
        assert a.shape[0] == 4
        np.testing.assert_array_equal(a[:2], b)
    assert not list(parts.glob("DONE.*")) and not list((out / "resume").glob("*.npz"))
    timing = json.loads((out / "timing" / "curriculum.json").read_text())
    assert timing["seed_chunk"] == 2 and timing["seed_chunks_trained"] == [[2, 4]] and timing["batch"] == 4


def test_a_batch_out_of_device_memory_is_trained_in_chunks(finished, without_method, tmp_path, compile_cache,
                                                           monkeypatch):
    curriculum, out = without_method, tmp_path / "oom"
    only_runs_of_kinds(monkeypatch, "direct", "direct_adult_steps")
    begin, attempts = RunPrograms.begin, []

    def begin_on_a_small_device(self, keys, *args):  # two seeds fit, four do not
        if not isinstance(keys, jax.core.Tracer):
            attempts.append(len(keys))
            if len(keys) > 2:
                # As if the failed attempt had written rows before running out of memory.
                (out / "parts" / "direct" / "00000.csv").write_text(
                    ",".join(study.TABLE_COLUMNS) + "\ndirect,0,hard,0,hard,return,999.0\n")
                raise jax.errors.JaxRuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate "
                                                 "1234 bytes.")
        return begin(self, keys, *args)

    monkeypatch.setattr(RunPrograms, "begin", begin_on_a_small_device)
    lines = []
    study.run_study(curriculum, out, root_seed=7, keep_programs=True, log=lines.append)
    assert "arm direct: 4 seeds do not fit in device memory; running in chunks of 2" in lines
    # The next run of the same program starts in chunks: it does not run out of memory first.
    assert attempts == [4, 2, 2, 2, 2]
    assert ("arm direct_adult_steps: 4 seeds in chunks of 2, as a batch of its program did not fit in "
            "device memory") in lines
    _assert_chunks_of_two_give_the_table_of_one_batch(out, finished, {"direct", "direct_adult_steps"})
    timing = json.loads((out / "timing" / "direct.json").read_text())
    assert timing["did_not_fit"] == [4] and timing["seed_chunk"] == 2


def test_a_seed_that_does_not_fit_stops_the_study_saying_what_to_change(without_method, tmp_path, monkeypatch):
    begin = RunPrograms.begin

    def begin_out_of_memory(self, keys, *args):
        if not isinstance(keys, jax.core.Tracer):
            raise jax.errors.JaxRuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 1 byte.")
        return begin(self, keys, *args)

    monkeypatch.setattr(RunPrograms, "begin", begin_out_of_memory)
    lines = []
    with pytest.raises(study.StudyError, match=r"arm direct: 1 seed\(s\) \(1 batch rows, 1 per device\) do not "
                                               r"fit in device memory.*learner.num_envs"):
        study.run_study(without_method, tmp_path / "x", root_seed=7, keep_programs=True, log=lines.append)
    assert [line for line in lines if "do not fit" in line] == [
        "arm direct: 4 seeds do not fit in device memory; running in chunks of 2",
        "arm direct: 2 seeds do not fit in device memory; running in chunks of 1"]


def test_a_chunk_of_seeds_starts_from_those_seeds_keys(tiny_file):
    curriculum = cu.load(str(tiny_file))
    run = next(r for r in study.expand_runs(curriculum) if r.kind == "grid")  # 2 arms
    root = jax.random.PRNGKey(7)
    whole = np.asarray(inputs.run_inputs(curriculum, run, 4, root).keys)  # rows: members, then seeds
    chunk = np.asarray(inputs.run_inputs(curriculum, run, 2, root, first_seed=2).keys)
    np.testing.assert_array_equal(chunk, whole[[2, 3, 6, 7]])


def test_smaller_chunks_keep_the_devices_filled():
    assert chunks.smaller_chunk(10, members=1, devices=1) == 5
    assert chunks.smaller_chunk(10, members=1, devices=4) == 4  # 3 rows per device -> 1
    assert chunks.smaller_chunk(4, members=1, devices=4) is None  # one row per device already
    assert chunks.smaller_chunk(10, members=9, devices=1) == 5
    assert chunks.smaller_chunk(1, members=9, devices=1) is None  # a seed's members are not split
    with pytest.raises(study.StudyError, match="seed_chunk"):
        study.run_study(cu.load("cartpole_physics", "quick"), "unused", seed_chunk=0)
