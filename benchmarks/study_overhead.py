"""A study arm's training throughput against a bare PPO run of the same size, in one process.

For each curriculum (its ``quick`` preset by default), the ``direct`` arm is trained the way
``bootstrap-rl study`` trains it (chunks of updates between evaluation points, rows written,
drift and retention evaluated, checkpoints at stage boundaries) and, alternately, as a bare
PPO run: ``jit(vmap(ppo.train))`` of the same config, env, task distribution, seeds and number
of updates, one ``lax.scan``. Study training time is the sum of its chunks after the first
(the first includes compilation); evaluation is timed separately and excluded from the ratio,
and its share of the arm's wall time is reported on its own. Best of ``--repeats`` for each,
alternating, so background load hits both alike.

    python benchmarks/study_overhead.py [--curricula playroom_ladder cartpole_physics] [--repeats 3]

Writes ``benchmarks/results/study_overhead_<backend>.json`` and the study-overhead section of
``benchmarks/README.md``. Issue 4's bar: the arm within 10% of bare PPO (ratio >= 0.9).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import tempfile
import time
from pathlib import Path

import jax

from bootstrap_rl import curriculum as curricula
from bootstrap_rl import study
from bootstrap_rl.study.chunks import train_run
from bootstrap_rl.study.plan import program_key
from bootstrap_rl.study.programs import Programs
from bootstrap_rl.ppo import make_ppo
from bootstrap_rl.results import replace_section, write_json
from bootstrap_rl.wrappers import TaskSamplingEnv

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import device_name  # noqa: E402

README_START, README_END = "<!-- study-overhead:start -->", "<!-- study-overhead:end -->"
BAR = 0.9


def device_label() -> str:
    return device_name(cpu="cpu: {machine} ({devices} device, {cores} cores)")


def measure(name: str, preset: str | None, seeds: int | None, repeats: int) -> dict:
    c = curricula.load(name, preset)
    seeds = seeds or c.seeds
    run = next(r for r in study.expand_runs(c) if r.slug == "direct")
    learner = Programs(c, program_key(c, run)).bind(c, run)
    root = jax.random.PRNGKey(0)

    # The bare peer: the same learner config, env and tasks, one scan over every update.
    sampler = c.sampler(c.adult.name)
    ppo = make_ppo(learner.config.replace(total_timesteps=run.budget),
                   TaskSamplingEnv(c.family, sampler), sampler, network=learner.ppo.network,
                   episode_limit=c.episode_limit)
    bare = jax.jit(jax.vmap(ppo.train))
    keys = jax.random.split(jax.random.PRNGKey(1), seeds)
    start = time.perf_counter()
    jax.block_until_ready(bare(keys))
    bare_compile = time.perf_counter() - start

    study_runs, bare_s = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            start = time.perf_counter()
            timing = train_run(c, run, learner, Path(tmp) / f"r{r}", seeds, root, resume=False,
                               checkpoint_seconds=float("inf"), log=lambda line: None)
            timing["wall_s"] = time.perf_counter() - start
            study_runs.append(timing)
            start = time.perf_counter()
            jax.block_until_ready(bare(keys))
            bare_s.append(time.perf_counter() - start)

    every = c.evaluation.every_env_steps
    chunks_timed = run.budget // every - 1  # the first chunk includes compilation
    rates = [seeds * chunks_timed * every / t["train_s"] for t in study_runs]
    best = max(range(repeats), key=lambda i: rates[i])
    bare_rate = seeds * ppo.config.env_steps / min(bare_s)
    timing = study_runs[best]
    return {
        "curriculum": name, "preset": preset, "arm": "direct", "seeds": seeds,
        "env_steps_per_seed": run.budget, "eval_every": every, "eval_episodes": c.evaluation.episodes,
        "splits": len(run.splits), "num_envs": c.learner.num_envs, "num_steps": c.learner.num_steps,
        "study_train_env_steps_per_s": rates[best], "bare_env_steps_per_s": bare_rate,
        "ratio": rates[best] / bare_rate,
        "eval_share_of_wall": timing["eval_s"] / timing["wall_s"],
        "study_timing_best": timing, "study_rates": rates, "bare_s": bare_s,
        "bare_compile_s": bare_compile, "meets_bar": rates[best] / bare_rate >= BAR,
    }


def section(report: dict, json_path: str) -> str:
    lines = [
        README_START,
        "## Study overhead",
        "",
        "`python benchmarks/study_overhead.py` trains a curriculum's `direct` arm the way "
        "`bootstrap-rl study` does (chunks between evaluation points, rows written, retention "
        "and drift evaluated, checkpoints at stage boundaries) and as a bare `jit(vmap(ppo.train))` "
        "of the same size, alternating, best of "
        f"{report['repeats']}. Training env-steps/s exclude evaluation (the first chunk, which "
        "compiles, is excluded too); the evaluation's share of the arm's wall time is reported "
        "separately. Issue 4's bar: ratio ≥ 0.9.",
        "",
        f"**{report['device']}**, jax {report['jax']}, {report['date']}; raw: `{json_path}`.",
        "",
        "| curriculum | seeds | envs × steps | env steps per seed | study arm (env-steps/s) | bare PPO (env-steps/s) | ratio | evaluation share of wall time |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for m in report["measurements"]:
        name = m["curriculum"] + (f" ({m['preset']})" if m["preset"] else "")
        lines.append(
            f"| {name} | {m['seeds']} | {m['num_envs']} × {m['num_steps']} | {m['env_steps_per_seed']:,} "
            f"| {m['study_train_env_steps_per_s']:,.0f} | {m['bare_env_steps_per_s']:,.0f} "
            f"| {m['ratio']:.2f} | {100 * m['eval_share_of_wall']:.0f}% "
            f"({m['splits']} splits × {m['eval_episodes']} episodes every {m['eval_every']:,} steps) |"
        )
    lines += ["", "The CPU is a shared 2-core machine: ratios within about ±10% of 1 are ties.", README_END]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--curricula", nargs="+", default=["cartpole_physics", "playroom_ladder"])
    parser.add_argument("--preset", default="quick", help="preset of each curriculum ('' for the full one)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds (default: the preset's)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args(argv)
    report = {
        "device": device_label(), "backend": jax.default_backend(), "jax": jax.__version__,
        "date": datetime.date.today().isoformat(), "repeats": args.repeats,
        "measurements": [measure(n, args.preset or None, args.seeds, args.repeats) for n in args.curricula],
    }
    json_path = HERE / "results" / f"study_overhead_{report['backend']}.json"
    write_json(json_path, report)
    print(json.dumps([{k: m[k] for k in ("curriculum", "ratio", "eval_share_of_wall",
                                          "study_train_env_steps_per_s", "bare_env_steps_per_s")}
                      for m in report["measurements"]], indent=1))
    if not args.no_readme:
        block = section(report, json_path.relative_to(HERE.parent).as_posix())
        replace_section(HERE / "README.md", README_START, README_END, block)
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
