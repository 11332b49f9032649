"""InkML samples made of trace views: whole traces, point ranges, groups and views of views."""

import numpy as np
import pytest

from lstmrec.features.errors import DataError
from lstmrec.features.inkfiles import read_ink_file

# Three traces defined once, written with differences so that a range must be cut after the
# points are decoded: t1 x 0..4, t2 x 10..12 (first differences), t3 x 20..21. y is x + 100.
TRACES = """
  <traceGroup xml:id="all">
    <trace xml:id="t1">0 100, 1 101, 2 102, 3 103, 4 104</trace>
    <trace xml:id="t2">10 110, '1 '1, 1 1</trace>
    <trace xml:id="t3">20 120, 21 121</trace>
  </traceGroup>
"""


def _read(tmp_path, groups: str, name="page.inkml"):
    path = tmp_path / name
    path.write_text(f"<ink>{TRACES}{groups}</ink>", encoding="utf-8")
    samples = read_ink_file(path)
    return {s.text: [list(stroke[:, 0]) for stroke in s.strokes] for s in samples if s.text}


def _group(truth: str, body: str) -> str:
    return f'<traceGroup><annotation type="truth">{truth}</annotation>{body}</traceGroup>'


def test_views_select_point_ranges_groups_and_views_in_document_order(tmp_path):
    read = _read(
        tmp_path,
        _group("range", '<traceView traceDataRef="#t1" from="2" to="4"/>')
        + _group(
            "open ends",
            '<traceView traceDataRef="t1" from="4"/><traceView traceDataRef="t2" to="2"/>',
        )
        # on a group, one position per level: from the 2nd point of t1 to the 1st of t3
        + _group("levels", '<traceView traceDataRef="#all" from="1:2" to="3:1"/>')
        + _group("children", '<traceView traceDataRef="#all" from="2"/>')
        + _group("order", '<trace>7 0, 8 0</trace><traceView xml:id="v" traceDataRef="t3"/>')
        # a view of a view, and a view that holds views
        + _group(
            "nested",
            '<traceView traceDataRef="#v"/>'
            '<traceView><traceView traceDataRef="t2" from="3"/></traceView>',
        ),
    )
    assert read["range"] == [[1, 2, 3]]
    assert read["open ends"] == [[3, 4], [10, 11]]
    assert read["levels"] == [[1, 2, 3, 4], [10, 11, 12], [20]]
    assert read["children"] == [[10, 11, 12], [20, 21]]
    assert read["order"] == [[7, 8], [20, 21]]
    assert read["nested"] == [[20, 21], [12]]


def test_a_range_keeps_the_times_and_y_of_its_own_points(tmp_path):
    path = tmp_path / "timed.inkml"
    path.write_text(
        '<ink><traceFormat><channel name="X"/><channel name="Y"/><channel name="T" units="ms"/>'
        '</traceFormat><trace xml:id="a">0 5 0, 1 6 10, 2 7 20</trace>'
        '<traceGroup><annotation type="truth">x</annotation>'
        '<traceView traceDataRef="a" from="2" to="3"/></traceGroup></ink>',
        encoding="utf-8",
    )
    (sample,) = read_ink_file(path)
    np.testing.assert_allclose(sample.strokes[0], [[1, 6, 0.01], [2, 7, 0.02]])


@pytest.mark.parametrize(
    ("view", "reason"),
    [
        ('<traceView traceDataRef="#gone"/>', "names no ink"),
        ('<traceView traceDataRef="t1" from="0"/>', "counted from 1"),
        ('<traceView traceDataRef="t1" from="two"/>', "counted from 1"),
        ('<traceView traceDataRef="t1" from="4" to="2"/>', "selects 4 to 2 of trace 't1'"),
        ('<traceView traceDataRef="t3" to="3"/>', "which has 2"),
        ('<traceView traceDataRef="#all" from="4"/>', "traceGroup 'all', which has 3"),
        ('<traceView traceDataRef="t1" from="1:2"/>', "below the points of trace 't1'"),
        ('<traceView xml:id="me" traceDataRef="#me"/>', "selected by a view within it"),
        (
            '<traceView xml:id="w" traceDataRef="t1"/><traceView traceDataRef="w" to="2"/>',
            "refers to a view takes no range",
        ),
    ],
)
def test_a_view_outside_the_ink_is_refused_in_one_line(tmp_path, view, reason):
    path = tmp_path / "bad.inkml"
    path.write_text(f"<ink>{TRACES}{_group('x', view)}</ink>", encoding="utf-8")
    with pytest.raises(DataError, match=reason) as err:
        read_ink_file(path)
    assert "bad.inkml" in str(err.value) and "\n" not in str(err.value)


def test_ink_held_in_definitions_is_read_through_its_views_only(tmp_path):
    """A group in <definitions> is there to be referred to: it was read as a sample of its own
    too, so the document's ink came out twice."""
    path = tmp_path / "defined.inkml"
    views = _group("ab", '<traceView traceDataRef="#all" from="2" to="3"/>')
    path.write_text(f"<ink><definitions>{TRACES}</definitions>{views}</ink>", encoding="utf-8")
    (sample,) = read_ink_file(path)
    assert sample.text == "ab" and [list(s[:, 0]) for s in sample.strokes] == [
        [10, 11, 12],
        [20, 21],
    ]
