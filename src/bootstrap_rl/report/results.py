"""The report's typed results: frozen dataclasses, each with ``to_json`` (its report.json form:
strict JSON, NaN as null) and ``as_row`` (one flat row for a notebook's table); ``to_frame``
turns a list of them into a pandas DataFrame."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Sequence

import numpy as np

NAN = math.nan


def json_safe(value):
    """NaN -> None, numpy scalars and arrays -> Python numbers and lists, tuples -> lists."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    return value


def _fields_json(result) -> dict:
    """Every field of a result dataclass, nested results as their ``to_json``."""
    return {f.name: _to_json(getattr(result, f.name)) for f in fields(result)}


def _to_json(value):
    if hasattr(value, "to_json"):
        return value.to_json()
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    return json_safe(value)


def _from_json(cls, d: dict):
    """A result from its JSON form: a missing field takes its default, and a null float field
    (report.json writes NaN as null) reads as NaN."""
    values = {}
    for f in fields(cls):
        value = d.get(f.name, f.default)
        values[f.name] = NAN if value is None and f.type == "float" else value
    return cls(**values)


def to_frame(results: Sequence):
    """A pandas DataFrame with one row (``as_row()``) per result."""
    import pandas as pd

    return pd.DataFrame([r.as_row() for r in results])


@dataclass(frozen=True)
class Estimate:
    """An IQM over runs with its stratified-bootstrap CI (``stats.stratified_bootstrap_ci``).

    No runs: every number NaN, ``runs`` 0 and ``tasks`` None (left out of the JSON)."""

    estimate: float = NAN
    ci_low: float = NAN
    ci_high: float = NAN
    runs: int = 0
    tasks: int | None = None

    @classmethod
    def from_stats(cls, d: dict) -> Estimate:
        return cls(d["estimate"], d["ci_low"], d["ci_high"], d["runs"], d.get("tasks"))

    def to_json(self) -> dict:
        out = _fields_json(self)
        if self.tasks is None:
            del out["tasks"]
        return out


@dataclass(frozen=True)
class PoI:
    """Probability of improvement of X over Y with its CI (``stats.poi_with_ci``)."""

    poi: float = NAN
    ci_low: float = NAN
    ci_high: float = NAN

    @classmethod
    def from_stats(cls, d: dict) -> PoI:
        return cls(d["poi"], d["ci_low"], d["ci_high"])

    def to_json(self) -> dict:
        return _fields_json(self)


@dataclass(frozen=True)
class Crossover:
    """The crossover step of A over B (``stats.crossover``'s summary); NaN: not computed."""

    point: float = NAN
    median: float = NAN
    ci_low: float = NAN
    ci_high: float = NAN
    fraction_crossed: float = NAN

    @classmethod
    def from_stats(cls, d: dict) -> Crossover:
        return cls(d["point"], d["median"], d["ci_low"], d["ci_high"], d["fraction_crossed"])

    def to_json(self) -> dict:
        return _fields_json(self)


@dataclass(frozen=True)
class Rho:
    """Spearman's rho between configurations' early and final scores (``stats.prodigy_rho``)."""

    rho: float = NAN
    ci_low: float = NAN
    ci_high: float = NAN
    n_configs: int = 0

    @classmethod
    def from_stats(cls, d: dict) -> Rho:
        return cls(d["rho"], d["ci_low"], d["ci_high"], d["n_configs"])

    def to_json(self) -> dict:
        return _fields_json(self)


@dataclass(frozen=True)
class ArmSummary:
    """One arm: kind, budget, parameter count, and its adult score's early and final IQM."""

    arm: str
    kind: str
    budget_env_steps: int | None
    param_count: int | None
    learners_per_seed: int
    stages: tuple[str, ...]
    early: Estimate
    final: Estimate

    def to_json(self) -> dict:
        return _fields_json(self)

    def as_row(self) -> dict:
        return {"arm": self.arm, "kind": self.kind, "budget": self.budget_env_steps,
                "parameters": self.param_count,
                "early IQM": self.early.estimate, "early low": self.early.ci_low,
                "early high": self.early.ci_high,
                "final IQM": self.final.estimate, "final low": self.final.ci_low,
                "final high": self.final.ci_high}


@dataclass(frozen=True)
class Comparison:
    """Arm A against arm B on the adult split's score: early and final IQM and PoI, the
    one-sided p-value of A > B on final scores (Holm-adjusted across a report's comparisons),
    the slow child, strong adult signature, and the crossover."""

    a: str
    b: str
    early_a: Estimate
    early_b: Estimate
    early_poi: PoI
    final_a: Estimate
    final_b: Estimate
    final_poi: PoI
    pvalue: float
    signature: bool
    crossover: Crossover
    pvalue_holm: float = NAN

    def to_json(self) -> dict:
        return _fields_json(self)

    def as_row(self) -> dict:
        row = {"A": self.a, "B": self.b}
        for window in ("early", "final"):
            poi = getattr(self, f"{window}_poi")
            row[f"{window} IQM A"] = getattr(self, f"{window}_a").estimate
            row[f"{window} IQM B"] = getattr(self, f"{window}_b").estimate
            row[f"{window} PoI"] = poi.poi
            row[f"{window} PoI low"] = poi.ci_low
            row[f"{window} PoI high"] = poi.ci_high
        return {**row, "crossover median": self.crossover.median,
                "crossed share": self.crossover.fraction_crossed, "p (final, A > B)": self.pvalue,
                "Holm p": self.pvalue_holm, "slow child, strong adult": self.signature}

    @classmethod
    def from_json(cls, d: dict) -> Comparison:
        """Back from report.json's form (nulls read as NaN)."""
        parts = {"early_a": Estimate, "early_b": Estimate, "final_a": Estimate, "final_b": Estimate,
                 "early_poi": PoI, "final_poi": PoI, "crossover": Crossover}
        return _from_json(cls, {**d, **{key: _from_json(kind, d[key]) for key, kind in parts.items()}})


@dataclass(frozen=True)
class SunkCost:
    """An arm against the reference (``direct_adult_steps``) at equal adult steps: windows are
    fractions of the reference's adult budget."""

    arm: str
    reference: str
    adult_budget: float
    early_arm: Estimate
    final_arm: Estimate
    early_ref: Estimate
    final_ref: Estimate
    early_poi: PoI
    final_poi: PoI

    def to_json(self) -> dict:
        return _fields_json(self)

    def as_row(self) -> dict:
        return {"arm": self.arm, "early IQM": self.early_arm.estimate,
                "reference early": self.early_ref.estimate, "early PoI": self.early_poi.poi,
                "final IQM": self.final_arm.estimate, "reference final": self.final_ref.estimate,
                "final PoI": self.final_poi.poi, "final PoI low": self.final_poi.ci_low}


@dataclass(frozen=True)
class ProdigyConfig:
    """One D:prodigy grid configuration: its hyperparameters, per-seed window scores, and their IQM."""

    arm: str
    hparams: dict
    early: float
    final: float
    early_seeds: np.ndarray = field(repr=False, compare=False)
    final_seeds: np.ndarray = field(repr=False, compare=False)

    def to_json(self) -> dict:  # the per-seed scores stay out of report.json
        return json_safe({"arm": self.arm, "hparams": self.hparams, "early": self.early,
                          "final": self.final})

    def as_row(self) -> dict:
        return {"configuration": self.arm.removeprefix("grid/"), **self.hparams,
                "early IQM": self.early, "final IQM": self.final}


@dataclass(frozen=True)
class Prodigy:
    """D:prodigy over the grid arms: each configuration, and Spearman's rho between
    their early and final IQM."""

    configs: tuple[ProdigyConfig, ...]
    rho: Rho

    def to_json(self) -> dict:
        return {"rho": self.rho.to_json(), "configs": [c.to_json() for c in self.configs]}


@dataclass(frozen=True)
class Compute:
    """One compiled run's timing (``timing/<run>.json``) and the arms it trained."""

    run: str
    arms: tuple[str, ...]
    compile_s: float | None = None
    compile_and_first_chunk_s: float | None = None
    train_s: float | None = None
    eval_s: float | None = None
    persistent_cache_hits: int | None = None
    devices: int | None = None
    processes: int | None = None
    batch: int | None = None
    padded_batch: int | None = None
    seed_chunk: int | None = None
    peak_device_memory_bytes: int | None = None

    def to_json(self) -> dict:
        return _fields_json(self)

    def as_row(self) -> dict:
        return {**self.to_json(), "arms": ", ".join(self.arms)}
