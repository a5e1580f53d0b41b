"""PhysioNet's ``wfdb`` package, imported once for the whole course, quietly.

``wfdb`` warns about pandas' ``inplace`` keyword when it is imported and when it reads
an annotation file: a deprecation inside wfdb, not the user's to fix, which would
otherwise show in every notebook that reads MIT-BIH. Modules of the course import
``wfdb`` and ``processing`` from here, and wrap a call that warns in
:func:`quiet_wfdb`.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

__all__ = ["processing", "quiet_wfdb", "wfdb"]


@contextlib.contextmanager
def quiet_wfdb() -> Iterator[None]:
    """Silence wfdb's own pandas deprecation warnings inside the ``with`` block."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*inplace keyword.*")
        yield


with quiet_wfdb():
    import wfdb
    from wfdb import processing
