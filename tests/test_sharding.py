"""Studies sharded over many devices and many processes give the table of one device.

The test process has initialised JAX with one CPU device, so the studies run in subprocesses
with simulated CPU devices, all at once (CI has 2 cores):

- one process with 1 device runs the study;
- one process with 4 devices runs it with 3 seeds padded to 4 rows, with a persistent
  compilation cache, then again (its programs from the cache), interrupted and resumed (the
  saved state holds the 3 seeds; resuming pads them again);
- two processes with 2 devices each, joined by ``jax.distributed`` on localhost through the
  CLI (``--distributed``; process 0 from flags, process 1 from environment variables), on the
  same curriculum without its method (one compiled learner fewer: the arms without a manager
  run the same programs, with the same numbers, either way).

Measured (jax 0.10.2, CPU, root seed 7): the 4-device table has the 1-device one's rows, its
returns and lengths bit for bit, and 87-89% of all values bit for bit; the rest (losses,
approx. KL, entropy, policy KL) differ in the last bits — XLA compiles a batch of one row per
device differently from a batch of three — by at most 9.5e-7 here (1.4e-6 with XLA's
optimisations on; 1.9e-6 for the 2-stage, population curriculum of test_study.py on 4
devices). The tolerance asserted, |a - b| <= 1e-6 + 1e-5 |b|, is 8x the largest of these.

Two processes with 2 devices each gave the table of one process with 4 devices bit for bit
here, but that is not guaranteed: XLA:CPU runs the very same compiled program on the same
inputs to results that differ in the last bits with the number of CPU devices in the process
(seen with CartPole at the cartpole_physics preset's sizes: 64-unit layers, 512-row
minibatches). So the same tolerance is asserted. These toy runs are too short for the
differences to grow; long RL runs amplify them into different (equally valid) trajectories.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pandas as pd
import pytest

from bootstrap_rl import cli, study
from bootstrap_rl.sharding import Layout

SMALL = textwrap.dedent('''
    """A toy CartPole curriculum: one childhood stage with a manager, then the adult stage."""
    from bootstrap_rl.curricula.cartpole_physics import physics
    from bootstrap_rl.curriculum import Controls, Curriculum, Evaluation, Stage
    from bootstrap_rl.managers import stage_schedule
    from bootstrap_rl.ppo import PPOConfig


    CURRICULUM = Curriculum(
        name="small_physics",
        env="CartPole-v1",
        stages=(Stage("easy", physics((3.0, 5.0), (0.8, 1.0)), env_steps=256),),
        adult=Stage("hard", physics((15.0, 20.0), (0.15, 0.25)), env_steps=512),
        total_env_steps=768,
        learner=PPOConfig(num_envs=4, num_steps=16, update_epochs=1, num_minibatches=2,
                          anneal_lr=False, hidden_sizes=(16, 16)),
        evaluation=Evaluation(every_env_steps=128, episodes=4, probe_observations=32),
        methods={"marker": stage_schedule(learning_rate=(1e-3, 2e-3))},
        controls=Controls.none(),
        seeds=3,
    )
''')

STUDIES = textwrap.dedent('''
    import sys
    from bootstrap_rl import curriculum, study
    from bootstrap_rl.study.storage import PartWriter

    c = curriculum.load(sys.argv[1])
    cache, quiet = sys.argv[2], lambda line: None
    for out in sys.argv[3:]:
        if not out.endswith("resumed"):
            study.run_study(c, out, root_seed=7, compilation_cache=cache, log=quiet)
            continue

        class Interrupted(Exception):
            pass

        # Stopped in the adult stage, right after the last saved state (the stage boundary).
        write = PartWriter.write

        def write_then_stop(self, point, rows):
            write(self, point, rows)
            if self.run.slug == "childhood-marker" and point == 3:
                raise Interrupted

        PartWriter.write = write_then_stop
        try:
            study.run_study(c, out, root_seed=7, compilation_cache=cache, checkpoint_seconds=0, log=quiet)
            raise AssertionError("not interrupted")
        except Interrupted:
            pass
        PartWriter.write = write
        study.run_study(c, out, root_seed=7, compilation_cache=cache, resume=True, log=quiet)
''')
CLI = "import sys; from bootstrap_rl.cli import main; sys.exit(main())"
KEY = list(study.TABLE_COLUMNS[:-1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _env(devices: int, **extra) -> dict:
    # The run's XLA_FLAGS (conftest: faster-compiling emitters) are kept; the device count is set here.
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_")}
    # Unoptimised XLA compiles twice as fast; every study compared here runs with it.
    return {**env, "JAX_PLATFORMS": "cpu", "JAX_NUM_CPU_DEVICES": str(devices),
            "JAX_DISABLE_MOST_OPTIMIZATIONS": "1", **extra}


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    root = tmp_path_factory.mktemp("sharding")
    curriculum = root / "small_physics.py"
    curriculum.write_text(SMALL)
    no_method = root / "small_physics_no_method.py"
    no_method.write_text(SMALL.replace('methods={"marker": stage_schedule(learning_rate=(1e-3, 2e-3))},', "methods={},"))
    port = _free_port()
    distributed = ["study", str(no_method), "--seed", "7", "--out", str(root / "hosts"), "--no-report",
                   "--distributed"]
    logs = {}

    def start(name, args, env):
        logs[name] = root / f"{name.replace(' ', '_')}.log"
        with open(logs[name], "w") as log:
            return subprocess.Popen([sys.executable, "-c", *args], env=env, stdout=log, stderr=subprocess.STDOUT)

    def run_studies(*outs):
        return [STUDIES, str(curriculum), str(root / "cache"), *(str(root / out) for out in outs)]

    procs = {
        "1 device": start("1 device", run_studies("one"), _env(1)),
        "4 devices": start("4 devices", run_studies("four", "four-resumed"), _env(4)),
        "process 0": start("process 0", [CLI, *distributed, "--coordinator-address", f"localhost:{port}",
                                         "--num-processes", "2", "--process-id", "0"], _env(2)),
        "process 1": start("process 1", [CLI, *distributed],
                           _env(2, JAX_COORDINATOR_ADDRESS=f"localhost:{port}", JAX_NUM_PROCESSES="2",
                                JAX_PROCESS_ID="1")),
    }
    try:
        for proc in procs.values():
            proc.wait(timeout=600)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    outputs = {name: path.read_text() for name, path in logs.items()}
    for name, proc in procs.items():
        assert proc.returncode == 0, f"{name} failed:\n{outputs[name][-3000:]}"
    return root, outputs


def _table(path):
    return pd.read_csv(path / "results.csv").sort_values(KEY).reset_index(drop=True)


def test_four_devices_give_the_table_of_one_within_float_rounding(studies):
    root, _ = studies
    one, four = _table(root / "one"), _table(root / "four")
    pd.testing.assert_frame_equal(one[KEY], four[KEY])  # the same rows: padding is never written
    assert sorted(four.seed.unique()) == [0, 1, 2]
    evaluation = ~one.split.eq("train")
    np.testing.assert_array_equal(four.value[evaluation & one.metric.isin(["return", "length"])],
                                  one.value[evaluation & one.metric.isin(["return", "length"])])
    np.testing.assert_allclose(four.value, one.value, rtol=1e-5, atol=1e-6)
    timing = json.loads((root / "four" / "timing" / "childhood-marker.json").read_text())
    assert timing["devices"] == 4 and timing["batch"] == 3 and timing["padded_batch"] == 4
    assert timing["compile_s"] > 0 and timing["peak_device_memory_bytes"] is None  # CPU: not reported
    assert json.loads((root / "four" / "study.json").read_text())["devices"] == 4
    # Checkpoints hold the real seeds only.
    from bootstrap_rl import checkpoint

    for run in ("four", "hosts"):
        params = checkpoint.restore(root / run / "checkpoints" / "curriculum" / "0_easy")
        assert {x.shape[0] for x in jax.tree.leaves(params)} == {3}, run


def test_a_sharded_study_interrupted_and_resumed_gives_the_same_table(studies):
    # (Its programs came from the persistent compilation cache: that changes no number either.)
    root, _ = studies
    pd.testing.assert_frame_equal(_table(root / "four-resumed"), _table(root / "four"), check_exact=True)


def test_the_compilation_cache_serves_a_second_study(studies):
    root, _ = studies
    assert any((root / "cache").iterdir())
    first = json.loads((root / "four" / "timing" / "direct.json").read_text())
    again = json.loads((root / "four-resumed" / "timing" / "direct.json").read_text())
    assert first["persistent_cache_hits"] == 0 and again["persistent_cache_hits"] > 0
    assert again["compile_s"] < first["compile_s"]


def test_two_processes_give_the_table_of_one_process_with_as_many_devices(studies):
    root, outputs = studies
    hosts = root / "hosts"
    table, four = _table(hosts), _table(root / "four")
    assert set(table.arm) == {"direct", "curriculum", "direct_adult_steps"}
    four = four[four.arm.isin(set(table.arm))].reset_index(drop=True)
    pd.testing.assert_frame_equal(table[KEY], four[KEY])
    np.testing.assert_allclose(table.value, four.value, rtol=1e-5, atol=1e-6)
    # Each process wrote its own rows; process 0 merged them and reported.
    parts = {p.name for p in (hosts / "parts" / "direct").glob("*.csv")}
    assert {"00000.p0.csv", "00000.p1.csv"} <= parts
    assert "wrote" in outputs["process 0"] and "wrote" not in outputs["process 1"]
    timing = json.loads((hosts / "timing" / "direct.json").read_text())
    assert timing["processes"] == 2 and timing["devices"] == 4


def test_layout_on_one_device_is_a_no_op():
    layout = Layout.over(1)
    assert layout.mesh is None and layout.padded(3) == 3 and layout.jit_options() == {}
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    assert layout.pad(keys, 3) is keys
    indices, rows = layout.local_rows({"x": keys}, 3)
    np.testing.assert_array_equal(indices, [0, 1, 2])
    np.testing.assert_array_equal(rows["x"], np.asarray(keys))
    with pytest.raises(ValueError, match="devices"):
        Layout.over(len(jax.devices()) + 1)


def test_cluster_flags_need_distributed(tmp_path, capsys):
    assert cli.main(["study", "cartpole_physics", "--process-id", "1", "--out", str(tmp_path / "x")]) == 2
    assert "--distributed" in capsys.readouterr().err
    assert cli.main(["study", "cartpole_physics", "--distributed", "--num-processes", "0"]) == 2
    assert "--num-processes" in capsys.readouterr().err
