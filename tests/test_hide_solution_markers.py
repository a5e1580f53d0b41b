"""The book shows the solution code without its ### BEGIN/END SOLUTION lines."""

from __future__ import annotations

from docutils import nodes
from docutils.frontend import get_default_settings
from docutils.parsers.rst import Parser
from docutils.utils import new_document

from tools.hide_solution_markers import hide_markers
from tools.make_exercises import drop_marker_lines, strip_solution_regions

CELL = (
    "x = 1\n"
    "### BEGIN SOLUTION split the beats\n"
    "y = x + 1\n"
    "    ### END SOLUTION\n"
    "print(y)  # not ### END SOLUTION: a marker is a whole line\n"
)


def test_marker_lines_go_and_the_solution_code_stays():
    assert drop_marker_lines(CELL) == (
        "x = 1\ny = x + 1\nprint(y)  # not ### END SOLUTION: a marker is a whole line\n"
    )
    # the same lines the exercise generator treats as markers: it replaces the region
    assert "y = x + 1" not in strip_solution_regions(CELL)


def test_extension_rewrites_code_blocks_of_a_doctree():
    document = new_document("<notebook>", get_default_settings(Parser))
    code = nodes.literal_block(CELL, CELL, language="ipython3")
    prose = nodes.paragraph(text="### BEGIN SOLUTION in prose is left alone")
    document += [code, prose]
    assert hide_markers(document) == 1
    shown = document.findall(nodes.literal_block).__next__()
    assert "SOLUTION split" not in shown.astext() and "y = x + 1" in shown.astext()
    assert shown.rawsource == shown.astext()  # Sphinx highlights rawsource
    assert "### BEGIN SOLUTION" in prose.astext()
    assert hide_markers(document) == 0
