"""What the PPO-against-rejax benchmarks share (``ppo_throughput.py``, ``pendulum_ppo.py``):
rejax's PPO as a peer, the timing loop that alternates the implementations, and the
command line and report around it. Private to ``benchmarks/``; see ``_common.py`` on importing.

Each implementation is a function ``build(config) -> (train, evaluate, summarise)``:
``train(keys)`` is what is timed — the training updates alone, seeds vmapped;
``evaluate(trained, keys)`` runs untimed afterwards, and ``summarise(trained, eval_returns)``
turns both into the report's numbers.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np

from bootstrap_rl import stats
from bootstrap_rl.results import write_text


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


def rejax_ppo(config, env_id: str, learning_rate, **options):
    """rejax's PPO on gymnax's ``env_id`` with ``config``'s hyperparameters (``learning_rate``: a
    float or an optax schedule; ``options``: more of rejax's own, such as
    ``normalize_observations``), as (train, evaluate, summarise)."""
    import gymnax
    from rejax import PPO as RejaxPPO

    env, env_params = gymnax.make(env_id)
    algo = RejaxPPO.create(
        env=GymnaxZeroStep(env),
        env_params=env_params,
        num_envs=config.num_envs,
        num_steps=config.num_steps,
        num_epochs=config.update_epochs,
        num_minibatches=config.num_minibatches,
        learning_rate=learning_rate,
        gamma=config.gamma,
        gae_lambda=config.gae_lambda,
        clip_eps=config.clip_eps,
        ent_coef=config.ent_coef,
        vf_coef=config.vf_coef,
        max_grad_norm=config.max_grad_norm,
        **options,
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


def measure(implementations: dict, config, num_seeds: int, repeats: int, seed: int, *,
            eval_per_seed: bool = False) -> dict:
    """Compile time (lower + compile) and the best of ``repeats`` timed calls of each
    implementation's ``train``, the implementations alternating; then, untimed, each one's
    evaluation and summary (with ``eval_per_seed``, also each seed's mean evaluation return),
    and bootstrap_rl's env-steps/s over rejax's."""
    train_keys = jax.random.split(jax.random.key(seed), num_seeds)
    eval_keys = jax.random.split(jax.random.key(seed + 1), num_seeds)
    compiled, results, parts = {}, {}, {}
    for name, build in implementations.items():
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
        eval_returns = np.asarray(jax.jit(evaluate_all)(trained[name], eval_keys))
        if eval_per_seed:
            result["final_eval_return_per_seed"] = eval_returns.mean(axis=1).tolist()
        result.update(summarise(trained[name], eval_returns))
    results["ratio_env_steps_per_s"] = (
        results["bootstrap_rl"]["env_steps_per_s"] / results["rejax"]["env_steps_per_s"]
    )
    return results


def each_result(report: dict, implementations: dict):
    """(size, implementation, its results, its env-steps/s over rejax's) for the README's rows."""
    for size in report["sizes"]:
        for name in implementations:
            ratio = size["results"]["ratio_env_steps_per_s"] if name == "bootstrap_rl" else 1.0
            yield size, name, size["results"][name], ratio


def argument_parser(description: str, seeds: list[int], total_steps: int) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seeds", type=int, nargs="+", default=seeds)
    parser.add_argument("--total-steps", type=int, default=total_steps)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-readme", action="store_true", help="do not touch benchmarks/README.md")
    return parser


def new_report(benchmark: str, env_id: str, device: str, config, argv, **extra) -> dict:
    """The report before any size is measured (``extra``, such as versions and the date, after jax's)."""
    return {
        "benchmark": benchmark,
        "env_id": env_id,
        "device": device,
        "backend": jax.default_backend(),
        "jax": jax.__version__,
        **extra,
        "command": f"python benchmarks/{benchmark}.py " + " ".join(argv or []),
        "config": config.to_dict(),
        "env_steps_per_seed": config.env_steps,
        "sizes": [],
    }


def measure_sizes(report: dict, out, implementations: dict, config, args, *, eval_per_seed: bool = False,
                  then=None) -> None:
    """``measure`` every number of seeds in ``args.seeds`` into ``report["sizes"]``;
    ``then(num_seeds, results)`` may add to a size's results before it is kept."""
    for num_seeds in args.seeds:
        results = measure(implementations, config, num_seeds, args.repeats, args.seed, eval_per_seed=eval_per_seed)
        if then is not None:
            then(num_seeds, results)
        report["sizes"].append({"num_seeds": num_seeds, "results": results})
        print(json.dumps({"num_seeds": num_seeds, **results}, indent=1), flush=True)
        write_text(out, json.dumps(report, indent=1) + "\n")  # each size is kept as soon as it is done
