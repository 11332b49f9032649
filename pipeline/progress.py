"""Progress bars for long work: shown on a terminal only, never in logs, and never with quiet.

``lstmrec --quiet`` (or ``LSTMREC_QUIET=1`` in the environment) turns every bar off.
"""

from __future__ import annotations

import os

from tqdm import tqdm

QUIET_ENV = "LSTMREC_QUIET"  # set (to anything but "" or "0") to turn progress bars off


def quiet() -> bool:
    """Whether progress bars are turned off (``LSTMREC_QUIET`` set)."""
    return os.environ.get(QUIET_ENV, "") not in ("", "0")


def set_quiet(on: bool = True) -> None:
    """Turn progress bars off (``on``) or back on for this process and its children."""
    if on:
        os.environ[QUIET_ENV] = "1"
    else:
        os.environ.pop(QUIET_ENV, None)


def progress(iterable=None, *, show: bool = True, **kwargs) -> tqdm:
    """A ``tqdm`` bar (``leave=False`` unless given) drawn only when ``show``, progress is not
    :func:`quiet`, and its output (``file``, default stderr) is a terminal."""
    kwargs.setdefault("leave", False)
    disable = True if (not show or quiet()) else None  # None: tqdm checks for a terminal
    return tqdm(iterable, disable=disable, **kwargs)
