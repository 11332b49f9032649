"""Reading and writing ink files: IAM-OnDB XML, W3C InkML, JSON / NDJSON, stroke-3 NumPy.

Every reader returns :class:`InkSample` records whose strokes follow the project's ink
convention (``features.ink``): float64 ``(N_i, 3)`` arrays ``[x, y, t]``, x right, y down,
t in seconds (NaN when the file has no time). Every bad input ends in one
:class:`features.errors.DataError` naming the file and the reason, and in a file of several
samples the sample too (``sample <id>: <reason>``). Given ``on_error``
(:func:`read_ink_file`, :func:`read_inkml`, :func:`read_ink_json`), an unusable sample of a file
of several goes to it and is left out while the others are read; without it, it is raised.

Formats (:func:`read_ink_file` picks one by extension, case-insensitively):

- ``.xml``: an IAM-OnDB ``lineStrokes`` file, ``<WhiteboardCaptureSession><StrokeSet>
  <Stroke><Point x= y= time=/>`` (time in seconds; optional).
- ``.inkml``: W3C InkML. Each trace's channel order comes from its ``<traceFormat>``: that of
  its context (``contextRef`` on the trace or its group, or the current ``<context>``; a
  context's own format, ``traceFormatRef``, or its ``<inkSource>``'s), else the document's
  first ``<traceFormat>``, else X, Y (:func:`features.inkmltrace.trace_formats`). Channel
  ``T`` is time (``units`` of ``inkmltrace.TIME_UNITS``, ms, us or ns, are converted to seconds;
  without one, times are seconds unless their steps say milliseconds: see
  :func:`seconds_of_unstated_times`), and
  ``orientation="-ve"`` on X or Y mirrors that axis (its values grow left or up); a trace
  without T is timed from its ``timeOffset`` (milliseconds) and the uniform ``<sampleRate>`` of
  its context's ``<inkSource>``, where it has both
  (:meth:`features.inkmltrace.TraceFormat.points`). Points may use the explicit (``!``), first
  difference (``'``) and second difference (``"``) encodings, and the values ``T`` / ``F``
  (booleans), ``?`` (unknown) and ``*`` (as at the previous point); the channels of
  ``<intermittentChannels>`` may be left out of a point (their ``default``, else unknown);
  traces of ``type="penUp"`` (the pen moving above the surface) are left out. One sample per
  file, labelled by a document-level ``<annotation type="truth">``; a document without one
  gives one sample per leaf ``<traceGroup>`` outside ``<definitions>`` (its traces and the ink
  its ``<traceView>`` elements select, in document order: :func:`features.inkmltrace.
  view_pieces`; its own truth annotation), or one unlabelled sample of all traces when it has no
  groups.
- ``.json``: one object ``{"id"?, "strokes": [[[x, y, t?], ...], ...], "text"?, "writer"?}``
  or a list of them; ``.ndjson`` / ``.jsonl``: one such object per line (what a web canvas
  produces; a line that is not JSON is an unusable sample, named with its line number, unless
  no line of the file is a JSON object, as in JSON written over many lines). ``t`` may be
  omitted or null; it is in seconds, or in milliseconds when its steps say so
  (:func:`seconds_of_unstated_times`).
- ``.npy``: one stroke-3 array ``(N, 3)`` ``[dx, dy, pen_up]`` (first offset from the origin).
- ``.npz``: key ``stroke3`` (such an array), optional keys ``text`` and ``writer`` (0-d strings).

Sample ids are the file stem, with ``-<n>`` (1-based) appended when a file holds several.
Files larger than ``MAX_INK_FILE_BYTES`` are refused before parsing, and XML with a DTD or
entity declarations is refused (no entity expansion), so no input can hang a reader.

The writers and :class:`InkSample` live in :mod:`features.inkwriters`, the checks every reader
shares in :mod:`features.inkcheck`; import them from here.
"""

from __future__ import annotations

import io
import json
import math
import os
import xml.etree.ElementTree as ET
import xml.parsers.expat
import zipfile
from pathlib import Path

import numpy as np

from lstmrec.features.errors import DataError, OnError, report_or_raise
from lstmrec.features.ink import from_stroke3
from lstmrec.features.inkcheck import (
    MAX_INK_FILE_BYTES,
    MILLISECONDS_STEP,
    check_file,
    checked_strokes,
    read_bytes,
    seconds_of_unstated_times,
)
from lstmrec.features.inkmltrace import (
    Piece,
    TraceFormat,
    element_ids,
    number_of,
    trace_formats,
    view_pieces,
)
from lstmrec.features.inkwriters import (
    INKML_NS,
    InkSample,
    write_iam_ondb_strokes,
    write_ink_json,
    write_inkml,
    write_stroke3,
)

INK_EXTENSIONS = (".xml", ".inkml", ".json", ".ndjson", ".jsonl", ".npy", ".npz")


def _ids(path: Path, n: int) -> list[str]:
    return [path.stem] if n == 1 else [f"{path.stem}-{i}" for i in range(1, n + 1)]


def _bad_sample(err: DataError, sid: str, n: int, path: Path, on_error: OnError | None) -> None:
    """An unusable sample ``sid`` of a file of ``n``: the file's own error when it is the only
    one (raised), else named ``sample <sid>:`` and passed to ``on_error`` (the caller leaves it
    out) or raised."""
    if n == 1:
        raise DataError(err.reason, path) from None
    report_or_raise(DataError(f"sample {sid}: {err.reason}", path), on_error)


def _refuse_dtd(data: bytes, path: Path) -> None:
    """Refuse a document type declaration, in whatever encoding the document is (UTF-16
    included): the XML parser itself reports it, not a byte pattern."""

    def refuse(*_args) -> None:
        raise DataError("XML with a DTD or entity declarations is not accepted", path)

    scanner = xml.parsers.expat.ParserCreate()
    scanner.StartDoctypeDeclHandler = refuse
    scanner.EntityDeclHandler = refuse
    try:
        scanner.Parse(data, True)
    except DataError:
        raise
    except (xml.parsers.expat.ExpatError, LookupError, ValueError):
        pass  # malformed or an unknown encoding: the parse below says how


def _parse_xml(data: bytes, path: Path) -> ET.Element:
    """Parse XML that has no DTD: entity declarations could expand without bound."""
    _refuse_dtd(data, path)
    try:
        root = ET.fromstring(data)
    except (ET.ParseError, LookupError, ValueError) as e:  # LookupError: unknown encoding
        raise DataError(f"malformed XML ({e})", path) from None
    for el in root.iter():  # drop namespaces: InkML files come with and without them
        if isinstance(el.tag, str) and el.tag.startswith("{"):
            el.tag = el.tag.split("}", 1)[1]
    return root


# ---------------------------------------------------------------------------------------------
# IAM-OnDB lineStrokes XML


def read_iam_ondb_strokes(path: str | os.PathLike) -> tuple[np.ndarray, ...]:
    """Strokes ``(N_i, 3)`` ``[x, y, t]`` of one IAM-OnDB ``lineStrokes`` XML file."""
    path = Path(path)
    root = _parse_xml(read_bytes(path), path)
    if root.tag != "WhiteboardCaptureSession" or root.find("StrokeSet") is None:
        raise DataError(
            "not an IAM-OnDB strokes file (no WhiteboardCaptureSession/StrokeSet)", path
        )
    strokes = []
    for i, stroke in enumerate(root.iter("Stroke")):
        points = []
        for p in stroke.iter("Point"):
            t = p.get("time")
            points.append(
                [
                    number_of(p.get("x"), f"stroke {i} x", path),
                    number_of(p.get("y"), f"stroke {i} y", path),
                    math.nan if t is None else number_of(t, f"stroke {i} time", path),
                ]
            )
        if not points:
            raise DataError(f"stroke {i} has no points", path)
        strokes.append(points)
    return checked_strokes(strokes, path)


# ---------------------------------------------------------------------------------------------
# InkML


def _inkml_groups(
    root: ET.Element, ids: dict[str, ET.Element], path: Path
) -> list[tuple[list[Piece], str | None]]:
    """``(pieces, truth)`` for each sample of an InkML document (see the module docstring)."""

    def truth(el: ET.Element) -> str | None:
        for a in el.findall("annotation"):
            if a.get("type") == "truth":
                return (a.text or "").strip()
        return None

    doc_truth = truth(root)
    # what <definitions> holds is ink to refer to (by views), not a sample of its own
    defined = {el for d in root.iter("definitions") for el in d.iter()}
    leaves = [
        g for g in root.iter("traceGroup") if g not in defined and g.find("traceGroup") is None
    ]
    if doc_truth is not None or not leaves:
        return [([(t, slice(None)) for t in root.iter("trace")], doc_truth)]
    groups = []
    for g in leaves:
        pieces: list[Piece] = []
        for el in g:  # in document order: its traces and the ink its views select
            if el.tag == "trace":
                pieces.append((el, slice(None)))
            elif el.tag == "traceView":
                pieces += view_pieces(el, ids, path)
        groups.append((pieces, truth(g)))
    return groups


def read_inkml(path: str | os.PathLike, *, on_error: OnError | None = None) -> list[InkSample]:
    """Samples of one W3C InkML file (see the module docstring for the rules); an unusable
    sample of several goes to ``on_error`` and is left out, or is raised without it."""
    path = Path(path)
    root = _parse_xml(read_bytes(path), path)
    if root.tag != "ink":
        raise DataError(f"not an InkML document (root element <{root.tag}>)", path)
    ids = element_ids(root)
    formats = trace_formats(root, ids, path)
    writer = next(
        ((a.text or "").strip() for a in root.findall("annotation") if a.get("type") == "writer"),
        None,
    )
    groups = _inkml_groups(root, ids, path)
    samples = []
    for sid, (pieces, text) in zip(_ids(path, len(groups)), groups, strict=True):
        try:
            samples.append(InkSample(sid, _inkml_strokes(pieces, formats, path), text, writer))
        except DataError as e:
            _bad_sample(e, sid, len(groups), path, on_error)
    return samples


def _inkml_strokes(
    pieces: list[Piece], formats: dict[ET.Element, TraceFormat], path: Path
) -> tuple[np.ndarray, ...]:
    """The checked strokes of one InkML sample, times in seconds."""
    # the pen moving above the surface (type="penUp") is not ink
    inked = [(tr, part) for tr, part in pieces if tr.get("type") != "penUp"]
    if pieces and not inked:
        raise DataError("only pen-up traces, no ink", path)
    strokes = [formats[tr].points(tr, path)[part] for tr, part in inked]
    checked = list(checked_strokes(strokes, path))
    # times in an unstated unit are told apart from the others' by their own steps
    unstated = [i for i, (tr, _) in enumerate(inked) if not formats[tr].in_seconds(tr)]
    if unstated:
        in_seconds = seconds_of_unstated_times([checked[i] for i in unstated])
        for i, stroke in zip(unstated, in_seconds, strict=True):
            checked[i] = stroke
    return tuple(checked)


# ---------------------------------------------------------------------------------------------
# JSON, NDJSON, NumPy


def json_strokes(strokes: list, name: str | os.PathLike) -> tuple[np.ndarray, ...]:
    """The strokes of JSON ink (``[[x, y, t?], ...]`` each, ``t`` null or left out when
    unknown) as the readers give them: checked (:func:`checked_strokes`, naming ``name``) and in
    seconds (:func:`seconds_of_unstated_times`). ``TypeError`` for strokes that are not lists of
    points, which each caller words for its own input."""
    # JSON has no NaN: a missing time is null, which NumPy turns into NaN with dtype float.
    rows = [[[math.nan if v is None else v for v in p] for p in s] for s in strokes]
    return seconds_of_unstated_times(checked_strokes(rows, name))


def _object_id(d: object, sid: str) -> str:
    """A JSON sample's id: its ``"id"`` field, else ``sid``."""
    return str(d.get("id", sid)) if isinstance(d, dict) else sid


def _sample_from_object(d: object, sid: str, path: Path) -> InkSample:
    if isinstance(d, DataError):  # a line of NDJSON that is not JSON
        raise d
    if not isinstance(d, dict) or "strokes" not in d:
        raise DataError("expected an object with 'strokes'", path)
    if not isinstance(d["strokes"], list):
        raise DataError("'strokes' must be a list of strokes", path)
    try:
        strokes = json_strokes(d["strokes"], path)
    except (TypeError, RecursionError):
        raise DataError("points must be lists of numbers", path) from None
    text, writer = d.get("text"), d.get("writer")
    return InkSample(
        _object_id(d, sid),
        strokes,
        None if text is None else str(text),
        None if writer is None else str(writer),
    )


def _json_of(text: str, path: Path, line: int | None = None) -> object:
    """``text`` parsed, or :class:`DataError`; ``line``: the file's line that ``text`` is (a
    line of NDJSON), for the message."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"not JSON (line {line or e.lineno}: {e.msg})", path) from None
    except RecursionError:
        where = f" (line {line})" if line else ""
        raise DataError(f"JSON nested too deeply{where}", path) from None
    except ValueError as e:  # an integer of thousands of digits
        where = f"line {line}: " if line else ""
        raise DataError(f"not usable JSON ({where}{e})", path) from None


def _ndjson_objects(text: str, path: Path) -> list[object]:
    """The value of each non-blank line of NDJSON, or the :class:`DataError` of a line that is
    not JSON (an unusable sample); a file none of whose lines is a JSON object (JSON written
    over many lines, whose lines are pieces of one) raises the first line's error."""
    out: list[object] = []
    for n, line in enumerate(text.split("\n"), start=1):  # \n only: JSON strings may hold U+2028
        if line.strip():
            try:
                out.append(_json_of(line, path, n))
            except DataError as e:
                out.append(e)
    if out and not any(isinstance(d, dict) for d in out):
        first = out[0]
        raise first if isinstance(first, DataError) else DataError("no line is a JSON object", path)
    return out


def read_ink_json(path: str | os.PathLike, *, on_error: OnError | None = None) -> list[InkSample]:
    """Samples of a ``.json`` file (one object or a list) or ``.ndjson``/``.jsonl`` (one a line);
    an unusable sample of several goes to ``on_error`` and is left out, or is raised without it.

    A sample's ``id`` is its ``"id"`` field, else the file stem (``-<n>`` for several); a
    sample whose id an earlier one has is unusable. A file none of whose objects has
    ``"strokes"`` is no ink (one error for the file).
    """
    path = Path(path)
    try:
        text = read_bytes(path).decode("utf-8-sig")  # (a byte-order mark is no JSON)
    except UnicodeDecodeError as e:
        raise DataError(f"not UTF-8 text (byte {e.start})", path) from None
    if path.suffix.lower() == ".json":
        data = _json_of(text, path)
        objects = data if isinstance(data, list) else [data]
    else:
        objects = _ndjson_objects(text, path)
    if not objects:
        raise DataError("no ink samples", path)
    if len(objects) > 1 and not any(isinstance(d, dict) and "strokes" in d for d in objects):
        # no sample is ink: a file of another kind, one error (not one for each of its lines)
        first = next((d for d in objects if isinstance(d, dict)), None)
        keys = "" if first is None else f" (the first has {', '.join(map(repr, first))})"
        raise DataError(f"expected objects with 'strokes'{keys}", path)
    samples, ids = [], set()
    for d, sid in zip(objects, _ids(path, len(objects)), strict=True):
        try:
            sample = _sample_from_object(d, sid, path)
            if sample.id in ids:  # results are named by it: two would share a name
                raise DataError("its id is an earlier sample's too", path)
            ids.add(sample.id)
            samples.append(sample)
        except DataError as e:
            _bad_sample(e, _object_id(d, sid), len(objects), path, on_error)
    return samples


def _stroke3_sample(arr: object, sid: str, path: Path, **labels: str | None) -> InkSample:
    arr = np.asarray(arr)
    if arr.ndim != 2 or arr.shape[1] != 3 or arr.dtype.kind not in "iuf":
        raise DataError(
            f"expected a numeric stroke-3 array (N, 3), got {arr.dtype} {arr.shape}", path
        )
    if len(arr) == 0:
        raise DataError("no points", path)
    try:
        strokes = from_stroke3(arr)
    except DataError as e:
        raise DataError(e.reason, path) from None
    return InkSample(sid, checked_strokes(strokes, path), **labels)


# A damaged .npy / .npz: NumPy's header parser (tokenize, ast) and zipfile and zlib raise many
# types, none of them a sign of a bug here; MemoryError from a header's absurd shape included.
_NUMPY_FILE_ERRORS = Exception


_NPY_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


def _npy_array(data: bytes, path: Path) -> np.ndarray:
    """The array of ``.npy`` bytes, its header's shape checked against the bytes there are
    before NumPy allocates it (a 100-byte file may claim a shape of terabytes)."""
    buf = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(buf)
        if version not in _NPY_HEADER_READERS:
            raise DataError(f".npy format version {version} is not read here", path)
        shape, _, dtype = _NPY_HEADER_READERS[version](buf)
        need = math.prod(shape) * dtype.itemsize
        if need > len(data) - buf.tell():
            raise DataError(f"array header claims {shape} {dtype}, more than the file holds", path)
        return np.load(io.BytesIO(data), allow_pickle=False)
    except DataError:
        raise
    except _NUMPY_FILE_ERRORS as e:
        raise DataError(f"not a NumPy file ({type(e).__name__}: {e})", path) from None


def read_stroke3(path: str | os.PathLike) -> list[InkSample]:
    """The sample of a stroke-3 ``.npy`` or ``.npz`` file (see the module docstring)."""
    path = Path(path)
    data = read_bytes(path)  # existence, size and emptiness checks
    if path.suffix.lower() == ".npy":
        return [_stroke3_sample(_npy_array(data, path), path.stem, path)]
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = {i.filename: i for i in zf.infolist()}
            if "stroke3.npy" not in infos:
                keys = ", ".join(n.removesuffix(".npy") for n in infos)
                raise DataError(f"no 'stroke3' array (keys: {keys})", path)
            arrays = {}
            for key in ("stroke3", "text", "writer"):
                info = infos.get(f"{key}.npy")
                if info is None:
                    continue
                if info.file_size > MAX_INK_FILE_BYTES:  # a zip bomb stops here
                    raise DataError(f"{key} array is over {MAX_INK_FILE_BYTES} bytes", path)
                arrays[key] = _npy_array(zf.read(info), path)
    except DataError:
        raise
    except _NUMPY_FILE_ERRORS as e:
        raise DataError(f"not a NumPy .npz file ({type(e).__name__}: {e})", path) from None
    labels = {k: str(arrays[k]) if k in arrays else None for k in ("text", "writer")}
    return [_stroke3_sample(arrays["stroke3"], path.stem, path, **labels)]


# The reader of each extension: (path, on_error) -> samples; on_error matters to files of many.
_READERS = {
    ".xml": lambda p, _: [InkSample(p.stem, read_iam_ondb_strokes(p))],
    ".inkml": lambda p, on_error: read_inkml(p, on_error=on_error),
    ".json": lambda p, on_error: read_ink_json(p, on_error=on_error),
    ".ndjson": lambda p, on_error: read_ink_json(p, on_error=on_error),
    ".jsonl": lambda p, on_error: read_ink_json(p, on_error=on_error),
    ".npy": lambda p, _: read_stroke3(p),
    ".npz": lambda p, _: read_stroke3(p),
}


def read_ink_file(path: str | os.PathLike, *, on_error: OnError | None = None) -> list[InkSample]:
    """The ink samples of one file, its format chosen by extension (see the module docstring).

    In a file of several samples (InkML, JSON), an unusable sample goes to ``on_error`` (a
    :class:`DataError` naming the file and ``sample <id>``) and is left out, the others read;
    without ``on_error`` it is raised.

    Raises:
        DataError: naming the file and the reason, for a missing file (whatever its name),
            an unknown extension, an empty, oversized or malformed file, an empty stroke,
            NaN/inf coordinates or a single point.
    """
    path = Path(path)
    check_file(path)  # a missing file is missing, with or without a known extension
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise DataError(
            f"unknown ink file extension {path.suffix!r} (expected one of "
            f"{', '.join(INK_EXTENSIONS)})",
            path,
        )
    return reader(path, on_error)


__all__ = [
    "INKML_NS",
    "INK_EXTENSIONS",
    "MAX_INK_FILE_BYTES",
    "MILLISECONDS_STEP",
    "InkSample",
    "read_iam_ondb_strokes",
    "read_ink_file",
    "read_ink_json",
    "read_inkml",
    "json_strokes",
    "read_stroke3",
    "seconds_of_unstated_times",
    "write_iam_ondb_strokes",
    "write_ink_json",
    "write_inkml",
    "write_stroke3",
]
