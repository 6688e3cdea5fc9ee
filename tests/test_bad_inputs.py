"""Every bad input to ``bootstrap-rl`` gives one line naming what is wrong and exit status 2,
never a traceback, and changes nothing already written.

One real study runs here, stopped early by a simulated full disk (the test of that case); the
results directory it leaves is copied for the cases that need a study on disk (resume
mismatches, damaged resume files, a second study on the same directory).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import pandas as pd
import pytest

from bootstrap_rl import cli, results

pytestmark = pytest.mark.usefixtures("quick_compiles")  # compiling is what these tests cost

TINY = textwrap.dedent('''
    """A toy CartPole curriculum: one childhood stage, 4 envs x 16 steps per update."""
    from bootstrap_rl.curricula.cartpole_physics import physics
    from bootstrap_rl.curriculum import Controls, Curriculum, Evaluation, Stage
    from bootstrap_rl.ppo import PPOConfig

    CURRICULUM = Curriculum(
        name="tiny_cli",
        env="CartPole-v1",
        stages=(Stage("easy", physics((3.0, 5.0), (0.8, 1.0)), env_steps=128),),
        adult=Stage("hard", physics((15.0, 20.0), (0.15, 0.25)), env_steps=256),
        learner=PPOConfig(num_envs=4, num_steps=16, update_epochs=1, num_minibatches=2, anneal_lr=False,
                          hidden_sizes=(8,)),
        evaluation=Evaluation(every_env_steps=64, episodes=2, probe_observations=8),
        controls=Controls.none(),
        seeds=2,
    )
''')
EVERY = 64
FULL_AT = 2  # the evaluation point whose part finds the disk full
SET = ("--set", "description=stopped by a full disk")  # the stopped study's override


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` and a digest of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def run_cli(capsys, *argv) -> tuple[int, list[str]]:
    """``bootstrap-rl ARGV`` in this process: its exit status and its stderr lines."""
    capsys.readouterr()
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as exit_:  # argparse
        code = exit_.code
    return code, capsys.readouterr().err.strip().splitlines()


def assert_one_line(code, lines, *needles):
    assert code == 2
    assert len(lines) == 1, lines
    assert lines[0].startswith("bootstrap-rl"), lines
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("curricula") / "tiny_cli.py"
    path.write_text(TINY)
    return path


@pytest.fixture(scope="module")
def compile_cache(tmp_path_factory):
    """The programs of this module's study (and of test_experiment_log's, the same shapes)
    compile once per session."""
    path = tmp_path_factory.getbasetemp() / "tiny_cli_jax_cache"
    before = (jax.config.jax_compilation_cache_dir, jax.config.jax_persistent_cache_min_compile_time_secs)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    yield path
    jax.config.update("jax_compilation_cache_dir", before[0])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", before[1])


@pytest.fixture(scope="module")
def disk_full(tmp_path_factory, tiny, compile_cache):
    """A study whose disk fills up when the first run writes evaluation point ``FULL_AT``;
    the resume state is saved at every point (``--checkpoint-seconds 0``)."""
    out = tmp_path_factory.mktemp("studies") / "full"
    written: dict[str, bytes] = {}
    write_text = results.write_text

    def filling_disk(path, text):
        path = Path(path)
        if path.parent.parent.name == "parts" and int(path.name.split(".")[0]) >= FULL_AT:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        written[str(path.relative_to(out))] = text.encode()
        return write_text(path, text)

    err = io.StringIO()  # a module fixture has no capsys
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stderr(err), \
            contextlib.redirect_stdout(io.StringIO()):
        patch.setattr(results, "write_text", filling_disk)
        code = cli.main(["study", str(tiny), "--out", str(out), "--no-report", "--no-progress", "--checkpoint-seconds", "0", *SET])
    return out, code, err.getvalue().strip().splitlines(), written


def test_a_full_disk_stops_the_study_with_one_line_and_keeps_the_parts_written(disk_full):
    out, code, lines, written = disk_full
    assert_one_line(code, lines, "No space left on device", f"{FULL_AT:05d}.csv", "--resume")
    parts = sorted((out / "parts" / "direct").iterdir())
    assert [p.name for p in parts] == ["00000.csv", "00001.csv"]  # no half-written temporary file
    for part in parts:  # byte for byte what was written, rows of their own evaluation point
        assert part.read_bytes() == written[str(part.relative_to(out))]
        table = pd.read_csv(part)
        assert set(table.env_steps) == {int(part.stem) * EVERY} and set(table.seed) == {0, 1}
    assert (out / "resume" / "direct.npz").exists()
    assert not (out / ".lock").exists()  # released on the way out
    meta = json.loads((out / "study.json").read_text())
    assert meta["overrides"] == {"description": "stopped by a full disk"}
    assert meta["description"] == "stopped by a full disk"


def test_after_a_full_disk_the_study_resumes_and_keeps_what_was_written(capsys, tiny, disk_full, tmp_path):
    out = tmp_path / "resumed"
    shutil.copytree(disk_full[0], out)
    before = {name: (out / "parts" / "direct" / name).read_bytes() for name in ("00000.csv", "00001.csv")}
    code, lines = run_cli(capsys, "study", tiny, "--out", out, "--no-report", "--no-progress", "--resume", *SET)
    assert code == 0 and lines == []
    for name, data in before.items():
        assert (out / "parts" / "direct" / name).read_bytes() == data
    table = pd.read_csv(out / "results.csv")
    adult = table[(table.split == "hard") & (table.metric == "return")]
    assert sorted(adult[adult.arm == "direct"].env_steps.unique()) == list(range(0, 384 + 1, EVERY))
    assert set(adult.arm) == {"direct", "curriculum", "direct_adult_steps"}
    assert not (out / ".lock").exists()


@pytest.fixture
def stopped(disk_full, tmp_path) -> Path:
    """A copy of the stopped study's results directory."""
    copy = tmp_path / "stopped"
    shutil.copytree(disk_full[0], copy)
    return copy


def test_a_non_python_path_is_named(capsys, tmp_path):
    code, lines = run_cli(capsys, "study", "/etc/passwd", "--out", tmp_path / "out")
    assert_one_line(code, lines, "/etc/passwd", "not a curriculum")
    assert not (tmp_path / "out").exists()


def test_a_curriculum_file_with_a_syntax_error_names_the_line(capsys, tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("from bootstrap_rl.curriculum import Curriculum\n\nCURRICULUM = Curriculum(\n")
    code, lines = run_cli(capsys, "study", broken, "--out", tmp_path / "out")
    assert_one_line(code, lines, str(broken), "syntax error at line 3")


def test_a_curriculum_file_that_fails_to_import_names_the_error(capsys, tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("X = 1\nfrom bootstrap_rl.nothing_here import Y\n")
    code, lines = run_cli(capsys, "study", broken, "--out", tmp_path / "out")
    assert_one_line(code, lines, str(broken), "line 2", "ModuleNotFoundError")


def test_a_curriculum_file_without_curriculum_is_named(capsys, tmp_path):
    empty = tmp_path / "empty.py"
    empty.write_text("PRESETS = {}\n")
    code, lines = run_cli(capsys, "study", empty, "--out", tmp_path / "out")
    assert_one_line(code, lines, str(empty), "CURRICULUM")


def test_an_out_dir_holding_another_study_is_refused(capsys, stopped, tmp_path):
    other = tmp_path / "other.py"
    other.write_text(TINY.replace('name="tiny_cli"', 'name="other_study"'))
    before = snapshot(stopped)
    code, lines = run_cli(capsys, "study", other, "--out", stopped)
    assert_one_line(code, lines, str(stopped), "already holds a study", "tiny_cli")
    code, lines = run_cli(capsys, "study", other, "--out", stopped, "--resume")
    assert_one_line(code, lines, "cannot resume", "'tiny_cli'", "'other_study'")
    assert snapshot(stopped) == before


def test_an_out_path_that_is_a_file_is_refused(capsys, tiny, tmp_path):
    path = tmp_path / "results.txt"
    path.write_text("mine\n")
    code, lines = run_cli(capsys, "study", tiny, "--out", path)
    assert_one_line(code, lines, str(path), "is a file")
    assert path.read_text() == "mine\n"


@pytest.mark.parametrize("args, needle", [
    ((*SET, "--seed", "8"), "root_seed"),  # the configuration in study.json differs
    (("--set", "evaluation.episodes=3"), "started with overrides --set description="),  # other overrides
    ((), "not (none)"),  # the overrides left out
])
def test_resume_where_study_json_disagrees_is_refused(capsys, tiny, stopped, args, needle):
    before = snapshot(stopped)
    code, lines = run_cli(capsys, "study", tiny, "--out", stopped, "--resume", *args)
    assert_one_line(code, lines, "cannot resume", needle)
    assert snapshot(stopped) == before


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_damaged_resume_file_is_named_before_anything_compiles(capsys, tiny, stopped, damage):
    state = stopped / "resume" / "direct.npz"
    data = state.read_bytes()
    state.write_bytes(data[: len(data) // 2] if damage == "truncated" else os.urandom(len(data)))
    before = snapshot(stopped)
    code, lines = run_cli(capsys, "study", tiny, "--out", stopped, "--resume", *SET)
    assert_one_line(code, lines, str(state), "truncated or corrupt")
    assert snapshot(stopped) == before


def test_a_corrupt_study_json_is_named(capsys, tiny, stopped):
    study_file = stopped / "study.json"
    study_file.write_text(study_file.read_text()[:100])
    before = snapshot(stopped)
    code, lines = run_cli(capsys, "study", tiny, "--out", stopped, "--resume")
    assert_one_line(code, lines, str(study_file), "truncated or corrupt")
    assert snapshot(stopped) == before


def test_a_report_of_a_corrupt_study_json_is_named(capsys, stopped):
    study_file = stopped / "study.json"
    study_file.write_text(study_file.read_text()[:100])
    code, lines = run_cli(capsys, "report", stopped)
    assert_one_line(code, lines, str(study_file), "truncated or corrupt")
    assert not (stopped / "report.md").exists()


def test_a_train_out_path_that_is_a_file_is_refused(capsys, tmp_path):
    path = tmp_path / "results.txt"
    path.write_text("mine\n")
    code, lines = run_cli(capsys, "train", "--out", path, "--total-steps", "512")
    assert_one_line(code, lines, str(path), "is a file")
    assert path.read_text() == "mine\n"


HOLD_LOCK = textwrap.dedent('''
    import sys, time
    from pathlib import Path
    from bootstrap_rl.study.lock import study_lock

    with study_lock(Path(sys.argv[1])):
        print("locked", flush=True)
        time.sleep(600)
''')


def test_a_second_study_on_one_out_dir_is_refused_and_a_dead_owner_does_not_block(capsys, tiny, stopped):
    before = snapshot(stopped)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(stopped)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert holder.stdout.readline().strip() == "locked"
        code, lines = run_cli(capsys, "study", tiny, "--out", stopped, "--resume")
        assert_one_line(code, lines, "another study is running", f"pid {holder.pid}")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (stopped / ".lock").exists()  # the dead owner's file is left behind
    # ... and does not block: the next study gets past the lock, to the check of the directory.
    code, lines = run_cli(capsys, "study", tiny, "--out", stopped)
    assert_one_line(code, lines, "already holds a study")
    assert not (stopped / ".lock").exists()
    assert snapshot(stopped) == before


@pytest.mark.parametrize("flag, needle", [
    ("learner.lr=1e-3", "--set learner.lr: PPOConfig has no field 'lr'"),
    ("learner.learning_rate=-1", "learner.learning_rate: must be a positive, finite number"),
    ("seeds=many", "--set seeds: cannot read 'many' as int"),
    ("stages.toddler.env_steps=64", "--set stages.toddler: no such stage"),
    ("seeds", "'seeds' is not KEY=VALUE"),
])
def test_a_bad_override_is_named(capsys, tiny, tmp_path, flag, needle):
    code, lines = run_cli(capsys, "study", tiny, "--out", tmp_path / "out", "--set", flag)
    assert_one_line(code, lines, needle)
    assert not (tmp_path / "out").exists()


def test_a_bad_flag_is_one_line(capsys, tiny, tmp_path):
    code, lines = run_cli(capsys, "study", tiny, "--seeds", "x")
    assert_one_line(code, lines, "--seeds", "'x'")
