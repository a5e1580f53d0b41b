"""Tests of the exercise generator (tools/make_exercises.py) and of the sync of notebooks/.

The unit tests build small notebooks in memory; the sync tests check that every committed
``notebooks/<name>.ipynb`` is exactly what the generator makes from ``solutions/<name>.ipynb``.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbformat import v4

from tools import make_exercises as mx

REPO_ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS_DIR = REPO_ROOT / "solutions"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
FIX = "run `python tools/make_exercises.py` and commit notebooks/"


BADGE = (
    "# ECG5000\n\n"
    "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
    "(https://colab.research.google.com/github/org/ecg-course/blob/main/solutions/01_x.ipynb)"
)


def notebook(*cells, **metadata) -> nbformat.NotebookNode:
    """A solution notebook with the given cells and deterministic cell ids."""
    nb = v4.new_notebook(cells=list(cells))
    for i, cell in enumerate(nb.cells):
        cell.id = f"sol-{i}"
    nb.metadata.update(metadata)
    return nb


def code(source: str, tags: list[str] | None = None, outputs: bool = True):
    """A code cell that looks executed (outputs and execution count)."""
    cell = v4.new_code_cell(source, execution_count=3)
    if outputs:
        cell.outputs = [v4.new_output("stream", name="stdout", text="42\n")]
    if tags:
        cell.metadata["tags"] = tags
    return cell


def md(source: str, tags: list[str] | None = None):
    cell = v4.new_markdown_cell(source)
    if tags:
        cell.metadata["tags"] = tags
    return cell


def exercise_sources(nb: nbformat.NotebookNode) -> list[str]:
    return [cell.source for cell in mx.make_exercise(nb).cells]


# --- solution regions ---------------------------------------------------------------------


def test_region_without_hint():
    src = "x = 1\n### BEGIN SOLUTION\ny = x + 1\n### END SOLUTION\nprint(y)"
    assert exercise_sources(notebook(code(src))) == [
        (
            "x = 1\n# YOUR CODE HERE\n"
            'raise NotImplementedError("Exercise: fill in this cell")\nprint(y)'
        )
    ]


def test_region_with_hint_and_indentation():
    src = (
        "def split(X, y):\n"
        "    ### BEGIN SOLUTION split the 5,000 beats 60/20/20\n"
        "    a, b = X[:3000], X[3000:]\n"
        "    return a, b\n"
        "        ### END SOLUTION\n"
    )
    assert mx.strip_solution_regions(src) == (
        "def split(X, y):\n"
        "    # YOUR CODE HERE\n"
        '    raise NotImplementedError("Exercise: split the 5,000 beats 60/20/20")\n'
    )


def test_hint_with_quotes_stays_valid_python():
    src = '### BEGIN SOLUTION use "mean" and a \\ backslash\npass\n### END SOLUTION\n'
    out = mx.strip_solution_regions(src)
    compile(out, "<exercise>", "exec")
    with pytest.raises(NotImplementedError, match='Exercise: use "mean" and a \\\\ backslash'):
        exec(out, {})  # noqa: S102 (our own generated stub)


def test_several_regions_in_one_cell():
    src = (
        "import torch\n"
        "### BEGIN SOLUTION build the model\n"
        "model = 1\n"
        "### END SOLUTION\n"
        "for epoch in range(3):\n"
        "\t### BEGIN SOLUTION\n"
        "\tloss = 0\n"
        "\t### END SOLUTION\n"
        "\tprint(epoch)\n"
    )
    assert mx.strip_solution_regions(src) == (
        "import torch\n"
        "# YOUR CODE HERE\n"
        'raise NotImplementedError("Exercise: build the model")\n'
        "for epoch in range(3):\n"
        "\t# YOUR CODE HERE\n"
        '\traise NotImplementedError("Exercise: fill in this cell")\n'
        "\tprint(epoch)\n"
    )


def test_cell_without_markers_is_unchanged():
    src = "from ecg_course import checks\nchecks.check_split(X_train)  # BEGIN here"
    assert exercise_sources(notebook(code(src))) == [src]


def test_markers_in_markdown_are_left_alone():
    src = "Solutions sit between `### BEGIN SOLUTION` and `### END SOLUTION`."
    assert exercise_sources(notebook(md(src))) == [src]


@pytest.mark.parametrize(
    ("src", "message"),
    [
        ("### BEGIN SOLUTION\nx = 1\n", "line 1 without '### END SOLUTION'"),
        ("x = 1\n### END SOLUTION\n", "line 2 without '### BEGIN SOLUTION'"),
        (
            "### BEGIN SOLUTION\n### BEGIN SOLUTION\nx\n### END SOLUTION\n### END SOLUTION\n",
            "nested",
        ),
        ("# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n", "malformed"),
        ("### BEGIN SOLUTIONS\nx = 1\n### END SOLUTION\n", "malformed"),
        ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION now\n", "malformed"),
    ],
)
def test_marker_errors_name_notebook_and_cell(src, message):
    nb = notebook(md(BADGE), code("x = 0"), code(src))
    with pytest.raises(mx.SolutionMarkerError, match=message) as info:
        mx.make_exercise(nb, name="solutions/01_x.ipynb")
    assert "solutions/01_x.ipynb, cell 2" in str(info.value)


def test_marker_error_from_generate_names_the_file(tmp_path):
    (tmp_path / "solutions").mkdir()
    nbformat.write(notebook(code("### BEGIN SOLUTION\nx\n")), tmp_path / "solutions" / "bad.ipynb")
    with pytest.raises(mx.SolutionMarkerError, match=r"bad\.ipynb, cell 0"):
        mx.generate(tmp_path / "solutions", tmp_path / "notebooks")
    assert not (tmp_path / "notebooks" / "bad.ipynb").exists()


# --- dropped cells ----------------------------------------------------------------------------


def test_gated_solution_directives_and_solution_tags_are_dropped():
    nb = notebook(
        md("intro"),
        md(":::{solution-start} ex-split\n:class: dropdown\n:::"),
        code("### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n"),
        md("\n::::{solution-end}\n::::\n"),
        md("The answer is 42 because...", tags=["solution"]),
        code("print('the answer')", tags=["solution", "hide-input"]),
        md(":::{solution} ex-split\nThe answer.\n:::"),
        md("Keep me: {solution-start} is only dropped at the start of a cell"),
    )
    ex = mx.make_exercise(nb)
    assert [c.id for c in ex.cells] == ["sol-0", "sol-2", "sol-7"]
    assert ex.cells[1].source.startswith("# YOUR CODE HERE")


# --- exercise directives -------------------------------------------------------------------


def test_exercise_directive_becomes_plain_markdown():
    src = (
        "Before.\n\n"
        ":::{exercise} Split the data\n"
        ":label: ex-split\n"
        ":class: dropdown\n"
        "\n"
        "Body text with a {ref}`link <ex-split>`.\n"
        "\n"
        "- a list\n"
        ":::\n"
        "\n"
        "After."
    )
    assert exercise_sources(notebook(md(src))) == [
        (
            "Before.\n\n### Exercise: Split the data\n\n"
            "Body text with a {ref}`link <ex-split>`.\n\n- a list\n\nAfter."
        )
    ]


def test_exercise_directive_without_title_and_longer_fence():
    src = "::::{exercise}\n:label: ex-a\nDo it.\n\n:::{hint}\nThink.\n:::\n::::\n"
    assert exercise_sources(notebook(md(src))) == [
        "### Exercise\n\nDo it.\n\n:::{hint}\nThink.\n:::\n"
    ]


def test_exercise_directive_with_yaml_options_and_backtick_fence():
    src = "```{exercise} Train\n---\nlabel: ex-train\n---\nTrain it.\n```"
    assert exercise_sources(notebook(md(src))) == ["### Exercise: Train\n\nTrain it."]


def test_gated_exercise_start_and_end():
    nb = notebook(
        md(":::{exercise-start} Build the LSTM\n:label: ex-lstm\n:::"),
        code("### BEGIN SOLUTION\nm = 1\n### END SOLUTION"),
        md(":::{exercise-end}\n:::"),
    )
    sources = exercise_sources(nb)
    assert sources[0] == "### Exercise: Build the LSTM"
    assert len(sources) == 2


def test_unclosed_exercise_directive_is_an_error():
    with pytest.raises(mx.SolutionMarkerError, match=r"nb\.ipynb, cell 1.*not closed"):
        mx.make_exercise(notebook(md("x"), md(":::{exercise} T\nbody\n")), name="nb.ipynb")


# --- Colab badge --------------------------------------------------------------------------


def test_badge_in_first_markdown_cell_points_at_notebooks():
    later = (
        "Compare with the [solution]"
        "(https://colab.research.google.com/github/org/ecg-course/blob/main/solutions/01_x.ipynb)."
    )
    nb = notebook(code("import torch"), md(BADGE), md(later))
    sources = exercise_sources(nb)
    assert sources[1] == BADGE.replace("/blob/main/solutions/", "/blob/main/notebooks/")
    assert "colab-badge.svg" in sources[1]
    assert sources[2] == later  # only the badge cell is rewritten


def test_badge_rewrite_keeps_non_colab_links():
    src = (
        "[Colab](https://colab.research.google.com/github/o/r/blob/dev/solutions/a.ipynb) "
        "[GitHub](https://github.com/o/r/blob/main/solutions/a.ipynb)"
    )
    assert mx.rewrite_colab_links(src) == (
        "[Colab](https://colab.research.google.com/github/o/r/blob/dev/notebooks/a.ipynb) "
        "[GitHub](https://github.com/o/r/blob/main/solutions/a.ipynb)"
    )


# --- outputs, metadata, ids, determinism ---------------------------------------------


def rich_notebook() -> nbformat.NotebookNode:
    nb = notebook(
        md(BADGE),
        code("import numpy as np", tags=["nbval-ignore-output", "hide-input"]),
        code("### BEGIN SOLUTION\nx = np.ones(3)\n### END SOLUTION\nx", tags=["nbval-skip"]),
        v4.new_raw_cell("raw text"),
        kernelspec={
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
            "name": "python3",
        },
        language_info={"name": "python", "version": "3.11.9", "mimetype": "text/x-python"},
        widgets={"application/vnd.jupyter.widget-state+json": {"state": {}}},
        colab={"provenance": []},
    )
    nb.cells[1].metadata["execution"] = {"iopub.execute_input": "2024-01-01T00:00:00Z"}
    nb.cells[2].outputs.append(
        v4.new_output(
            "execute_result", data={"text/plain": "array([1., 1., 1.])"}, execution_count=3
        )
    )
    return nb


def test_outputs_metadata_and_tags_are_cleared():
    ex = mx.make_exercise(rich_notebook())
    assert dict(ex.metadata) == {
        "kernelspec": {
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
            "name": "python3",
        },
        "language_info": {"name": "python"},
    }
    for cell in ex.cells:
        if cell.cell_type == "code":
            assert cell.outputs == []
            assert cell.execution_count is None
    assert [dict(c.metadata) for c in ex.cells] == [{}, {"tags": ["hide-input"]}, {}, {}]
    assert ex.nbformat == 4 and ex.nbformat_minor == 5
    nbformat.validate(ex)


def test_default_metadata_when_solution_has_none():
    ex = mx.make_exercise(notebook(code("1")))
    assert ex.metadata["kernelspec"]["name"] == "python3"
    assert ex.metadata["language_info"] == {"name": "python"}


def test_input_notebook_is_not_modified():
    nb = rich_notebook()
    before = nbformat.writes(nb)
    mx.make_exercise(nb)
    assert nbformat.writes(nb) == before


def test_cell_ids_come_from_solution_ids():
    nb = rich_notebook()
    assert [c.id for c in mx.make_exercise(nb).cells] == ["sol-0", "sol-1", "sol-2", "sol-3"]
    # Missing or duplicated ids (old notebooks) get deterministic ones.
    nb.cells[1].id = "sol-0"
    del nb.cells[3]["id"]
    assert [c.id for c in mx.make_exercise(nb).cells] == ["sol-0", "sol-0-1", "sol-2", "cell-3"]


def test_output_is_deterministic_bytes(tmp_path):
    solutions, notebooks = tmp_path / "solutions", tmp_path / "notebooks"
    solutions.mkdir()
    nb = rich_notebook()
    nbformat.write(nb, solutions / "01_x.ipynb")
    # A solution saved by an old nbformat, without cell ids: ids must not be random.
    old = json.loads(nbformat.writes(nb))
    for cell in old["cells"]:
        del cell["id"]
    (solutions / "02_old.ipynb").write_text(json.dumps(old), encoding="utf-8")

    assert mx.generate(solutions, notebooks) == ["01_x.ipynb", "02_old.ipynb"]
    first = {p.name: p.read_bytes() for p in notebooks.glob("*.ipynb")}
    assert mx.generate(solutions, notebooks) == []
    assert mx.generate(solutions, notebooks, check=True) == []
    assert {p.name: p.read_bytes() for p in notebooks.glob("*.ipynb")} == first
    assert mx.render(solutions / "02_old.ipynb") == first["02_old.ipynb"]

    text = first["01_x.ipynb"].decode("utf-8")
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert text == json.dumps(json.loads(text), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    assert mx.dumps(mx.make_exercise(nb)) == text
    nbformat.validate(nbformat.reads(text, as_version=4))


def test_check_mode_reports_and_writes_nothing(tmp_path):
    solutions, notebooks = tmp_path / "solutions", tmp_path / "notebooks"
    solutions.mkdir()
    nbformat.write(rich_notebook(), solutions / "01_x.ipynb")
    nbformat.write(rich_notebook(), solutions / "02_y.ipynb")

    assert mx.generate(solutions, notebooks, check=True) == ["01_x.ipynb", "02_y.ipynb"]
    assert not notebooks.exists()

    mx.generate(solutions, notebooks)
    (notebooks / "02_y.ipynb").write_bytes(b"edited by hand")
    nbformat.write(rich_notebook(), notebooks / "99_stale.ipynb")
    assert mx.generate(solutions, notebooks, check=True) == ["02_y.ipynb", "99_stale.ipynb"]
    assert (notebooks / "02_y.ipynb").read_bytes() == b"edited by hand"

    # Regenerating fixes 02_y but never deletes the stale notebook.
    assert mx.generate(solutions, notebooks) == ["02_y.ipynb", "99_stale.ipynb"]
    assert (notebooks / "99_stale.ipynb").exists()
    assert mx.generate(solutions, notebooks, check=True) == ["99_stale.ipynb"]


def test_cli_check_exit_status_and_message(tmp_path, capsys):
    solutions, notebooks = tmp_path / "solutions", tmp_path / "notebooks"
    solutions.mkdir()
    nbformat.write(rich_notebook(), solutions / "01_x.ipynb")
    dirs = ["--solutions", str(solutions), "--notebooks", str(notebooks)]

    assert mx.main(["--check", *dirs]) == 1
    err = capsys.readouterr().err
    assert "01_x.ipynb" in err and "python tools/make_exercises.py" in err

    assert mx.main(dirs) == 0
    assert "wrote" in capsys.readouterr().out
    assert mx.main(["--check", *dirs]) == 0


# --- the committed notebooks --------------------------------------------------------------


def solution_paths() -> list[Path]:
    return sorted(SOLUTIONS_DIR.glob("*.ipynb"))


def test_solutions_exist():
    """The sync tests below must not pass vacuously."""
    assert solution_paths(), f"no solution notebook in {SOLUTIONS_DIR}"


@pytest.mark.parametrize("solution", solution_paths(), ids=lambda p: p.name)
def test_committed_exercise_is_in_sync(solution: Path):
    exercise = NOTEBOOKS_DIR / solution.name
    assert exercise.is_file(), f"{exercise} is missing: {FIX}"
    assert exercise.read_bytes() == mx.render(solution), f"{exercise} is out of date: {FIX}"


def test_no_stale_exercise_notebooks():
    assert mx.generate(SOLUTIONS_DIR, NOTEBOOKS_DIR, check=True) == [], (
        f"out-of-date or stale notebooks in {NOTEBOOKS_DIR}: {FIX} "
        "(and git rm exercises whose solution was removed)"
    )


@pytest.mark.parametrize("solution", solution_paths(), ids=lambda p: p.name)
def test_exercise_has_gaps_and_no_solution_markers(solution: Path):
    committed = NOTEBOOKS_DIR / solution.name
    if committed.is_file():
        ex = mx.read_notebook(committed)
    else:  # reported by test_committed_exercise_is_in_sync; check what would be generated
        ex = mx.make_exercise(mx.read_notebook(solution), name=str(solution))
    sources = [cell.source for cell in ex.cells]
    markdown = [cell.source for cell in ex.cells if cell.cell_type == "markdown"]
    assert any(mx.YOUR_CODE_HERE in s for s in sources), f"{solution.name} has no exercise"
    assert not any("### BEGIN SOLUTION" in s or "### END SOLUTION" in s for s in sources)
    assert "/blob/main/solutions/" not in (markdown or [""])[0], (
        "the Colab badge must point at notebooks/"
    )
