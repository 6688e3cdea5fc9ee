"""Progress display for long runs: a tqdm bar over env steps that reports throughput after
compilation (the first chunk includes compiling, so it is timed separately)."""

from __future__ import annotations


class ProgressBar:
    """tqdm over env steps per seed, with env steps/s over all seeds after the first chunk."""

    def __init__(self, steps_per_seed: int, seeds: int):
        from tqdm import tqdm

        self.seeds = seeds
        # tqdm's own rate and ETA would count compilation, so the bar shows ours instead.
        self.bar = tqdm(total=steps_per_seed, unit_scale=True, desc="env steps/seed",
                        bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]",
                        dynamic_ncols=True)
        self.first = None

    def advance(self, env_steps_per_update: int):
        """A ``runner.run`` progress callback ``(updates_done, seconds)``."""

        def callback(updates_done: int, seconds: float):
            steps = updates_done * env_steps_per_update
            if self.first is None:
                self.first = (steps, seconds)
                self.bar.set_postfix_str(f"first chunk incl. compile {seconds:.1f}s")
            else:
                rate = self.seeds * (steps - self.first[0]) / max(seconds - self.first[1], 1e-9)
                self.bar.set_postfix_str(f"{rate:,.0f} env-steps/s")
            self.bar.update(steps - self.bar.n)

        return callback

    def close(self):
        self.bar.close()
