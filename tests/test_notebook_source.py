"""tools/notebook_source.py: the text a reviewer diffs instead of the executed notebook."""

from __future__ import annotations

import nbformat
from nbformat import v4

from tools.notebook_source import notebook_source


def test_sources_without_outputs(tmp_path):
    nb = v4.new_notebook()
    code = v4.new_code_cell("x = 1\nprint(x)", metadata={"tags": ["parameters"]})
    code.outputs = [v4.new_output("stream", text="IMAGE-OR-TEXT-OUTPUT\n")]
    code.execution_count = 7
    nb.cells = [v4.new_markdown_cell("# Title\n\nSome prose."), code]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    assert notebook_source(path) == (
        "# %% [markdown]\n# # Title\n#\n# Some prose.\n\n"
        "# %% tags=['parameters']\nx = 1\nprint(x)\n"
    )
