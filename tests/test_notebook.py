"""The learning-curves notebook executes on a tiny study, and its .py and .ipynb stay paired."""

import json
import sys
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"
SOURCE = NOTEBOOKS / "learning_curves.py"
PAIRED = NOTEBOOKS / "learning_curves.ipynb"

jupytext = pytest.importorskip("jupytext", reason="needs the test extra (jupytext, nbclient)")
nbclient = pytest.importorskip("nbclient")


def kernel_for_this_interpreter(root: Path) -> str:
    """A kernelspec that runs ipykernel in this very interpreter (this venv), found first."""
    name = "bootstrap-rl-test"
    spec = root / "kernels" / name
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "bootstrap-rl test", "language": "python"}))
    return name


def test_notebook_executes_on_a_study_directory(make_study, tmp_path, monkeypatch):
    study = make_study(seeds=3, total_env_steps=40_000, eval_every=4_000)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))  # searched before user dirs
    monkeypatch.setenv("BOOTSTRAP_RL_RESULTS", str(study))
    monkeypatch.setenv("BOOTSTRAP_RL_RESAMPLES", "50")
    kernel = kernel_for_this_interpreter(tmp_path / "jupyter")
    notebook = jupytext.read(SOURCE)
    nbclient.NotebookClient(notebook, kernel_name=kernel, timeout=300,
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    text = "".join(o.get("text", "") + json.dumps(o.get("data", {}))
                   for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "inconclusive: fewer than 10 seeds" in text  # the verdict column (3 seeds)
    assert "policy KL" in text and "paired seeds" in text  # retention tables
    assert "image/png" in text  # and figures
    for name in ("learning_curves", "retention", "policy_drift", "prodigy", "curves"):
        assert (study / f"notebook_{name}.png").read_bytes()[:4] == b"\x89PNG"


def test_paired_ipynb_matches_the_py_source():
    source, paired = jupytext.read(SOURCE), jupytext.read(PAIRED)
    assert [(c.cell_type, c.source) for c in source.cells] == \
        [(c.cell_type, c.source) for c in paired.cells], \
        "run: jupytext --sync notebooks/learning_curves.py"
