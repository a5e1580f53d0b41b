"""Sphinx extension: the book shows the solution code without its authoring markers.

The solution notebooks mark what students write between ``### BEGIN SOLUTION <hint>``
and ``### END SOLUTION`` lines, which ``tools/make_exercises.py`` needs (it owns the
marker syntax) and a reader of the book does not. When Sphinx has read a notebook,
this extension removes those lines from its code blocks; the notebooks themselves
are untouched. Enabled in ``_config.yml`` (``sphinx.local_extensions``).
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx.application import Sphinx

from tools.make_exercises import drop_marker_lines


def hide_markers(doctree: nodes.document) -> int:
    """Remove the marker lines from every code block of ``doctree``; return how many changed."""
    changed = 0
    for block in doctree.findall(nodes.literal_block):
        text = block.astext()
        kept = drop_marker_lines(text)
        if kept != text:
            block.rawsource = kept
            block.children = [nodes.Text(kept)]
            changed += 1
    return changed


def _on_doctree_read(app: Sphinx, doctree: nodes.document) -> None:
    if str(app.env.doc2path(app.env.docname)).endswith(".ipynb"):  # the solution notebooks
        hide_markers(doctree)


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("doctree-read", _on_doctree_read)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
