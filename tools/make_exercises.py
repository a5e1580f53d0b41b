"""Generate the student exercise notebooks from the solution notebooks.

``solutions/*.ipynb`` are the single source of truth (committed executed, with
outputs).  ``notebooks/*.ipynb`` are generated from them by this script, in the
spirit of nbgrader and the scikit-learn MOOC:

* In code cells, every region between a ``### BEGIN SOLUTION`` line and a
  ``### END SOLUTION`` line (any indentation) becomes, at the indentation of the
  ``BEGIN`` marker::

      # YOUR CODE HERE
      raise NotImplementedError("Exercise: <hint>")

  where ``<hint>`` is the text after ``### BEGIN SOLUTION`` on the marker line,
  or ``fill in this cell``.  A cell may hold several regions.  Unbalanced or
  nested markers raise :class:`SolutionMarkerError` naming the notebook and the
  cell index.
* Cells tagged ``solution`` are dropped, and so are markdown cells that start
  with a sphinx-exercise ``{solution-start}``, ``{solution-end}`` or
  ``{solution}`` directive (or ``{exercise-end}``).
* MyST ``{exercise}`` directives (and gated ``{exercise-start}``) become plain
  markdown, readable in Jupyter and Colab: ``### Exercise: <title>`` (or
  ``### Exercise`` without a title) followed by the body, without the option
  lines (``:label:`` ...) and the fences.
* In the first markdown cell (the "Open in Colab" badge), Colab URLs pointing at
  ``/blob/<branch>/solutions/`` point at ``/blob/<branch>/notebooks/`` instead.
* Outputs, execution counts and metadata are cleared (notebook metadata keeps
  only the kernelspec and the language name, cell metadata only the tags, minus
  ``nbval-*``); cell ids are those of the solution cells, so they are stable.

The output is byte-for-byte deterministic, so a test can compare the committed
exercises with what this script makes.

Usage::

    python tools/make_exercises.py           # regenerate notebooks/
    python tools/make_exercises.py --check   # exit 1 if notebooks/ is out of date
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat
import nbformat.reader
from nbformat import NotebookNode

REPO_ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS_DIR = REPO_ROOT / "solutions"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
FIX_COMMAND = "python tools/make_exercises.py"

YOUR_CODE_HERE = "# YOUR CODE HERE"
DEFAULT_HINT = "fill in this cell"
SOLUTION_TAG = "solution"

_BEGIN_RE = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION(?:[ \t]+(?P<hint>.*?))?[ \t]*$")
_END_RE = re.compile(r"^(?P<indent>[ \t]*)### END SOLUTION[ \t]*$")
# Lines that look like a marker but are not exactly one: refused, so that a typo
# (``# BEGIN SOLUTION``, ``### END SOLUTION here``) cannot leak a solution.
_MARKER_LIKE_RE = re.compile(r"^[ \t]*#+[ \t]*(BEGIN|END)[ \t]+SOLUTION", re.IGNORECASE)
# Markdown cells dropped from the exercises (sphinx-exercise directives).
_DROPPED_DIRECTIVE_RE = re.compile(
    r"^(?::{3,}|`{3,})\{(?:solution|solution-start|solution-end|exercise-end)\}"
)
# Opening fence of an exercise directive: fence, name, optional title.
_EXERCISE_OPEN_RE = re.compile(
    r"^(?P<fence>:{3,}|`{3,})\{(?P<name>exercise|exercise-start)\}[ \t]*(?P<title>.*?)[ \t]*$"
)
_OPTION_RE = re.compile(r"^:[\w-]+:(?:[ \t].*)?$")
_COLAB_URL_RE = re.compile(r"https://colab\.research\.google\.com/github/[^\s()<>\"'\]]+")
_COLAB_SOLUTIONS_RE = re.compile(r"(/blob/[^/\s]+)/solutions/")
_CELL_ID_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


class SolutionMarkerError(ValueError):
    """A solution notebook has unbalanced, nested or malformed markers."""


def _hint_literal(hint: str) -> str:
    """Return ``hint`` as a double-quoted Python string literal."""
    escaped = hint.replace("\\", "\\\\").replace('"', '\\"')
    return f'"Exercise: {escaped}"'


def is_marker_line(line: str) -> bool:
    """True for a ``### BEGIN SOLUTION [hint]`` or ``### END SOLUTION`` line (any indentation)."""
    text = line.rstrip("\r\n")
    return bool(_BEGIN_RE.match(text) or _END_RE.match(text))


def drop_marker_lines(source: str) -> str:
    """``source`` without its marker lines, the solution code kept: what the book shows."""
    return "".join(line for line in source.splitlines(keepends=True) if not is_marker_line(line))


def strip_solution_regions(source: str, where: str = "cell") -> str:
    """Replace each ``### BEGIN/END SOLUTION`` region of ``source`` with a stub.

    Args:
        source: the code of one cell.
        where: how to name the cell in error messages (notebook and cell index).

    Returns:
        The code with every region replaced by ``# YOUR CODE HERE`` and a
        ``raise NotImplementedError("Exercise: <hint>")`` at the marker's indentation.

    Raises:
        SolutionMarkerError: on a ``BEGIN`` without ``END``, an ``END`` without
            ``BEGIN``, nested regions, or a line that looks like a marker but is not one.
    """
    out: list[str] = []
    begin: re.Match[str] | None = None
    begin_line = 0
    for lineno, line in enumerate(source.splitlines(keepends=True), start=1):
        text = line.rstrip("\r\n")
        newline = line[len(text) :]
        if m := _BEGIN_RE.match(text):
            if begin is not None:
                raise SolutionMarkerError(
                    f"{where}: nested '### BEGIN SOLUTION' at line {lineno} "
                    f"(the region opened at line {begin_line} is not closed)"
                )
            begin, begin_line = m, lineno
        elif _END_RE.match(text):
            if begin is None:
                raise SolutionMarkerError(
                    f"{where}: '### END SOLUTION' at line {lineno} without '### BEGIN SOLUTION'"
                )
            indent = begin.group("indent")
            hint = begin.group("hint") or DEFAULT_HINT
            out.append(f"{indent}{YOUR_CODE_HERE}\n")
            out.append(f"{indent}raise NotImplementedError({_hint_literal(hint)}){newline}")
            begin = None
        elif _MARKER_LIKE_RE.match(text):
            raise SolutionMarkerError(
                f"{where}: malformed solution marker at line {lineno}: {text.strip()!r} "
                "(write exactly '### BEGIN SOLUTION [hint]' or '### END SOLUTION')"
            )
        elif begin is None:
            out.append(line)
    if begin is not None:
        raise SolutionMarkerError(
            f"{where}: '### BEGIN SOLUTION' at line {begin_line} without '### END SOLUTION'"
        )
    return "".join(out)


def convert_exercise_directives(source: str, where: str = "cell") -> str:
    """Turn MyST ``{exercise}`` directives of a markdown cell into plain markdown.

    ``:::{exercise} Title`` + option lines + body + ``:::`` becomes
    ``### Exercise: Title``, a blank line and the body.  Text around the
    directive is kept.  A gated ``{exercise-start}`` (closed right away, its
    body in the following cells) becomes the heading alone.

    Raises:
        SolutionMarkerError: if an ``{exercise}`` directive is never closed.
    """
    lines = source.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        m = _EXERCISE_OPEN_RE.match(lines[i].strip())
        if m is None:
            out.append(lines[i])
            i += 1
            continue
        fence, title = m.group("fence"), m.group("title")
        close_re = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        j = i + 1
        if j < len(lines) and lines[j].strip() == "---":  # options as a YAML block
            end = next((k for k in range(j + 1, len(lines)) if lines[k].strip() == "---"), None)
            if end is not None:
                j = end + 1
        while j < len(lines) and _OPTION_RE.match(lines[j].strip()):
            j += 1
        body_start = j
        while j < len(lines) and not close_re.match(lines[j]):
            j += 1
        if j == len(lines):
            raise SolutionMarkerError(
                f"{where}: the {{{m.group('name')}}} directive at line {i + 1} is not closed "
                f"(no closing '{fence}')"
            )
        body = lines[body_start:j]
        while body and not body[0].strip():
            body.pop(0)
        while body and not body[-1].strip():
            body.pop()
        out.append(f"### Exercise: {title}" if title else "### Exercise")
        if body:
            out.append("")
            out.extend(body)
        i = j + 1
    result = "\n".join(out)
    return result + "\n" if source.endswith("\n") else result


def rewrite_colab_links(source: str) -> str:
    """Point Colab URLs at ``notebooks/`` instead of ``solutions/``."""
    return _COLAB_URL_RE.sub(
        lambda m: _COLAB_SOLUTIONS_RE.sub(r"\1/notebooks/", m.group(0)), source
    )


def _source(cell: NotebookNode) -> str:
    """The source of ``cell`` as one string (it may be a list of lines in memory)."""
    return cell.source if isinstance(cell.source, str) else "".join(cell.source)


def _is_dropped(cell: NotebookNode) -> bool:
    """Whether ``cell`` is left out of the exercise notebook."""
    if SOLUTION_TAG in cell.get("metadata", {}).get("tags", []):
        return True
    return cell.cell_type == "markdown" and bool(
        _DROPPED_DIRECTIVE_RE.match(_source(cell).lstrip())
    )


def _minimal_metadata(nb: NotebookNode) -> NotebookNode:
    """Keep only the kernelspec and the language name of the notebook metadata."""
    kernelspec = nb.metadata.get("kernelspec") or {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    language = nb.metadata.get("language_info", {}).get("name") or kernelspec.get(
        "language", "python"
    )
    return nbformat.from_dict(
        {
            "kernelspec": copy.deepcopy(dict(kernelspec)),
            "language_info": {"name": language},
        }
    )


def make_exercise(nb: NotebookNode, name: str = "<notebook>") -> NotebookNode:
    """Return the exercise version of the solution notebook ``nb``.

    ``nb`` is not modified.  See the module docstring for the rules.

    Args:
        nb: a solution notebook (nbformat 4).
        name: the notebook's name, used in error messages.

    Raises:
        SolutionMarkerError: on unbalanced or nested solution markers, or an
            unclosed exercise directive; the message names the notebook and cell index.
        nbformat.ValidationError: if the result is not a valid nbformat 4 notebook.
    """
    cells: list[NotebookNode] = []
    used_ids: set[str] = set()
    first_markdown = True
    for index, cell in enumerate(nb.cells):
        if _is_dropped(cell):
            continue
        where = f"{name}, cell {index}"
        source = _source(cell)
        if cell.cell_type == "code":
            new = nbformat.v4.new_code_cell(strip_solution_regions(source, where))
        elif cell.cell_type == "markdown":
            source = convert_exercise_directives(source, where)
            if first_markdown:
                source = rewrite_colab_links(source)
                first_markdown = False
            new = nbformat.v4.new_markdown_cell(source)
            if cell.get("attachments"):
                new.attachments = copy.deepcopy(cell.attachments)
        else:
            new = nbformat.v4.new_raw_cell(source)
        tags = [t for t in cell.get("metadata", {}).get("tags", []) if not t.startswith("nbval-")]
        if tags:
            new.metadata["tags"] = tags
        cell_id = cell.get("id")
        if not (isinstance(cell_id, str) and _CELL_ID_RE.match(cell_id)):
            cell_id = f"cell-{index}"
        base, n = cell_id, 1
        while cell_id in used_ids:
            cell_id = f"{base[:58]}-{n}"
            n += 1
        used_ids.add(cell_id)
        new.id = cell_id
        cells.append(new)
    exercise = nbformat.v4.new_notebook(cells=cells, metadata=_minimal_metadata(nb))
    exercise.nbformat, exercise.nbformat_minor = 4, 5
    nbformat.validate(exercise)
    return exercise


def dumps(nb: NotebookNode) -> str:
    """Serialize ``nb`` the way nbformat writes files (indent 1, sorted keys, final newline)."""
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def read_notebook(path: Path) -> NotebookNode:
    """Read a notebook without nbformat's validation, which may invent random cell ids."""
    nb = nbformat.reader.reads(path.read_text(encoding="utf-8"))
    if nb.get("nbformat") != 4:
        nb = nbformat.convert(nb, 4)
    return nb


def render(solution_path: Path) -> bytes:
    """Return the exact bytes of the exercise notebook made from ``solution_path``."""
    exercise = make_exercise(read_notebook(solution_path), name=str(solution_path))
    return dumps(exercise).encode("utf-8")


def generate(
    solutions_dir: str | Path = SOLUTIONS_DIR,
    notebooks_dir: str | Path = NOTEBOOKS_DIR,
    check: bool = False,
) -> list[str]:
    """Make ``notebooks_dir/<name>.ipynb`` from every ``solutions_dir/<name>.ipynb``.

    Args:
        solutions_dir: folder of the solution notebooks.
        notebooks_dir: folder of the exercise notebooks.
        check: if true, write nothing, only report.

    Returns:
        The sorted file names (``<name>.ipynb``) of the exercise notebooks that were
        out of date: missing or different from what the generator makes (rewritten
        unless ``check``), or stale, i.e. without a matching solution (never deleted,
        so still out of date after a regeneration).
    """
    solutions_dir, notebooks_dir = Path(solutions_dir), Path(notebooks_dir)
    out_of_date: list[str] = []
    solution_names = set()
    for solution in sorted(solutions_dir.glob("*.ipynb")):
        solution_names.add(solution.name)
        target = notebooks_dir / solution.name
        expected = render(solution)
        if target.is_file() and target.read_bytes() == expected:
            continue
        out_of_date.append(solution.name)
        if not check:
            notebooks_dir.mkdir(parents=True, exist_ok=True)
            target.write_bytes(expected)
    if notebooks_dir.is_dir():
        out_of_date += [
            p.name for p in notebooks_dir.glob("*.ipynb") if p.name not in solution_names
        ]
    return sorted(out_of_date)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if an exercise notebook is out of date",
    )
    parser.add_argument("--solutions", type=Path, default=SOLUTIONS_DIR, help="solutions folder")
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS_DIR, help="exercises folder")
    args = parser.parse_args(argv)
    try:
        names = generate(args.solutions, args.notebooks, check=args.check)
    except SolutionMarkerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    solutions = {p.name for p in args.solutions.glob("*.ipynb")}
    stale = [n for n in names if n not in solutions]
    if args.check:
        if not names:
            print("exercise notebooks are up to date")
            return 0
        print("out-of-date exercise notebooks:", file=sys.stderr)
        for n in names:
            why = " (no matching solution: delete it)" if n in stale else ""
            print(f"  {args.notebooks / n}{why}", file=sys.stderr)
        print(f"fix with: {FIX_COMMAND}", file=sys.stderr)
        return 1
    for n in names:
        if n not in stale:
            print(f"wrote {args.notebooks / n}")
    for n in stale:
        print(
            f"warning: {args.notebooks / n} has no matching solution; delete it (git rm)",
            file=sys.stderr,
        )
    if not names:
        print("exercise notebooks are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
