"""Writing ink files: IAM-OnDB XML, W3C InkML, JSON / NDJSON, stroke-3 NumPy.

Each writer produces what the matching reader of :mod:`features.inkfiles` reads back. The
:class:`InkSample` record that readers return and writers take is defined here, so that this
module needs nothing from the readers' one. Import all of them from :mod:`features.inkfiles`
(``from lstmrec.features.inkfiles import InkSample, write_inkml``). Files are written to a
temporary name in the same folder and renamed into place, so an existing file is never left
half-written.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lstmrec.features.files import atomic_path, write_text
from lstmrec.features.ink import to_stroke3

INKML_NS = "http://www.w3.org/2003/InkML"


@dataclasses.dataclass(frozen=True)
class InkSample:
    """One piece of ink: strokes ``(N_i, 3)`` float64 ``[x, y, t]``, and its labels if known."""

    id: str
    strokes: tuple[np.ndarray, ...]
    text: str | None = None
    writer: str | None = None


def _write_text_atomic(path: str | os.PathLike, text: str) -> None:
    write_text(path, text)


TIME_SCALE = {"s": 1.0, "ms": 1000.0}  # InkML time units write_inkml writes: values per second


def _num(v: float) -> str:
    """Shortest text that reads back as exactly ``v`` ("12" rather than "12.0")."""
    s = repr(float(v))
    return s[:-2] if s.endswith(".0") else s


def _has_time(strokes: Sequence[np.ndarray]) -> bool:
    return all(np.isfinite(np.asarray(s)[:, 2]).all() for s in strokes if np.shape(s)[1] > 2)


def write_iam_ondb_strokes(path: str | os.PathLike, strokes: Sequence[np.ndarray]) -> None:
    """Write strokes ``(N_i, 3)`` ``[x, y, t]`` as an IAM-OnDB ``lineStrokes`` XML file.

    Time attributes are written only for finite times. The ``WhiteboardDescription`` gives
    the ink's bounding box corner like the corpus's files do.
    """
    root = ET.Element("WhiteboardCaptureSession")
    desc = ET.SubElement(root, "WhiteboardDescription")
    ET.SubElement(desc, "SensorLocation", corner="top_left")
    xy = np.concatenate([np.asarray(s, dtype=np.float64)[:, :2] for s in strokes])
    ET.SubElement(desc, "DiagonallyOppositeCoords", x=_num(xy[:, 0].max()), y=_num(xy[:, 1].max()))
    stroke_set = ET.SubElement(root, "StrokeSet")
    for s in strokes:
        s = np.asarray(s, dtype=np.float64)
        el = ET.SubElement(stroke_set, "Stroke", colour="black")
        times = s[:, 2] if s.shape[1] > 2 else np.full(len(s), np.nan)
        if np.isfinite(times).all():
            el.set("start_time", _num(times[0]))
            el.set("end_time", _num(times[-1]))
        for x, y, t in zip(s[:, 0], s[:, 1], times, strict=True):
            attrs = {"x": _num(x), "y": _num(y)}
            if math.isfinite(t):
                attrs["time"] = _num(t)
            ET.SubElement(el, "Point", attrs)
    ET.indent(root)
    _write_text_atomic(
        path, '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"
    )


def write_inkml(
    path: str | os.PathLike,
    samples: Sequence[InkSample],
    *,
    time_units: str = "s",
    state_units: bool = True,
) -> None:
    """Write samples as one W3C InkML document (channels X, Y and, when every point has a
    time, T in ``time_units``, ``"s"`` or ``"ms"``, named by the channel's ``units`` unless
    ``state_units`` is false, as some tablets write it). One sample is written with a
    document-level truth annotation; several go into one ``<traceGroup>`` each, with its own, so
    :func:`read_inkml` gives them back."""
    if not samples:
        raise ValueError("write_inkml: no samples")
    if time_units not in TIME_SCALE:
        raise ValueError(f"write_inkml: time_units must be one of {sorted(TIME_SCALE)}")
    scale = np.array([1.0, 1.0, TIME_SCALE[time_units]])
    ET.register_namespace("", INKML_NS)
    ns = f"{{{INKML_NS}}}"
    root = ET.Element(f"{ns}ink")
    timed = all(_has_time(s.strokes) for s in samples)
    fmt = ET.SubElement(
        ET.SubElement(ET.SubElement(root, f"{ns}definitions"), f"{ns}context"), f"{ns}traceFormat"
    )
    for name in ("X", "Y", "T") if timed else ("X", "Y"):
        channel = ET.SubElement(fmt, f"{ns}channel", name=name, type="decimal")
        if name == "T" and state_units:
            channel.set("units", time_units)
    writers = {s.writer for s in samples}
    if len(writers) == 1 and None not in writers:
        ET.SubElement(root, f"{ns}annotation", type="writer").text = samples[0].writer
    for sample in samples:
        parent = root
        if len(samples) > 1:
            parent = ET.SubElement(root, f"{ns}traceGroup")
        if sample.text is not None:
            ET.SubElement(parent, f"{ns}annotation", type="truth").text = sample.text
        for s in sample.strokes:
            xy = np.asarray(s, dtype=np.float64)
            cols = xy[:, :3] * scale if timed else xy[:, :2]
            trace = ET.SubElement(parent, f"{ns}trace")
            trace.text = ", ".join(" ".join(_num(v) for v in row) for row in cols)
    ET.indent(root)
    _write_text_atomic(
        path, '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"
    )


def _sample_object(sample: InkSample) -> dict:
    timed = _has_time(sample.strokes)
    strokes = [
        [[float(v) for v in row[: 3 if timed else 2]] for row in np.asarray(s, dtype=np.float64)]
        for s in sample.strokes
    ]
    d: dict = {"id": sample.id, "strokes": strokes}
    if sample.text is not None:
        d["text"] = sample.text
    if sample.writer is not None:
        d["writer"] = sample.writer
    return d


def write_ink_json(path: str | os.PathLike, samples: Sequence[InkSample]) -> None:
    """Write samples as ``.json`` (a list of objects) or ``.ndjson``/``.jsonl`` (one a line).

    Times are written when every point of a sample has one, else left out.
    """
    suffix = Path(path).suffix.lower()
    objects = [_sample_object(s) for s in samples]
    if suffix == ".json":
        text = json.dumps(objects, ensure_ascii=False) + "\n"
    elif suffix in (".ndjson", ".jsonl"):
        text = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in objects)
    else:
        raise ValueError(f"write_ink_json: {path} must end in .json, .ndjson or .jsonl")
    _write_text_atomic(path, text)


def write_stroke3(path: str | os.PathLike, sample: InkSample) -> None:
    """Write one sample as stroke-3: ``.npy`` (offsets only) or ``.npz`` (with text, writer)."""
    path = Path(path)
    arr = to_stroke3(sample.strokes)
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".npy":
            np.save(tmp, arr)
        else:
            labels = {k: np.str_(v) for k in ("text", "writer") if (v := getattr(sample, k))}
            np.savez(tmp, stroke3=arr, **labels)
