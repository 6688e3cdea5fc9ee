"""The Python API that the command line and the notebooks both sit on.

    import bootstrap_rl as b
    curriculum = b.load_curriculum("playroom_ladder", preset="quick")
    results = b.run_study(curriculum, "runs/ladder-quick")
    results.table            # the tidy results table (pandas)
    results.analysis         # typed statistics: arm summaries, comparisons, sunk cost, prodigy
    b.load_study("runs/ladder-quick")   # the same object, from disk
    b.train("CartPole-v1", b.PPOConfig(total_timesteps=100_000), seeds=4, out="runs/cp")

Every function validates its input before anything compiles.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bootstrap_rl.training import TrainResult, train

__all__ = ["StudyResults", "TrainResult", "load_curriculum", "load_study", "run_study", "train"]


def load_curriculum(name_or_path: str, preset: str | None = None, *, overrides=None):
    """A curriculum by name (``bootstrap-rl list curricula``) or path to a ``.py`` file, with
    one of its ``PRESETS`` applied, then ``overrides``: ``{"learner.learning_rate": 3e-4}`` or
    ``["seeds=20", ...]`` (dotted paths into its fields, checked as the module's own values are;
    see :mod:`bootstrap_rl._curriculum.overrides`). Loading compiles nothing;
    :meth:`Curriculum.validate` (called by :func:`run_study`) resolves the env and draws tasks."""
    from bootstrap_rl import curriculum
    from bootstrap_rl._curriculum.overrides import apply_overrides

    return apply_overrides(curriculum.load(name_or_path, preset), overrides)


@dataclass
class StudyResults:
    """A study's results directory, loaded: its tables as DataFrames and its statistics.

    ``analysis`` is computed on first access (stratified bootstraps take a few seconds).
    """

    path: Path
    study: Any  # bootstrap_rl.report.Study: study.json and results.csv
    report_path: Path | None = None
    is_study: bool = True  # False: a ``train`` run, training curves only

    @property
    def table(self):
        """The tidy results table (columns :data:`bootstrap_rl.schema.TABLE_COLUMNS`)."""
        return self.study.table

    @property
    def meta(self) -> dict:
        """``study.json``: the resolved configuration and every arm."""
        return self.study.meta

    @functools.cached_property
    def analysis(self):
        """The report's statistics as typed results (see :mod:`bootstrap_rl.report`)."""
        from bootstrap_rl.report import analyse

        if not self.is_study:
            raise AttributeError(f"{self.path} is a train run: it has training curves, not a study's analysis")
        return analyse(self.study)

    def analyse(self, *, resamples: int = 2000, seed: int = 0):
        """The analysis with another number of bootstrap resamples or seed (not cached)."""
        from bootstrap_rl.report import analyse

        return analyse(self.study, resamples=resamples, seed=seed)


def load_study(results_dir: str | Path) -> StudyResults:
    """Read a results directory: a study's (``study.json`` and ``results.csv``), or a
    ``train`` run's (``config.json`` and ``results.csv``) as a one-arm study of training
    curves, whose ``is_study`` is False and which has no ``analysis``."""
    from bootstrap_rl.report import load_study as load
    from bootstrap_rl.report import load_train_run

    path = Path(results_dir)
    if (path / "study.json").is_file():
        report = path / "report.md"
        return StudyResults(path=path, study=load(path), report_path=report if report.exists() else None)
    if (path / "config.json").is_file() and (path / "results.csv").is_file():
        return StudyResults(path=path, study=load_train_run(path), is_study=False)
    raise FileNotFoundError(f"{path} holds neither study.json nor a train run's config.json and results.csv")


def run_study(curriculum, out: str | Path | None = None, *, preset: str | None = None, overrides=None,
              report: bool = True, compilation_cache: str | Path | bool | None = True,
              **options) -> StudyResults:
    """Train every arm of ``curriculum`` (a ``Curriculum``, or a name or path for
    :func:`load_curriculum` with ``preset``), with ``overrides`` applied (see
    :func:`load_curriculum`; ``study.json`` records them), and write its results directory
    ``out`` (default ``runs/NAME[-PRESET]``), then the report unless ``report=False``.

    ``options`` go to :func:`bootstrap_rl.study.run_study`: ``seeds``, ``root_seed``, ``resume``,
    ``checkpoint_seconds``, ``log``, ``devices``, ``seed_chunk``, ``progress``,
    ``experiment_log`` (``'tensorboard'``, ``'wandb'``: see :mod:`bootstrap_rl.experiment_log`).

    ``compilation_cache``: where JAX keeps compiled programs for later runs
    (:mod:`bootstrap_rl.compilation_cache`): True (default) for ``$BOOTSTRAP_RL_COMPILATION_CACHE``
    or ``~/.cache/bootstrap-rl/jax``, a folder, or False for none.
    """
    from bootstrap_rl import compilation_cache as cache
    from bootstrap_rl import sharding, study
    from bootstrap_rl._curriculum.overrides import apply_overrides

    if isinstance(curriculum, (str, Path)):
        curriculum = load_curriculum(str(curriculum), preset, overrides=overrides)
    elif preset is not None:
        raise ValueError("preset: only with a curriculum given by name or path")
    else:
        curriculum = apply_overrides(curriculum, overrides)
    curriculum.validate()  # the env and the tasks, before anything compiles
    cache.enable_default(compilation_cache)
    out = Path(out) if out is not None else Path("runs") / (curriculum.name + (f"-{preset}" if preset else ""))
    study.run_study(curriculum, out, **options)
    report_path = None
    if report and sharding.is_writer():
        from bootstrap_rl.report import write_report

        report_path = write_report(out)
    results = load_study(out)
    results.report_path = report_path or results.report_path
    return results

