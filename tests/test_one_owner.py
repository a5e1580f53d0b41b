"""Facts the course states in one place: the repository URL, the version, the class names,
the balanced accuracy, the published AAMI layout and the endpoint's answer columns."""

from __future__ import annotations

import importlib.metadata
import json
import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import yaml

import ecg_course
from ecg_course import aami, metrics, mitbih, plots

ROOT = Path(__file__).resolve().parents[1]
# Where the repository is named: Colab badges and links, and pip installs from git.
REPO_PATTERNS = (
    re.compile(r"colab\.research\.google\.com/github/([\w.-]+)/([\w.-]+)/blob/([\w.-]+)/"),
    re.compile(r"git\+https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?(?:@([\w.-]+))?[\"'\s]"),
)

GITHUB_URL = re.compile(r"github\.com/([\w.-]+)/([\w.-]+)")


def _config_repository() -> tuple[str, str, str]:
    repository = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    org, name = repository["url"].rstrip("/").split("github.com/", 1)[1].split("/")[:2]
    return org, name, repository["branch"]


def _texts() -> dict[str, str]:
    """README, book pages and every notebook cell, keyed by where they are."""
    texts = {"README.md": (ROOT / "README.md").read_text()}
    texts |= {str(p.relative_to(ROOT)): p.read_text() for p in sorted(ROOT.glob("book/*.md"))}
    for folder in ("solutions", "notebooks"):
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            cells = json.loads(path.read_text())["cells"]
            for i, cell in enumerate(cells):
                texts[f"{path.relative_to(ROOT)} cell {i}"] = "".join(cell["source"]) + "\n"
    return texts


def test_every_repository_url_agrees_with_config():
    org, name, branch = _config_repository()
    found = []
    for where, text in _texts().items():
        for pattern in REPO_PATTERNS:
            for match in pattern.finditer(text):
                found.append(where)
                got_org, got_name, got_branch = match.groups()
                assert (got_org, got_name) == (org, name), (
                    f"{where} names the repository {got_org}/{got_name}; _config.yml "
                    f"(repository.url, the one place) says {org}/{name}"
                )
                assert got_branch in (None, branch), (
                    f"{where} names the branch {got_branch}; _config.yml says {branch}"
                )
    # any other github.com/<org>/<repo> that shares the org or the name is ours too
    # (an install cell may build its URL from parts); links to other projects are not
    for where, text in _texts().items():
        for got_org, got_name in GITHUB_URL.findall(text):
            got_name = got_name.removesuffix(".git")
            if got_org == org or got_name == name:
                assert (got_org, got_name) == (org, name), (
                    f"{where} names the repository {got_org}/{got_name}; _config.yml says "
                    f"{org}/{name}"
                )
    places = {where.split(" cell ")[0] for where in found}
    # the badges of the README and of every notebook, and the notebooks' install cells
    assert "README.md" in places
    assert {p.relative_to(ROOT).as_posix() for p in ROOT.glob("*/*.ipynb")} <= places


def test_version_is_written_once():
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in Python 3.11+")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert importlib.metadata.version("ecg_course") == ecg_course.__version__


@pytest.mark.parametrize("names", [None, ("a", "b", "c", "d", "e")])
def test_beat_pipeline_labels_with_the_mitbih_classes(names):
    """Without class_names the plot names the labels by mitbih.CLASSES (its one owner)."""
    n = 5
    record = mitbih.RecordBeats(
        signal=np.zeros(1000),
        fs=125,
        lead="MLII",
        r_peaks=np.arange(100, 100 + 150 * n, 150),
        labels=np.arange(n),
        symbols=np.array(list("NAVF/")),
        lengths=np.full(n, 120),
        beats=np.zeros((n, mitbih.BEAT_LENGTH), dtype=np.float32),
        rr=np.ones((n, len(mitbih.RR_FEATURES)), dtype=np.float32),
    )
    axes = plots.beat_pipeline(record, duration_s=8.0, class_names=names)
    shown = [text.get_text() for text in axes[0].texts]
    assert shown == list(names or mitbih.CLASSES)
    plt.close("all")


# What the package owns and a notebook imports instead of writing its own copy.
OWNED_FUNCTIONS = {
    "balanced_accuracy": "ecg_course.metrics.balanced_accuracy",
    "published_row": "ecg_course.aami.published_row",
}
# An f-string that builds the endpoint's column names ("y_1", "p_1", ...).
ANSWER_COLUMN_FSTRING = re.compile(r"""f["'][yp]_\{""")


def _code_cells() -> dict[str, str]:
    """The source of every code cell of the solution and exercise notebooks."""
    cells = {}
    for folder in ("solutions", "notebooks"):
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            for i, cell in enumerate(json.loads(path.read_text())["cells"]):
                if cell["cell_type"] == "code":
                    cells[f"{path.relative_to(ROOT)} cell {i}"] = "".join(cell["source"])
    return cells


def test_balanced_accuracy_has_one_owner():
    """aami's name for it is metrics' function, and classification_summary reports it."""
    assert aami.balanced_accuracy is metrics.balanced_accuracy
    y_true = np.array([0, 0, 1, 1, 1, 2])
    proba = np.eye(3)[[0, 1, 1, 0, 0, 2]]
    summary = metrics.classification_summary(y_true, proba.argmax(axis=1))
    assert summary["balanced_accuracy"] == metrics.balanced_accuracy(y_true, proba)


def test_notebooks_import_what_the_package_owns():
    cells = _code_cells()
    assert cells, "no notebook code cells found"
    for where, source in cells.items():
        for name, owner in OWNED_FUNCTIONS.items():
            assert not re.search(rf"^\s*def {name}\(", source, re.MULTILINE), (
                f"{where} defines its own {name}; import {owner} instead"
            )
        assert not ANSWER_COLUMN_FSTRING.search(source), (
            f"{where} builds the endpoint's column names itself; use "
            "ecg_course.payload.answer_columns"
        )
