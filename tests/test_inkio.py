"""Ink file formats, the IAM-OnDB tree and the MNIST stroke set: small files written here."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from helpers import FORMS, make_iam_ondb  # the tiny IAM-OnDB tree

from lstmrec.cli.main import main
from lstmrec.corpora.iam_ondb import iam_ondb_splits, load_iam_ondb, read_csr_lines
from lstmrec.corpora.mnist_strokes import load_mnist_strokes
from lstmrec.corpora.splits import load_split
from lstmrec.features import inkcheck
from lstmrec.features import inkfiles as inkio
from lstmrec.features.errors import DataError
from lstmrec.features.ink import InkFeatureConfig, ink_features, to_stroke3
from lstmrec.features.inkfiles import (
    InkSample,
    read_ink_file,
    write_iam_ondb_strokes,
    write_ink_json,
    write_inkml,
    write_stroke3,
)
from lstmrec.manifest import Utterance, read_manifest

MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist-strokes" / "strokes.npz"

IAM_XML = """<?xml version="1.0" encoding="ISO-8859-1"?>
<WhiteboardCaptureSession>
  <WhiteboardDescription>
    <SensorLocation corner="top_left"/>
    <DiagonallyOppositeCoords x="6512" y="1376"/>
  </WhiteboardDescription>
  <StrokeSet>
    <Stroke colour="black" start_time="769.05" end_time="769.10">
      <Point x="1073" y="1058" time="769.05"/>
      <Point x="1072" y="1085" time="769.07"/>
      <Point x="1090" y="1100" time="769.10"/>
    </Stroke>
    <Stroke colour="black" start_time="769.30" end_time="769.31">
      <Point x="1200" y="1050" time="769.30"/>
      <Point x="1210" y="1049" time="769.31"/>
    </Stroke>
  </StrokeSet>
</WhiteboardCaptureSession>
"""


def strokes_of(*arrays) -> tuple[np.ndarray, ...]:
    return tuple(np.asarray(a, dtype=np.float64) for a in arrays)


def assert_same_strokes(a, b, *, time: bool = True) -> None:
    assert len(a) == len(b)
    for s, t in zip(a, b, strict=True):
        np.testing.assert_array_equal(s[:, :2], t[:, :2])
        if time:
            np.testing.assert_array_equal(s[:, 2], t[:, 2])  # NaN == NaN here


SAMPLE = InkSample(
    "s1",
    strokes_of(
        [[0.5, 1.25, 0.0], [3, -2, 0.01], [1e-3, 7e5, 0.02]], [[10, 10, 0.5], [11, 12, 0.6]]
    ),
    "héllo, world",
    "w7",
)
UNTIMED = InkSample("s2", strokes_of([[1, 2, math.nan], [3, 4, math.nan]]), None, None)


# ---------------------------------------------------------------------------------------------
# Readers


def test_iam_ondb_strokes_file(tmp_path):
    path = tmp_path / "a01-000u-01.xml"
    path.write_text(IAM_XML, encoding="iso-8859-1")
    (sample,) = read_ink_file(path)
    assert sample.id == "a01-000u-01" and sample.text is None
    assert [s.shape for s in sample.strokes] == [(3, 3), (2, 3)]
    np.testing.assert_array_equal(sample.strokes[0][1], [1072, 1085, 769.07])
    np.testing.assert_array_equal(sample.strokes[1][:, 0], [1200, 1210])


def test_inkml_channel_order_units_differences_and_trace_groups(tmp_path):
    # Channels T, Y, X (time in ms); the second trace uses first and second differences:
    # x: 10, 12 (+2), 15 (+2 +1);  y: 20, 19 (-1), 18 (-1);  t: 100, 110, 120 ms.
    path = tmp_path / "page.INKML"
    path.write_text(
        """<ink xmlns="http://www.w3.org/2003/InkML">
  <traceFormat>
    <channel name="T" type="integer" units="ms"/>
    <channel name="Y" type="decimal"/>
    <channel name="X" type="decimal"/>
  </traceFormat>
  <trace xml:id="t1">0 5 1, 10 6 2, 20 8 4</trace>
  <trace id="t2">100 20 10, '10 '-1 '2, 10-1"1</trace>
  <trace id="t3">0 0 0, 5 1 1</trace>
  <traceGroup>
    <annotation type="truth">ab</annotation>
    <traceView traceDataRef="t1"/>
    <traceView traceDataRef="#t2"/>
  </traceGroup>
  <traceGroup><annotation type="truth">c</annotation><traceView traceDataRef="t3"/></traceGroup>
</ink>
""",
        encoding="utf-8",
    )
    first, second = read_ink_file(path)
    assert (first.id, first.text, second.id, second.text) == ("page-1", "ab", "page-2", "c")
    np.testing.assert_allclose(first.strokes[0], [[1, 5, 0], [2, 6, 0.01], [4, 8, 0.02]])
    np.testing.assert_allclose(first.strokes[1], [[10, 20, 0.1], [12, 19, 0.11], [15, 18, 0.12]])
    assert len(second.strokes) == 1


def test_inkml_document_truth_gives_one_sample_of_all_traces(tmp_path):
    path = tmp_path / "line.inkml"
    path.write_text(
        '<ink><annotation type="truth">the cat</annotation>'
        '<annotation type="writer">w9</annotation>'
        "<traceGroup><trace>0 0, 1 1</trace></traceGroup><trace>2 2, 3 3, 4 5</trace></ink>"
    )
    (sample,) = read_ink_file(path)
    assert (sample.id, sample.text, sample.writer) == ("line", "the cat", "w9")
    assert [len(s) for s in sample.strokes] == [2, 3]
    assert np.isnan(sample.strokes[0][:, 2]).all()  # no T channel: no time


INKML_T = """<ink xmlns="http://www.w3.org/2003/InkML">
  <traceFormat><channel name="X"/><channel name="Y"/><channel name="T"{units}/></traceFormat>
  <trace>{first}</trace><trace>{second}</trace>
</ink>
"""


@pytest.mark.parametrize(
    "units, times, seconds",
    [
        # Milliseconds without a unit: a step of 8 (median of 8, 8, 8, 12) is no pen's second.
        ("", ([1000, 1008, 1016], [1040, 1048, 1060]), ([1, 1.008, 1.016], [1.04, 1.048, 1.06])),
        # Seconds without a unit: steps of 0.01 stay seconds.
        ("", ([0, 0.01, 0.02], [0.5, 0.51, 0.53]), ([0, 0.01, 0.02], [0.5, 0.51, 0.53])),
        # Stated seconds stay seconds even when the steps are long (a slow drawing).
        (' units="s"', ([0, 2, 4], [9, 11, 14]), ([0, 2, 4], [9, 11, 14])),
        # Stated milliseconds are converted even when the steps are short.
        (' units="ms"', ([0, 0.5, 1], [3, 3.5, 4]), ([0, 5e-4, 1e-3], [3e-3, 3.5e-3, 4e-3])),
        # Microseconds (5 ms steps) stated so: read as such, not taken for milliseconds by
        # their steps (a thousand times too slow); so are the other spellings of a unit.
        (
            ' units="us"',
            ([0, 5000, 10000], [20000, 25000, 30000]),
            ([0, 5e-3, 1e-2], [2e-2, 2.5e-2, 3e-2]),
        ),
        (
            ' units="\u00b5s"',
            ([0, 5000, 10000], [20000, 25000, 30000]),
            ([0, 5e-3, 1e-2], [2e-2, 2.5e-2, 3e-2]),
        ),
        (
            ' units="ns"',
            ([0, 5e6, 1e7], [2e7, 2.5e7, 3e7]),
            ([0, 5e-3, 1e-2], [2e-2, 2.5e-2, 3e-2]),
        ),
        (' units="msec"', ([0, 0.5, 1], [3, 3.5, 4]), ([0, 5e-4, 1e-3], [3e-3, 3.5e-3, 4e-3])),
        (' units=" SEC "', ([0, 2, 4], [9, 11, 14]), ([0, 2, 4], [9, 11, 14])),
        # Repeated times give no step; the one step of 1 ms decides.
        ("", ([500, 500, 501], [501, 501, 501]), ([0.5, 0.5, 0.501], [0.501, 0.501, 0.501])),
    ],
)
def test_inkml_times_without_a_unit_are_seconds_unless_their_steps_say_ms(
    tmp_path, units, times, seconds
):
    def trace(ts):
        return ", ".join(f"{k} {2 * k} {t}" for k, t in enumerate(ts))

    path = tmp_path / "tablet.inkml"
    path.write_text(INKML_T.format(units=units, first=trace(times[0]), second=trace(times[1])))
    (sample,) = read_ink_file(path)
    for stroke, expected in zip(sample.strokes, seconds, strict=True):
        np.testing.assert_allclose(stroke[:, 2], expected)
        np.testing.assert_array_equal(stroke[:, :2], [[k, 2 * k] for k in range(3)])


def test_inkml_intermittent_channels_and_wildcard_values(tmp_path):
    # X, Y, F regular (F a boolean: T / F); T intermittent, in ms: left out at some points
    # (NaN, as it has no default), unknown (?) or as at the previous point (*).
    path = tmp_path / "pen.inkml"
    path.write_text(
        '<inkml:ink xmlns:inkml="http://www.w3.org/2003/InkML"><inkml:definitions>'
        "<inkml:context><inkml:inkSource><inkml:traceFormat>"
        '<inkml:regularChannels><inkml:channel name="X"/><inkml:channel name="Y"/>'
        '<inkml:channel name="F" type="boolean"/></inkml:regularChannels>'
        '<inkml:intermittentChannels><inkml:channel name="T" units="ms"/>'
        "</inkml:intermittentChannels>"
        "</inkml:traceFormat></inkml:inkSource></inkml:context></inkml:definitions>"
        "<inkml:trace>10 20 T 100, 11 22 T, 12 24 F ?, 13 26 T *, '1 '2 T 140</inkml:trace>"
        "</inkml:ink>"
    )
    ((stroke,),) = [s.strokes for s in read_ink_file(path)]
    np.testing.assert_allclose(
        stroke,
        [[10, 20, 0.1], [11, 22, np.nan], [12, 24, np.nan], [13, 26, np.nan], [14, 28, 0.14]],
    )
    path.write_text(
        '<ink><traceFormat><channel name="X"/><channel name="Y"/><intermittentChannels>'
        '<channel name="T" units="ms" default="5"/></intermittentChannels></traceFormat>'
        "<trace>0 0 10, 1 1, 2 2 *, 3 3 20</trace></ink>"
    )
    ((stroke,),) = [s.strokes for s in read_ink_file(path)]
    np.testing.assert_allclose(stroke[:, 2], [0.01, 0.005, 0.005, 0.02])
    # X and Y must be regular channels.
    path.write_text(
        '<ink><traceFormat><channel name="X"/><intermittentChannels><channel name="Y"/>'
        "</intermittentChannels></traceFormat><trace>0 0, 1 1</trace></ink>"
    )
    with pytest.raises(DataError, match=r"regular channels \['X'\], needs X and Y"):
        read_ink_file(path)
    path.write_text("<ink><trace>0 0, ? 1</trace></ink>")  # an unknown coordinate
    with pytest.raises(DataError, match="coordinates are NaN"):
        read_ink_file(path)


def test_inkml_negative_orientation_mirrors_x_and_y(tmp_path):
    path = tmp_path / "mirrored.inkml"
    fmt = '<traceFormat><channel name="X" {x}/><channel name="Y" {y}/></traceFormat>'
    for x, y, sign in [("", "", (1, 1)), ('orientation="-ve"', "", (-1, 1)),
                       ('orientation="+ve"', 'orientation="-ve"', (1, -1)),
                       ('orientation="-ve"', 'orientation="-ve"', (-1, -1))]:  # fmt: skip
        path.write_text(f"<ink>{fmt.format(x=x, y=y)}<trace>1 2, 4 8</trace></ink>")
        ((stroke,),) = [s.strokes for s in read_ink_file(path)]
        np.testing.assert_array_equal(stroke[:, :2], [[1, 2], [4, 8]] * np.array(sign))


def test_inkml_pen_up_traces_are_not_ink(tmp_path):
    path = tmp_path / "hover.inkml"
    path.write_text(
        '<ink><trace type="penDown">0 0, 1 1</trace><trace type="penUp">1 1, 5 0, 9 9</trace>'
        '<trace>2 2, 3 3</trace><trace type="indeterminate">4 4, 5 5</trace></ink>'
    )
    (sample,) = read_ink_file(path)
    assert [s[:, :2].tolist() for s in sample.strokes] == [
        [[0, 0], [1, 1]], [[2, 2], [3, 3]], [[4, 4], [5, 5]]
    ]  # fmt: skip
    path.write_text('<ink><trace type="penUp">1 1, 5 0</trace></ink>')
    with pytest.raises(DataError, match="only pen-up traces, no ink"):
        read_ink_file(path)


def test_json_times_in_milliseconds_are_read_as_seconds(tmp_path):
    ms, s = tmp_path / "ms.json", tmp_path / "s.json"
    ms.write_text(json.dumps({"strokes": [[[0, 0, 0], [1, 1, 16], [2, 2, None]], [[5, 5, 40]]]}))
    s.write_text(json.dumps({"strokes": [[[0, 0, 0], [1, 1, 0.016], [2, 2, 0.9]]]}))
    np.testing.assert_allclose(
        np.concatenate(read_ink_file(ms)[0].strokes)[:, 2], [0, 0.016, np.nan, 0.04]
    )
    np.testing.assert_allclose(read_ink_file(s)[0].strokes[0][:, 2], [0, 0.016, 0.9])


def test_json_object_list_and_ndjson(tmp_path):
    one = tmp_path / "one.json"
    one.write_text(
        json.dumps({"strokes": [[[0, 0, 0.1], [1, 2, None]], [[3, 3], [4, 4]]], "text": "hi"})
    )
    (sample,) = read_ink_file(one)
    assert (sample.id, sample.text, sample.writer) == ("one", "hi", None)
    np.testing.assert_array_equal(sample.strokes[0], [[0, 0, 0.1], [1, 2, np.nan]])
    many = tmp_path / "many.json"
    many.write_text(
        json.dumps([{"strokes": [[[0, 0], [1, 1]]]}, {"id": "x", "strokes": [[[0, 0], [2, 1]]]}])
    )
    assert [s.id for s in read_ink_file(many)] == ["many-1", "x"]
    lines = tmp_path / "canvas.ndjson"
    lines.write_text(
        '{"strokes": [[[0, 0], [1, 1]]], "writer": 3}\n\n{"strokes": [[[5, 5], [6, 7]]]}\n'
    )
    samples = read_ink_file(lines)
    assert [s.id for s in samples] == ["canvas-1", "canvas-2"] and samples[0].writer == "3"


@pytest.mark.parametrize("name", ["bom.json", "bom.ndjson"])
def test_json_ink_with_a_byte_order_mark_is_read(tmp_path, name):
    """Windows editors save UTF-8 with a byte-order mark; it is not part of the JSON."""
    path = tmp_path / name
    path.write_bytes(b"\xef\xbb\xbf" + b'{"strokes": [[[0, 0, 0], [9, 9, 0.1], [20, 5, 0.2]]]}\n')
    (sample,) = read_ink_file(path)
    np.testing.assert_array_equal(sample.strokes[0][:, :2], [[0, 0], [9, 9], [20, 5]])


def test_stroke3_npy_and_npz(tmp_path):
    arr = np.array([[5, 5, 0], [1, 0, 1], [2, 2, 0], [0, 1, 1]], dtype=np.int8)
    np.save(tmp_path / "d.npy", arr)
    (sample,) = read_ink_file(tmp_path / "d.npy")
    assert_same_strokes(
        sample.strokes,
        strokes_of([[5, 5, np.nan], [6, 5, np.nan]], [[8, 7, np.nan], [8, 8, np.nan]]),
    )
    np.savez(tmp_path / "d.npz", stroke3=arr.astype(float), text=np.str_("7"))
    (sample,) = read_ink_file(tmp_path / "d.npz")
    assert (sample.id, sample.text, sample.writer) == ("d", "7", None)


# ---------------------------------------------------------------------------------------------
# Writers round-trip through the readers


@pytest.mark.parametrize("name", ["out.json", "out.ndjson", "out.jsonl"])
def test_json_round_trip(tmp_path, name):
    write_ink_json(tmp_path / name, [SAMPLE, UNTIMED])
    back = read_ink_file(tmp_path / name)
    assert [(s.id, s.text, s.writer) for s in back] == [
        ("s1", SAMPLE.text, "w7"),
        ("s2", None, None),
    ]
    assert_same_strokes(back[0].strokes, SAMPLE.strokes)
    assert_same_strokes(back[1].strokes, UNTIMED.strokes)
    assert not list(tmp_path.glob(".*tmp*"))


def test_inkml_round_trip(tmp_path):
    write_inkml(tmp_path / "one.inkml", [SAMPLE])
    (back,) = read_ink_file(tmp_path / "one.inkml")
    assert (back.id, back.text, back.writer) == ("one", SAMPLE.text, "w7")
    assert_same_strokes(back.strokes, SAMPLE.strokes)
    write_inkml(tmp_path / "two.inkml", [SAMPLE, UNTIMED])
    back = read_ink_file(tmp_path / "two.inkml")
    assert [(s.id, s.text) for s in back] == [("two-1", SAMPLE.text), ("two-2", None)]
    assert_same_strokes(back[0].strokes, SAMPLE.strokes, time=False)  # untimed file: no T


@pytest.mark.parametrize("state_units", [True, False])
def test_inkml_written_in_milliseconds_reads_back_in_seconds(tmp_path, state_units):
    path = tmp_path / "ms.inkml"
    write_inkml(path, [SAMPLE], time_units="ms", state_units=state_units)
    text = path.read_text()
    assert ('units="ms"' in text) == state_units
    traces = [t.split("</trace>")[0] for t in text.split("<trace>")[1:]]
    assert [p.split()[2] for p in traces[0].split(", ")] == ["0", "10", "20"]
    (back,) = read_ink_file(path)
    for s, t in zip(back.strokes, SAMPLE.strokes, strict=True):
        np.testing.assert_array_equal(s[:, :2], t[:, :2])
        np.testing.assert_allclose(s[:, 2], t[:, 2], rtol=1e-12)
    with pytest.raises(ValueError, match="time_units"):
        write_inkml(path, [SAMPLE], time_units="us")


def test_iam_ondb_strokes_round_trip(tmp_path):
    write_iam_ondb_strokes(tmp_path / "line.xml", SAMPLE.strokes)
    (back,) = read_ink_file(tmp_path / "line.xml")
    assert_same_strokes(back.strokes, SAMPLE.strokes)


def test_stroke3_round_trip(tmp_path):
    ints = InkSample(
        "s", strokes_of([[1, 2, np.nan], [3, 5, np.nan]], [[-4, 0, np.nan]]), "a b", "w"
    )
    write_stroke3(tmp_path / "s.npz", ints)
    (back,) = read_ink_file(tmp_path / "s.npz")
    assert (back.text, back.writer) == ("a b", "w")
    assert_same_strokes(back.strokes, ints.strokes)
    write_stroke3(tmp_path / "s.npy", ints)
    np.testing.assert_array_equal(np.load(tmp_path / "s.npy"), to_stroke3(ints.strokes))


def test_writers_leave_the_old_file_whole_when_the_rename_fails(tmp_path, monkeypatch):
    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(inkio.os, "replace", fail)
    for name, write in [
        ("keep.json", lambda p: write_ink_json(p, [SAMPLE])),
        ("keep.inkml", lambda p: write_inkml(p, [SAMPLE])),
        ("keep.xml", lambda p: write_iam_ondb_strokes(p, SAMPLE.strokes)),
        ("keep.npz", lambda p: write_stroke3(p, SAMPLE)),
    ]:
        path = tmp_path / name
        path.write_text("old")
        with pytest.raises(DataError, match=f"{name}: cannot write \\(No space left"):
            write(path)
        assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "keep.inkml",
        "keep.json",
        "keep.npz",
        "keep.xml",
    ]


# ---------------------------------------------------------------------------------------------
# Bad input: one DataError naming the file and the reason


BAD_FILES = [
    ("bad.xml", "<WhiteboardCaptureSession><StrokeSet><Stroke>", "malformed XML"),
    ("dtd.xml", '<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>', "DTD"),
    ("other.xml", "<svg/>", "not an IAM-OnDB strokes file"),
    (
        "hole.xml",
        IAM_XML.replace(
            '<Point x="1200" y="1050" time="769.30"/>\n'
            '      <Point x="1210" y="1049" time="769.31"/>',
            "",
        ),
        "stroke 1 has no points",
    ),
    ("nan.xml", IAM_XML.replace('x="1073"', 'x="nan"'), "NaN or infinite"),
    ("word.xml", IAM_XML.replace('y="1085"', 'y="high"'), "'high' is not a number"),
    ("empty.json", "  \n", "empty file"),
    ("single.json", '{"strokes": [[[1, 2]]]}', "single point"),
    ("hole.json", '{"strokes": [[[1, 2], [2, 3]], []]}', "stroke 1 has no points"),
    ("inf.json", '{"strokes": [[[1, 2], [1e999, 3]]]}', "NaN or infinite"),
    ("bool.json", '{"strokes": [[[true, false, 0], [6, 5, 0.01]]]}', "true is not a number"),
    ("digits.json", '{"strokes": [[["1", "2"], ["5", "6"]]]}', '"1" is not a number'),
    ("time.json", '{"strokes": [[[1, 2, "0"], [5, 6, 0.1]]]}', 'point 0: "0" is not a number'),
    ("nostrokes.json", '{"points": []}', "expected an object with 'strokes'"),
    ("broken.ndjson", '{"strokes": [[[1, 2], [2, 3]]]}\n{"strokes"', "not JSON"),
    ("empty.inkml", "<ink></ink>", "no strokes"),
    ("garbage.inkml", "<ink><trace>1 2, 3 x</trace></ink>", "cannot read"),
    (
        "noxy.inkml",
        '<ink><traceFormat><channel name="T"/></traceFormat><trace>1</trace></ink>',
        "needs X and Y",
    ),
    ("ink.svg", "<svg/>", "unknown ink file extension '.svg'"),
    ("text.npy", "not numpy at all", "not a NumPy file"),
]


@pytest.mark.parametrize(("name", "content", "reason"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_files_raise_one_data_error(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DataError, match=reason) as info:
        read_ink_file(path)
    assert info.value.path == str(path)


GOOD = '{"strokes": [[[0, 0, 0], [4, 1, 0.01], [8, 3, 0.02]]]}'
BAD_SAMPLES = {  # the middle sample of three, and the reason it is refused
    "single.ndjson": ('{"strokes": [[[5, 5, 0]]]}', "ink has a single point"),
    "nan.ndjson": ('{"strokes": [[[0, 0, 0], [NaN, 1, 0.1]]]}', "stroke 0: coordinates are NaN"),
    "text.ndjson": ('{"strokes": [["a", "b"]]}', "stroke 0: points are not lists of numbers"),
    "flat.ndjson": ('{"strokes": [[1, 2]]}', "points must be lists of numbers"),
    "list.ndjson": ("[1, 2]", "expected an object with 'strokes'"),
    "list.json": (None, "expected an object with 'strokes'"),
    "groups.inkml": (None, "ink has a single point"),
}


def _three_samples(path: Path, middle: str | None) -> None:
    if path.suffix == ".inkml":
        groups = ["<traceGroup><trace>0 0, 4 1, 8 3</trace></traceGroup>"] * 3
        groups[1] = "<traceGroup><trace>5 5</trace></traceGroup>"
        path.write_text(f"<ink>{''.join(groups)}</ink>")
    elif path.suffix == ".json":
        path.write_text(f"[{GOOD}, 7, {GOOD}]")
    else:
        path.write_text(f"{GOOD}\n{middle}\n{GOOD}\n")


@pytest.mark.parametrize("name", BAD_SAMPLES)
def test_a_bad_sample_of_several_is_named_and_the_others_are_read(tmp_path, name):
    middle, reason = BAD_SAMPLES[name]
    path = tmp_path / name
    _three_samples(path, middle)
    stem = path.stem
    with pytest.raises(DataError, match=f"^{re.escape(str(path))}: sample {stem}-2: {reason}"):
        read_ink_file(path)
    skipped: list[DataError] = []
    samples = read_ink_file(path, on_error=skipped.append)
    assert [s.id for s in samples] == [f"{stem}-1", f"{stem}-3"]
    ((err),) = skipped
    assert err.path == str(path) and err.reason.startswith(f"sample {stem}-2: {reason}")
    assert samples[0].strokes[0].shape == (3, 3)


def test_ndjson_errors_name_the_files_line(tmp_path):
    path = tmp_path / "canvas.jsonl"
    path.write_text(f'{GOOD}\n\n{GOOD}\n{{"strokes": oops}}\n')  # line 4, after a blank line
    with pytest.raises(DataError, match=r"sample canvas-3: not JSON \(line 4: Expecting value"):
        read_ink_file(path)
    path.write_text('{"id": "a", "strokes": [[[1, 1]]]}\n' + GOOD)  # its own id names it
    with pytest.raises(DataError, match="sample a: ink has a single point"):
        read_ink_file(path)
    path.write_text("x,y\n1,2\n3,4\n")  # no line of it is JSON: not NDJSON at all
    with pytest.raises(DataError, match=r"^\S+: not JSON \(line 1: Expecting value"):
        read_ink_file(path, on_error=lambda e: pytest.fail(str(e)))


def test_json_written_over_many_lines_as_ndjson_is_one_error_not_one_a_line(tmp_path):
    """Lines such as a lone number of a point are JSON, so the file was read line by line:
    an error for each of its other lines."""
    path = tmp_path / "pretty.jsonl"
    path.write_text(json.dumps([{"strokes": [[[0, 0, 0], [4, 1, 0.1], [8, 3, 0.2]]]}], indent=1))
    with pytest.raises(DataError, match=r"^\S+: not JSON \(line 1: Expecting value"):
        read_ink_file(path, on_error=lambda e: pytest.fail(str(e)))
    path.write_text("[[0, 0], [1, 1]]\n5\n")  # JSON, but no line a sample's object
    with pytest.raises(DataError, match="no line is a JSON object"):
        read_ink_file(path, on_error=lambda e: pytest.fail(str(e)))


def test_a_file_of_objects_none_of_which_is_ink_is_one_error(tmp_path):
    """A Quick Draw file (objects of "word" and "drawing") gave one error for each line."""
    path = tmp_path / "cats.ndjson"
    line = json.dumps({"word": "cat", "drawing": [[[0, 5], [0, 5]]]})
    path.write_text(f"{line}\n" * 50)
    with pytest.raises(DataError, match="expected objects with 'strokes' \\(the first has 'word'"):
        read_ink_file(path, on_error=lambda e: pytest.fail(str(e)))
    path = tmp_path / "numbers.json"
    path.write_text("[1, 2, 3]")
    with pytest.raises(DataError, match=r"^\S+numbers.json: expected objects with 'strokes'$"):
        read_ink_file(path, on_error=lambda e: pytest.fail(str(e)))


def test_a_json_sample_whose_id_an_earlier_one_has_is_unusable(tmp_path):
    """Results are named <file>#<sample id>: two samples of one id gave two results of one
    name, a hypothesis file that score refuses."""
    path = tmp_path / "canvas.ndjson"
    one = '{"id": "s", "strokes": [[[0, 0], [4, 1], [8, 3]]]}'
    path.write_text(f'{one}\n{{"id": "t", "strokes": [[[0, 0], [1, 1]]]}}\n{one}\n')
    skipped: list[DataError] = []
    assert [s.id for s in read_ink_file(path, on_error=skipped.append)] == ["s", "t"]
    assert [str(e) for e in skipped] == [f"{path}: sample s: its id is an earlier sample's too"]
    path = tmp_path / "list.json"
    path.write_text(
        '[{"id": 1, "strokes": [[[0, 0], [1, 1]]]}, {"id": "1", "strokes": [[[1, 1], [2, 2]]]}]'
    )
    with pytest.raises(DataError, match="sample 1: its id is an earlier sample's too"):
        read_ink_file(path)


def test_missing_oversized_and_bad_arrays(tmp_path, monkeypatch):
    for missing in ("nowhere.inkml", "nowhere"):  # missing, whether or not its name is known
        with pytest.raises(DataError, match="file not found"):
            read_ink_file(tmp_path / missing)
    (tmp_path / "folder").mkdir()
    with pytest.raises(DataError, match="not a regular file"):
        read_ink_file(tmp_path / "folder")
    path = tmp_path / "big.xml"
    path.write_text(IAM_XML)
    for module in (inkio, inkcheck):  # the size check, and the .npz members' own
        monkeypatch.setattr(module, "MAX_INK_FILE_BYTES", 2**20 // 4)
    path.write_text(IAM_XML + " " * 2**20)
    with pytest.raises(DataError, match="over the 0.25 MB limit") as info:
        read_ink_file(path)
    assert info.value.path == str(path)
    np.save(tmp_path / "wide.npy", np.zeros((3, 4)))
    with pytest.raises(DataError, match="stroke-3 array"):
        read_ink_file(tmp_path / "wide.npy")
    np.savez(tmp_path / "keys.npz", points=np.zeros((3, 3)))
    with pytest.raises(DataError, match="no 'stroke3' array"):
        read_ink_file(tmp_path / "keys.npz")


# ---------------------------------------------------------------------------------------------
# MNIST strokes


@pytest.mark.shared_data("mnist-strokes/strokes.npz")  # skips, fails under CI=true
def test_mnist_strokes_loader_and_features():
    samples = load_mnist_strokes(MNIST, indices=range(200))
    assert samples[0].id == "mnist-0" and samples[0].text == "5" and samples[0].writer is None
    data = np.load(MNIST)
    first = data["strokes"][0]
    # The first row is the absolute start in the 28 x 28 grid.
    np.testing.assert_array_equal(samples[0].strokes[0][0, :2], first[0, :2])
    n_points = int(np.flatnonzero(first[:, 3])[0]) + 1
    assert sum(len(s) for s in samples[0].strokes) == n_points
    assert len(samples[0].strokes) == int(first[:n_points, 2].sum())
    config = InkFeatureConfig()
    for sample in samples:
        assert [int(sample.text)] == [int(data["labels"][int(sample.id[6:])])]
        xy = np.concatenate(sample.strokes)[:, :2]
        assert xy.min() >= 0 and xy.max() <= 28
        feats = ink_features(sample.strokes, config)
        assert np.isfinite(feats).all() and 5 <= len(feats) <= 200
    with pytest.raises(DataError, match="index 50000 out of range"):
        load_mnist_strokes(MNIST, indices=[50000])


# ---------------------------------------------------------------------------------------------
# The IAM-OnDB tree, its splits, and 'lstmrec prepare'


def test_csr_lines(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("OCR:\n\nnot this\n\nCSR:\n\n  first line \n\n\nsecond\n", encoding="latin-1")
    assert read_csr_lines(path) == ["first line", "second"]
    path.write_text("OCR:\nno csr\n")
    with pytest.raises(DataError, match="no 'CSR:' line"):
        read_csr_lines(path)


def test_load_iam_ondb_tree(tmp_path):
    root = make_iam_ondb(tmp_path / "IAM-OnDB")
    utts = load_iam_ondb(root)
    assert [u.id for u in utts] == [
        "a01-000u-01", "a01-000u-02", "a01-001w-01", "b02-010-01", "b02-010-02", "c03-100z-01"
    ]  # fmt: skip
    first = utts[0]
    assert first == Utterance(
        "a01-000u-01",
        str(root / "lineStrokes/a01/a01-000/a01-000u-01.xml"),
        "10001",
        text="A MOVE to stop Mr. Gaitskell",
    )
    assert utts[1].text == "from nominating any more"  # the blank line does not count
    assert {u.speaker for u in utts} == {"10001", "10002", "10003", "10004"}
    assert read_ink_file(utts[3].path)[0].strokes[0].shape == (25, 3)
    splits = iam_ondb_splits(root, utts)
    assert splits == {
        "a01-000u-01": "train", "a01-000u-02": "train", "a01-001w-01": "train",
        "b02-010-01": "dev", "b02-010-02": "dev", "c03-100z-01": "test",
    }  # fmt: skip


def test_a_split_file_saved_with_a_byte_order_mark_reads_as_without(tmp_path):
    root = make_iam_ondb(tmp_path / "IAM-OnDB")
    trainset = root / "task1" / "trainset.txt"
    trainset.write_text("\ufeff" + trainset.read_text())  # its first form: no part of an id
    splits = iam_ondb_splits(root, load_iam_ondb(root))
    assert splits["a01-000u-01"] == "train"


def test_iam_ondb_without_original_falls_back_to_form_ids(tmp_path):
    root = make_iam_ondb(tmp_path, writers=False)
    assert {u.speaker for u in load_iam_ondb(root)} == set(FORMS)


def test_iam_ondb_missing_line_file_is_reported_and_skipped(tmp_path):
    root = make_iam_ondb(tmp_path)
    (root / "lineStrokes/a01/a01-000/a01-000u-02.xml").unlink()
    with pytest.raises(DataError, match="CSR line 2 has no strokes file") as info:
        load_iam_ondb(root)
    assert info.value.path.endswith("a01-000u.txt")
    errors = []
    utts = load_iam_ondb(root, on_error=errors.append)
    assert len(utts) == 5 and len(errors) == 1


def test_load_split_on_an_iam_ondb_tree(tmp_path):
    root = make_iam_ondb(tmp_path)
    ids = lambda split, **kw: [u.id for u in load_split(root, split, **kw)]  # noqa: E731
    assert ids("train") == ["a01-000u-01", "a01-000u-02", "a01-001w-01"]
    assert ids("dev") == ["b02-010-01", "b02-010-02"]
    assert ids("core-test") == ids("full-test") == ["c03-100z-01"]
    assert len(ids("all")) == 6
    # Writer lists replace the split files, as for any corpus.
    (tmp_path / "dev.list").write_text("10002\n")
    (tmp_path / "test.list").write_text("10001\n")
    lists = {"dev_speakers": tmp_path / "dev.list", "test_speakers": tmp_path / "test.list"}
    assert ids("dev", **lists) == ["a01-001w-01"]
    assert ids("train", **lists) == ["b02-010-01", "b02-010-02", "c03-100z-01"]
    # Without split files and lists there is no split to choose.
    bare = make_iam_ondb(tmp_path / "bare", split_files=False)
    with pytest.raises(DataError, match="give the speaker lists"):
        load_split(bare, "train")


def test_manifest_accepts_ink_as_the_signal_key(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"id": "l1", "ink": "lines/l1.inkml", "speaker": "w1", "text": "hi"}\n')
    (utt,) = read_manifest(path)
    assert utt.path == str(tmp_path / "lines/l1.inkml") and utt.text == "hi"


def test_prepare_writes_iam_ondb_manifests(tmp_path, capsys):
    root = make_iam_ondb(tmp_path / "IAM-OnDB")
    out = tmp_path / "data" / "iam"
    assert main(["prepare", "--corpus", "iam-ondb", "--data", str(root), "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "train: 3 utterances, 2 speakers" in stdout
    assert [u.id for u in read_manifest(out / "core-test.jsonl")] == ["c03-100z-01"]
    dev = read_manifest(out / "dev.jsonl")
    assert [(u.speaker, u.text) for u in dev] == [
        ("10003", "made at a meeting"),
        ("10003", "of Labour MPs tomorrow."),
    ]
    assert main(["prepare", "--data", str(root), "--out", str(tmp_path / "auto")]) == 0  # auto
    assert (tmp_path / "auto" / "train.jsonl").read_text() == (out / "train.jsonl").read_text()


@pytest.mark.parametrize("corpus", ["iam-ondb", "auto"])
def test_prepare_bad_iam_ondb_tree_is_one_line_and_status_2(tmp_path, capsys, corpus):
    root = tmp_path / "IAM-OnDB"
    (root / "lineStrokes").mkdir(parents=True)
    (root / "ascii" / "a01" / "a01-000").mkdir(parents=True)
    (root / "ascii" / "a01" / "a01-000" / "a01-000u.txt").write_text("no csr here\n")
    capsys.readouterr()
    rc = main(
        [
            "prepare",
            "--corpus",
            corpus,
            "--data",
            str(root),
            "--out",
            str(tmp_path / "o"),
            "--strict",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and "a01-000u.txt: no 'CSR:' line" in err
    assert not (tmp_path / "o").exists()


def test_prepare_iam_ondb_on_a_folder_that_is_not_one(tmp_path, capsys):
    capsys.readouterr()
    rc = main(
        ["prepare", "--corpus", "iam-ondb", "--data", str(tmp_path), "--out", str(tmp_path / "o")]
    )
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "not an IAM-OnDB tree" in err
