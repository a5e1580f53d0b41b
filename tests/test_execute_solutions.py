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
    nb.cells = [
        nbformat.v4.new_markdown_cell("EPOCHS = 99 in prose is not an assignment"),
        nbformat.v4.new_code_cell("LABEL = 'run'"),
        nbformat.v4.new_code_cell("EPOCHS = 3  # budget\nBATCH = 4"),
        nbformat.v4.new_code_cell("steps = EPOCHS * BATCH"),
    ]
    nbformat.write(nb, path)
    return path


def test_overrides_replace_the_budget_and_leave_the_file_alone(notebook):
    before = notebook.read_text()
    printed, _ = execute(notebook, extra_cell=REPORT, save=False, overrides={"EPOCHS": 50})
    assert printed.split() == ["200", "run"]
    assert notebook.read_text() == before
    printed, _ = execute(notebook, extra_cell=REPORT, save=False)
    assert printed.split() == ["12", "run"]


def test_overrides_refuse_unknown_names_and_saving(notebook):
    with pytest.raises(ValueError, match=r"No code cell assigns all of \['EPOCHS', 'LABEL'\]"):
        execute(notebook, save=False, overrides={"EPOCHS": 50, "LABEL": "long"})
    with pytest.raises(ValueError, match="save=False"):
        execute(notebook, overrides={"EPOCHS": 50})
