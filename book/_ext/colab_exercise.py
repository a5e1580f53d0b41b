"""Colab links that open the EXERCISE notebooks, derived from the one repository setting.

The book renders ``solutions/<name>.ipynb`` (with outputs), but a student who
clicks "Colab" must land on ``notebooks/<name>.ipynb``, the exercise copy. This
extension:

* rewrites the Colab launch button of every page under ``solutions/`` after
  sphinx-book-theme has built it, so that it points at ``notebooks/<name>.ipynb``;
* in the pages, points the notebooks' own "Open in Colab" badge at the exercise
  notebook too, and draws the badge from a local copy, so the site needs no
  network (offline classrooms, the headless browser test);
* adds a ``{colab}`` role for the chapters, e.g. ``{colab}`01_ecg5000_lstm```
  or ``{colab}`Open chapter 1 in Colab <01_ecg5000_lstm>```.

Both build the URL from ``html_theme_options`` (``repository_url``,
``repository_branch``, ``path_to_docs``, ``launch_buttons.colab_url``), which
Jupyter Book fills from ``repository:`` and ``launch_buttons:`` in
``_config.yml``; nothing else names the repository. A link to an exercise
notebook that does not exist in the source tree is a build warning (an error
under ``-W``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.nodes import split_explicit_title

logger = logging.getLogger(__name__)

SOLUTIONS_DIR = "solutions"
EXERCISES_DIR = "notebooks"
# After sphinx-book-theme's own html-page-context handler (default priority 500).
_PRIORITY = 900
# Before Sphinx's image collector (doctree-read, default priority 500).
_BEFORE_IMAGE_COLLECTOR = 400
COLAB_BADGE_URL = "https://colab.research.google.com/assets/colab-badge.svg"
LOCAL_BADGE = "/book/_static/colab-badge.svg"


def _theme_options(app: Sphinx) -> dict[str, Any]:
    return app.config.html_theme_options or {}


def colab_url(app: Sphinx, name: str) -> str | None:
    """Colab URL of exercise notebook ``notebooks/<name>.ipynb``, or None if not configured."""
    options = _theme_options(app)
    base = (options.get("launch_buttons") or {}).get("colab_url", "").rstrip("/")
    repo_url = options.get("repository_url", "").rstrip("/")
    if not base or "github.com/" not in repo_url:
        return None
    org, repo = repo_url.split("github.com/", 1)[1].split("/")[:2]
    branch = options.get("repository_branch") or "main"
    book_path = options.get("path_to_docs", "").strip("/")
    prefix = f"{book_path}/" if book_path else ""
    return f"{base}/github/{org}/{repo}/blob/{branch}/{prefix}{EXERCISES_DIR}/{name}.ipynb"


def _check_exercise_exists(app: Sphinx, name: str, location: Any = None) -> None:
    path = Path(app.srcdir) / EXERCISES_DIR / f"{name}.ipynb"
    if not path.is_file():
        logger.warning(
            "Colab link to missing exercise notebook %s/%s.ipynb",
            EXERCISES_DIR,
            name,
            location=location,
            type="colab_exercise",
        )


def _rewrite_launch_buttons(
    app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    if not pagename.startswith(f"{SOLUTIONS_DIR}/"):
        return
    name = pagename.split("/", 1)[1]
    url = colab_url(app, name)
    if url is None:
        return
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons":
            continue
        for button in group.get("buttons", []):
            if button.get("text") == "Colab":
                _check_exercise_exists(app, name, location=pagename)
                button["url"] = url
                button["tooltip"] = "Open the exercise notebook in Colab"


def _offline_badges(app: Sphinx, doctree: nodes.document) -> None:
    """Local badge image; badge links on solution pages open the exercise notebook."""
    for image in doctree.findall(nodes.image):
        if image.get("uri") == COLAB_BADGE_URL:
            image["uri"] = LOCAL_BADGE
    marker = f"/blob/{_theme_options(app).get('repository_branch') or 'main'}/{SOLUTIONS_DIR}/"
    for reference in doctree.findall(nodes.reference):
        uri = reference.get("refuri", "")
        if uri.startswith("https://colab.research.google.com/github/") and marker in uri:
            name = uri.rsplit("/", 1)[1].removesuffix(".ipynb")
            _check_exercise_exists(app, name, location=reference)
            reference["refuri"] = colab_url(app, name) or uri


def colab_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``{colab}`[title <]notebook-name[>]```: a link that opens the exercise in Colab."""
    app = inliner.document.settings.env.app
    has_title, title, target = split_explicit_title(text)
    target = target.strip().removesuffix(".ipynb")
    url = colab_url(app, target)
    if url is None:
        msg = inliner.reporter.error(
            "colab role: no repository / colab_url configured", line=lineno
        )
        return [inliner.problematic(rawtext, rawtext, msg)], [msg]
    _check_exercise_exists(app, target, location=(inliner.document.current_source, lineno))
    label = title if has_title else f"Open {target}.ipynb in Colab"
    node = nodes.reference(rawtext, label, refuri=url, classes=["colab-link"])
    return [node], []


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("html-page-context", _rewrite_launch_buttons, priority=_PRIORITY)
    app.connect("doctree-read", _offline_badges, priority=_BEFORE_IMAGE_COLLECTOR)
    app.add_role("colab", colab_role)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
