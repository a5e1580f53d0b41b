"""Print a notebook's sources as py:percent text: what a reviewer reads in a diff.

The solution notebooks are committed executed (about 1 MB each, images inline), so
``git diff`` of a ``.ipynb`` is mostly outputs. Used as a git ``textconv`` (see
``book/instructors.md``, "Reviewing notebook changes"), it makes ``git diff`` and
``git log -p`` show only the cells' sources, in the py:percent layout that jupytext
writes (``# %%`` before a code cell, ``# %% [markdown]`` and ``# ``-prefixed lines
for markdown), with the cell's tags. Nothing is written back: the executed
``.ipynb`` stays the one source.

Usage, from the repository root::

    python -m tools.notebook_source solutions/01_ecg5000_lstm.ipynb
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat


def notebook_source(path: Path) -> str:
    """The cell sources of the notebook at ``path`` as py:percent text (no outputs)."""
    notebook = nbformat.read(path, as_version=4)
    blocks = []
    for cell in notebook.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        header = "# %%" if cell.cell_type == "code" else f"# %% [{cell.cell_type}]"
        if tags:
            header += f" tags={sorted(tags)}"
        lines = cell.source.splitlines()
        if cell.cell_type != "code":
            lines = [f"# {line}".rstrip() for line in lines]
        blocks.append("\n".join([header, *lines]))
    return "\n\n".join(blocks) + "\n"


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit("usage: python -m tools.notebook_source NOTEBOOK.ipynb")
    sys.stdout.write(notebook_source(Path(argv[0])))


if __name__ == "__main__":
    main(sys.argv[1:])
