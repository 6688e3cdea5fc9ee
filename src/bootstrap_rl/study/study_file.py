"""``study.json``: the resolved configuration and the arms of a study, and the check that a
results directory may take the study asked for (a new directory, or the same study resumed)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import jax
import numpy as np

from bootstrap_rl import results
from bootstrap_rl.curriculum import Curriculum
from bootstrap_rl.schema import ArmRecord, StageSpan
from bootstrap_rl.study.errors import StudyError
from bootstrap_rl.study.lock import LOCK_NAME
from bootstrap_rl.study.plan import Run, planned_parameters, study_methods
from bootstrap_rl.study.programs import RunPrograms


def check_out_dir(out: Path, config: dict, *, resume: bool, seed_chunk: int | None,
                  log: Callable[[str], None], overrides: dict | None = None) -> int | None:
    """Check that ``out`` is new (or empty), or holds this very study when resuming (the same
    configuration and the same ``overrides``); the seed chunk to train with: a resumed study
    keeps its own unless another is asked for. Reads only: a refusal changes nothing in ``out``."""
    study_file = out / "study.json"
    if out.exists() and not out.is_dir():
        raise StudyError(f"{out} is a file, not a results directory; choose another --out")
    if not study_file.exists():
        if out.exists() and any(p.name != LOCK_NAME for p in out.iterdir()):
            raise StudyError(f"{out} is not empty and holds no study.json; choose another directory")
        return seed_chunk
    saved_study = read_study_file(out)
    saved = saved_study.get("config", {})
    if not resume:
        raise StudyError(f"{out} already holds a study (of {saved_study.get('curriculum')!r}); pass --resume to "
                         "continue it, or choose another directory")
    if saved_study.get("curriculum") != config.get("name"):
        raise StudyError(f"{out}: cannot resume: it holds a study of {saved_study.get('curriculum')!r}, "
                         f"not of {config.get('name')!r}; choose another directory")
    saved_overrides, overrides = saved_study.get("overrides", {}), overrides or {}
    if saved_overrides != overrides:
        raise StudyError(f"{out}: cannot resume: the study was started with overrides {_as_flags(saved_overrides)}, "
                         f"not {_as_flags(overrides)}; give the same --set values")
    if seed_chunk is None:  # resuming keeps the chunking, so the table stays as it would have been
        seed_chunk = saved_study.get("seed_chunk")
    elif seed_chunk != saved_study.get("seed_chunk"):
        log(f"resuming with --seed-chunk {seed_chunk} (the study started with {saved_study.get('seed_chunk')}): "
            "seeds trained from now on may differ from an uninterrupted run in the last bits")
    if saved != config:
        changed = sorted(k for k in set(saved) | set(config) if saved.get(k) != config.get(k))
        raise StudyError(f"{out}: cannot resume, the configuration differs in {changed}")
    return seed_chunk


def read_study_file(out: Path) -> dict:
    """``study.json``, or a :class:`StudyError` saying it cannot be read."""
    path = out / "study.json"
    try:
        study = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise StudyError(f"{path} cannot be read: it is truncated or corrupt ({error})") from None
    if not isinstance(study, dict) or not isinstance(study.get("config", {}), dict):
        raise StudyError(f"{path} is not a study file (it holds no configuration)")
    return study


def _as_flags(overrides: dict) -> str:
    return " ".join(f"--set {key}={json.dumps(value)}" for key, value in overrides.items()) or "(none)"


def arm_records(curriculum: Curriculum, runs: list[Run], programs: dict[str, RunPrograms]) -> list[ArmRecord]:
    """Every arm of every run, as ``study.json`` records it."""
    arms = []
    methods = study_methods(curriculum)
    for run in runs:
        offsets = np.concatenate([[0], np.cumsum([s for _, s in run.schedule])])
        stages = tuple(StageSpan(name, int(a), int(b))
                       for (name, _), a, b in zip(run.schedule, offsets[:-1], offsets[1:]))
        arms += [ArmRecord(
            name=name, kind=run.kind, run=run.slug, method=run.method, budget_env_steps=run.budget,
            param_count=programs[run.slug].param_count(),  # of the network that acts
            active_param_count=planned_parameters(curriculum, run)[0], note=run.note, matches=run.matches,
            # Learners trained per seed (a PBT method's members, each on its share of the envs).
            learners_per_seed=methods[run.method].members if run.method else 1,
            stages=stages, hparams=run.hparams[m] if run.kind == "grid" else None,
        ) for m, name in enumerate(run.arms)]
    return arms


def write_study_file(out: Path, curriculum: Curriculum, config: dict, arms: list[ArmRecord], *, seeds: int,
                     root_seed: int, devices: int, seed_chunk: int | None, overrides: dict | None = None) -> Path:
    """Write ``study.json`` (atomically). ``overrides``: the ``--set`` values the curriculum
    module's fields were changed by (``{dotted key: value}``)."""
    c = curriculum
    return results.write_json(out / "study.json", {
        "curriculum": c.name, "description": c.description, "seeds": seeds, "root_seed": root_seed,
        "total_env_steps": c.total_env_steps, "eval_every": c.evaluation.every_env_steps,
        "score_metric": "success" if c.evaluation.success_threshold is not None else "return",
        "adult_stage": c.adult.name, "stages": [s.name for s in c.all_stages],
        "arms": [arm.to_json() for arm in arms],
        "prodigy_grid": config["prodigy_grid"], "config": config,
        "devices": devices, "processes": jax.process_count(), "seed_chunk": seed_chunk,
        "overrides": overrides or {},
    })
