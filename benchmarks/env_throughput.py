"""Random-policy environment throughput: env-steps/s against the number of parallel envs.

Every Playroom task kind runs beside gymnax's CartPole-v1 and Breakout-MinAtar in the same
process, measured the same way: one jitted ``lax.scan`` of ``vmap(env.step)`` with uniform
random actions, per-env step keys and gymnax auto-reset, whose carry accumulates
``obs.sum() + reward.sum()`` so XLA cannot drop the work of computing observations. Playroom
envs each get their own task, sampled from the kind's sampler (as a curriculum stage would);
all kinds share one compiled step. Reset and compile time are excluded; the figure is the
best of ``--repeats`` timed calls (the least disturbed by other load).

    python benchmarks/env_throughput.py                 # CPU or GPU default sizes
    python benchmarks/env_throughput.py --num-envs 1 64 --quick

Writes ``benchmarks/results/env_throughput_<backend>_<device>.json`` and refreshes the
table between the env-throughput markers in ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import platform
import re
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
START, END = "<!-- env-throughput:start -->", "<!-- env-throughput:end -->"
DEFAULT_NUM_ENVS = {"cpu": [1, 64, 1024, 4096], "gpu": [1, 1024, 8192, 65536, 262144]}


@functools.lru_cache(maxsize=None)  # every Playroom kind reuses one compiled rollout
def make_rollout(env, num_envs: int, num_steps: int, batched_params: bool):
    """(init, run): init(key, params) -> carry; run(carry, params) -> carry after num_steps."""
    params_axis = 0 if batched_params else None
    reset = jax.vmap(env.reset, in_axes=(0, params_axis))
    step = jax.vmap(env.step, in_axes=(0, 0, 0, params_axis))
    num_actions = env.action_space(env.default_params).n

    @jax.jit
    def init(key, params):
        key, reset_key = jax.random.split(key)
        obs, state = reset(jax.random.split(reset_key, num_envs), params)
        return key, state, jnp.zeros((), jnp.float32)

    @jax.jit
    def run(carry, params):
        def body(carry, _):
            key, state, total = carry
            key, action_key, step_key = jax.random.split(key, 3)
            actions = jax.random.randint(action_key, (num_envs,), 0, num_actions)
            obs, state, reward, _, _, _ = step(jax.random.split(step_key, num_envs), state, actions, params)
            total = total + jnp.sum(obs.astype(jnp.float32)) + jnp.sum(reward)
            return (key, state, total), None

        carry, _ = jax.lax.scan(body, carry, None, length=num_steps)
        return carry

    return init, run


def measure(env, params, num_envs: int, num_steps: int, repeats: int, batched_params: bool) -> dict:
    init, run = make_rollout(env, num_envs, num_steps, batched_params)
    carry = init(jax.random.key(0), params)
    started = time.perf_counter()
    carry = jax.block_until_ready(run(carry, params))  # compile + warm up
    compile_s = time.perf_counter() - started
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        carry = jax.block_until_ready(run(carry, params))
        times.append(time.perf_counter() - started)
    seconds = min(times)  # best of: the least disturbed by other work on the machine
    assert np.isfinite(float(carry[2]))
    return {
        "num_envs": num_envs,
        "num_steps": num_steps,
        "seconds": seconds,
        "steps_per_s": num_envs * num_steps / seconds,
        "first_call_s": compile_s,
    }


def device_label() -> tuple[str, str]:
    device = jax.devices()[0]
    kind = getattr(device, "device_kind", str(device))
    if jax.default_backend() == "cpu":
        kind = f"{platform.processor() or platform.machine()} ({len(jax.devices('cpu'))} device, {_cpu_count()} cores)"
    return jax.default_backend(), kind


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-envs", type=int, nargs="+", help="env counts (default by backend)")
    parser.add_argument("--kinds", nargs="+", help="Playroom task kinds (default: all)")
    parser.add_argument("--steps-per-call", type=int, default=None,
                        help="env steps per env per timed call (default: ~2^19 / num_envs on CPU)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="fewer steps; numbers are noisier")
    parser.add_argument("--no-readme", action="store_true", help="do not rewrite benchmarks/README.md")
    args = parser.parse_args(argv)

    from bootstrap_rl.envs import playroom
    from bootstrap_rl.registry import make

    backend, device = device_label()
    sizes = args.num_envs or DEFAULT_NUM_ENVS["cpu" if backend == "cpu" else "gpu"]
    kinds = args.kinds or list(playroom.TASK_KINDS)
    budget = (2**17 if args.quick else 2**19) * (1 if backend == "cpu" else 64)

    playroom_env = playroom.Playroom("goto")  # one instance: every kind shares its compiled step
    subjects = [(name, *make(name), False) for name in ("CartPole-v1", "Breakout-MinAtar")]
    rows = []
    for num_envs in sizes:
        num_steps = args.steps_per_call or int(np.clip(budget // num_envs, 32, 20_000))
        for name, env, params, batched in subjects:
            result = measure(env, params, num_envs, num_steps, args.repeats, batched)
            rows.append({"env": name, **result})
            print(f"{name:>22} {num_envs:>7} envs: {result['steps_per_s']:.3e} steps/s", flush=True)
        for kind in kinds:
            keys = jax.random.split(jax.random.key(1), num_envs)
            params = jax.vmap(playroom.TASK_SAMPLERS[kind])(keys)
            result = measure(playroom_env, params, num_envs, num_steps, args.repeats, True)
            name = playroom.ENV_IDS[kind]
            rows.append({"env": name, **result})
            print(f"{name:>22} {num_envs:>7} envs: {result['steps_per_s']:.3e} steps/s", flush=True)

    report = {
        "benchmark": "env_throughput",
        "backend": backend,
        "device": device,
        "jax_version": jax.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "policy": "uniform random",
        "observation": "consumed (sum accumulated in the scan carry)",
        "repeats": args.repeats,
        "results": rows,
    }
    out = HERE / "results" / f"env_throughput_{backend}_{_slug(device)}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out.relative_to(HERE.parent)}")
    if not args.no_readme:
        update_readme(report, out)
    return report


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def table(report: dict) -> str:
    """Markdown table: one row per env, one column per number of envs."""
    sizes = sorted({row["num_envs"] for row in report["results"]})
    envs = list(dict.fromkeys(row["env"] for row in report["results"]))
    value = {(row["env"], row["num_envs"]): row["steps_per_s"] for row in report["results"]}
    lines = ["| env | " + " | ".join(f"{n:,} envs" for n in sizes) + " |",
             "| --- |" + " ---: |" * len(sizes)]
    for env in envs:
        cells = [f"{value[(env, n)]:.2e}" if (env, n) in value else "" for n in sizes]
        lines.append(f"| {env} | " + " | ".join(cells) + " |")
    ref = "Breakout-MinAtar"
    ratios = []
    for n in sizes:
        playroom = [v for (env, m), v in value.items() if m == n and env.startswith("Playroom")]
        if playroom and (ref, n) in value:
            ratios.append(f"{n:,}: {min(playroom) / value[(ref, n)]:.2f}–{max(playroom) / value[(ref, n)]:.2f}")
    if ratios:
        lines.append("")
        lines.append("Playroom / Breakout-MinAtar (slowest–fastest kind), by number of envs: " + "; ".join(ratios) + ".")
    return "\n".join(lines)


def update_readme(report: dict, json_path: Path) -> None:
    """Replace (or add) this device's table inside the env-throughput section of the README."""
    section_header = "## Env throughput"
    block_id = f"{report['backend']}: {report['device']}"
    block = (
        f"<!-- env-throughput:{_slug(block_id)} -->\n"
        f"**{block_id}**, jax {report['jax_version']}, {report['date'][:10]}; env-steps/s, random policy, "
        f"observation consumed; raw: `{json_path.relative_to(HERE.parent)}`.\n\n{table(report)}\n"
        f"<!-- /env-throughput:{_slug(block_id)} -->"
    )
    text = README.read_text() if README.exists() else "# Benchmarks\n"
    if START not in text:
        text = text.rstrip("\n") + f"\n\n{section_header}\n\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    body, tail = rest.split(END, 1)
    pattern = re.compile(
        rf"<!-- env-throughput:{re.escape(_slug(block_id))} -->.*?<!-- /env-throughput:{re.escape(_slug(block_id))} -->",
        re.S,
    )
    body = pattern.sub(lambda _: block, body) if pattern.search(body) else body.rstrip("\n") + "\n" + block + "\n"
    README.write_text(head + START + "\n" + body.strip("\n") + "\n" + END + tail)


if __name__ == "__main__":
    main()
