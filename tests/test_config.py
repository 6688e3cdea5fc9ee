"""Bad input fails with an error that names the field, before anything compiles."""

import jax
import pytest

import bootstrap_rl
from bootstrap_rl import cli
from bootstrap_rl.ppo import ConfigError, PPOConfig


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"learning_rate": -1e-3}, "learning_rate"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"num_envs": 3, "num_steps": 5, "num_minibatches": 4}, "num_minibatches"),
        ({"num_envs": 0}, "num_envs"),
        ({"num_steps": 2.5}, "num_steps"),
        ({"gamma": 1.5}, "gamma"),
        ({"gae_lambda": -0.1}, "gae_lambda"),
        ({"clip_eps": -0.2}, "clip_eps"),
        ({"total_timesteps": 100}, "total_timesteps"),
        ({"hidden_sizes": (64, 0)}, "hidden_sizes"),
        ({"activation": "sigmoidish"}, "activation"),
        ({"learning_rate": float("nan")}, "learning_rate"),
        ({"ent_coef": float("inf")}, "ent_coef"),
    ],
)
def test_invalid_config_names_the_field(changes, field):
    with pytest.raises(ConfigError, match=field) as error:
        PPOConfig(**changes)
    assert error.value.field == field


def test_valid_config_derives_batch_sizes():
    config = PPOConfig(num_envs=8, num_steps=32, num_minibatches=4, total_timesteps=10_000)
    assert (config.batch_size, config.minibatch_size, config.num_updates) == (256, 64, 39)
    assert config.env_steps == 39 * 256
    assert PPOConfig(hidden_sizes=[32, 32]).hidden_sizes == (32, 32)  # lists from JSON are fine
    import numpy as np

    from_numpy = PPOConfig(num_envs=np.int64(8), learning_rate=np.float32(1e-3))
    assert from_numpy.num_envs == 8 and type(from_numpy.num_envs) is int
    with pytest.raises(Exception):
        config.num_envs = 2  # frozen


def test_unknown_env_id_names_the_id():
    with pytest.raises(bootstrap_rl.UnknownEnvError, match="CartPole-v9"):
        bootstrap_rl.make("CartPole-v9")


@pytest.fixture
def no_compiling(monkeypatch):
    """Fail the test if anything is jit-compiled."""

    def refuse(*args, **kwargs):
        raise AssertionError("compiled before validating input")

    # What the command imports decorates functions with jax.jit at import, which compiles
    # nothing: imported first, so that the test does not depend on the files run before it.
    import bootstrap_rl.curriculum  # noqa: F401
    import bootstrap_rl.study  # noqa: F401
    import bootstrap_rl.training  # noqa: F401

    monkeypatch.setattr(jax, "jit", refuse)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--learning-rate", "-0.1"], "learning_rate"),
        (["--num-envs", "3", "--num-steps", "5"], "num_minibatches"),
        (["--env", "NoSuchEnv-v0"], "NoSuchEnv-v0"),
        (["--seeds", "0"], "seeds"),
    ],
)
def test_cli_rejects_bad_input_before_compiling(argv, message, tmp_path, capsys, no_compiling):
    out = tmp_path / "run"
    assert cli.main(["train", "--out", str(out), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()  # nothing written either


def test_cli_reads_step_counts_in_scientific_notation():
    args = cli.build_parser().parse_args(["train", "--total-steps", "5e5", "--num-envs", "1_024"])
    assert cli.config_from_args(args).total_timesteps == 500_000
    assert args.num_envs == 1024
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["train", "--total-steps", "2.5"])


def test_cli_refuses_to_overwrite_results(tmp_path, capsys, no_compiling):
    (tmp_path / "results.csv").write_text("earlier results")
    assert cli.main(["train", "--out", str(tmp_path)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (tmp_path / "results.csv").read_text() == "earlier results"
