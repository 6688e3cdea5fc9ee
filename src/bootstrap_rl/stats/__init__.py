"""Statistics over seeds: rliable's unpaired aggregates (descriptive), paired sign-flip
inference on the shared seeds (what verdicts rest on), verdicts with family-wise control,
prodigy rho, plateau, retention. ``docs/statistics.md`` explains each and gives the calibration.

Modules: ``rliable`` (IQM, stratified bootstrap, PoI, Holm), ``intervals`` (``Interval``,
``Estimate``, ``format_interval``), ``paired`` (sign-flip test and interval), ``verdicts``
(``compare_paired``, ``judge``, ``verdict``), ``windows`` (early/final windows, crossover,
plateau), ``prodigy`` (rho), ``retention``. Every public name is re-exported here, loaded on
first use (the modules import each other, so this package imports none of them at import
time): ``from bootstrap_rl import stats; stats.iqm(...)`` works.
"""

from bootstrap_rl._lazy import lazy_exports

lazy_exports(globals(), {
    "intervals": ("MIN_SEEDS_FOR_BOOTSTRAP", "Estimate", "Interval", "format_interval",
        "iqm_estimate", "jsonable"),
    "paired": ("EXACT_MAX_N", "MC_FLIPS", "PairedDifference", "SignFlipTest", "flipped_subsets",
        "pair_by_seed", "paired_difference", "paired_difference_from", "sign_flip_interval",
        "sign_flip_pvalue", "sign_flip_summary", "sign_flip_test"),
    "prodigy": ("MIN_CONFIGS_FOR_INTERVAL", "ProdigyRho", "_rank_correlation_rows",
        "prodigy_correlation", "prodigy_rho", "spearman_permutation_pvalue",
        "two_level_bootstrap_rho"),
    "retention": ("Retention", "forgetting", "retention_vs_baseline", "stage_summary"),
    "rliable": ("_percentile_interval", "_poi_batched", "_runs_by_tasks", "_stratified_resample",
        "aggregate_iqm", "aggregate_mean", "bootstrap_ci", "holm", "improvement_pvalue", "iqm",
        "iqm_band", "iqm_with_ci", "poi_with_ci", "probability_of_improvement",
        "slow_child_strong_adult", "stratified_bootstrap_ci"),
    "verdicts": ("ALPHA", "CEILING", "DOES_NOT_HOLD", "EQUIVALENT", "FLOOR", "HOLDS",
        "INCONCLUSIVE", "MIN_SEEDS", "SUCCESS", "UNBOUNDED", "VERDICTS", "Comparison",
        "MetricScale", "Verdict", "compare_paired", "compare_paired_batch", "early_direction",
        "holm_critical", "judge", "verdict"),
    "windows": ("EARLY_FRACTION", "FINAL_FRACTION", "PlateauCheck", "crossover", "crossover_step",
        "early_window", "final_rise", "final_window", "plateau_check", "window_scores"),
})
