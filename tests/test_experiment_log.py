"""Experiment logging: what TensorBoard and Weights & Biases get is results.csv, row for row.

The event files are read back here without the writer's code: a TFRecord reader that checks
every record's masked CRC-32C, and TensorBoard's ``Event`` protobuf, with TensorBoard's rule
that a session start at step s drops what the run logged earlier at steps >= s.
"""

from __future__ import annotations

import struct
import sys
import textwrap
import types
from collections import defaultdict
from pathlib import Path

import jax
import pandas as pd
import pytest

from bootstrap_rl import cli
from bootstrap_rl.experiment_log import TensorBoardLog, WandbLog, make_experiment_log
from bootstrap_rl.validation import ConfigError

pytestmark = pytest.mark.usefixtures("quick_compiles")  # compiling is what these tests cost

TINY = textwrap.dedent('''
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


# --- an independent reader of TensorBoard event files ------------------------------------

def _crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


CRC_TABLE = _crc32c_table()


def masked_crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc = CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def tfrecords(path: Path):
    """The payloads of a TFRecord file, every length and payload checksum verified."""
    data = path.read_bytes()
    at = 0
    while at < len(data):
        header = data[at:at + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", data[at + 8:at + 12])
        assert length_crc == masked_crc32c(header), f"{path}: corrupt length at byte {at}"
        payload = data[at + 12:at + 12 + length]
        (payload_crc,) = struct.unpack("<I", data[at + 12 + length:at + 16 + length])
        assert payload_crc == masked_crc32c(payload), f"{path}: corrupt record at byte {at}"
        yield payload
        at += 16 + length


def read_run(folder: Path) -> dict[tuple[str, int], float]:
    """``{(tag, step): value}`` of one TensorBoard run (its event files in order)."""
    from tensorboardX.proto.event_pb2 import Event, SessionLog

    scalars: dict[tuple[str, int], float] = {}
    for path in sorted(folder.glob("events.out.tfevents.*")):
        for payload in tfrecords(path):
            event = Event.FromString(payload)
            if event.HasField("session_log") and event.session_log.status == SessionLog.START:
                scalars = {key: v for key, v in scalars.items() if key[1] < event.step}
            for value in event.summary.value:
                assert value.metadata.plugin_data.plugin_name == "scalars"
                (number,) = value.tensor.double_val
                scalars[(value.tag, event.step)] = number
    return scalars


def expected_runs(table: pd.DataFrame) -> dict[tuple[str, int], dict[tuple[str, int], float]]:
    """results.csv as logged runs: per (arm, seed), ``{(split/metric, env_steps): value}``."""
    runs: dict = defaultdict(dict)
    for row in table.itertuples(index=False):
        runs[(row.arm, int(row.seed))][(f"{row.split}/{row.metric}", int(row.env_steps))] = float(row.value)
    return dict(runs)


def logged_runs(root: Path) -> dict[tuple[str, int], dict[tuple[str, int], float]]:
    runs = {}
    for folder in sorted({p.parent for p in root.rglob("events.out.tfevents.*")}):
        arm = str(folder.parent.relative_to(root))
        runs[(arm, int(folder.name.removeprefix("seed")))] = read_run(folder)
    return runs


# --- the tests ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def compile_cache(tmp_path_factory):
    """Shared with test_bad_inputs' study of the same curriculum: its programs compile once."""
    path = tmp_path_factory.getbasetemp() / "tiny_cli_jax_cache"
    before = (jax.config.jax_compilation_cache_dir, jax.config.jax_persistent_cache_min_compile_time_secs)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    yield path
    jax.config.update("jax_compilation_cache_dir", before[0])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", before[1])


def test_a_study_logged_to_tensorboard_reads_back_as_its_results_csv(tmp_path, compile_cache, capsys):
    curriculum = tmp_path / "tiny_cli.py"
    curriculum.write_text(TINY)
    out = tmp_path / "study"
    assert cli.main(["study", str(curriculum), "--out", str(out), "--no-report", "--log", "tensorboard"]) == 0
    table = pd.read_csv(out / "results.csv")
    logged = logged_runs(out / "tensorboard")
    assert set(logged) == {(arm, seed) for arm in ("direct", "curriculum", "direct_adult_steps") for seed in (0, 1)}
    assert logged == expected_runs(table)  # every row, exactly, and nothing else
    # The evaluation points of each arm, with training metrics, evaluation and network rows.
    steps = sorted({step for _, step in logged[("curriculum", 1)]})
    assert steps == list(range(0, 384 + 1, 64))
    tags = {tag for tag, _ in logged[("curriculum", 1)]}
    assert {"hard/return", "easy/return", "train/episode_return", "easy/policy_kl"} <= tags


def test_a_train_run_logged_to_tensorboard_reads_back_as_its_results_csv(tmp_path, capsys):
    out = tmp_path / "train"
    assert cli.main(["train", "--env", "CartPole-v1", "--seeds", "2", "--out", str(out), "--total-steps", "256",
                     "--num-envs", "4", "--num-steps", "16", "--hidden-sizes", "8", "--chunks", "2",
                     "--no-progress", "--log", "tensorboard"]) == 0
    logged = logged_runs(out / "tensorboard")
    assert set(logged) == {("CartPole-v1", 0), ("CartPole-v1", 1)}
    assert logged == expected_runs(pd.read_csv(out / "results.csv"))


def test_a_reopened_tensorboard_run_replaces_the_steps_it_writes_again(tmp_path):
    """A resumed study writes its steps after the saved point again: TensorBoard shows the new ones."""
    first = TensorBoardLog(tmp_path)
    first.write([("direct", 0, "hard", step, "hard", "return", float(step)) for step in (0, 64, 128)])
    first.close()
    again = TensorBoardLog(tmp_path)
    again.write([("direct", 0, "hard", 64, "hard", "return", -1.0)])
    again.close()
    assert read_run(tmp_path / "direct" / "seed0") == {("hard/return", 0): 0.0, ("hard/return", 64): -1.0}


class FakeRun:
    def __init__(self, **settings):
        self.settings, self.logged, self.finished = settings, [], False

    def log(self, scalars, step):
        self.logged.append((step, dict(scalars)))

    def finish(self):
        self.finished = True


def test_wandb_gets_one_run_per_arm_and_seed_offline_by_default(tmp_path, monkeypatch):
    runs = []
    fake = types.SimpleNamespace(init=lambda **settings: runs.append(FakeRun(**settings)) or runs[-1])
    monkeypatch.setitem(sys.modules, "wandb", fake)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_PROJECT", raising=False)
    log = make_experiment_log("wandb", tmp_path / "my-study", config={"seeds": 2})
    assert isinstance(log, WandbLog)
    log.write([("direct", 1, "hard", 64, "train", "entropy", 0.5), ("direct", 1, "hard", 0, "hard", "return", 9.0),
               ("direct", 1, "hard", 64, "hard", "return", 10.0), ("childhood/x", 0, "easy", 0, "easy", "return", 3.0)])
    log.close()
    by_name = {run.settings["name"]: run for run in runs}
    assert set(by_name) == {"direct/seed1", "childhood/x/seed0"}
    direct = by_name["direct/seed1"]
    assert direct.settings["mode"] == "offline" and direct.settings["group"] == "my-study"
    assert direct.settings["project"] == "bootstrap-rl" and direct.settings["dir"] == str(tmp_path / "my-study")
    assert direct.settings["config"] == {"seeds": 2, "arm": "direct", "seed": 1, "first_env_step": 0}
    assert direct.logged == [(0, {"hard/return": 9.0}), (64, {"train/entropy": 0.5, "hard/return": 10.0})]
    assert all(run.finished for run in runs)


def test_a_missing_logging_package_is_a_config_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # import fails
    with pytest.raises(ConfigError, match=r"tensorboardX.*bootstrap-rl\[log\]"):
        make_experiment_log("tensorboard", tmp_path)
    with pytest.raises(ConfigError, match="unknown experiment log 'csv'"):
        make_experiment_log(["tensorboard", "csv"], tmp_path)


def wandb_records(path: Path):
    """The records of an offline W&B run file: a 7-byte header (``:W&B``, key, version), then
    LevelDB-log records (checksum, length, type: full / first / middle / last) in 32 KiB blocks."""
    block, data = 32768, path.read_bytes()
    assert data[:4] == b":W&B"
    at, pending = 7, b""
    while at + 7 <= len(data):
        left = block - at % block
        (length, kind) = struct.unpack("<HB", data[at + 4:at + 7])
        if left < 7 or (kind == 0 and length == 0):  # the rest of a block is padding
            at += left
            continue
        chunk, at = data[at + 7:at + 7 + length], at + 7 + length
        if kind in (1, 2):
            pending = chunk
        else:
            pending += chunk
        if kind in (1, 4):
            yield pending


def test_an_offline_wandb_run_reads_back_as_logged(tmp_path, monkeypatch):
    pytest.importorskip("wandb", reason="wandb is in the 'log' extra, not the 'test' one")
    from wandb.proto.wandb_internal_pb2 import Record

    for variable in ("WANDB_MODE", "WANDB_PROJECT", "WANDB_DIR"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")
    rows = [(arm, seed, "hard", step, "hard", "return", 1 / (step + 3) + seed)
            for arm in ("direct", "curriculum") for seed in (0, 1) for step in (0, 64, 128)]
    log = make_experiment_log("wandb", tmp_path / "study")
    log.write(rows)
    log.close()
    sys.modules["wandb"].teardown()  # waits for the wandb service to finish writing the files
    logged = {}
    for path in (tmp_path / "study" / "wandb").glob("offline-run-*/run-*.wandb"):  # offline: files only
        records = [Record.FromString(data) for data in wandb_records(path)]
        name = next(r.run.display_name for r in records if r.WhichOneof("record_type") == "run")
        history = [{item.key or "/".join(item.nested_key): float(item.value_json) for item in r.history.item}
                   for r in records if r.WhichOneof("record_type") == "history"]
        logged[name] = {int(h["_step"]): h["hard/return"] for h in history}
    assert logged == {f"{arm}/seed{seed}": {step: 1 / (step + 3) + seed for step in (0, 64, 128)}
                      for arm in ("direct", "curriculum") for seed in (0, 1)}
