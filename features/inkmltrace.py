"""The W3C InkML trace format (the 2011 Recommendation): which ``<traceFormat>`` each
``<trace>`` of a document is written in (through its contexts), the channels of a format and
the values of a trace's points, and which points of which traces a ``<traceView>`` selects,
for :func:`lstmrec.features.inkfiles.read_inkml`.

Channels are the regular ones (directly in ``<traceFormat>`` or in ``<regularChannels>``), then
the ``<intermittentChannels>``, which a point may leave out. A value is a number, explicit
(``!``), a first difference (``'``) or a second difference (``"``) of the channel's values, or
``T`` / ``F`` (a boolean), ``?`` (unknown) or ``*`` (as at the previous point). Kept apart from
the readers because it is a grammar of its own.
"""

from __future__ import annotations

import dataclasses
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from lstmrec.features.errors import DataError

XML_ID = "{http://www.w3.org/XML/1998/namespace}id"
# The time units of a T channel, in seconds; times in another unit, or none, are told apart by
# their steps (seconds or milliseconds).
TIME_UNITS = {"s": 1.0, "sec": 1.0, "ms": 1e-3, "msec": 1e-3, "us": 1e-6, "ns": 1e-9}
TIME_UNITS |= {"\u00b5s": 1e-6, "\u03bcs": 1e-6}  # microseconds: the micro sign, the Greek mu


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


@dataclasses.dataclass(frozen=True)
class TraceFormat:
    """One ``<traceFormat>``: its channels' names, the value of each when a point leaves it out,
    the factor that turns each into the project's units (X's and Y's orientation, T's unit),
    and whether T's ``units`` state one of ``TIME_UNITS``."""

    names: tuple[str, ...] = ("X", "Y")
    defaults: tuple[float, ...] = (0.0, 0.0)
    scale: tuple[float, ...] = (1.0, 1.0)
    time_stated: bool = False
    rate: float = 0.0  # samples per second of the ink source's uniform sampling; 0: not known

    def clocked(self, trace: ET.Element) -> bool:
        """Whether a ``trace`` without a T channel is timed by its ``timeOffset`` and the
        uniform sample rate."""
        return "T" not in self.names and self.rate > 0 and trace.get("timeOffset") is not None

    def points(self, trace: ET.Element, path: Path) -> np.ndarray:
        """``(N, 3)`` points ``[x, y, t]`` of a ``<trace>`` in this format: t from the T channel;
        without one, the trace's ``timeOffset`` (milliseconds) plus the point's position over
        the sample rate (:meth:`clocked`, in seconds), else NaN."""
        v = parse_trace(trace.text or "", len(self.names), list(self.defaults), path) * self.scale
        if "T" in self.names:
            t = v[:, self.names.index("T")]
        elif self.clocked(trace):
            start = number_of(trace.get("timeOffset"), "trace timeOffset", path) / 1000
            t = start + np.arange(len(v)) / self.rate
        else:
            t = np.full(len(v), np.nan)
        return np.stack([v[:, self.names.index("X")], v[:, self.names.index("Y")], t], axis=1)

    def in_seconds(self, trace: ET.Element) -> bool:
        """Whether the times :meth:`points` gives ``trace`` are known to be seconds (T with
        ``units`` of ``TIME_UNITS``, or times from the sample rate); others are told apart by
        their steps."""
        return self.time_stated or self.clocked(trace)


def _format_of(fmt: ET.Element, path: Path) -> TraceFormat:
    """The :class:`TraceFormat` of a ``<traceFormat>`` element: regular channels first (directly
    in it or in ``<regularChannels>``), then its ``<intermittentChannels>``. A channel a point
    leaves out reads as its ``default``, or without one as 0 (a regular channel) or NaN (an
    intermittent one)."""
    regular = fmt.findall("channel") + fmt.findall("regularChannels/channel")
    channels = regular + fmt.findall("intermittentChannels/channel")
    if not channels:
        return TraceFormat()
    names, defaults, scale, stated = [], [], [], False
    for k, ch in enumerate(channels):
        name = (ch.get("name") or "").upper()
        names.append(name)
        missing = "0" if k < len(regular) else "nan"
        defaults.append(number_of(ch.get("default", missing), f"channel {name} default", path))
        units = (ch.get("units") or "").strip().lower()
        # "-ve": the values grow left (X) or up (Y); the project's ink grows right and down
        flipped = name in ("X", "Y") and (ch.get("orientation") or "").strip() == "-ve"
        sign = -1.0 if flipped else 1.0
        scale.append(sign * (TIME_UNITS.get(units, 1.0) if name == "T" else 1.0))
        stated = stated or (name == "T" and units in TIME_UNITS)
    if "X" not in names[: len(regular)] or "Y" not in names[: len(regular)]:
        where = f"traceFormat {_id(fmt)!r}" if _id(fmt) else "traceFormat"
        raise DataError(
            f"{where} has regular channels {names[: len(regular)]}, needs X and Y", path
        )
    return TraceFormat(tuple(names), tuple(defaults), tuple(scale), stated)


def _rate_of(source: ET.Element | None, path: Path) -> float:
    """The samples per second of an ``<inkSource>``'s ``<sampleRate>`` when it is uniform (as it
    is unless ``uniform="false"``), else 0; :class:`DataError` for a rate that is not a positive
    number."""
    rate = None if source is None else source.find("sampleRate")
    if rate is None or (rate.get("uniform") or "").strip().lower() == "false":
        return 0.0
    value = number_of(rate.get("value"), "sampleRate value", path)
    if not 0 < value < math.inf:
        raise DataError(f"sampleRate value {value:g} is not a positive number of samples", path)
    return value


def _id(el: ET.Element) -> str | None:
    return el.get(XML_ID, el.get("id"))


def element_ids(root: ET.Element) -> dict[str, ET.Element]:
    """The elements of a document that have an ``xml:id`` (or ``id``), by it: what references
    (``contextRef``, ``traceDataRef``, ...) name."""
    return {_id(el): el for el in root.iter() if _id(el)}  # type: ignore[misc]


def referred_element(
    el: ET.Element,
    attr: str,
    tags: tuple[str, ...],
    ids: dict[str, ET.Element],
    path: Path,
    what: str | None = None,
) -> ET.Element | None:
    """The element that ``el``'s reference ``attr`` names (``"#id"`` or ``"id"``; ``ids``:
    :func:`element_ids`), None when ``el`` has none; :class:`DataError` when it names no
    element of ``tags`` (``what``: how the message calls them, by default their tag)."""
    ref = (el.get(attr) or "").strip()
    if not ref:
        return None
    target = ids.get(ref.removeprefix("#"))
    if target is None or target.tag not in tags:
        what = what or " or ".join(f"<{tag}>" for tag in tags)
        raise DataError(f"{el.tag} {attr}={ref!r} names no {what} in the document", path)
    return target


def trace_formats(
    root: ET.Element, ids: dict[str, ET.Element], path: Path
) -> dict[ET.Element, TraceFormat]:
    """The format of every ``<trace>`` of an InkML document, by the rules of its contexts: a
    trace's ``contextRef``, else its nearest ``<traceGroup>``'s, else the current context (set
    by a ``<context>`` outside ``<definitions>``, in document order). A context's format is its
    own ``<traceFormat>`` or ``traceFormatRef``, else its ink source's (``<inkSource>`` or
    ``inkSourceRef``), else that of the context it refers to (``contextRef``). Where none of
    these gives one, the document's first ``<traceFormat>`` (documents that declare a single
    one anywhere, without contexts), else X and Y. A format carries the uniform sample rate of
    the ink source of the context that gives it (for the document's format, of its first
    ``<inkSource>``). ``ids``: :func:`element_ids` of ``root``."""
    made: dict[tuple[ET.Element, float], TraceFormat] = {}  # a <traceFormat> read once per rate

    def referred(el: ET.Element, attr: str, tag: str) -> ET.Element | None:
        return referred_element(el, attr, (tag,), ids, path)

    def source_of(ctx: ET.Element) -> ET.Element | None:
        """A context's ink source, directly or by reference."""
        source = ctx.find("inkSource")
        return source if source is not None else referred(ctx, "inkSourceRef", "inkSource")

    def own_format(el: ET.Element) -> ET.Element | None:
        """A context's or ink source's traceFormat, directly or by reference."""
        fmt = el.find("traceFormat")
        if fmt is None and el.tag == "context":
            fmt = referred(el, "traceFormatRef", "traceFormat")
            source = source_of(el)
            fmt = fmt if fmt is not None or source is None else own_format(source)
        return fmt

    def made_format(fmt: ET.Element, rate: float) -> TraceFormat:
        if (fmt, rate) not in made:
            made[fmt, rate] = dataclasses.replace(_format_of(fmt, path), rate=rate)
        return made[fmt, rate]

    # None stands for the document's default format, read only if some trace is in it (a
    # document whose first <traceFormat> lacks X or Y may never use it).
    def of_context(
        ctx: ET.Element, base: TraceFormat | None, seen: tuple = ()
    ) -> TraceFormat | None:
        if ctx in seen:
            raise DataError(f"context {_id(ctx)!r} refers to itself through contextRef", path)
        fmt = own_format(ctx)
        if fmt is not None:
            return made_format(fmt, _rate_of(source_of(ctx), path))
        parent = referred(ctx, "contextRef", "context")
        return base if parent is None else of_context(parent, base, (*seen, ctx))

    formats: dict[ET.Element, TraceFormat | None] = {}

    def walk(el: ET.Element, current: TraceFormat | None, in_definitions: bool) -> None:
        for child in el:
            if child.tag == "context" and not in_definitions:
                current = of_context(child, current)
            elif child.tag in ("trace", "traceGroup"):
                ctx = referred(child, "contextRef", "context")
                fmt = current if ctx is None else of_context(ctx, None)
                if child.tag == "trace":
                    formats[child] = fmt
                else:
                    walk(child, fmt, in_definitions)
            else:
                walk(child, current, in_definitions or child.tag == "definitions")

    walk(root, None, False)
    if None in formats.values():
        first = root.find(".//traceFormat")
        rate = _rate_of(root.find(".//inkSource"), path)
        document = made_format(first, rate) if first is not None else TraceFormat(rate=rate)
        formats = {trace: fmt or document for trace, fmt in formats.items()}
    return formats  # type: ignore[return-value]


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


# A piece of ink a sample is made of: a <trace> element and the slice of its points it keeps.
Piece = tuple[ET.Element, slice]
_INK_TAGS = ("trace", "traceGroup", "traceView")


def _index_path(view: ET.Element, attr: str, path: Path) -> tuple[int, ...]:
    """The positions of ``from`` or ``to`` (``"3"``, ``"2:14"``): one per level, counted from 1."""
    value = (view.get(attr) or "").strip()
    if not value:
        return ()
    try:
        levels = tuple(int(part) for part in value.split(":"))
    except ValueError:
        levels = (0,)
    if min(levels) < 1:
        raise DataError(f"traceView {attr}={value!r} is not a position counted from 1", path)
    return levels


def view_pieces(view: ET.Element, ids: dict[str, ET.Element], path: Path) -> list[Piece]:
    """The pieces of ink a ``<traceView>`` selects: what its ``traceDataRef`` names (a trace, a
    trace group or another view), from its ``from`` to its ``to`` (both kept, counted from 1;
    on a group one position per level, ``"2:14"`` being the 14th point of its 2nd trace), or
    the pieces of the views it holds. :class:`DataError` for a reference to nothing, a position
    outside the ink, or a view that takes part in itself."""

    def node_pieces(node: ET.Element, first: tuple, last: tuple, seen: tuple) -> list[Piece]:
        if node in seen:
            raise DataError(f"<{node.tag}> {_id(node)!r} is selected by a view within it", path)
        if node.tag == "trace":
            if len(first) > 1 or len(last) > 1:
                raise DataError(
                    f"traceView from/to go below the points of trace {_id(node)!r}", path
                )
            n = len(node.text.split(",")) if (node.text or "").strip() else 0
            return [(node, _range(first, last, n, f"trace {_id(node)!r}", path))]
        if node.tag == "traceView":
            target = referred_element(node, "traceDataRef", _INK_TAGS, ids, path, "ink")
            if target is not None:
                if first or last:
                    raise DataError("a traceView that refers to a view takes no range", path)
                own = (_index_path(node, "from", path), _index_path(node, "to", path))
                return node_pieces(target, *own, (*seen, node))
        children = [c for c in node if c.tag in _INK_TAGS]
        chosen = _range(first[:1], last[:1], len(children), f"{node.tag} {_id(node)!r}", path)
        pieces = []
        for k in range(len(children))[chosen]:
            below_first = first[1:] if k == chosen.start else ()
            below_last = last[1:] if k == chosen.stop - 1 else ()
            pieces += node_pieces(children[k], below_first, below_last, (*seen, node))
        return pieces

    return node_pieces(view, (), (), ())


def _range(first: tuple, last: tuple, n: int, what: str, path: Path) -> slice:
    """The slice of positions ``first[0]`` to ``last[0]`` of ``n`` (counted from 1, both kept;
    the first and the last without them), or :class:`DataError` when they fall outside ``1..n``
    or ``to`` comes before ``from``."""
    if not first and not last:
        return slice(0, n)
    start = first[0] if first else 1
    stop = last[0] if last else n
    if not 1 <= start <= stop <= n:
        raise DataError(f"traceView selects {start} to {stop} of {what}, which has {n}", path)
    return slice(start - 1, stop)
