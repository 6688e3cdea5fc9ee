"""PPO throughput: bootstrap-rl against rejax's PPO, same configuration, same run.

PureJaxRL's CartPole-v1 configuration (lr 2.5e-4 annealed, 4 envs, 128 steps, 4 epochs,
4 minibatches, gamma 0.99, lambda 0.95, clip 0.2, ent 0.01, vf 0.5, grad norm 0.5, tanh
64x64, 5e5 steps), vmapped over seeds: 1 and 16 on a CPU, 1, 64 and 1024 on a GPU.

For each size and each implementation it measures compile time (lower + compile) and the
best of ``--repeats`` timed runs of the compiled training function (training updates only,
no evaluation inside), alternating implementations so that background load hits both alike.
Final return, untimed: 128 evaluation episodes per seed of the final stochastic policy
(rejax's own evaluator for rejax, ``bootstrap_rl.evaluation`` for ours), reduced to an IQM
over seeds with a percentile-bootstrap 95% CI; for ours also the IQM of the training return
over the last 10% of updates (the foundation issue's bar).

Known differences at equal hyperparameters: rejax clips gradients element-wise
(``optax.clip``) where PureJaxRL and bootstrap-rl clip the global norm, keeps separate Adam
states for actor and critic, uses Adam's default eps (1e-8, ours 1e-5), and treats a time
limit as a termination (it reads gymnax 1.x through ``GymnaxZeroStep`` below).

    python benchmarks/ppo_throughput.py                 # sizes chosen by backend
    python benchmarks/ppo_throughput.py --seeds 1 16 --repeats 3

Writes benchmarks/results/ppo_throughput_<backend>.json and the table in
benchmarks/README.md (between the PPO-THROUGHPUT markers).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import gymnax
import jax
import jax.numpy as jnp
import numpy as np

import bootstrap_rl
from bootstrap_rl import stats
from bootstrap_rl.evaluation import evaluate
from bootstrap_rl.results import write_text
from bootstrap_rl.ppo import PPOConfig, make_ppo
from bootstrap_rl.ppo.train import learning_rate_schedule

HERE = Path(__file__).parent
ENV_ID = "CartPole-v1"
EVAL_EPISODES = 128


class GymnaxZeroStep:
    """gymnax 1.x ``step`` -> the 5-tuple of gymnax 0.x that rejax 0.1.3 unpacks.

    done = terminated | truncated, as rejax (like PureJaxRL) treats a time limit.
    """

    def __init__(self, env):
        self._env = env

    def __getattr__(self, name):
        if name == "_env":  # deepcopy probes attributes before __init__ has run
            raise AttributeError(name)
        return getattr(self._env, name)

    def step(self, key, state, action, params=None):
        obs, state, reward, terminated, truncated, info = self._env.step(key, state, action, params)
        return obs, state, reward, jnp.logical_or(terminated, truncated), info

    def reset(self, key, params=None):
        return self._env.reset(key, params)


# Each implementation gives (train, evaluate, summarise): ``train(keys)`` is what is timed — the
# training updates alone, seeds vmapped; ``evaluate(trained, keys)`` runs untimed afterwards.


def ours(config: PPOConfig):
    env, env_params = bootstrap_rl.make(ENV_ID)
    ppo = make_ppo(config, env, env_params)

    def train(keys):
        state, metrics = jax.vmap(ppo.train)(keys)
        return state.params, metrics["episode_return"]

    def evaluate_all(trained, keys):
        params, _ = trained
        return jax.vmap(
            lambda p, k: evaluate(ppo.network, p, env, env_params, k, EVAL_EPISODES)[0]
        )(params, keys)

    def summarise(trained, eval_returns):
        return {
            "final_eval_return": stats.iqm_with_ci(np.asarray(eval_returns).mean(axis=1)),
            "final_window_train_return": stats.iqm_with_ci(stats.final_window(np.asarray(trained[1]))),
        }

    return train, evaluate_all, summarise


def rejax(config: PPOConfig):
    from rejax import PPO as RejaxPPO

    env, env_params = gymnax.make(ENV_ID)
    algo = RejaxPPO.create(
        env=GymnaxZeroStep(env),
        env_params=env_params,
        num_envs=config.num_envs,
        num_steps=config.num_steps,
        num_epochs=config.update_epochs,
        num_minibatches=config.num_minibatches,
        learning_rate=learning_rate_schedule(config),  # the same stepwise anneal as ours
        gamma=config.gamma,
        gae_lambda=config.gae_lambda,
        clip_eps=config.clip_eps,
        ent_coef=config.ent_coef,
        vf_coef=config.vf_coef,
        max_grad_norm=config.max_grad_norm,
        agent_kwargs={"activation": config.activation, "hidden_layer_sizes": config.hidden_sizes},
        total_timesteps=config.env_steps,
        eval_freq=config.env_steps,
        skip_initial_evaluation=True,
    )

    def train(keys):
        # rejax's own train() minus its evaluation callback: init, then its train_iteration
        # once per update, exactly as OnPolicyMixin.train runs them.
        def one_seed(key):
            ts = algo.init_state(key)
            return jax.lax.fori_loop(0, config.num_updates, lambda _, ts: algo.train_iteration(ts), ts)

        return jax.vmap(one_seed)(keys)

    def evaluate_all(trained, keys):
        # rejax's evaluator: 128 episodes of the final policy.
        return jax.vmap(lambda ts, k: algo.eval_callback(algo, ts, k)[1])(trained, keys)

    def summarise(trained, eval_returns):
        return {"final_eval_return": stats.iqm_with_ci(np.asarray(eval_returns).mean(axis=1))}

    return train, evaluate_all, summarise


IMPLEMENTATIONS = {"bootstrap_rl": ours, "rejax": rejax}


def measure(config: PPOConfig, num_seeds: int, repeats: int, seed: int) -> dict:
    train_keys = jax.random.split(jax.random.key(seed), num_seeds)
    eval_keys = jax.random.split(jax.random.key(seed + 1), num_seeds)
    compiled, results, parts = {}, {}, {}
    for name, build in IMPLEMENTATIONS.items():
        parts[name] = build(config)
        start = time.perf_counter()
        compiled[name] = jax.jit(parts[name][0]).lower(train_keys).compile()
        results[name] = {"compile_s": time.perf_counter() - start, "run_s": []}
    trained = {}
    for _ in range(repeats):  # alternate, so background load hits both alike
        for name, fn in compiled.items():
            start = time.perf_counter()
            trained[name] = jax.block_until_ready(fn(train_keys))
            results[name]["run_s"].append(time.perf_counter() - start)
    for name, result in results.items():
        result["env_steps_per_s"] = num_seeds * config.env_steps / min(result["run_s"])
        _, evaluate_all, summarise = parts[name]
        eval_returns = jax.jit(evaluate_all)(trained[name], eval_keys)
        result.update(summarise(trained[name], eval_returns))
    results["ratio_env_steps_per_s"] = (
        results["bootstrap_rl"]["env_steps_per_s"] / results["rejax"]["env_steps_per_s"]
    )
    return results


def progress_overhead(
    config: PPOConfig, num_seeds: int, one_scan_steps_per_s: float, seed: int, repeats: int
) -> dict:
    """What ``bootstrap-rl train`` costs over one bare scan: the same updates run in 20 chunks,
    each chunk's metrics written to the tidy CSV and a progress callback called, as the CLI does.

    Timed from the end of the first chunk (which includes compilation) to the end of the run;
    best of ``repeats``, like the one-scan figure it is compared with.
    """
    import tempfile

    from bootstrap_rl.results import MetricsTable
    from bootstrap_rl.runner import run

    env, env_params = bootstrap_rl.make(ENV_ID)
    ppo = make_ppo(config, env, env_params)
    rates = []
    for _ in range(repeats):
        marks = []
        with tempfile.TemporaryDirectory() as tmp:
            table = MetricsTable(Path(tmp) / "metrics.csv", config.batch_size)
            run(ppo.init, ppo.update, jax.random.split(jax.random.key(seed), num_seeds),
                config.num_updates, chunks=20, on_chunk=table.append,
                progress=lambda updates, seconds: marks.append((updates, seconds)))
        (first_updates, first_s), (last_updates, last_s) = marks[0], marks[-1]
        rates.append(num_seeds * (last_updates - first_updates) * config.batch_size / (last_s - first_s))
    return {
        "chunked_with_progress_and_table_env_steps_per_s": max(rates),
        "one_scan_env_steps_per_s": one_scan_steps_per_s,
        "overhead_fraction": 1.0 - max(rates) / one_scan_steps_per_s,
    }


def device_name() -> str:
    device = jax.devices()[0]
    if device.platform == "cpu":
        return f"CPU ({platform.processor() or platform.machine()}, {_cores()} cores)"
    return device.device_kind


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


def write_readme_table(report: dict) -> None:
    rows = [
        "| device | seeds | impl | env-steps/s | ratio to rejax | compile s | final eval IQM [95% CI] | last-10% train IQM [95% CI] | CLI overhead |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for size in report["sizes"]:
        for name in IMPLEMENTATIONS:
            r = size["results"][name]
            ev = r["final_eval_return"]
            tr = r.get("final_window_train_return")
            ratio = size["results"]["ratio_env_steps_per_s"] if name == "bootstrap_rl" else 1.0
            overhead = size["results"].get("progress_overhead") if name == "bootstrap_rl" else None
            rows.append(
                f"| {report['device']} | {size['num_seeds']} | {name} | {r['env_steps_per_s']:,.0f} "
                f"| {ratio:.2f}× | {r['compile_s']:.1f} "
                f"| {_ci(ev)} | {'—' if tr is None else _ci(tr)} "
                f"| {_overhead(overhead)} |"
            )
    section = "\n".join(
        [
            f"<!-- PPO-THROUGHPUT {report['backend']} -->",
            f"### {report['device']} — jax {report['jax']}, `{report['command']}`",
            "",
            *rows,
            f"<!-- /PPO-THROUGHPUT {report['backend']} -->",
        ]
    )
    replace_section(HERE / "README.md", f"PPO-THROUGHPUT {report['backend']}", section)


def _overhead(overhead: dict | None) -> str:
    return "—" if overhead is None else f"{100 * overhead['overhead_fraction']:.1f}%"


def _ci(summary: dict) -> str:
    return f"{summary['iqm']:.1f} [{summary['ci_low']:.1f}, {summary['ci_high']:.1f}]"


def replace_section(path: Path, marker: str, section: str) -> None:
    """Replace the text between ``<!-- marker -->`` and ``<!-- /marker -->``, or append it."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    start, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    write_text(path, text)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    gpu = jax.default_backend() != "cpu"
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 64, 1024] if gpu else [1, 16])
    parser.add_argument("--total-steps", type=int, default=500_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-readme", action="store_true", help="do not touch benchmarks/README.md")
    parser.add_argument("--skip-overhead", action="store_true",
                        help="skip measuring the CLI's chunking, table writing and progress cost")
    args = parser.parse_args(argv)

    config = PPOConfig(total_timesteps=args.total_steps)
    report = {
        "benchmark": "ppo_throughput",
        "env_id": ENV_ID,
        "device": device_name(),
        "backend": jax.default_backend(),
        "jax": jax.__version__,
        "command": "python benchmarks/ppo_throughput.py " + " ".join(argv or []),
        "config": config.to_dict(),
        "env_steps_per_seed": config.env_steps,
        "sizes": [],
    }
    out = HERE / "results" / f"ppo_throughput_{report['backend']}.json"
    out.parent.mkdir(exist_ok=True)
    for num_seeds in args.seeds:
        results = measure(config, num_seeds, args.repeats, args.seed)
        if not args.skip_overhead:
            results["progress_overhead"] = progress_overhead(
                config, num_seeds, results["bootstrap_rl"]["env_steps_per_s"], args.seed, args.repeats
            )
        report["sizes"].append({"num_seeds": num_seeds, "results": results})
        print(json.dumps({"num_seeds": num_seeds, **results}, indent=1), flush=True)
        out.write_text(json.dumps(report, indent=1))  # each size is kept as soon as it is done
    if not args.no_readme:
        write_readme_table(report)
    return report


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
