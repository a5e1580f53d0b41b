"""Execute solution notebooks in place, keeping outputs that read well in the book.

Each notebook runs top to bottom in a fresh ``python3`` kernel (its folder as the
working directory). Before saving, the outputs are tidied: progress-bar widgets
(live in Jupyter and Colab, meaningless once saved) are dropped together with the
widget state, and carriage-return updates in text streams are collapsed to the
final line, as a terminal would show them.

Usage: ``python tools/execute_solutions.py [NOTEBOOK ...]`` (default: solutions/*.ipynb).
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Collection, Mapping
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
CELL_TIMEOUT_S = 1800  # per cell; the longest training cell of a solution takes minutes
_OVERWRITTEN = re.compile(r"[^\n]*\r(?=[^\n])")


def tidy_outputs(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop widget outputs and widget state; collapse ``\\r`` updates in streams."""
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.outputs:
            if WIDGET_VIEW in output.get("data", {}):
                continue
            if output.output_type == "stream":
                output.text = _OVERWRITTEN.sub("", output.text.replace("\r\n", "\n"))
            kept.append(output)
        cell.outputs = kept
    return notebook


def execute(
    path: Path,
    timeout: int | None = CELL_TIMEOUT_S,
    extra_cell: str | None = None,
    save: bool = True,
    overrides: Mapping[str, object] | None = None,
    skip_tags: Collection[str] = (),
) -> tuple[str | None, float]:
    """Run ``path`` top to bottom; return what ``extra_cell`` printed and the seconds it took.

    ``extra_cell``: code run after the last cell, in the same kernel (a benchmark
    prints the notebook's results with it); it is never saved, and without it the
    printed text is ``None``. ``timeout``: seconds allowed per cell (``None``: no
    limit). ``save``: write the executed notebook back to ``path``,
    outputs tidied. ``overrides``: parameters to set to other values
    (``{"PRESET": "gpu", "SEED": 1}``) in a cell run right after the notebook's cell
    tagged ``parameters`` (papermill's convention), so a benchmark or a test can
    run the notebook itself with another budget or seed. ``skip_tags``: cells with
    any of these tags are not run (``{"claim"}``: a smoke run asserts no accuracy).
    A run with either is not the notebook and cannot be saved. Raises on a cell error.
    """
    notebook = nbformat.read(path, as_version=4)
    if (overrides or skip_tags) and save:
        raise ValueError(
            "A run with overrides or skipped cells is not the notebook: call with save=False."
        )
    if skip_tags:
        notebook.cells = [
            c for c in notebook.cells if not set(skip_tags) & set(c.metadata.get("tags", []))
        ]
    if overrides:
        notebook.cells.insert(
            parameters_cell(notebook) + 1,
            nbformat.v4.new_code_cell(
                "\n".join(f"{name} = {value!r}" for name, value in overrides.items())
            ),
        )
    if extra_cell is not None:
        notebook.cells.append(nbformat.v4.new_code_cell(extra_cell))
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    printed = None
    if extra_cell is not None:
        outputs = notebook.cells.pop().outputs
        printed = "".join(o.text for o in outputs if o.output_type == "stream")
    if save:
        nbformat.write(tidy_outputs(notebook), path)
    return printed, seconds


def parameters_cell(notebook: nbformat.NotebookNode) -> int:
    """Index of the notebook's one code cell tagged ``parameters``."""
    tagged = [
        i
        for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", [])
    ]
    if len(tagged) != 1:
        raise ValueError(f"expected one code cell tagged 'parameters'; found {len(tagged)}.")
    return tagged[0]


def main(argv: list[str]) -> None:
    paths = [Path(a) for a in argv] or sorted((ROOT / "solutions").glob("*.ipynb"))
    for path in paths:
        print(f"executing {path} ...", flush=True)
        _, seconds = execute(path)
        print(f"  done in {seconds:.0f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
