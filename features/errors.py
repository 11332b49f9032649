"""The one exception type for bad input data.

Every reader, feature function and command raises :class:`DataError` (or a subclass) when the
user's data is at fault: a missing or corrupt file, an unknown label, a transcript too long for
its frames. The message always names the file (when there is one) and the reason, so the command
line can print it as one line and exit with status 2.
"""

from __future__ import annotations

import os


class DataError(ValueError):
    """Bad input data. ``str(err)`` is ``"<path>: <reason>"`` (or just the reason)."""

    def __init__(self, reason: str, path: str | os.PathLike | None = None) -> None:
        self.reason = reason
        self.path = None if path is None else os.fspath(path)
        super().__init__(f"{self.path}: {reason}" if self.path is not None else reason)
