"""InkML traces written in different formats: each trace read through its own context."""

import numpy as np
import pytest

from lstmrec.features.errors import DataError
from lstmrec.features.inkfiles import read_ink_file

# The shape of InkML that pen drivers and note-taking programs write: a namespace prefix, the
# channels in an <inkSource> inside a <context> of the <definitions>, every trace naming its
# context (and a brush, which the reader leaves alone). A second context writes T first.
TWO_CONTEXTS = """<?xml version="1.0" encoding="utf-8"?>
<inkml:ink xmlns:inkml="http://www.w3.org/2003/InkML">
  <inkml:definitions>
    <inkml:context xml:id="ctx0">
      <inkml:inkSource xml:id="inkSrc0">
        <inkml:traceFormat>
          <inkml:channel name="X" type="integer" units="himetric"/>
          <inkml:channel name="Y" type="integer" units="himetric"/>
          <inkml:channel name="F" type="integer" units="dev"/>
          <inkml:channel name="T" type="integer" units="ms"/>
        </inkml:traceFormat>
      </inkml:inkSource>
    </inkml:context>
    <inkml:context xml:id="ctx1">
      <inkml:traceFormat>
        <inkml:channel name="T" type="decimal" units="s"/>
        <inkml:channel name="Y" type="decimal"/>
        <inkml:channel name="X" type="decimal"/>
      </inkml:traceFormat>
    </inkml:context>
    <inkml:brush xml:id="br0"/>
  </inkml:definitions>
  <inkml:trace contextRef="#ctx0" brushRef="#br0">
    100 200 512 0, 110 205 600 10, 120 210 580 20</inkml:trace>
  <inkml:trace contextRef="#ctx1" brushRef="#br0">0.5 300 400, 0.51 302 404</inkml:trace>
</inkml:ink>
"""


def _write(tmp_path, text, name="page.inkml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_each_trace_is_read_in_the_format_of_the_context_it_names(tmp_path):
    (sample,) = read_ink_file(_write(tmp_path, TWO_CONTEXTS))
    # ctx0: X Y F T(ms) from its ink source; the force channel is read and left out.
    np.testing.assert_allclose(
        sample.strokes[0], [[100, 200, 0.0], [110, 205, 0.01], [120, 210, 0.02]]
    )
    # ctx1: T(s) Y X. Read in ctx0's format (the document's first), x would be 0.5.
    np.testing.assert_allclose(sample.strokes[1], [[400, 300, 0.5], [404, 302, 0.51]])


def test_format_by_reference_group_context_and_the_current_context(tmp_path):
    text = """<ink>
  <annotation type="truth">one sample of every trace</annotation>
  <definitions>
    <traceFormat xml:id="yx"><channel name="Y"/><channel name="X"/></traceFormat>
    <traceFormat xml:id="xy"><channel name="X"/><channel name="Y"/></traceFormat>
    <context xml:id="flipped" traceFormatRef="#yx"/>
    <context xml:id="plain" traceFormatRef="xy"/>
    <context xml:id="heir" contextRef="#flipped"/>
  </definitions>
  <trace>1 2, 3 4</trace>
  <traceGroup contextRef="#plain">
    <trace>5 6, 7 8</trace>
    <trace contextRef="#heir">9 10, 11 12</trace>
  </traceGroup>
  <context contextRef="#plain"/>
  <trace>13 14, 15 16</trace>
</ink>
"""
    (sample,) = read_ink_file(_write(tmp_path, text))
    xy = [s[:, :2].tolist() for s in sample.strokes]
    assert xy == [
        [[2, 1], [4, 3]],  # no context: the document's first traceFormat (Y, X)
        [[5, 6], [7, 8]],  # the group's context
        [[10, 9], [12, 11]],  # its own context, which inherits Y, X from the one it refers to
        [[13, 14], [15, 16]],  # after the <context> that makes "plain" current
    ]


def test_stated_and_unstated_times_are_told_apart_trace_by_trace(tmp_path):
    text = """<ink>
  <definitions>
    <context xml:id="ms"><traceFormat>
      <channel name="X"/><channel name="Y"/><channel name="T" units="ms"/>
    </traceFormat></context>
    <context xml:id="bare"><traceFormat>
      <channel name="X"/><channel name="Y"/><channel name="T"/>
    </traceFormat></context>
  </definitions>
  <trace contextRef="#ms">0 0 0.5, 1 1 0.6</trace>
  <trace contextRef="#bare">0 0 1.0, 1 1 1.01, 2 2 1.02</trace>
</ink>
"""
    (sample,) = read_ink_file(_write(tmp_path, text))
    # Stated milliseconds are converted whatever their steps (0.1 ms here).
    np.testing.assert_allclose(sample.strokes[0][:, 2], [0.0005, 0.0006])
    # The unstated trace steps by 0.01: seconds, on its own steps and in its own format.
    np.testing.assert_allclose(sample.strokes[1][:, 2], [1.0, 1.01, 1.02])


@pytest.mark.parametrize(
    ("reference", "reason"),
    [
        (
            '<trace contextRef="#nowhere">1 2, 3 4</trace>',
            "contextRef='#nowhere' names no <context>",
        ),
        ('<trace contextRef="#f">1 2, 3 4</trace>', "contextRef='#f' names no <context>"),
        (
            '<context xml:id="c" traceFormatRef="#gone"/><trace contextRef="#c">1 2, 3 4</trace>',
            "traceFormatRef='#gone' names no <traceFormat>",
        ),
        (
            '<context xml:id="a" contextRef="#b"/><context xml:id="b" contextRef="#a"/>'
            '<trace contextRef="#a">1 2, 3 4</trace>',
            "refers to itself",
        ),
    ],
)
def test_a_reference_to_nothing_is_one_clear_error(tmp_path, reference, reason):
    fmt = '<traceFormat xml:id="f"><channel name="X"/><channel name="Y"/></traceFormat>'
    text = f"<ink>{fmt}{reference}</ink>"
    path = _write(tmp_path, text)
    with pytest.raises(DataError) as err:
        read_ink_file(path)
    assert reason in str(err.value) and str(path) in str(err.value)


def test_a_format_no_trace_is_written_in_is_not_read(tmp_path):
    # The first <traceFormat> (for pressure alone) serves no trace: it is not needed to read.
    text = """<ink>
  <definitions>
    <traceFormat xml:id="pressure"><channel name="F"/></traceFormat>
    <context xml:id="pen">
      <traceFormat><channel name="X"/><channel name="Y"/></traceFormat>
    </context>
  </definitions>
  <trace contextRef="#pen">1 2, 3 4</trace>
</ink>
"""
    (sample,) = read_ink_file(_write(tmp_path, text))
    assert sample.strokes[0][:, :2].tolist() == [[1, 2], [3, 4]]
    # A trace in the default format reads it, and is refused in one line.
    path = _write(tmp_path, text.replace('<trace contextRef="#pen">', "<trace>"), "bare.inkml")
    with pytest.raises(DataError, match="traceFormat 'pressure' has regular channels"):
        read_ink_file(path)


# A smartpen's export: no T channel, but an ink source that samples uniformly and a start time
# (milliseconds) on each trace.
CLOCKED = """<ink>
  <definitions>
    <context xml:id="pen">
      <inkSource xml:id="src">
        <traceFormat><channel name="X"/><channel name="Y"/></traceFormat>
        <sampleRate uniform="{uniform}" value="{rate}"/>
      </inkSource>
    </context>
  </definitions>
  <trace contextRef="#pen" timeOffset="1000">0 0, 1 1, 2 2</trace>
  <trace contextRef="#pen" timeOffset="2500">5 0, 6 1</trace>
  <trace contextRef="#pen">9 0, 9 1</trace>
</ink>
"""


def test_traces_without_time_are_timed_by_their_offset_and_a_uniform_sample_rate(tmp_path):
    (sample,) = read_ink_file(_write(tmp_path, CLOCKED.format(uniform="true", rate=50)))
    t = [s[:, 2] for s in sample.strokes]
    np.testing.assert_allclose(t[0], [1.0, 1.02, 1.04])  # 1,000 ms, then a point every 20 ms
    np.testing.assert_allclose(t[1], [2.5, 2.52])
    assert np.isnan(t[2]).all()  # no timeOffset: its start is not known
    # Times from the rate are seconds: a slow rate's steps (2 s) are not taken for milliseconds.
    (slow,) = read_ink_file(_write(tmp_path, CLOCKED.format(uniform="true", rate=0.5)))
    np.testing.assert_allclose(slow.strokes[0][:, 2], [1.0, 3.0, 5.0])
    # Not uniform: the rate says nothing of when each point was taken.
    (uneven,) = read_ink_file(_write(tmp_path, CLOCKED.format(uniform="false", rate=50)))
    assert all(np.isnan(s[:, 2]).all() for s in uneven.strokes)
    # Without contexts: the document's ink source gives the rate; a T channel wins over it.
    plain = """<ink><inkSource><traceFormat><channel name="X"/><channel name="Y"/>
      <channel name="T" units="ms"/></traceFormat><sampleRate value="100"/></inkSource>
      <trace timeOffset="300">0 0 0, 1 1 40</trace></ink>"""
    (timed,) = read_ink_file(_write(tmp_path, plain))
    np.testing.assert_allclose(timed.strokes[0][:, 2], [0.0, 0.04])
    untimed = """<ink><inkSource><traceFormat><channel name="X"/><channel name="Y"/>
      </traceFormat><sampleRate value="100"/></inkSource>
      <trace timeOffset="300">0 0, 1 1</trace></ink>"""
    (clocked,) = read_ink_file(_write(tmp_path, untimed))
    np.testing.assert_allclose(clocked.strokes[0], [[0, 0, 0.3], [1, 1, 0.31]])


@pytest.mark.parametrize(
    "rate, reason",
    [("0", "sampleRate value 0 is not a positive number"), ("fast", "'fast' is not a number")],
)
def test_a_sample_rate_that_is_no_rate_is_refused(tmp_path, rate, reason):
    path = _write(tmp_path, CLOCKED.format(uniform="true", rate=rate))
    with pytest.raises(DataError, match=reason):
        read_ink_file(path)
