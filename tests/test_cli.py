"""`bootstrap-rl train / list / render` from the command line's point of view."""

import json
import os
import sys

import numpy as np
import pandas as pd
import pytest

from bootstrap_rl import cli
from bootstrap_rl.ppo import PPOConfig
from bootstrap_rl.schema import TABLE_COLUMNS


@pytest.fixture(scope="module")
def train_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("jax_cache")


@pytest.fixture(scope="module")
def train_dir(tmp_path_factory, train_cache):
    from bootstrap_rl import compilation_cache

    out = tmp_path_factory.mktemp("run")
    argv = ["train", "--env", "Playroom-Goto-v0", "--seeds", "2", "--total-steps", "2048",
            "--num-envs", "4", "--num-steps", "32", "--hidden-sizes", "32", "--chunks", "4",
            "--no-progress", "--out", str(out), "--compilation-cache", str(train_cache)]
    try:
        assert cli.main(argv) == 0
    finally:  # back to the test run's cache (conftest)
        compilation_cache.enable(os.environ["JAX_COMPILATION_CACHE_DIR"])
    return out


def test_compiled_programs_are_kept_in_the_cache_folder_asked_for(train_dir, train_cache):
    assert any(train_cache.iterdir())


def test_train_writes_a_tidy_table_config_and_curve(train_dir):
    config = json.loads((train_dir / "config.json").read_text())
    ppo = PPOConfig(**config["ppo"])  # the resolved config round-trips
    assert (config["env_id"], config["seeds"], ppo.num_steps, ppo.hidden_sizes) == (
        "Playroom-Goto-v0", 2, 32, (32,))
    table = pd.read_csv(train_dir / "results.csv")
    assert tuple(table.columns) == TABLE_COLUMNS  # the study's schema
    assert set(table.arm) == {"Playroom-Goto-v0"} and set(table.split) == set(table.stage) == {"train"}
    assert set(table.seed) == {0, 1}
    # One row per seed, update and metric (minus updates where no episode finished).
    losses = table[table.metric == "policy_loss"]
    np.testing.assert_array_equal(np.sort(losses.env_steps.unique()), 128 * np.arange(1, 17))
    assert len(losses) == 2 * 16
    assert not table.value.isna().any()
    assert (train_dir / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((train_dir / "summary.json").read_text())
    assert summary["env_steps_per_seed"] == 2048


def test_render_a_trained_policy_from_its_results(train_dir, tmp_path):
    gif = tmp_path / "goto.gif"
    assert cli.main(["render", "Playroom-Goto-v0", "--from", str(train_dir), "--out", str(gif)]) == 0
    assert gif.read_bytes()[:6] in (b"GIF89a", b"GIF87a")


def test_render_from_a_mismatched_run_is_refused(train_dir, tmp_path, capsys):
    assert cli.main(["render", "Playroom-Pickup-v0", "--from", str(train_dir),
                     "--out", str(tmp_path / "x.gif")]) == 2
    assert "Playroom-Goto-v0" in capsys.readouterr().err


def test_list_shows_gymnax_and_local_ids(capsys):
    assert cli.main(["list"]) == 0
    listing = capsys.readouterr().out
    for env_id in ("CartPole-v1", "Breakout-MinAtar", "Playroom-Goto-v0", "Playroom-Treasure-v0"):
        assert env_id in listing


def test_learning_curves_notebook_reads_a_results_directory(train_dir, monkeypatch):
    import runpy
    from pathlib import Path

    notebook = Path(__file__).parents[1] / "notebooks" / "learning_curves.py"
    monkeypatch.setattr("sys.argv", [str(notebook), str(train_dir)])
    runpy.run_path(str(notebook), run_name="__main__")
    assert (train_dir / "notebook_curves.png").read_bytes()[:4] == b"\x89PNG"


def test_list_curricula_runs_no_jax(capsys):
    """Listing loads every curriculum and preset but traces and compiles nothing: validation
    (env lookup, task draws) waits for Curriculum.validate()."""
    import gymnax  # noqa: F401  (third-party: it runs JAX at its own import)
    import jax

    events = []

    def listener(name, *args, **kwargs):
        events.append(name)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        assert cli.main(["list", "curricula"]) == 0
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    assert "playroom_ladder" in capsys.readouterr().out
    assert not [e for e in events if "trace" in e or "compile" in e]


def test_a_reader_that_stops_early_gets_no_traceback(monkeypatch, capsys):
    """``bootstrap-rl plan ... | head``: the pipe closes under the writer; the command stops
    quietly with a shell's SIGPIPE status instead of a BrokenPipeError traceback."""
    class ClosedPipe:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            pass

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert cli.main(["plan", "playroom_ladder", "--preset", "quick"]) == 141
    assert capsys.readouterr().err == ""
