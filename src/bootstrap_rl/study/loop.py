"""Training one seed chunk of a run: evaluate a point, train an interval, end a stage, save.

:class:`ChunkTrainer` trains seeds ``first ... stop-1`` of one run (every seed unless the run
trains in chunks) from its first evaluation point, or from the state it saved last, to the end
of its budget. Its :meth:`~ChunkTrainer.train` reads top to bottom: begin or restore, evaluate
env step 0, then per interval of ``every_env_steps``: enter a new stage if one is due, train,
evaluate, end the stage when its budget is spent (checkpoint, drift snapshot), and save the
resume state at a stage boundary or when ``checkpoint_seconds`` have passed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from bootstrap_rl import checkpoint
from bootstrap_rl.curriculum import Curriculum
from bootstrap_rl.sharding import barrier, is_writer
from bootstrap_rl.study.inputs import EVAL_STREAM, run_inputs, seed_keys
from bootstrap_rl.study.plan import Run
from bootstrap_rl.study.programs import RunPrograms
from bootstrap_rl.study.resume import batch_rows, load_resume, save_resume
from bootstrap_rl.study.rows import evaluation_rows, network_rows, train_rows
from bootstrap_rl.study.storage import PartWriter, resume_path
from bootstrap_rl.study.timing import RunTiming


@dataclass(frozen=True, eq=False)
class RunJob:
    """One run of a study to train, with everything its seed chunks share."""

    curriculum: Curriculum
    run: Run
    programs: RunPrograms
    out: Path  # the results directory
    seeds: int  # of the whole run
    root: jax.Array  # the study's root key
    checkpoint_seconds: float  # save the resume state at least this often (and at stage ends)
    log: Callable[[str], None]
    progress: object = None  # a bootstrap_rl.progress.StudyProgress (process 0), or None
    experiment_log: Any = None  # an ExperimentLog fed every part's rows, or None


class ChunkTrainer:
    """Train, evaluate and record seeds ``first ... stop-1`` of one run; resumable at any
    saved evaluation point. Every process of a distributed study runs it: each writes the
    rows of its own devices, process 0 the resume state."""

    def __init__(self, job: RunJob, first: int, stop: int, timing: RunTiming):
        c, run = job.curriculum, job.run
        self.job, self.run, self.programs, self.timing = job, run, job.programs, timing
        self.layout = job.programs.layout
        self.first, self.seeds_here = first, stop - first
        self.writer = PartWriter(job.out, run, job.seeds, first, stop, experiment_log=job.experiment_log)
        self.suffix = f".{self.writer.tag}" if self.writer.tag else ""  # of this chunk's file names
        self.resume_file = resume_path(job.out, run, self.writer.tag)
        self.arm_seeds = self.writer.member_seed()  # (arm, seed) per batch row
        self.batch = len(self.arm_seeds)
        self.inputs = run_inputs(c, run, self.seeds_here, job.root, self.layout, first)
        self.samplers, self.per_episode = self.layout.replicate((self.inputs.samplers, self.inputs.per_episode))
        self.every = c.evaluation.every_env_steps
        self.stage_ends = np.cumsum([steps for _, steps in run.schedule])
        self.num_points = run.budget // self.every
        self.last_stage = len(run.schedule) - 1
        # Progress: the state, the evaluation point it is at, its stage, whether that stage
        # has yet to be entered, and each finished stage's (params at its end, probe
        # observations, weights) to measure drift from.
        self.state, self.point, self.stage, self.fresh_stage = None, 0, 0, False
        self.snapshots: dict[str, tuple] = {}
        self.last_save = 0.0

    def train(self, resume: bool, finished: frozenset[str] = frozenset()) -> None:
        """Train to the end of the run's budget. ``resume``: continue from the saved state, if
        there is one; a fresh start drops the parts of every chunk not ``finished`` (tags)."""
        chunk_start = time.perf_counter()
        resuming = resume and self.resume_file.exists()
        if resuming:
            self._restore()
        else:
            self._begin(finished)
        barrier(f"{self.run.slug}: parts cleared")  # before any process writes this run's parts
        if not resuming:
            self._evaluate([], self.run.schedule[0][0])
        self.last_save = time.perf_counter()
        while self.point < self.num_points:
            stage_name = self.run.schedule[self.stage][0]
            if self.fresh_stage:
                self.state = self.programs.start_stage(self.state, self.samplers[stage_name], self.stage,
                                                       self.stage == self.last_stage)
                self.fresh_stage = False
            trained = self._train_interval(chunk_start, stage_name)
            played = self._evaluate(trained, stage_name)
            stage_over = self.point * self.every == self.stage_ends[self.stage]
            if stage_over:
                self._end_stage(stage_name, played)
            self._save_if_due(stage_over)
        self._finish()

    def _begin(self, finished: frozenset[str]) -> None:
        """Initialise every seed and enter the first stage."""
        if is_writer():
            self.writer.drop_unfinished(set(finished))
        shard = self.layout.shard
        self.state = self.programs.begin(shard(self.inputs.keys, self.batch), shard(self.inputs.hparams, self.batch),
                                         self.samplers[self.run.schedule[0][0]], self.last_stage == 0)

    def _restore(self) -> None:
        """Continue from the saved state: drop the parts written past it."""
        like = batch_rows(self.programs.state_shapes(self.run, self.inputs), self.batch)
        # Shapes from the unjitted function: ``like`` has the batch's rows, not the padded rows.
        acting_like = self.programs.acting_shapes(like)
        self.point, self.stage, self.fresh_stage, state, snapshots = load_resume(self.resume_file, like, acting_like)
        self.state = self.layout.shard(state, self.batch)
        self.snapshots = {name: self.layout.shard(snapshot, self.batch) for name, snapshot in snapshots.items()}
        if is_writer():
            self.writer.drop_after(self.point)
        self.job.log(f"{self.run.slug}{self.suffix}: resuming at {self.point * self.every:,} env steps")
        if self.job.progress is not None:
            self.job.progress.skip(env_steps=self.point * self.every * len(self.run.arms) * self.seeds_here)

    def _train_interval(self, chunk_start: float, stage_name: str) -> list[tuple]:
        """One interval of updates; its training rows."""
        with self.timing.training(chunk_start):
            self.state, metrics = self.programs.chunk(self.state, self.stage)
            local, metrics = self.layout.local_rows(metrics, self.batch)  # waits for the chunk to finish
        self.point += 1
        if self.job.progress is not None:
            self.job.progress.advance(self.every * len(self.run.arms) * self.seeds_here)
        return train_rows(metrics, [self.arm_seeds[row] for row in local], stage_name, self.point * self.every)

    def _evaluate(self, train: list[tuple], stage_name: str):
        """Evaluate the current point and write its part (``train`` rows first); the played
        episodes."""
        with self.timing.evaluation():
            keys = self.layout.shard(seed_keys(self.job.root, EVAL_STREAM, self.point, len(self.run.arms),
                                               self.seeds_here, self.first), self.batch)
            acting = self.programs.acting(self.state)
            played = self.programs.evaluate(acting, self.per_episode, keys)
            drift = {name: self.programs.drift(params, acting, probe, weights)
                     for name, (params, probe, weights) in self.snapshots.items()}
            # Plasticity and active parameters, on what the policy met in the adult task's episodes.
            network = self.programs.network_metrics(acting, *self._probe_set(self.run.splits[-1], played))
            local, (returns, lengths, drift, network) = self.layout.local_rows(
                (played.returns, played.lengths, drift, network), self.batch)
        evaluation = self.job.curriculum.evaluation
        shape = (len(local), len(self.run.splits), evaluation.episodes)
        rows = train + evaluation_rows([self.arm_seeds[row] for row in local], self.run.splits,
                                       returns.reshape(shape), lengths.reshape(shape), drift, stage=stage_name,
                                       env_steps=self.point * self.every, threshold=evaluation.success_threshold)
        rows += network_rows([self.arm_seeds[row] for row in local], network, stage=stage_name,
                             env_steps=self.point * self.every)
        self.writer.write(self.point, rows)
        return played

    def _end_stage(self, stage_name: str, played) -> None:
        """Checkpoint every seed's acting variables; before a next stage, keep them with a
        probe set for drift, and mark that stage to be entered."""
        acting = self.programs.acting(self.state)
        params = acting if self.layout.mesh is None else self.layout.gather(acting, self.batch)
        # Every process calls it: orbax has process 0 write host arrays, and waits for all.
        checkpoint.save(self.job.out / "checkpoints" / self.run.slug / f"{self.stage}_{stage_name}{self.suffix}",
                        params)
        buffer = getattr(self.state, "buffer", None)  # an automatic curriculum's levels (docs/ued.md)
        if buffer is not None:
            buffer = buffer if self.layout.mesh is None else self.layout.gather(buffer, self.batch)
            checkpoint.save(self.job.out / "checkpoints" / self.run.slug / "levels" /
                            f"{self.stage}_{stage_name}{self.suffix}", buffer)
        if self.stage < self.last_stage:
            if stage_name in self.run.splits:  # a mixed stage has no split of its own to probe drift on
                self.snapshots[stage_name] = (jax.tree.map(jnp.copy, acting), *self._probe_set(stage_name, played))
            self.stage += 1
            self.fresh_stage = True
            self.job.log(f"{self.run.slug}{self.suffix}: stage {stage_name} done at "
                         f"{self.point * self.every:,} env steps")

    def _probe_set(self, stage_name: str, played) -> tuple[jax.Array, jax.Array]:
        """What the end-of-stage policy saw on its own stage's tasks: observations
        ``[batch, steps*episodes, ...]`` and which of them are real ``[batch, steps*episodes]``."""
        episodes = self.job.curriculum.evaluation.episodes
        s = self.run.splits.index(stage_name)
        cut = slice(s * episodes, (s + 1) * episodes)
        probe = played.observations[:, :, cut]  # [batch, steps, episodes, ...]
        weights = played.seen[:, :, cut]
        return probe.reshape(probe.shape[0], -1, *probe.shape[3:]), weights.reshape(weights.shape[0], -1)

    def _save_if_due(self, stage_over: bool) -> None:
        """Save the resume state at a stage boundary, or when ``checkpoint_seconds`` have passed
        (not after the last point). At a boundary it is saved before the next stage starts
        (``fresh_stage``), so a resume enters it through ``start_stage``, as an uninterrupted
        run does."""
        due = time.perf_counter() - self.last_save >= self.job.checkpoint_seconds
        if jax.process_count() > 1:  # every process decides alike (the gather is a collective)
            due = bool(np.any(_all_processes(due)))
        if self.point < self.num_points and (stage_over or due):
            whole = self.layout.gather((self.state, self.snapshots), self.batch)
            if is_writer():
                save_resume(self.resume_file, self.point, self.stage, self.fresh_stage, *whole)
            self.last_save = time.perf_counter()

    def _finish(self) -> None:
        """Wait for every process's parts; mark a chunk done and drop its resume state (a run
        trained whole drops its own once ``DONE`` is written)."""
        barrier(f"{self.run.slug}: trained{self.suffix}")
        if self.job.experiment_log is not None:  # these seeds are done: close their logged runs
            self.job.experiment_log.close()
        self.timing.padded(self.layout.padded(self.batch))
        if is_writer() and self.suffix:
            (self.writer.dir / f"DONE{self.suffix}").write_text("")
            self.resume_file.unlink(missing_ok=True)
        barrier(f"{self.run.slug}: done{self.suffix}")


def _all_processes(flag: bool) -> np.ndarray:
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(np.asarray([flag])))
