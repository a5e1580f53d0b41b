"""Emit every ``<script>`` of a page once.

sphinx-thebe (loaded by Jupyter Book) registers its inline configuration script,
``const THEBE_JS_URL = ...``, in a hook that runs more than once per build, so
each page declares the same ``const`` twice and the browser reports
"SyntaxError: Identifier 'THEBE_JS_URL' has already been declared". This
extension drops exact duplicates (same file, same attributes, same inline body;
an inline script's file name is None or "") from each page's script list just
before the page is written.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


def _key(script: Any) -> tuple:
    attributes = getattr(script, "attributes", {}) or {}
    return (
        str(getattr(script, "filename", script) or ""),  # inline scripts: None or ""
        tuple(sorted((str(k), str(v)) for k, v in attributes.items())),
    )


def _dedupe_scripts(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    unique = []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("html-page-context", _dedupe_scripts, priority=999)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
