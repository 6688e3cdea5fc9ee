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
limit as a termination (it reads gymnax 1.x through ``_peers.GymnaxZeroStep``).

    python benchmarks/ppo_throughput.py                 # sizes chosen by backend
    python benchmarks/ppo_throughput.py --seeds 1 16 --repeats 3

Writes benchmarks/results/ppo_throughput_<backend>.json and the table in
benchmarks/README.md (between the PPO-THROUGHPUT markers).
"""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import numpy as np

import bootstrap_rl
from bootstrap_rl import stats
from bootstrap_rl.evaluation import evaluate
from bootstrap_rl.ppo import PPOConfig, make_ppo
from bootstrap_rl.ppo.train import learning_rate_schedule
from bootstrap_rl.results import replace_section

HERE = Path(__file__).resolve().parent
ENV_ID = "CartPole-v1"
EVAL_EPISODES = 128
sys.path.insert(0, str(HERE))
import _peers  # noqa: E402
from _common import device_name  # noqa: E402

# Each implementation gives (train, evaluate, summarise): see ``_peers``.


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
    # The same stepwise anneal as ours.
    return _peers.rejax_ppo(config, ENV_ID, learning_rate_schedule(config))


IMPLEMENTATIONS = {"bootstrap_rl": ours, "rejax": rejax}


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


def write_readme_table(report: dict) -> None:
    rows = [
        "| device | seeds | impl | env-steps/s | ratio to rejax | compile s | final eval IQM [95% CI] | last-10% train IQM [95% CI] | CLI overhead |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for size, name, r, ratio in _peers.each_result(report, IMPLEMENTATIONS):
        ev = r["final_eval_return"]
        tr = r.get("final_window_train_return")
        overhead = size["results"].get("progress_overhead") if name == "bootstrap_rl" else None
        rows.append(
            f"| {report['device']} | {size['num_seeds']} | {name} | {r['env_steps_per_s']:,.0f} "
            f"| {ratio:.2f}× | {r['compile_s']:.1f} "
            f"| {_ci(ev)} | {'—' if tr is None else _ci(tr)} "
            f"| {_overhead(overhead)} |"
        )
    start, end = f"<!-- PPO-THROUGHPUT {report['backend']} -->", f"<!-- /PPO-THROUGHPUT {report['backend']} -->"
    section = "\n".join(
        [start, f"### {report['device']} — jax {report['jax']}, `{report['command']}`", "", *rows, end]
    )
    replace_section(HERE / "README.md", start, end, section, new_file="# Benchmarks\n")


def _overhead(overhead: dict | None) -> str:
    return "—" if overhead is None else f"{100 * overhead['overhead_fraction']:.1f}%"


def _ci(summary: dict) -> str:
    return f"{summary['iqm']:.1f} [{summary['ci_low']:.1f}, {summary['ci_high']:.1f}]"


def main(argv=None) -> dict:
    gpu = jax.default_backend() != "cpu"
    parser = _peers.argument_parser(__doc__.split("\n\n")[0], [1, 64, 1024] if gpu else [1, 16], 500_000)
    parser.add_argument("--skip-overhead", action="store_true",
                        help="skip measuring the CLI's chunking, table writing and progress cost")
    args = parser.parse_args(argv)

    config = PPOConfig(total_timesteps=args.total_steps)
    report = _peers.new_report("ppo_throughput", ENV_ID, device_name("CPU ({processor}, {cores} cores)", "{kind}"),
                               config, argv)

    def overhead(num_seeds, results):
        if not args.skip_overhead:
            results["progress_overhead"] = progress_overhead(
                config, num_seeds, results["bootstrap_rl"]["env_steps_per_s"], args.seed, args.repeats
            )

    _peers.measure_sizes(report, HERE / "results" / f"ppo_throughput_{report['backend']}.json",
                         IMPLEMENTATIONS, config, args, then=overhead)
    if not args.no_readme:
        write_readme_table(report)
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
