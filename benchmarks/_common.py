"""What the benchmark scripts share: device names, README blocks, the trained-policy benchmarks'
arguments, timing and report (``limbs_reach.py``, ``playroom_goto.py``).

Private to ``benchmarks/``. A script imports it after putting its own folder first on
``sys.path``, as ``python benchmarks/x.py`` does anyway, so that loading a script by its file
path (run_all.py's subprocess runner, the slow tests) finds it too. Nothing here holds a
path: run_all.py ``--quick`` points a script's ``HERE`` (and ``README``) elsewhere, so every
output path comes from the script at call time.

JAX is imported inside the functions that need it: run_all.py imports this module and must not
start a JAX backend (on a GPU that would hold memory the benchmarks need).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import sys
import time
from pathlib import Path

from bootstrap_rl.results import write_text


def cpu_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def device_name(cpu: str = "cpu: {machine}, {cores} cores", accelerator: str = "{platform}: {kind}") -> str:
    """The first device in words, from one of two templates: ``cpu`` on a CPU, else ``accelerator``.

    Each benchmark keeps its own words, because its results name the device (env_throughput.py's
    JSON file name and README block marker are made from them). Fields: ``machine``
    (``platform.machine()``), ``processor`` (``platform.processor()``, or the machine where that
    is empty), ``cores`` (this process's CPU affinity), ``devices`` (JAX's device count),
    ``platform`` and ``kind`` (the device's).
    """
    import jax

    device = jax.devices()[0]
    if device.platform == "cpu":
        return cpu.format(machine=platform.machine(), processor=platform.processor() or platform.machine(),
                          cores=cpu_cores(), devices=jax.device_count())
    return accelerator.format(platform=device.platform, kind=device.device_kind)


def slug(text: str) -> str:
    """Lower-case letters and digits, every other run of characters one ``-``: a marker id."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def shown_path(path: Path, root: Path) -> str:
    """``path`` as a README names it: relative to ``root`` (the repository) where it lies inside."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def replace_device_block(readme: Path, start: str, end: str, heading: str, block_id: str, block: str) -> None:
    """Replace (or add) one device's block inside the section of ``readme`` between ``start``
    and ``end`` (the section, under ``heading``, is appended where it is missing). The block is
    delimited by ``<!-- {block_id} -->`` and ``<!-- /{block_id} -->`` and carries both."""
    text = readme.read_text() if readme.exists() else "# Benchmarks\n"
    if start not in text or end not in text:
        text = text.rstrip("\n") + f"\n\n{heading}\n\n{start}\n{end}\n"
    head, rest = text.split(start, 1)
    body, tail = rest.split(end, 1)
    begin, finish = f"<!-- {block_id} -->", f"<!-- /{block_id} -->"
    if begin in body and finish in body.split(begin, 1)[1]:
        before, after = body.split(begin, 1)
        body = before + block + after.split(finish, 1)[1]
    else:
        body = body.rstrip("\n") + "\n" + block + "\n"
    write_text(readme, head + start + "\n" + body.strip("\n") + "\n" + end + tail)


# --- limbs_reach.py and playroom_goto.py: PPO trained, then evaluated, in one jitted call ---


def train_and_evaluate(config, env, evaluate, num_seeds: int, seed: int) -> tuple[dict, float, float]:
    """PPO trained on ``env`` and then evaluated, seeds vmapped in one jitted call: (its outputs
    on the host, compile seconds (lower + compile), run seconds (the compiled call)).

    ``evaluate(ppo, state, key) -> dict`` evaluates one seed's trained state; the outputs add
    each seed's training curves ``train_return`` and ``entropy``.
    """
    import jax

    from bootstrap_rl.ppo import make_ppo

    ppo = make_ppo(config, env, env.default_params)

    def one_seed(key):
        train_key, eval_key = jax.random.split(key)
        state, metrics = ppo.train(train_key)
        return {**evaluate(ppo, state, eval_key), "train_return": metrics["episode_return"],
                "entropy": metrics["entropy"]}

    keys = jax.random.split(jax.random.key(seed), num_seeds)
    start = time.perf_counter()
    compiled = jax.jit(jax.vmap(one_seed)).lower(keys).compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    out = jax.device_get(compiled(keys))
    return out, compile_s, time.perf_counter() - start


def seeds_iqm(values) -> dict:
    """``stats.iqm_with_ci`` over seeds, or one seed's value (too few to bootstrap)."""
    from bootstrap_rl import stats

    return stats.iqm_with_ci(values) if len(values) > 1 else {"iqm": float(values[0]), "n": 1}


def final_window_iqm(curves):
    """IQM over seeds of each seed's mean training return over the last 10% of updates (None
    with one seed)."""
    from bootstrap_rl import stats

    return stats.iqm_with_ci(stats.final_window(curves)) if len(curves) > 1 else None


def training_report(benchmark: str, env: str, device: str, config, num_seeds: int, episodes: int,
                    compile_s: float, run_s: float, *, xla_flags: bool = False) -> dict:
    """The report's first keys, in order: what ran where, its size and its times."""
    import jax

    return {
        "benchmark": benchmark,
        "env": env,
        "backend": jax.default_backend(),
        "device": device,
        "jax": jax.__version__,
        **({"xla_flags": os.environ.get("XLA_FLAGS", "")} if xla_flags else {}),
        "date": datetime.date.today().isoformat(),
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "config": config.to_dict(),
        "num_seeds": num_seeds,
        "eval_episodes_per_seed": episodes,
        "env_steps_per_seed": config.env_steps,
        "env_steps_total": config.env_steps * num_seeds,
        "compile_s": compile_s,
        "run_s": run_s,
        "env_steps_per_s": config.env_steps * num_seeds / run_s,
    }


def ppo_config_words(c: dict) -> str:
    """The learner's configuration (``PPOConfig.to_dict()``) as the README states it."""
    return (
        f"{c['num_envs']} envs × {c['num_steps']} steps, {c['update_epochs']} epochs × "
        f"{c['num_minibatches']} minibatches, lr {c['learning_rate']:g}{' (annealed)' if c['anneal_lr'] else ''}, "
        f"γ {c['gamma']}, λ {c['gae_lambda']}, clip {c['clip_eps']}, entropy {c['ent_coef']}, "
        f"{c['activation']} {'×'.join(map(str, c['hidden_sizes']))}"
    )


def run_time_words(report: dict) -> str:
    return (
        f"Run time is for all {report['num_seeds']} seeds together "
        f"({report['env_steps_per_s']:.3g} env-steps/s in total, training and evaluation). "
        "The machine is shared, so wall times are upper bounds."
    )


def training_main(argv, description: str, benchmark: str, seeds: int, config, run, summary: tuple[str, ...],
                  here: Path, update_readme) -> dict:
    """The command line of a trained-policy benchmark: ``run(config, seeds, episodes)``, its
    report written to ``--json`` (default ``here/results/<benchmark>_<backend>.json``), the
    ``summary`` keys printed, and ``update_readme(report, the JSON's path)`` unless ``--no-readme``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seeds", type=int, default=seeds)
    parser.add_argument("--episodes", type=int, default=256, help="evaluation episodes per seed")
    parser.add_argument("--total-steps", type=int, default=config.total_timesteps, help="env steps per seed")
    parser.add_argument("--json", type=Path, default=None,
                        help=f"output path (default: results/{benchmark}_<backend>.json)")
    parser.add_argument("--no-readme", action="store_true", help="do not rewrite benchmarks/README.md")
    args = parser.parse_args(argv)

    report = run(config.replace(total_timesteps=args.total_steps), args.seeds, args.episodes)
    json_path = args.json or here / "results" / f"{benchmark}_{report['backend']}.json"
    write_text(json_path, json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: report[k] for k in summary}, indent=1))
    if not args.no_readme:
        update_readme(report, shown_path(json_path, here.parent))
    return report
