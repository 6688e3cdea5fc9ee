"""Monte Carlo calibration of the statistics verdicts rest on, on synthetic studies.

A synthetic study has the ladder's 8 arms (``direct``, ``curriculum``, 6 childhood arms) and its
13 comparisons (curriculum vs direct, each childhood arm vs direct and vs curriculum), n seeds.
Seed s of every arm shares a seed effect (same initial network, same evaluation episodes):
the final-window success of arm k on seed s is ``expit(logit(0.45) + shift_k + u_s + e_ks)``,
u_s ~ N(0, 0.5^2) shared, e_ks ~ N(0, 0.5^2) per run. Null: every shift is 0. Planted: one
childhood arm is shifted so that its unpaired PoI over direct (and curriculum) is 0.75 or 0.9;
the other 11 comparisons stay null. Each study goes through ``stats.compare_paired_batch`` and
``stats.judge`` (the report's path) with the success scale (floor 0, ceiling 1, margin 0.1).

Also: rliable's percentile-bootstrap PoI interval as the report used it (the legacy "final PoI
CI above 0.5", computed as ``stats.poi_with_ci`` does, batched), the coverage of the IQM's
percentile-bootstrap interval (``stats.stratified_bootstrap_ci``, which ``stats.iqm_estimate``
reports from 5 seeds on) of the population IQM of ``direct``, and prodigy rho over 12
configurations x 5 seeds whose early and final qualities are independent (null) or correlated
0.71 (planted), with the two-level interval, the permutation test, and the old seeds-only
interval for contrast. A null sweep with no seed effect (the same marginals, nothing shared)
shows the old intervals as the issue measured them.

    python benchmarks/stats_calibration.py [--studies 2000] [--rho-studies 1000] [--readme]

Writes ``benchmarks/results/stats_calibration_cpu.json`` and prints a markdown table; with
``--readme``, rewrites its section of ``benchmarks/README.md``. Targets at n = 10: per-comparison
FPR <= 0.05, family-wise ``holds`` over 13 nulls <= 0.05, coverage >= 0.93; rho false exclusion
<= 0.07 (each within Monte Carlo error).
"""

from __future__ import annotations

import argparse
import datetime
import functools
import math
import os
import platform
import time
from pathlib import Path

import numpy as np
import scipy
from scipy.special import expit, logit
from scipy.stats import norm

from bootstrap_rl import stats
from bootstrap_rl.results import replace_section, write_json

HERE = Path(__file__).resolve().parent
README_START, README_END = "<!-- stats-calibration:start -->", "<!-- stats-calibration:end -->"
ARMS = ["direct", "curriculum"] + [f"childhood/{i}" for i in range(1, 7)]
PAIRS = [(1, 0)] + [(k, 0) for k in range(2, 8)] + [(k, 1) for k in range(2, 8)]  # 13
NAMES = [(ARMS[a], ARMS[b]) for a, b in PAIRS]
PLANTED_ARM = 2  # childhood/1: its comparisons with direct and with curriculum are planted
SIGMA_SEED, SIGMA_RUN, BASE = 0.5, 0.5, logit(0.45)
SEEDS = (2, 3, 5, 10, 20)


def shift_for_poi(poi: float) -> float:
    """Logit shift giving P(X > Y) = poi for X, Y from different seeds of the two arms."""
    return float(norm.ppf(poi) * math.sqrt(2 * (SIGMA_SEED**2 + SIGMA_RUN**2)))


def simulate(rng, studies: int, n: int, shift: np.ndarray, paired: bool = True) -> np.ndarray:
    """``scores[studies, arms, n]``: final-window success per arm and seed. ``paired=False``
    moves the seed effect's variance into the run noise: the same marginal distribution (so the
    same PoI, true difference and IQM), no pairing."""
    sigma_seed = SIGMA_SEED if paired else 0.0
    sigma_run = SIGMA_RUN if paired else math.sqrt(SIGMA_SEED**2 + SIGMA_RUN**2)
    u = rng.normal(0, sigma_seed, (studies, 1, n))
    e = rng.normal(0, sigma_run, (studies, len(ARMS), n))
    return expit(BASE + shift[None, :, None] + u + e)


@functools.lru_cache(maxsize=None)
def truths(shift: float) -> tuple[float, float]:
    """(true mean paired difference planted - direct, population IQM of direct), by 4M draws."""
    rng = np.random.default_rng(12345)
    u = rng.normal(0, SIGMA_SEED, 4_000_000)
    a = expit(BASE + shift + u + rng.normal(0, SIGMA_RUN, u.size))
    b = np.sort(expit(BASE + u + rng.normal(0, SIGMA_RUN, u.size)))
    return float((a - b).mean()), float(b[b.size // 4: 3 * b.size // 4].mean())


def rate(hits) -> dict:
    """Share of studies (hits[studies] or, per study, the mean of hits[studies, k]) with its
    Monte Carlo standard error across studies."""
    h = np.asarray(hits, dtype=np.float64)
    per_study = h.mean(axis=1) if h.ndim == 2 else h
    if per_study.size == 0:
        return {"rate": None, "se": None}
    se = per_study.std(ddof=1) / math.sqrt(per_study.size) if per_study.size > 1 else None
    return {"rate": float(per_study.mean()), "se": None if se is None else float(se)}


def legacy_poi_above_half(x, y, rng, resamples: int = 500) -> np.ndarray:
    """``poi_with_ci(x, y)["ci_low"] > 0.5`` for each row of ``x[k, n]``, ``y[k, n]``: rliable's
    independent percentile bootstrap, as the old report read it (batched)."""
    k, n = x.shape
    rows = np.arange(k)[None, :, None]
    xr = x[rows, rng.integers(0, n, (resamples, k, n))][..., None]
    yr = y[rows, rng.integers(0, n, (resamples, k, n))][..., None]
    samples = stats._poi_batched(xr, yr)  # [resamples, k]
    return np.percentile(samples, 2.5, axis=0) > 0.5


def verdict_setting(n: int, poi: float | None, studies: int, seed: int, chunk: int,
                    flips: int, extras: int = 0, paired: bool = True) -> dict:
    """One (n, planted PoI) cell over ``studies`` studies. The first ``extras`` studies also get
    the IQM interval and the legacy PoI interval (the direct arm and the null do not change
    with the planted arm, so the null cell carries them)."""
    rng = np.random.default_rng([seed, n, int(1000 * (poi or 0)), int(paired)])
    shift = np.zeros(len(ARMS))
    planted = [i for i, (a, b) in enumerate(PAIRS) if a == PLANTED_ARM] if poi else []
    if poi:
        shift[PLANTED_ARM] = shift_for_poi(poi)
    true_diff, true_iqm = truths(shift[PLANTED_ARM])
    null = [i for i in range(len(PAIRS)) if i not in planted]
    labels, labels_any_n, p, covered, available, legacy, iqm_cover = [], [], [], [], [], [], []
    a_idx, b_idx = [a for a, _ in PAIRS], [b for _, b in PAIRS]
    for start in range(0, studies, chunk):
        m = min(chunk, studies - start)
        scores = simulate(rng, m, n, shift, paired)
        a, b = scores[:, a_idx].reshape(-1, n), scores[:, b_idx].reshape(-1, n)
        comps = stats.compare_paired_batch(a, b, NAMES * m, scale=stats.SUCCESS, resamples=flips)
        for s in range(m):
            family = comps[13 * s: 13 * (s + 1)]
            labels.append([v.verdict for v in stats.judge(family)])
            labels_any_n.append([v.verdict for v in stats.judge(family, min_seeds=1)])
            p.append([c.difference.p_greater for c in family])
            truth = [true_diff if i in planted else 0.0 for i in range(len(PAIRS))]
            available.append([c.difference.interval.available for c in family])
            covered.append([c.difference.interval.contains(t) for c, t in zip(family, truth)])
            if start + s < extras:  # the raw percentile bootstrap, below iqm_estimate's 5 seeds too
                ci = stats.stratified_bootstrap_ci(scores[s, 0])
                iqm_cover.append(ci["ci_low"] <= true_iqm <= ci["ci_high"])
        if start < extras and n <= 10:
            k = min(m, extras - start) * len(PAIRS)
            legacy.append(legacy_poi_above_half(a[:k], b[:k], rng).reshape(-1, len(PAIRS)))
    labels, labels_any_n = np.array(labels), np.array(labels_any_n)
    p, covered, available = np.array(p), np.array(covered), np.array(available)
    out = {"n": n, "poi": poi, "paired": paired, "studies": studies,
           "flips": flips if n > stats.EXACT_MAX_N else 2**n,
           "fpr_per_comparison": rate(p[:, null] <= 0.05),
           "fw_holds": rate((labels[:, null] == stats.HOLDS).any(axis=1)),
           "fw_holds_without_seed_rule": rate((labels_any_n[:, null] == stats.HOLDS).any(axis=1)),
           "equivalent_on_nulls": rate(labels_any_n[:, null] == stats.EQUIVALENT),
           "interval_available": float(available.mean())}
    cells = planted or null
    if available[:, cells].all():
        out["coverage"] = rate(covered[:, cells])
    iqm_cover = np.array(iqm_cover, dtype=np.float64)
    if iqm_cover.size:
        out["iqm_coverage"] = rate(iqm_cover)
    if planted:
        direct_pair = PAIRS.index((PLANTED_ARM, 0))
        out["true_mean_difference"] = true_diff
        out["power_holds"] = rate(labels[:, direct_pair] == stats.HOLDS)
        out["power_holds_without_seed_rule"] = rate(labels_any_n[:, direct_pair] == stats.HOLDS)
        out["power_unadjusted"] = rate(p[:, direct_pair] <= 0.05)
    if legacy:
        legacy = np.concatenate(legacy)
        out["legacy_poi_ci_above_half"] = rate(legacy[:, null])
        out["legacy_fw_any_above_half"] = rate(legacy[:, null].any(axis=1))
    return out


def seeds_only_rho_interval(early, final, rng, resamples: int = 1000):
    """The old prodigy interval: seeds resampled within a fixed set of configurations."""
    configs, seeds = early.shape
    picks = rng.integers(0, seeds, size=(resamples, configs, seeds))
    r = stats._rank_correlation_rows(stats.iqm(np.take_along_axis(early[None], picks, 2), axis=2),
                                     stats.iqm(np.take_along_axis(final[None], picks, 2), axis=2))
    return stats._percentile_interval(r, 0.95)


def rho_setting(configs: int, correlation: float, studies: int, seed: int, seeds: int = 5) -> dict:
    rng = np.random.default_rng([seed, configs, int(100 * correlation)])
    excluded, below, rejected, legacy, available = [], [], [], [], []
    for s in range(studies):
        quality_early = rng.normal(size=configs)
        quality_final = (correlation * quality_early
                         + math.sqrt(1 - correlation**2) * rng.normal(size=configs))
        early = quality_early[:, None] + rng.normal(0, 0.5, (configs, seeds))
        final = quality_final[:, None] + rng.normal(0, 0.5, (configs, seeds))
        out = stats.prodigy_correlation(early, final, seed=s, resamples=1000, permutations=2000)
        available.append(out.interval.available)
        excluded.append(out.interval.excludes(0.0))
        below.append(out.interval.available and out.interval.low > 0)
        rejected.append(out.p_value <= 0.05)
        low, high = seeds_only_rho_interval(early, final, rng)
        legacy.append(not low <= 0 <= high)
    return {"configs": configs, "seeds": seeds, "correlation": correlation, "studies": studies,
            "interval_available": float(np.mean(available)),
            "interval_excludes_0": rate(excluded), "interval_above_0": rate(below),
            "permutation_p_le_0.05": rate(rejected), "seeds_only_interval_excludes_0": rate(legacy)}


def fmt(r, digits=3) -> str:
    if not isinstance(r, dict) or r.get("rate") is None:
        return "n/a"
    se = "" if r["se"] is None else f" ± {r['se']:.{digits}f}"
    return f"{r['rate']:.{digits}f}{se}"


def markdown(result: dict) -> str:
    rows = result["verdicts"]
    lines = ["| n | scores | planted PoI | per-comparison FPR | family-wise `holds` on nulls | same, no 10-seed rule "
             "| `equivalent` on nulls | paired interval coverage | IQM interval coverage | power `holds` "
             "| power, no seed rule | legacy PoI CI > 0.5 | legacy family-wise |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(" | ".join([
            f"| {r['n']}", "paired" if r["paired"] else "no seed effect",
            "null" if r["poi"] is None else f"{r['poi']:.2f}",
            fmt(r["fpr_per_comparison"]), fmt(r["fw_holds"]), fmt(r["fw_holds_without_seed_rule"]),
            fmt(r["equivalent_on_nulls"]), fmt(r.get("coverage")), fmt(r.get("iqm_coverage")), fmt(r.get("power_holds")),
            fmt(r.get("power_holds_without_seed_rule")), fmt(r.get("legacy_poi_ci_above_half")),
            fmt(r.get("legacy_fw_any_above_half"))]) + " |")
    lines += ["", "| configurations | early-final correlation | interval available | two-level interval "
              "excludes 0 | above 0 | permutation p <= 0.05 | old seeds-only interval excludes 0 |",
              "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["rho"]:
        lines.append(f"| {r['configs']} | {r['correlation']:.2f} | {r['interval_available']:.2f} | "
                     f"{fmt(r['interval_excludes_0'])} | {fmt(r['interval_above_0'])} | "
                     f"{fmt(r['permutation_p_le_0.05'])} | {fmt(r['seeds_only_interval_excludes_0'])} |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=2000)
    parser.add_argument("--rho-studies", type=int, default=1000)
    parser.add_argument("--extra-studies", type=int, default=500,
                        help="null studies that also get the IQM and legacy PoI intervals")
    parser.add_argument("--flips", type=int, default=5000, help="Monte Carlo sign flips at n > 16")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--readme", action=argparse.BooleanOptionalAction, default=False,
                        help="rewrite this benchmark's section of benchmarks/README.md")
    parser.add_argument("--out", default=str(HERE / "results" / "stats_calibration_cpu.json"))
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = {"verdicts": [], "rho": []}
    for poi in (None, 0.75, 0.9):
        for n in SEEDS if poi is None else SEEDS[2:]:  # n < 5 cannot reach p <= 0.05 at all
            studies = args.studies if poi is None else args.studies // 2
            extras = args.extra_studies if poi is None else 0
            result["verdicts"].append(verdict_setting(n, poi, studies, args.seed, 50, args.flips,
                                                      extras))
            print(f"n={n} poi={poi}: {time.perf_counter() - started:.0f} s", flush=True)
    for n in (2, 5, 10):  # no seed effect: the legacy intervals as the issue measured them
        result["verdicts"].append(verdict_setting(n, None, args.studies // 2, args.seed, 50,
                                                  args.flips, args.extra_studies, paired=False))
        print(f"n={n} unpaired null: {time.perf_counter() - started:.0f} s", flush=True)
    for configs, correlation, studies in ((12, 0.0, args.rho_studies), (12, 0.71, args.rho_studies // 3),
                                          (5, 0.0, args.rho_studies // 3)):
        result["rho"].append(rho_setting(configs, correlation, studies, args.seed))
        print(f"rho configs={configs} r={correlation}: {time.perf_counter() - started:.0f} s", flush=True)
    result["wall_s"] = time.perf_counter() - started
    result["meta"] = {
        "date": datetime.date.today().isoformat(), "machine": platform.machine(),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average_1min_at_end": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "numpy": np.__version__, "scipy": scipy.__version__,
        "args": {**vars(args), "out": os.path.relpath(args.out, HERE.parent)},
        "model": {"sigma_seed": SIGMA_SEED, "sigma_run": SIGMA_RUN, "base_success": 0.45,
                  "scale": stats.SUCCESS.to_json(), "alpha": stats.ALPHA}}
    table = markdown(result)
    print(table)
    print(f"\nwall time {result['wall_s']:.0f} s")
    write_json(args.out, result)
    if args.readme:
        write_readme(result)
    return result


def write_readme(result: dict) -> None:
    """Rewrite this benchmark's block of ``benchmarks/README.md`` from a result."""
    meta = result["meta"]
    block = (f"{README_START}\n{meta['date']}, {meta['machine']} ({meta['cores']} cores), "
             f"{result['wall_s']:.0f} s wall, load average {meta['load_average_1min_at_end']:.1f} "
             f"at the end; raw: `benchmarks/results/stats_calibration_cpu.json`. Rates ± Monte "
             f"Carlo standard error.\n\n{markdown(result)}\n{README_END}")
    replace_section(HERE / "README.md", README_START, README_END, block)


if __name__ == "__main__":
    main()
