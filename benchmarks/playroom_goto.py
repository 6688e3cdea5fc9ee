"""PPO learns Playroom goto: success rate, env steps and wall time (issue 3's bar: >= 0.9 on CPU).

Every episode gets a fresh goto task (random target colour and type, 0-3 distractors, random
layout) through ``TaskDistribution(Playroom("goto"), sample_task("goto"))``, so the policy
has to read the instruction. Seeds are vmapped in one jitted function that trains (one
``lax.scan`` of PPO updates) and then evaluates the final stochastic policy on
``--episodes`` fresh tasks per seed with ``bootstrap_rl.evaluation.evaluate``. Success =
episode return > 0 (the target was reached within the step limit). Compile time (lower +
compile) and run time (the compiled call) are measured separately.

    python benchmarks/playroom_goto.py                  # 4 seeds
    python benchmarks/playroom_goto.py --seeds 2 --no-readme --json /tmp/goto.json

Writes benchmarks/results/playroom_goto_<backend>.json and the section between the
playroom-goto markers in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

import jax
import numpy as np

from bootstrap_rl import stats
from bootstrap_rl.envs import playroom
from bootstrap_rl.evaluation import evaluate
from bootstrap_rl.ppo import PPOConfig, make_ppo
from bootstrap_rl.wrappers import TaskDistribution

HERE = Path(__file__).parent
README_START, README_END = "<!-- playroom-goto:start -->", "<!-- playroom-goto:end -->"
BAR = 0.9

# Found by a small search on a shared 2-core CPU: relu, lr 1e-3 and 2 epochs learn fastest
# per second of wall time; the cost is the learner's pass over the 407-wide observation.
CONFIG = PPOConfig(
    total_timesteps=2_000_000,
    num_envs=64,
    num_steps=64,
    update_epochs=2,
    num_minibatches=4,
    learning_rate=1e-3,
    anneal_lr=True,
    gamma=0.99,
    gae_lambda=0.95,
    clip_eps=0.2,
    ent_coef=0.01,
    vf_coef=0.5,
    max_grad_norm=0.5,
    hidden_sizes=(64, 64),
    activation="relu",
)


def make_env() -> TaskDistribution:
    """Playroom goto with a fresh random task per episode."""
    return TaskDistribution(playroom.Playroom("goto"), playroom.sample_task("goto"))


def run(config: PPOConfig = CONFIG, num_seeds: int = 4, episodes: int = 256, seed: int = 0) -> dict:
    """Train ``num_seeds`` seeds (vmapped) and evaluate each; returns the report dict."""
    env = make_env()
    ppo = make_ppo(config, env, env.default_params)

    def train_and_evaluate(key):
        train_key, eval_key = jax.random.split(key)
        state, metrics = ppo.train(train_key)
        returns, lengths = evaluate(ppo.network, state.params, env, state.env_params, eval_key, episodes)
        return {
            "success": (returns > 0).mean(),
            "eval_return": returns.mean(),
            "eval_length": lengths.mean(),
            "train_return": metrics["episode_return"],
            "entropy": metrics["entropy"],
        }

    keys = jax.random.split(jax.random.key(seed), num_seeds)
    start = time.perf_counter()
    compiled = jax.jit(jax.vmap(train_and_evaluate)).lower(keys).compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    out = jax.device_get(compiled(keys))
    run_s = time.perf_counter() - start

    success = np.asarray(out["success"], np.float64)
    backend, device = device_label()
    env_steps = config.env_steps
    return {
        "benchmark": "playroom_goto",
        "env": "TaskDistribution(Playroom-Goto-v0, sample_task('goto'))",
        "backend": backend,
        "device": device,
        "jax": jax.__version__,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "date": datetime.date.today().isoformat(),
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "config": config.to_dict(),
        "num_seeds": num_seeds,
        "eval_episodes_per_seed": episodes,
        "env_steps_per_seed": env_steps,
        "env_steps_total": env_steps * num_seeds,
        "compile_s": compile_s,
        "run_s": run_s,
        "env_steps_per_s": env_steps * num_seeds / run_s,
        "success_per_seed": success.tolist(),
        "success_mean": float(success.mean()),
        "success_min": float(success.min()),
        "success_iqm": stats.iqm_with_ci(success) if num_seeds > 1 else {"iqm": float(success[0]), "n": 1},
        "eval_return_per_seed": np.asarray(out["eval_return"]).tolist(),
        "final_window_train_return": stats.iqm_with_ci(stats.final_window(np.asarray(out["train_return"])))
        if num_seeds > 1 else None,
        "final_entropy_per_seed": np.asarray(out["entropy"])[:, -1].tolist(),
        "meets_bar": bool(stats.iqm(success) >= BAR),
    }


def device_label() -> tuple[str, str]:
    backend = jax.default_backend()
    device = jax.devices()[0]
    if backend == "cpu":
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        return backend, f"CPU ({platform.machine()}, {cores} cores)"
    return backend, getattr(device, "device_kind", str(device))


def section(report: dict, json_path: str) -> str:
    c = report["config"]
    iqm = report["success_iqm"]
    ci = f" (95% CI {iqm['ci_low']:.3f}–{iqm['ci_high']:.3f})" if "ci_low" in iqm else ""
    seeds = ", ".join(f"{s:.3f}" for s in report["success_per_seed"])
    return "\n".join([
        README_START,
        "## PPO on Playroom goto",
        "",
        "`python benchmarks/playroom_goto.py` trains PPO on Playroom goto with a fresh random task "
        "per episode (target colour × type, 0–3 distractors, random layout) through "
        "`bootstrap_rl.wrappers.TaskDistribution`, seeds vmapped in one jitted call, then "
        f"evaluates each seed's final stochastic policy on {report['eval_episodes_per_seed']} fresh "
        "tasks. Success = episode return > 0. Issue 3's bar: ≥ 0.9 on CPU.",
        "",
        f"**{report['device']}**, jax {report['jax']}, {report['date']}; raw: `{json_path}`.",
        "",
        "| seeds | env steps per seed | success IQM | success per seed | compile | run |",
        "| ---: | ---: | ---: | --- | ---: | ---: |",
        f"| {report['num_seeds']} | {report['env_steps_per_seed']:,} | {iqm['iqm']:.3f}{ci} | {seeds} "
        f"| {report['compile_s']:.0f} s | {report['run_s']:.0f} s |",
        "",
        f"Config: {c['num_envs']} envs × {c['num_steps']} steps, {c['update_epochs']} epochs × "
        f"{c['num_minibatches']} minibatches, lr {c['learning_rate']:g} (annealed), γ {c['gamma']}, "
        f"λ {c['gae_lambda']}, clip {c['clip_eps']}, entropy {c['ent_coef']}, "
        f"{c['activation']} {'×'.join(map(str, c['hidden_sizes']))}. "
        f"Run time is for all {report['num_seeds']} seeds together "
        f"({report['env_steps_per_s']:.3g} env-steps/s in total, training and evaluation). "
        "The machine is shared, so wall times are upper bounds.",
        README_END,
    ])


def update_readme(report: dict, json_path: str) -> None:
    path = HERE / "README.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = section(report, json_path)
    if README_START in text and README_END in text:
        head, rest = text.split(README_START, 1)
        tail = rest.split(README_END, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--episodes", type=int, default=256, help="evaluation episodes per seed")
    parser.add_argument("--total-steps", type=int, default=CONFIG.total_timesteps, help="env steps per seed")
    parser.add_argument("--json", type=Path, default=None, help="output path (default: results/playroom_goto_<backend>.json)")
    parser.add_argument("--no-readme", action="store_true", help="do not rewrite benchmarks/README.md")
    args = parser.parse_args(argv)

    config = CONFIG.replace(total_timesteps=args.total_steps)
    report = run(config, args.seeds, args.episodes)
    json_path = args.json or HERE / "results" / f"playroom_goto_{report['backend']}.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=1) + "\n")
    summary = {k: report[k] for k in ("device", "num_seeds", "env_steps_per_seed", "compile_s", "run_s",
                                      "success_per_seed", "success_mean", "success_iqm", "meets_bar")}
    print(json.dumps(summary, indent=1))
    if not args.no_readme:
        try:
            shown = json_path.resolve().relative_to(HERE.parent.resolve()).as_posix()
        except ValueError:
            shown = str(json_path)
        update_readme(report, shown)
    return report


if __name__ == "__main__":
    main()
