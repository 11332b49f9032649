"""The one id scheme (lstmrec.scoring.ids), CTM and STM lines, speakers never guessed from ids,
picture names, progress bars: hand-computed cases."""

from __future__ import annotations

import io

import pytest

from lstmrec import progress
from lstmrec.features.errors import DataError
from lstmrec.inference.transcribe import TimedPhone, Transcript
from lstmrec.scoring.ids import file_ids, read_utt2spk, safe_id, sample_id, speakers_of
from lstmrec.scoring.plots import picture_paths
from lstmrec.scoring.refs import kaldi_text_lines, stm_lines


def test_safe_id_is_one_field_and_keeps_names_apart():
    assert safe_id("faem0_si1392") == "faem0_si1392"
    assert safe_id("my file.wav") == "my%20file.wav"
    assert safe_id("a\nb") == "a%0Ab"  # a newline in a file name cannot break a line
    assert safe_id("a%20b") == "a%2520b"  # "%" itself escaped: never equal to "a b"'s id
    assert len({safe_id(n) for n in ("a b", "a%20b", "a_b", "a\tb")}) == 4
    for name in ("x y", "t\tab", "é ü"):
        assert len(safe_id(name).split()) == 1


def test_file_ids_are_relative_to_the_common_folder(tmp_path):
    a = tmp_path / "DR1" / "FAKS0" / "SA1.WAV"
    b = tmp_path / "DR2" / "MADC0" / "SA1.WAV"
    ids = file_ids([str(a), str(b)])
    assert ids == {str(a): "DR1/FAKS0/SA1.WAV", str(b): "DR2/MADC0/SA1.WAV"}
    assert file_ids([str(a)]) == {str(a): "SA1.WAV"}
    assert file_ids([str(a), "-"])["-"] == "stdin"
    spaced = tmp_path / "x" / "my take.wav"
    assert file_ids([str(spaced), str(a)])[str(spaced)] == "x/my%20take.wav"


def test_sample_ids_of_ink_files():
    assert sample_id("w01/a.xml", "a", 1) == "w01/a.xml"
    assert sample_id("pad.ndjson", "s 2", 3) == "pad.ndjson#s%202"


def test_utt2spk_and_unknown_speakers(tmp_path):
    path = tmp_path / "utt2spk"
    path.write_text("1089-134686-0000 1089\n1089-134686-0001 1089\n\n")
    spk = read_utt2spk(path)
    assert spk == {"1089-134686-0000": "1089", "1089-134686-0001": "1089"}
    assert speakers_of(["1089-134686-0000", "w14-000-01"], spk) == {
        "1089-134686-0000": "1089",
        "w14-000-01": "unknown",
    }
    path.write_text("a b c\n")
    with pytest.raises(DataError, match="line 1"):
        read_utt2spk(path)
    path.write_bytes(b"\xef\xbb\xbfu1 s1\n")  # a byte-order mark is not part of the id
    assert read_utt2spk(path) == {"u1": "s1"}


def _transcript() -> Transcript:
    # Times as the decoder gives them: each phone ends where the next starts. Rounding start and
    # duration separately gave 0.008 + 0.140 = 0.148 > 0.147, an overlap sclite rejects.
    phones = [
        TimedPhone("sil", 0.0, 0.0075),
        TimedPhone("hh", 0.0075, 0.1475),
        TimedPhone("iy", 0.1475, 0.3125),
        TimedPhone("h#", 0.3125, 0.5),
    ]
    return Transcript("/data/my take.wav", 0.5, phones, id="my%20take.wav")


def test_ctm_lines_never_overlap_and_drop_silence():
    tr = _transcript()
    kept = [line.split() for line in tr.ctm_lines(silence="keep")]
    assert all(len(f) == 5 and f[0] == "my%20take.wav" and f[1] == "1" for f in kept)
    ms = [(round(float(f[2]) * 1000), round(float(f[3]) * 1000)) for f in kept]
    for (s0, d0), (s1, _) in zip(ms, ms[1:], strict=False):
        assert s0 + d0 == s1  # ends exactly where the next starts
    assert [f[4] for f in kept] == ["sil", "hh", "iy", "h#"]
    dropped = [line.split()[4] for line in tr.ctm_lines()]
    assert dropped == ["hh", "iy"]


def test_stm_and_text_lines_sorted_with_whole_recording_segments():
    refs = {"u b": ["b"], "a": ["x", "y"]}
    lines = stm_lines(refs, {"u b": 1.2341, "a": 2.0}, {"u b": "s1", "a": "s 2"})
    assert lines == ["a 1 s%202 0.000 2.000 x y", "u%20b 1 s1 0.000 1.235 b"]
    assert kaldi_text_lines(refs) == ["a x y", "u%20b b"]


def test_picture_names_follow_the_ids(tmp_path):
    ids = ["DR1/FAKS0/SA1.WAV", "DR2/MADC0/SA1.WAV"]
    assert [p.name for p in picture_paths(ids, tmp_path / "pics")] == [
        "DR1_FAKS0_SA1.png",
        "DR2_MADC0_SA1.png",
    ]
    assert picture_paths(["SA1.WAV"], tmp_path / "x") == [tmp_path / "x.png"]  # not a folder
    assert picture_paths(["SA1.WAV"], str(tmp_path) + "/") == [tmp_path / "SA1.png"]
    with pytest.raises(DataError):
        picture_paths(ids, tmp_path / "one.png")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bars_on_a_terminal_unless_quiet(monkeypatch):
    monkeypatch.delenv(progress.QUIET_ENV, raising=False)
    out = _Terminal()
    for _ in progress.progress(range(3), file=out, desc="files"):
        pass
    assert "files" in out.getvalue()
    plain = io.StringIO()  # a log file: no bar
    list(progress.progress(range(3), file=plain, desc="files"))
    assert plain.getvalue() == ""
    monkeypatch.setenv(progress.QUIET_ENV, "1")
    quiet = _Terminal()
    list(progress.progress(range(3), file=quiet, desc="files"))
    assert quiet.getvalue() == ""


def test_an_unknown_set_field_is_reported_against_the_flag(tmp_path):
    from lstmrec.config import load_recipe

    recipe = tmp_path / "r.toml"
    recipe.write_text("[training]\nmax_epochs = 2\n")
    with pytest.raises(DataError) as e:
        load_recipe(recipe, ["training.no_such_field=1"])
    assert str(recipe) not in str(e.value)
    assert "--set training.no_such_field=1" in str(e.value) and "no_such_field" in str(e.value)
    recipe.write_text("[training]\nno_such_field = 2\n")
    with pytest.raises(DataError, match="r.toml"):
        load_recipe(recipe, ["training.max_epochs=1"])  # the file's own fault names the file
