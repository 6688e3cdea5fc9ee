"""Experiment logging: the results table's rows as scalars in TensorBoard or Weights & Biases.

Off by default; ``--log tensorboard`` / ``--log wandb`` (``experiment_log=`` in the API) turn
it on for ``train`` and ``study``. The writers get exactly the rows that go to ``results.csv``
(a study's parts, a train run's chunks), once those are on disk, so what a dashboard shows is
what the report will read. One logged run per arm x seed; a row ``(arm, seed, stage,
env_steps, split, metric, value)`` is the scalar ``<split>/<metric>`` at step ``env_steps``
(``hard/return``, ``train/episode_return``, ``network/dormant_fraction``, ``easy/policy_kl``).

- **TensorBoard** (``pip install 'bootstrap-rl[log]'``: tensorboardX): event files under
  ``<out>/tensorboard/<arm>/seed<k>/``; ``tensorboard --logdir <out>/tensorboard``. Values are
  written in double precision, so they equal the table's. A writer opened again (a resumed
  study) first purges the steps it is about to write again.
- **Weights & Biases** (``wandb``): runs named ``<arm>/seed<k>``, grouped by the results
  directory's name, files under ``<out>/wandb/``. Offline unless ``WANDB_MODE`` says otherwise
  (offline needs no network or account; ``wandb sync <out>/wandb/offline-run-*`` uploads later).
  ``WANDB_PROJECT`` names the project (default ``bootstrap-rl``). A resumed study logs to new
  runs from the point it resumes at.
"""

from __future__ import annotations

import os
import time
import types
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bootstrap_rl.validation import ConfigError

KINDS = ("tensorboard", "wandb")


class ExperimentLog:
    """A sink for the results table's rows (tuples in :data:`bootstrap_rl.schema.TABLE_COLUMNS`
    order), one logged run per (arm, seed). Subclasses open a run (:meth:`open_run`) and write
    one step's scalars to it (:meth:`log_step`)."""

    def __init__(self):
        self.runs: dict[tuple[str, int], Any] = {}

    def write(self, rows: Iterable[tuple]) -> None:
        """Log ``rows``: per (arm, seed), each env step's scalars in order of env steps."""
        steps: dict[tuple[str, int], dict[int, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
        for arm, seed, _stage, env_steps, split, metric, value in rows:
            steps[(str(arm), int(seed))][int(env_steps)][f"{split}/{metric}"] = float(value)
        for key, by_step in steps.items():
            if key not in self.runs:
                self.runs[key] = self.open_run(*key, first_step=min(by_step))
            for step in sorted(by_step):
                self.log_step(self.runs[key], step, by_step[step])
            self.flush_run(self.runs[key])

    def close(self) -> None:
        """Finish every open run (a later :meth:`write` opens them again)."""
        runs, self.runs = self.runs, {}
        for run in runs.values():
            self.close_run(run)

    def open_run(self, arm: str, seed: int, first_step: int):
        raise NotImplementedError

    def log_step(self, run, step: int, scalars: dict[str, float]) -> None:
        raise NotImplementedError

    def flush_run(self, run) -> None:
        """Make what was logged visible (called after every part)."""

    def close_run(self, run) -> None:
        raise NotImplementedError


class TensorBoardLog(ExperimentLog):
    """TensorBoard event files (tensorboardX), ``<root>/<arm>/seed<k>/``, each value a scalar
    summary in double precision (what ``tf.summary.scalar`` writes, at float64), so what is
    read back equals the table."""

    def __init__(self, root: str | Path):
        super().__init__()
        self.root = Path(root)
        self.tbx = _require("tensorboardX", "tensorboard")
        from tensorboardX.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2

        self.pb = types.SimpleNamespace(event=event_pb2, summary=summary_pb2, tensor=tensor_pb2,
                                        shape=tensor_shape_pb2, types=types_pb2)

    def open_run(self, arm: str, seed: int, first_step: int):
        # The file name holds the second it was opened; the suffix orders (and keeps apart) two
        # files of one run opened within a second, as TensorBoard reads them by name.
        writer = self.tbx.FileWriter(str(self.root / arm / f"seed{seed}"), flush_secs=30,
                                     filename_suffix=f".{time.time_ns()}")
        # A session start at the first step: TensorBoard drops what earlier files of this run
        # logged at steps >= it (a resumed study writes those steps again).
        pb = self.pb.event
        writer.add_event(pb.Event(step=first_step, session_log=pb.SessionLog(status=pb.SessionLog.START)))
        return writer

    def log_step(self, run, step: int, scalars: dict[str, float]) -> None:
        pb = self.pb
        metadata = pb.summary.SummaryMetadata(plugin_data=pb.summary.SummaryMetadata.PluginData(plugin_name="scalars"))
        run.add_summary(pb.summary.Summary(value=[
            pb.summary.Summary.Value(tag=tag, metadata=metadata, tensor=pb.tensor.TensorProto(
                dtype=pb.types.DT_DOUBLE, double_val=[value], tensor_shape=pb.shape.TensorShapeProto()))
            for tag, value in scalars.items()]), step)

    def flush_run(self, run) -> None:
        run.flush()

    def close_run(self, run) -> None:
        run.close()


class WandbLog(ExperimentLog):
    """Weights & Biases runs ``<arm>/seed<k>`` in one group, under ``<out>/wandb/``; offline
    unless ``WANDB_MODE`` (or ``mode``) says otherwise."""

    def __init__(self, out: str | Path, *, group: str, config: dict | None = None,
                 project: str | None = None, mode: str | None = None):
        super().__init__()
        self.wandb = _require("wandb", "wandb")
        self.out = Path(out)  # wandb writes under <out>/wandb/
        self.group, self.config = group, dict(config or {})
        self.project = project or os.environ.get("WANDB_PROJECT") or "bootstrap-rl"
        self.mode = mode or os.environ.get("WANDB_MODE") or "offline"

    def open_run(self, arm: str, seed: int, first_step: int):
        self.out.mkdir(parents=True, exist_ok=True)
        return self.wandb.init(project=self.project, group=self.group, name=f"{arm}/seed{seed}", dir=str(self.out),
                               mode=self.mode, reinit="create_new",
                               config={**self.config, "arm": arm, "seed": seed, "first_env_step": first_step})

    def log_step(self, run, step: int, scalars: dict[str, float]) -> None:
        run.log(scalars, step=step)

    def close_run(self, run) -> None:
        run.finish()


class ExperimentLogs(ExperimentLog):
    """Several logs fed the same rows."""

    def __init__(self, logs: Sequence[ExperimentLog]):
        super().__init__()
        self.logs = list(logs)

    def write(self, rows: Iterable[tuple]) -> None:
        rows = list(rows)
        for log in self.logs:
            log.write(rows)

    def close(self) -> None:
        for log in self.logs:
            log.close()


def make_experiment_log(kinds: str | Sequence[str] | ExperimentLog | None, out: str | Path, *,
                        config: dict | None = None) -> ExperimentLog | None:
    """The log(s) ``kinds`` names (``'tensorboard'``, ``'wandb'``, a list of them, an
    :class:`ExperimentLog` of your own, or None: no log) for the results directory ``out``.
    A missing package is a :class:`ConfigError` saying what to install, raised before anything
    trains."""
    if kinds is None or isinstance(kinds, ExperimentLog):
        return kinds
    names = [kinds] if isinstance(kinds, str) else list(kinds)
    if not names:
        return None
    unknown = [name for name in names if name not in KINDS]
    if unknown:
        raise ConfigError("log", f"unknown experiment log {unknown[0]!r}; one of {', '.join(KINDS)}")
    out = Path(out)
    logs = [TensorBoardLog(out / "tensorboard") if name == "tensorboard"
            else WandbLog(out, group=out.resolve().name, config=config)
            for name in dict.fromkeys(names)]
    return logs[0] if len(logs) == 1 else ExperimentLogs(logs)


def _require(module: str, kind: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError("log", f"--log {kind} needs the {module} package: pip install 'bootstrap-rl[log]'") from None
