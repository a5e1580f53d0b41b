"""Tests of tools/execute_solutions.py on a tiny notebook (a real kernel runs it)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from tools.execute_solutions import execute

REPORT = "print(EPOCHS * BATCH, LABEL)"


@pytest.fixture
def notebook(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.ipynb"
    nb = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell("EPOCHS = 3  # budget\nBATCH = 4")
    parameters.metadata["tags"] = ["parameters"]
    claim = nbformat.v4.new_code_cell("assert EPOCHS < 10, 'the claim of the short budget'")
    claim.metadata["tags"] = ["claim"]
    nb.cells = [
        nbformat.v4.new_markdown_cell("EPOCHS = 99 in prose is not an assignment"),
        nbformat.v4.new_code_cell("LABEL = 'run'"),
        parameters,
        nbformat.v4.new_code_cell("steps = EPOCHS * BATCH"),
        claim,
    ]
    nbformat.write(nb, path)
    return path


def test_overrides_follow_the_parameters_cell_and_leave_the_file_alone(notebook):
    before = notebook.read_text()
    printed, _ = execute(notebook, extra_cell=REPORT, save=False)
    assert printed.split() == ["12", "run"]
    printed, _ = execute(notebook, extra_cell=REPORT, save=False, overrides={"LABEL": "long"})
    assert printed.split() == ["12", "long"]  # set after the parameters cell, not before
    printed, _ = execute(
        notebook, extra_cell=REPORT, save=False, overrides={"EPOCHS": 50}, skip_tags={"claim"}
    )
    assert printed.split() == ["200", "run"]
    assert notebook.read_text() == before


def test_a_skipped_claim_is_what_lets_a_longer_budget_run(notebook):
    with pytest.raises(Exception, match="the claim of the short budget"):
        execute(notebook, save=False, overrides={"EPOCHS": 50})


def test_overrides_need_one_parameters_cell_and_refuse_saving(notebook):
    with pytest.raises(ValueError, match="save=False"):
        execute(notebook, overrides={"EPOCHS": 50})
    with pytest.raises(ValueError, match="save=False"):
        execute(notebook, skip_tags={"claim"})
    nb = nbformat.read(notebook, as_version=4)
    nb.cells[2].metadata["tags"] = []
    nbformat.write(nb, notebook)
    with pytest.raises(ValueError, match="one code cell tagged 'parameters'; found 0"):
        execute(notebook, save=False, overrides={"EPOCHS": 50})
