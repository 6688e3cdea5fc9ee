"""The report's typed results: frozen dataclasses, each with ``to_json`` (its report.json form:
strict JSON, NaN as null) and ``as_row`` (one flat row for a notebook's table); ``to_frame``
turns a list of them into a pandas DataFrame."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Sequence

import numpy as np

from bootstrap_rl import stats
from bootstrap_rl.report.fmt import config_name

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


class _Result:
    def to_json(self) -> dict:
        """This result's report.json form: every field, nested results as their ``to_json``."""
        return _fields_json(self)


def to_frame(results: Sequence):
    """A pandas DataFrame with one row (``as_row()``) per result."""
    import pandas as pd

    return pd.DataFrame([r.as_row() for r in results])


def _bounds(interval) -> tuple[float, float, str | None]:
    """A ``stats.Interval`` as (low, high, reason): NaN bounds and the reason when unavailable."""
    if interval.available:
        return float(interval.low), float(interval.high), None
    return NAN, NAN, interval.reason


def checked_bounds(low: float, high: float, n: int) -> tuple[float, float, str | None]:
    """Percentile-bootstrap bounds over ``n`` seeds as (low, high, reason): withheld (NaN, with
    the reason) below ``stats.MIN_SEEDS_FOR_BOOTSTRAP`` seeds or when they are not an interval
    (a point, or missing)."""
    if n < stats.MIN_SEEDS_FOR_BOOTSTRAP:
        return NAN, NAN, (f"{n} seed(s): percentile-bootstrap intervals need at least "
                          f"{stats.MIN_SEEDS_FOR_BOOTSTRAP}")
    return _bounds(stats.Interval.checked(low, high))


@dataclass(frozen=True)
class Estimate(_Result):
    """An IQM over seeds with its 95% percentile-bootstrap interval (``stats.iqm_estimate``).

    Descriptive. The interval is withheld below 5 seeds (it covers 52% at 2 seeds) and when it
    is a point: then ``ci_low`` and ``ci_high`` are NaN and ``reason`` says why. No runs: every
    number NaN and ``runs`` 0."""

    estimate: float = NAN
    ci_low: float = NAN
    ci_high: float = NAN
    runs: int = 0
    reason: str | None = None

    @classmethod
    def from_stats(cls, e) -> Estimate:
        """From a ``stats.Estimate``."""
        low, high, reason = _bounds(e.interval)
        return cls(float(e.estimate), low, high, int(e.n), reason)


@dataclass(frozen=True)
class PoI(_Result):
    """Probability of improvement of X over Y (rliable; unpaired, descriptive) with its 95%
    percentile-bootstrap interval, withheld like ``Estimate``'s."""

    poi: float = NAN
    ci_low: float = NAN
    ci_high: float = NAN
    reason: str | None = None


@dataclass(frozen=True)
class Crossover(_Result):
    """The crossover step of A over B (``stats.crossover``'s summary; descriptive): the observed
    IQM curves' crossover, and over bootstrap resamples of seeds, the median and interval of
    those that cross and the share that does. NaN: not computed; the interval is withheld
    (NaN, ``reason``) below 5 seeds per arm."""

    point: float = NAN
    median: float = NAN
    ci_low: float = NAN
    ci_high: float = NAN
    fraction_crossed: float = NAN
    reason: str | None = None


@dataclass(frozen=True)
class Rho(_Result):
    """D:prodigy's Spearman rho between configurations' early and final scores
    (``stats.prodigy_correlation``): its two-level bootstrap interval (configurations, then
    seeds within each; NaN below 5 configurations, ``reason`` says why) and the one-sided
    permutation p-value of rho > 0."""

    rho: float = NAN
    ci_low: float = NAN
    ci_high: float = NAN
    n_configs: int = 0
    seeds: int = 0
    p_value: float = NAN
    alternative: str = "greater"
    dropped_configs: int = 0
    reason: str | None = None

    @classmethod
    def from_stats(cls, r) -> Rho:
        """From a ``stats.ProdigyRho``."""
        low, high, reason = _bounds(r.interval)
        return cls(r.rho, low, high, r.n_configs, r.seeds, r.p_value, r.alternative,
                   r.dropped_configs, reason)


@dataclass(frozen=True)
class ArmSummary(_Result):
    """One arm: kind, budget, parameter count, and its adult score's early and final IQM."""

    arm: str
    kind: str
    budget_env_steps: int | None
    param_count: int | None
    learners_per_seed: int
    stages: tuple[str, ...]
    early: Estimate
    final: Estimate
    # What the acting policy uses: planned from the method's footprint (study.json), and
    # measured on the trained network (the ``network`` split; None in older studies).
    active_param_count: int | None = None
    measured_active_param_count: int | None = None
    note: str = ""  # what a control arm controls for

    @property
    def active(self) -> int | None:
        """The active parameter count: measured where the study measured it, else planned."""
        return self.measured_active_param_count if self.measured_active_param_count is not None \
            else self.active_param_count

    def as_row(self) -> dict:
        return {"arm": self.arm, "kind": self.kind, "budget": self.budget_env_steps,
                "parameters": self.param_count, "active parameters": self.active,
                "early IQM": self.early.estimate, "early low": self.early.ci_low,
                "early high": self.early.ci_high,
                "final IQM": self.final.estimate, "final low": self.final.ci_low,
                "final high": self.final.ci_high}


@dataclass(frozen=True)
class Descriptive(_Result):
    """rliable's unpaired statistics of a comparison (descriptive: no verdict reads them): each
    arm's early- and final-window IQM, PoI(A > B) per window, and the crossover step."""

    early_a: Estimate
    early_b: Estimate
    early_poi: PoI
    final_a: Estimate
    final_b: Estimate
    final_poi: PoI
    crossover: Crossover

    @classmethod
    def from_json(cls, d: dict) -> Descriptive:
        kinds = {"early_poi": PoI, "final_poi": PoI, "crossover": Crossover}
        return cls(**{f.name: _from_json(kinds.get(f.name, Estimate), d[f.name]) for f in fields(cls)})


@dataclass(frozen=True)
class Comparison(_Result):
    """Arm A against arm B on the adult split's score.

    ``verdict`` (one of ``stats.VERDICTS``) and ``paired`` (the ``stats.Verdict`` it comes
    from: the final-window paired sign-flip test on the shared seeds, Holm-adjusted across
    every verdict of the report) are the claim. ``early`` is the early-window paired difference
    A - B and ``early_direction`` its sign: described, not tested (the *slow child* half of
    "slow child, strong adult"). ``descriptive`` holds rliable's unpaired statistics."""

    a: str
    b: str
    verdict: str
    paired: object  # stats.Verdict
    early: object  # stats.PairedDifference
    early_direction: str
    descriptive: Descriptive

    def as_row(self) -> dict:
        v, e, d = self.paired, self.early, self.descriptive
        low, high, _ = _bounds(v.interval)
        return {"A": self.a, "B": self.b, "verdict": self.verdict, "paired seeds": v.n,
                "final A-B": v.mean_difference, "final A-B low": low, "final A-B high": high,
                "p (A > B)": v.p_greater, "p equivalent": v.p_equivalent,
                "Holm p": v.p_adjusted, "early A-B": e.mean, "early": self.early_direction,
                "early IQM A": d.early_a.estimate, "early IQM B": d.early_b.estimate,
                "final IQM A": d.final_a.estimate, "final IQM B": d.final_b.estimate,
                "early PoI": d.early_poi.poi, "final PoI": d.final_poi.poi,
                "final PoI low": d.final_poi.ci_low, "final PoI high": d.final_poi.ci_high,
                "crossover": d.crossover.point, "crossed share": d.crossover.fraction_crossed}

    @classmethod
    def from_json(cls, d: dict) -> Comparison:
        """Back from report.json's form (nulls read as NaN)."""
        return cls(d["a"], d["b"], d["verdict"], _stats_from_json(stats.Verdict, d["paired"]),
                   _stats_from_json(stats.PairedDifference, d["early"]), d["early_direction"],
                   Descriptive.from_json(d["descriptive"]))


def _stats_from_json(cls, d: dict):
    """A ``stats`` result (with a nested ``Interval``) from its ``to_json`` form."""
    values = {}
    for f in fields(cls):
        value = d.get(f.name)
        if f.type == "Interval":
            value = stats.Interval(**value)
        elif value is None and f.type == "float":
            value = NAN
        values[f.name] = value
    return cls(**values)


@dataclass(frozen=True)
class Inference(_Result):
    """What the report's verdicts rest on: the test, the correction and its family (every
    verdict of the report), the seed minimum, the metric's scale (floor, ceiling, eps and the
    equivalence margin) and the order in which the verdict rules apply."""

    test: str
    correction: str
    family_size: int
    alpha: float
    min_seeds: int
    scale: object  # stats.MetricScale
    rule_order: tuple[str, ...]

    def as_row(self) -> dict:
        return {**{k: v for k, v in self.to_json().items() if k not in ("scale", "rule_order")},
                **self.scale.to_json()}


@dataclass(frozen=True)
class SunkCost(_Result):
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

    def as_row(self) -> dict:
        return {"arm": self.arm, "early IQM": self.early_arm.estimate,
                "reference early": self.early_ref.estimate, "early PoI": self.early_poi.poi,
                "final IQM": self.final_arm.estimate, "reference final": self.final_ref.estimate,
                "final PoI": self.final_poi.poi, "final PoI low": self.final_poi.ci_low}


@dataclass(frozen=True)
class ProdigyConfig(_Result):
    """One D:prodigy grid configuration: its hyperparameters, per-seed window scores, and their IQM."""

    arm: str
    hparams: dict
    early: float
    final: float
    rise: float  # mean over seeds of the rise across the final window (stats.final_rise)
    early_seeds: np.ndarray = field(repr=False, compare=False)
    final_seeds: np.ndarray = field(repr=False, compare=False)

    def to_json(self) -> dict:  # the per-seed scores stay out of report.json
        return json_safe({"arm": self.arm, "hparams": self.hparams, "early": self.early,
                          "final": self.final, "rise": self.rise})

    def as_row(self) -> dict:
        return {"configuration": config_name(self.arm), **self.hparams,
                "early IQM": self.early, "final IQM": self.final, "final-window rise": self.rise}


@dataclass(frozen=True)
class Prodigy(_Result):
    """D:prodigy over the grid arms: each configuration, Spearman's rho between their early and
    final IQM, and the plateau check of the final window over configurations (each scored by
    its mean rise over seeds): a grid still rising makes rho a correlation with budget-limited
    scores."""

    configs: tuple[ProdigyConfig, ...]
    rho: Rho
    plateau: object  # stats.PlateauCheck

    def to_json(self) -> dict:
        return {"rho": self.rho.to_json(), "plateau": self.plateau.to_json(),
                "configs": [c.to_json() for c in self.configs]}
