"""A study results directory, loaded: ``study.json``, ``results.csv`` and ``timing/``.

``study.json`` holds the curriculum, budget, seeds, score metric, adult stage, and every arm as
a ``schema.ArmRecord``; ``results.csv`` is the tidy table of ``schema.TABLE_COLUMNS``;
``timing/<run>.json`` holds, per compiled run, its compile, training and evaluation seconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from bootstrap_rl.schema import ARM_KINDS, TABLE_COLUMNS, TRAIN_SPLIT, ArmRecord

OLD_KINDS = {"population": "grid"}  # study.json before the D:prodigy grid was named a grid


@dataclass(eq=False)
class Study:
    """A loaded study: ``meta`` from study.json, ``table`` (a pandas DataFrame) from results.csv,
    ``arms`` by name in study.json's order, ``timing`` by run name (empty without timing)."""

    path: Path
    meta: dict
    table: object  # pandas.DataFrame
    arms: dict[str, ArmRecord] = field(default_factory=dict)
    timing: dict[str, dict] = field(default_factory=dict)

    @property
    def score_metric(self) -> str:
        return self.meta.get("score_metric", "return")

    @property
    def adult_stage(self) -> str:
        return self.meta.get("adult_stage") or (self.meta.get("stages") or ["adult"])[-1]

    @property
    def childhood_stages(self) -> list[str]:
        return [s for s in self.meta.get("stages", []) if s != self.adult_stage]

    @property
    def total_env_steps(self) -> int:
        return int(self.meta["total_env_steps"])

    @property
    def seeds(self) -> int:
        if "seeds" in self.meta:
            return int(self.meta["seeds"])
        return int(self.table["seed"].nunique()) if len(self.table) else 0

    @cached_property
    def _groups(self) -> dict:
        return {key: frame for key, frame in self.table.groupby(["arm", "split", "metric"], sort=False)}

    def rows(self, arm: str, split: str, metric: str):
        """The table's rows for one (arm, split, metric), or None (grouped once, then cached)."""
        return self._groups.get((arm, split, metric))

    def arms_of_kind(self, *kinds: str) -> list[str]:
        """Names of the arms of these kinds that have rows in the table, in study.json order."""
        present = set(self.table["arm"].unique()) if len(self.table) else set()
        return [name for name, arm in self.arms.items() if arm.kind in kinds and name in present]


def load_study(results_dir: str | Path) -> Study:
    """Read ``study.json``, ``results.csv`` and ``timing/*.json`` from a study results directory."""
    import pandas as pd

    path = Path(results_dir)
    meta = _current_keys(json.loads((path / "study.json").read_text()))
    table = pd.read_csv(path / "results.csv")
    missing = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{path / 'results.csv'}: missing columns {missing}")
    for column in ("split", "metric", "arm"):
        table[column] = table[column].astype(str)
    arms = {record["name"]: arm_record(record) for record in meta.get("arms", [])}
    return Study(path=path, meta=meta, table=table, arms=_with_undescribed(arms, table),
                 timing=_timing(path / "timing"))


def load_train_run(results_dir: str | Path) -> Study:
    """A ``bootstrap-rl train`` directory as a one-arm study (the arm is the env id) whose
    every row is on the ``train`` split: training curves only. Its ``results.csv`` has the
    study's schema."""
    import pandas as pd

    path = Path(results_dir)
    table = pd.read_csv(path / "results.csv")
    for column in ("split", "metric", "arm"):
        table[column] = table[column].astype(str)
    meta = {"total_env_steps": int(table["env_steps"].max())}
    return Study(path=path, meta=meta, table=table, arms=_with_undescribed({}, table))


def _current_keys(meta: dict) -> dict:
    """An older study.json read with today's names: ``population`` is ``prodigy_grid``."""
    if "population" in meta and "prodigy_grid" not in meta:
        meta = {**meta, "prodigy_grid": meta["population"]}
    return meta


def arm_record(record: dict) -> ArmRecord:
    """``ArmRecord.from_json``, reading the fields an older study.json may lack as unknown:
    no run, no budget (the study's total applies), no parameter count (shown as n/a); an old
    arm kind (``population``) reads as today's (``grid``)."""
    record = {**record, "kind": OLD_KINDS.get(record.get("kind"), record.get("kind"))}
    return ArmRecord.from_json({"run": None, "budget_env_steps": None, "param_count": None, **record})


def _with_undescribed(arms: dict[str, ArmRecord], table) -> dict[str, ArmRecord]:
    """Arms in the table but not in study.json are added, of the kind their name starts with
    (else ``direct``), with no stages."""
    arms = dict(arms)
    for name in table["arm"].unique():
        if name not in arms:
            arms[name] = arm_record({"name": name, "kind": _kind_from_name(name)})
    return arms


def _kind_from_name(name: str) -> str:
    head = name.split("/", 1)[0]
    head = OLD_KINDS.get(head, head)
    return head if head in ARM_KINDS else "direct"


def _timing(folder: Path) -> dict[str, dict]:
    if not folder.is_dir():
        return {}
    return {path.stem: json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))}
