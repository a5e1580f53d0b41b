"""The committed solution notebooks are teaching material: executed, clean, launchable."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
WARNING = re.compile(r"\b\w*Warning\b|^WARNING", re.MULTILINE)


def test_there_are_solution_notebooks():
    assert [p.name for p in SOLUTIONS] == [
        "01_ecg5000_lstm.ipynb",
        "02_mitbih_lstm_fcn.ipynb",
        "03_new_patients.ipynb",
    ]


@pytest.fixture(params=SOLUTIONS, ids=lambda p: p.name)
def notebook(request):
    return request.param, nbformat.read(request.param, as_version=4)


def test_executed_in_order_without_errors_or_warnings(notebook):
    path, nb = notebook
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    counts = [c.execution_count for c in code]
    assert None not in counts, f"{path.name}: cells not executed; run `python tasks.py execute`"
    assert counts == sorted(counts), f"{path.name}: cells were executed out of order"
    for cell in code:
        for output in cell.outputs:
            assert output.output_type != "error", f"{path.name}: an error is saved in a cell"
            text = output.get("text", "") if output.output_type == "stream" else ""
            assert not WARNING.search(text), (
                f"{path.name}: a warning is left in the outputs:\n{text}"
            )


def test_colab_badge_install_cell_and_kernel(notebook):
    path, nb = notebook
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    assert "colab.research.google.com/github/" in first.source
    assert f"/blob/main/solutions/{path.name}" in first.source
    install = next(c for c in nb.cells if c.cell_type == "code")
    assert '"google.colab" in sys.modules' in install.source
    assert "pip install" in install.source and "torch" not in install.source
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_figures_have_titles_and_labels(notebook):
    """Every plotting call that makes a figure names what it shows."""
    path, nb = notebook
    for cell in nb.cells:
        if cell.cell_type != "code" or "plt.subplots" not in cell.source:
            continue
        if "plots." in cell.source:  # the package's plots label themselves (tested)
            continue
        assert "title" in cell.source and "xlabel" in cell.source, (
            f"{path.name}: a figure without title/axis labels:\n{cell.source}"
        )
