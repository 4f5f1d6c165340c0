"""scripts/walkthrough.ipynb runs top to bottom (nbclient, a real Jupyter kernel), so it can never
rot: every section draws its pictures, and the gradient it checks by hand agrees."""

import re
from pathlib import Path

import pytest

from conftest import FINITE_DIFF_NET

nbformat = pytest.importorskip("nbformat")  # absent on the GPU machine: a module-level skip
NotebookClient = pytest.importorskip("nbclient").NotebookClient

NOTEBOOK = Path(__file__).resolve().parent.parent / "scripts" / "walkthrough.ipynb"


def test_the_walkthrough_is_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


def test_the_walkthrough_runs_top_to_bottom(tmp_path, weights_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()  # fmt: skip
    text, pictures = [], 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            text.append(out.get("text", ""))
            pictures += "image/png" in out.get("data", {})
    text = "".join(text)
    assert "deprocess(preprocess(photo)) == photo: True" in text
    assert text.count("N_l = ") == 5
    assert pictures >= 9, "every section shows its pictures"
    error = float(re.search(r"max relative error: (\S+)", text).group(1))
    # the notebook's check: float64, h = 1e-3 on pixels, through VGG-19, as FINITE_DIFF_NET's
    assert error < FINITE_DIFF_NET, "the hand-derived gradient agrees with finite differences"
    falls = re.findall(r"loss (\S+) -> (\S+) in", text)
    assert len(falls) == 2 and all(float(b) < float(a) for a, b in falls)  # L-BFGS descends
    print(re.search(r"the whole notebook: \d+ s", text).group(0))
