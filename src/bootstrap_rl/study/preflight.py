"""Checks that trace every program of a study before any arm trains.

A broken manager, sampler or network fails here, in seconds, with the arm or method named,
instead of after the arms before it have trained. Nothing is compiled or run: shapes only.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bootstrap_rl.curriculum import Curriculum
from bootstrap_rl.study.errors import StudyError
from bootstrap_rl.study.inputs import run_inputs
from bootstrap_rl.study.plan import Run, study_methods
from bootstrap_rl.study.programs import Programs, RunPrograms


def preflight_study(curriculum: Curriculum, runs: list[Run], programs: dict[str, RunPrograms], seeds: int,
                    root: jax.Array) -> None:
    """Check every method on the childhood arms' network (if any), then trace every run."""
    childhood = next((run for run in runs if run.method is not None), None)
    if childhood is not None:
        check_methods(curriculum, programs[childhood.slug].programs)
    for run in runs:
        preflight(curriculum, run, programs[run.slug], seeds, root)


def check_methods(curriculum: Curriculum, programs: Programs) -> None:
    """Initialise every method alone on the network (shapes only), so that a method that does
    not fit it — a memory manager without a memory, say — fails naming that method."""
    env = programs.env
    obs = jnp.zeros((1, *env.observation_space(curriculum.sampler(curriculum.all_stages[0].name)).shape))
    key = jax.random.PRNGKey(0)
    params = jax.eval_shape(programs.ppo.network.init, key, obs)
    for name, manager in study_methods(curriculum).items():
        try:
            jax.eval_shape(manager.init, key, params)
        except Exception as error:
            raise StudyError(f"method {name!r} cannot be built on this curriculum's network: "
                             f"{type(error).__name__}: {error}") from error


def preflight(curriculum: Curriculum, run: Run, programs: RunPrograms, seeds: int, root: jax.Array) -> None:
    """Trace (without compiling or running) every program of a run, so that a broken manager
    or sampler fails now, before any arm trains, with the arm named."""
    keys, hparams, samplers, per_episode = run_inputs(curriculum, run, seeds, root, programs.layout)
    first = samplers[run.schedule[0][0]]
    try:
        state = jax.eval_shape(programs.begin, keys, hparams, first, len(run.schedule) == 1)
        jax.eval_shape(programs.start_stage, state, first, 0, False)
        jax.eval_shape(programs.chunk, state, 0)
        params = jax.eval_shape(jax.vmap(programs.ppo.acting_params), state)
        played = jax.eval_shape(programs.evaluate, params, per_episode, keys)
        batch, steps, episodes = played.seen.shape
        probe = jax.ShapeDtypeStruct((batch, steps * episodes, *played.observations.shape[3:]),
                                     played.observations.dtype)
        probe_seen = jax.ShapeDtypeStruct((batch, steps * episodes), bool)
        jax.eval_shape(programs.drift, params, params, probe, probe_seen)
        jax.eval_shape(programs.network_metrics, params, probe, probe_seen)
    except Exception as error:
        what = f" (method {run.method!r})" if run.method else ""
        raise StudyError(f"arm {run.arms[0]}{what} cannot be built: {type(error).__name__}: {error}") from error
