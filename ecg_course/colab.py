"""What the notebooks' install cell says in Colab: what pip installed, and whether a restart
is needed because a package Colab had already installed was changed.

The cell notes the installed versions, runs ``%pip install``, then calls
:func:`report_install`. This module imports nothing but the standard library, so it
works even when the install broke a preinstalled package (which is what it warns about).
``tests/test_colab.py`` uses the same comparison on a copy of Colab's runtime.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from importlib import metadata

RESTART = "Runtime > Restart session"


def canonical(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed() -> dict[str, str]:
    """Every installed distribution (canonical name) and its version."""
    return {canonical(d.metadata["Name"]): d.version for d in metadata.distributions()}


@dataclass
class InstallChange:
    added: dict[str, str] = field(default_factory=dict)  # name -> version
    changed: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (old, new)
    removed: dict[str, str] = field(default_factory=dict)  # name -> old version

    @property
    def restart_needed(self) -> bool:
        """True when a package that was there before the install is not the same any more."""
        return bool(self.changed or self.removed)


def compare(before: dict[str, str], after: dict[str, str]) -> InstallChange:
    """What an install did, from the versions before and after it (names in any spelling)."""
    before = {canonical(k): v for k, v in before.items()}
    after = {canonical(k): v for k, v in after.items()}
    return InstallChange(
        added={n: v for n, v in sorted(after.items()) if n not in before},
        changed={
            n: (v, after[n]) for n, v in sorted(before.items()) if n in after and after[n] != v
        },  # fmt: skip
        removed={n: v for n, v in sorted(before.items()) if n not in after},
    )


def report_install(before: dict[str, str]) -> InstallChange:
    """Print what the install added; warn, naming them, when it changed packages that were
    already installed (the running session may hold their old versions: restart it)."""
    change = compare(before, installed())
    added = ", ".join(f"{n} {v}" for n, v in change.added.items()) or "nothing new"
    print(f"Installed: {added}.")
    if not change.restart_needed:
        print("Packages that were already installed are unchanged: no restart needed.")
        return change
    lines = [f"  {n} {old} -> {new}" for n, (old, new) in change.changed.items()]
    lines += [f"  {n} {old} removed" for n, old in change.removed.items()]
    print(
        "WARNING: the install changed packages that were already installed:\n"
        + "\n".join(lines)
        + f"\nRestart the session ({RESTART}) and run the notebook again from the top;"
        " until then imports may fail or mix old and new versions.",
        file=sys.stderr,
    )
    return change
