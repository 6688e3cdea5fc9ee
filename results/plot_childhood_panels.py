"""One panel per childhood arm of a committed study: the arm against `direct`, `curriculum` and
its `direct+<method>` control (IQM lines), with the arm's 95% band, on the adult task.

    python results/plot_childhood_panels.py results/playroom_ladder-cpu

Writes ``childhood_panels.png`` into the study's directory (the README's Results figure; the
study's report draws every arm in one panel, ``learning_curves.png``).
"""

import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from bootstrap_rl import plotting  # noqa: E402
from bootstrap_rl.report.curves import score_curves  # noqa: E402
from bootstrap_rl.report.load import load_study  # noqa: E402

REFERENCES = {"direct": "black", "curriculum": "tab:orange"}


def main(path: str) -> Path:
    study = load_study(path)
    childhood = [name for name in study.arms if name.startswith("childhood/")]
    cols = 3
    rows = math.ceil(len(childhood) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.8 * rows), sharex=True, sharey=True, squeeze=False)
    for ax, arm in zip(axes.flat, childhood):
        control = "direct+" + arm.split("/", 1)[1]
        lines = {**REFERENCES, control: "tab:gray", arm: "tab:blue"}
        for name, color in lines.items():
            if name in study.arms:
                steps, curves, _ = score_curves(study, name)
                plotting.plot_band(ax, steps, curves, band=name == arm, color=color, label=name)
        ax.set_title(arm, fontsize=9)
        ax.legend(fontsize=6, loc="upper left")
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(childhood):]:
        ax.axis("off")
    fig.supxlabel("total env steps")
    fig.supylabel(f"{study.adult_stage} {study.score_metric} (IQM, 95% band)")
    fig.tight_layout()
    out = Path(path) / "childhood_panels.png"
    fig.savefig(out, dpi=90)
    return out


if __name__ == "__main__":
    print(main(sys.argv[1]))
