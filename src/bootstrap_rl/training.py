"""``train``: PPO on one env, seeds vmapped, written as a results directory.

The pipeline behind ``bootstrap-rl train`` and ``bootstrap_rl.train``: validate everything,
train in compiled chunks while the table grows on disk, then save the parameters, a summary
and a learning curve. The table has the study's schema (:mod:`bootstrap_rl.schema`): arm is
the env id, stage and split are ``train``.
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bootstrap_rl.ppo.config import PPOConfig
from bootstrap_rl.validation import ConfigError, positive_int


class OutputExistsError(ValueError):
    """The output directory already holds results and overwriting was not asked for."""


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` returns: the results directory, its table and summary, and the final
    (vmapped over seeds) learner state and per-update metrics ``[seeds, updates]``."""

    path: Path
    table: Any  # pandas.DataFrame in schema.TABLE_COLUMNS
    summary: dict
    state: Any
    metrics: dict


def train(env: str = "CartPole-v1", config: PPOConfig | None = None, *, seeds: int = 8, seed: int = 0,
          out: str | Path = "runs/train", overwrite: bool = False, chunks: int = 20,
          progress: bool = True, log=print, compilation_cache: str | Path | bool | None = True,
          experiment_log=None) -> TrainResult:
    """Train PPO with ``config`` on the registered env ``env`` for ``seeds`` vmapped seeds (seed
    ``i`` uses ``split(key(seed))[i]``), writing ``out``: ``config.json``, ``results.csv``
    (written after each of ``chunks`` compiled chunks), ``summary.json``,
    ``learning_curve.png`` and ``params/`` (orbax). Bad input raises before anything compiles.
    ``compilation_cache``: as for :func:`bootstrap_rl.run_study` (default: the user cache folder).
    ``experiment_log``: ``'tensorboard'`` or ``'wandb'`` (:mod:`bootstrap_rl.experiment_log`)
    also gets ``results.csv``'s rows, one logged run per seed."""
    import jax

    import bootstrap_rl
    from bootstrap_rl import compilation_cache as cache
    from bootstrap_rl import results, runner

    config = PPOConfig() if config is None else config
    if not isinstance(config, PPOConfig):
        raise ConfigError("config", f"must be a PPOConfig, got {type(config).__name__}")
    seeds = positive_int(seeds, "seeds")
    chunks = positive_int(chunks, "chunks")
    env_obj, env_params = bootstrap_rl.make(env)
    cache.enable_default(compilation_cache)
    out = _fresh_directory(Path(out), overwrite)
    results.write_json(out / "config.json", {
        "command": "train", "env_id": env, "seeds": seeds, "root_seed": seed, "ppo": config.to_dict(),
        "env_steps_per_seed": config.env_steps, "env_params": _jsonable(env_params),
        "device": str(jax.devices()[0].device_kind), "versions": _versions(),
    })
    table = results.MetricsTable(out / "results.csv", config.batch_size, arm=env)
    from bootstrap_rl.experiment_log import make_experiment_log
    from bootstrap_rl.ppo import make_ppo

    sink = make_experiment_log(experiment_log, out, config={"env_id": env, "ppo": config.to_dict()})

    ppo = make_ppo(config, env_obj, env_params)
    keys = jax.random.split(jax.random.key(seed), seeds)
    bar = _progress_bar(config, seeds) if progress else None
    start = time.perf_counter()

    def record(first_update: int, chunk_metrics: dict) -> None:
        rows = table.append(first_update, chunk_metrics)
        if sink is not None:  # the rows just written to results.csv
            sink.write(rows.itertuples(index=False, name=None))

    try:
        state, metrics = runner.run(ppo.init, ppo.update, keys, config.num_updates, chunks=chunks,
                                    on_chunk=record, progress=None if bar is None else bar.advance(config.batch_size))
    finally:
        if sink is not None:
            sink.close()
    wall = time.perf_counter() - start
    if bar is not None:
        bar.close()
    summary = _finish(out, env, config, seeds, state, metrics, wall, log)
    return TrainResult(path=out, table=results.read_table(out / "results.csv"), summary=summary,
                       state=state, metrics=metrics)


def _fresh_directory(out: Path, overwrite: bool) -> Path:
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"--out {out} is a file, not a results directory")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise OutputExistsError(f"--out {out} already holds results; pass --overwrite to replace them")
    if overwrite and out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _progress_bar(config: PPOConfig, seeds: int):
    from bootstrap_rl.progress import ProgressBar

    return ProgressBar(config.env_steps, seeds)


def _finish(out: Path, env: str, config: PPOConfig, seeds: int, state, metrics, wall: float, log) -> dict:
    """Save parameters, summary and learning curve; say what was written."""
    import numpy as np

    from bootstrap_rl import checkpoint, plotting, results, stats

    checkpoint.save(out / "params", state.params)
    final = stats.final_window(metrics["episode_return"])
    final = final[~np.isnan(final)]  # a seed that finished no episode in the window has no score
    summary = {
        "env_steps_per_seed": config.env_steps,
        "wall_s_including_compile": wall,
        "env_steps_per_s_including_compile": seeds * config.env_steps / wall,
        "final_window_episode_return": stats.iqm_with_ci(final) if final.size else None,
    }
    results.write_json(out / "summary.json", summary)
    env_steps = (1 + np.arange(config.num_updates)) * config.batch_size
    plotting.plot_learning_curve(env_steps, metrics["episode_return"], out / "learning_curve.png",
                                 title=f"PPO on {env}")
    dropped = int(metrics["unbootstrapped_truncations"].sum())
    if dropped:
        print(f"warning: {dropped} truncated steps exceeded the bootstrap budget and were "
              "bootstrapped from the next observation (see make_ppo's max_truncations)", file=sys.stderr)
    score = summary["final_window_episode_return"]
    if score is not None:
        log(f"final 10% episode return, IQM over {score['n']} seeds: {score['iqm']:.1f} "
            f"[{score['ci_low']:.1f}, {score['ci_high']:.1f}]")
    log(f"wrote {out}/: config.json results.csv summary.json learning_curve.png params/")
    return summary


def _jsonable(tree):
    import jax
    import numpy as np

    if dataclasses.is_dataclass(tree):
        return {f.name: _jsonable(getattr(tree, f.name)) for f in dataclasses.fields(tree)}
    return jax.tree.map(lambda x: np.asarray(x).tolist(), tree)


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("bootstrap-rl", "jax", "flax", "optax", "gymnax")}
