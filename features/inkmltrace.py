"""The W3C InkML trace format (the 2011 Recommendation): the channels of a document's
``<traceFormat>`` and the values of its ``<trace>`` points, for
:func:`lstmrec.features.inkfiles.read_inkml`.

Channels are the regular ones (directly in ``<traceFormat>`` or in ``<regularChannels>``), then
the ``<intermittentChannels>``, which a point may leave out. A value is a number, explicit
(``!``), a first difference (``'``) or a second difference (``"``) of the channel's values, or
``T`` / ``F`` (a boolean), ``?`` (unknown) or ``*`` (as at the previous point). Kept apart from
the readers because it is a grammar of its own.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from lstmrec.features.errors import DataError


def number_of(value: str | None, what: str, path: Path) -> float:
    """``value`` as a float, or :class:`DataError` saying which ``what`` is not a number."""
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DataError(f"{what}: {value!r} is not a number", path) from None


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
# A value: a number (after an optional difference order), or T / F (a boolean channel), ?
# (unknown) or * (as at the previous point).
_VALUE_RE = re.compile(rf"\s*(?:([!'\"]?)\s*({_NUMBER})|([TF?*]))")


def _channels(root: ET.Element) -> tuple[list[ET.Element], int]:
    """The channels of the document's first ``<traceFormat>``, regular ones first (directly in it
    or in ``<regularChannels>``), then its ``<intermittentChannels>``, and how many are
    regular."""
    fmt = root.find(".//traceFormat")
    if fmt is None:
        return [], 0
    regular = fmt.findall("channel") + fmt.findall("regularChannels/channel")
    return regular + fmt.findall("intermittentChannels/channel"), len(regular)


def trace_format(root: ET.Element, path: Path) -> tuple[list[str], list[float], list[float]]:
    """``(channel names, defaults, scale)`` of the document's first ``<traceFormat>``: a channel
    a point leaves out reads as its ``default``, or without one as 0 (a regular channel) or NaN
    (an intermittent one)."""
    channels, regular = _channels(root)
    if not channels:
        return ["X", "Y"], [0.0, 0.0], [1.0, 1.0]
    names, defaults, scale = [], [], []
    for k, ch in enumerate(channels):
        name = (ch.get("name") or "").upper()
        names.append(name)
        missing = "0" if k < regular else "nan"
        defaults.append(number_of(ch.get("default", missing), f"channel {name} default", path))
        sign = -1.0 if name == "Y" and ch.get("orientation") == "-ve" else 1.0
        unit = 1e-3 if name == "T" and (ch.get("units") or "").lower() == "ms" else 1.0
        scale.append(sign * unit)
    if "X" not in names[:regular] or "Y" not in names[:regular]:
        raise DataError(f"traceFormat has regular channels {names[:regular]}, needs X and Y", path)
    return names, defaults, scale


def time_units_stated(root: ET.Element) -> bool:
    """Whether the first ``<traceFormat>``'s T channel states seconds or milliseconds."""
    for ch in _channels(root)[0]:
        if (ch.get("name") or "").upper() == "T":
            return (ch.get("units") or "").lower() in ("s", "ms")
    return False


def parse_trace(text: str, n_channels: int, defaults: list[float], path: Path) -> np.ndarray:
    """Values ``(N, n_channels)`` of one ``<trace>``, difference encodings resolved; the values a
    point leaves out at its end are the channels' ``defaults``."""
    mode = ["!"] * n_channels
    prev = [0.0] * n_channels
    velocity = [0.0] * n_channels
    rows: list[list[float]] = []
    if not text.strip():
        return np.zeros((0, n_channels))
    for k, point in enumerate(text.split(",")):
        if not point.strip():
            raise DataError(f"trace point {k} is empty", path)
        pos, row = 0, []
        while pos < len(point.rstrip()):
            m = _VALUE_RE.match(point, pos)
            if m is None or len(row) == n_channels:
                raise DataError(f"trace point {k}: cannot read {point.strip()!r:.60}", path)
            c, symbol = len(row), m.group(3)
            if symbol is not None:  # T, F, ? or *: no difference order
                value = {"T": 1.0, "F": 0.0, "?": math.nan, "*": prev[c]}[symbol]
                mode[c], velocity[c] = "!", 0.0
            else:
                value = float(m.group(2))
                mode[c] = m.group(1) or mode[c]
                if mode[c] == "'":
                    velocity[c] = value
                    value = prev[c] + value
                elif mode[c] == '"':
                    velocity[c] += value
                    value = prev[c] + velocity[c]
                else:
                    velocity[c] = value - prev[c]
            prev[c] = value
            row.append(value)
            pos = m.end()
        row += defaults[len(row) :]
        prev[:] = row  # a left-out value is the previous point's for a * that follows
        rows.append(row)
    return np.array(rows, dtype=np.float64).reshape(-1, n_channels)
