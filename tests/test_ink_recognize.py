"""Handwriting end to end: synthetic IAM-OnDB tree -> train -> recognize -> evaluate (CER, WER).

The tiny ink model (1 layer of 16 units, 2 epochs) is trained once per session through the
command line (``ink_run`` in conftest.py); the tests check the command-line contract on it:
recognized text and JSON with character spans into the original strokes, CER/WER reports, and
one line on stderr with exit status 2 for each bad input while the good files are still
recognized.
"""

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # before anything imports TensorFlow

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import one_line, run

from lstmrec.bundle import Bundle
from lstmrec.config import feature_config_from_dict, load_recipe
from lstmrec.corpora.splits import load_split
from lstmrec.features.audio import FeatureConfig
from lstmrec.features.errors import DataError
from lstmrec.features.ink import InkFeatureConfig
from lstmrec.features.inkfiles import InkSample, read_ink_file, write_ink_json
from lstmrec.featurize import checked_features
from lstmrec.inference.recognize import recognize_files
from lstmrec.manifest import Utterance, write_manifest
from lstmrec.phones import SymbolTable
from lstmrec.scoring.ids import file_ids
from lstmrec.targets import (
    SPACE,
    apply_unknown_policy,
    char_table,
    symbols_text,
    text_symbols,
)


def test_bundle_records_ink_features_and_characters(ink_run):
    _, bundle = ink_run
    assert json.loads((bundle / "features.json").read_text())["kind"] == "ink"
    symbols = SymbolTable.load(bundle / "symbols.txt")
    assert SPACE in symbols.symbols
    assert json.loads((bundle / "summary.json").read_text())["labels"] == "chars"


def test_recognize_text_and_json_spans(ink_run, capsys):
    corpus, bundle = ink_run
    files = sorted((corpus / "lineStrokes" / "w02").rglob("*.xml"))
    rc, out, err = run(capsys, "recognize", bundle, files[0], corpus / "lineStrokes" / "w02")
    assert rc == 0, err
    lines = out.splitlines()
    assert len(lines) == 1 + len(files)
    ids = file_ids([str(files[0]), *map(str, files)])
    assert lines[0].split()[0] == ids[str(files[0])] == files[0].name

    rc, out, err = run(capsys, "recognize", bundle, files[0], "--format", "json")
    assert rc == 0, err
    rec = json.loads(out)
    assert {"file", "id", "text", "chars"} <= set(rec)
    assert "".join(c["char"] for c in rec["chars"]) == rec["text"]
    strokes = read_ink_file(files[0])[0].strokes
    previous = (0, 0)
    for c in rec["chars"]:
        for s, p in (c["start"], c["end"]):
            assert 0 <= s < len(strokes) and 0 <= p < len(strokes[s])
        assert tuple(c["start"]) >= previous and tuple(c["end"]) >= tuple(c["start"])
        previous = tuple(c["start"])


def test_evaluate_reports_cer_and_wer_per_writer(ink_run, capsys):
    corpus, bundle = ink_run
    rc, out, err = run(capsys, "evaluate", bundle, "--data", corpus, "--split", "core-test",
                       "--format", "json")  # fmt: skip
    assert rc == 0, err
    report = json.loads(out)
    for key in ("error_rate", "substitutions", "deletions", "insertions", "reference_length"):
        assert key in report
    assert report["cer"] == report["error_rate"]
    assert set(report["per_speaker"]) == {"w02"}
    texts = [u.text for u in read_manifest_split(corpus, capsys)]
    assert report["reference_length"] == sum(len(" ".join(t.split())) for t in texts)
    assert report["words"]["reference_length"] == sum(len(t.split()) for t in texts)
    assert report["wer"] == pytest.approx(report["words"]["error_rate"])
    rc, out, _ = run(capsys, "evaluate", bundle, "--data", corpus, "--split", "core-test")
    assert rc == 0 and out.startswith("CER ") and "\nWER " in out


def read_manifest_split(corpus, capsys):
    return load_split(corpus, "core-test")


def test_reference_character_outside_the_table_is_bad_input(ink_run, capsys, tmp_path):
    corpus, bundle = ink_run
    good = read_manifest_split(corpus, capsys)[0]
    bad = Utterance("bad-01", good.path, "w02", text="a@b")  # (# marks an unreadable word)
    write_manifest([good, bad], tmp_path / "core-test.jsonl")
    rc, out, err = run(capsys, "evaluate", bundle, "--data", tmp_path, "--split", "core-test",
                       "--format", "json")  # fmt: skip
    assert rc == 2
    assert "utterance bad-01" in err and "'@'" in err and "Traceback" not in err
    assert json.loads(out.splitlines()[-1])["num_utterances"] == 1


BAD_INK = {
    "malformed.xml": "<WhiteboardCaptureSession><StrokeSet><Stroke>",
    "empty.xml": "",
    "nan.json": '{"strokes": [[[0, 0, 0], [NaN, 1, 0.1], [2, 2, 0.2]]]}',
    "single.json": '{"strokes": [[[5, 5, 0]]]}',
}


@pytest.mark.parametrize("name", [*BAD_INK, "huge.xml"])
def test_recognize_skips_a_bad_file_and_finishes(ink_run, capsys, tmp_path, name):
    corpus, bundle = ink_run
    good = sorted((corpus / "lineStrokes" / "w02").rglob("*.xml"))[0]
    bad = tmp_path / name
    if name == "huge.xml":  # over the reader's size limit, read no further than its size
        with open(bad, "wb") as f:
            f.write(b"<WhiteboardCaptureSession>" + b" " * (9 * 2**20))
    else:
        bad.write_text(BAD_INK[name])
    rc, out, err = run(capsys, "recognize", bundle, bad, good)
    assert rc == 2
    assert out.split()[0].endswith(f"/{good.name}")  # the file's id
    assert str(bad) in err and "Traceback" not in err
    rc, out, err = run(capsys, "recognize", bundle, bad, good, "--strict")
    assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1


def test_speech_model_is_refused_by_recognize(tmp_path):
    bundle = Bundle(None, FeatureConfig(), SymbolTable(["a"]), None, None, {})
    with pytest.raises(DataError, match="not a handwriting model"):
        list(recognize_files(bundle, [str(tmp_path / "x.xml")]))


def test_symbol_table_round_trip_with_space_and_punctuation(tmp_path):
    text = "It's 3 o'clock, caf\u00e9  #1!"
    seqs = [text_symbols(text)]
    assert symbols_text(seqs[0]) == "It's 3 o'clock, caf\u00e9 #1!"  # white space runs -> one
    table = char_table(seqs, None)
    table.save(tmp_path / "symbols.txt")
    loaded = SymbolTable.load(tmp_path / "symbols.txt")
    assert loaded == table
    assert symbols_text(loaded.decode(loaded.encode(seqs[0]))) == symbols_text(seqs[0])
    assert char_table([], "ab c").symbols == (SPACE, "a", "b", "c")


def test_unknown_characters_are_dropped_mapped_or_skipped_with_a_note():
    utt = Utterance("u1", "u1.xml", "w", text="ab#c")
    symbols, known = text_symbols("ab#c"), {"a", "b", "c", "?"}
    kept, note = apply_unknown_policy(utt, symbols, known, "drop")
    assert kept == ["a", "b", "c"] and "u1" in note and "'#'" in note
    kept, note = apply_unknown_policy(utt, symbols, known, "?")
    assert kept == ["a", "b", "?", "c"] and "mapped" in note
    with pytest.raises(DataError, match="u1.*'#'"):
        apply_unknown_policy(utt, symbols, known, "skip")
    assert apply_unknown_policy(utt, ["a"], known, "skip") == (["a"], None)


def test_feature_settings_dispatch_on_kind_and_old_speech_settings_load():
    assert isinstance(feature_config_from_dict({"kind": "fbank"}), FeatureConfig)
    assert isinstance(feature_config_from_dict({}), FeatureConfig)
    ink = feature_config_from_dict({"kind": "ink", "spacing": 0.3})
    assert isinstance(ink, InkFeatureConfig) and ink.spacing == 0.3
    recipe = load_recipe(Path(__file__).parents[1] / "configs" / "ink_blstm.toml")
    assert isinstance(recipe.features, InkFeatureConfig)
    assert recipe.to_dict()["features"]["kind"] == "ink"


def test_ink_json_training_file_with_two_samples_is_refused(tmp_path):
    stroke = np.array([[0, 0, 0], [1, 1, 0.1], [2, 0, 0.2]], dtype=float)
    write_ink_json(tmp_path / "two.json", [InkSample("a", (stroke,)), InkSample("b", (stroke,))])
    with pytest.raises(DataError, match="2 ink samples"):
        checked_features(str(tmp_path / "two.json"), InkFeatureConfig())


def test_recognize_names_a_folder_without_ink_among_other_inputs(capsys, tmp_path):
    """Such a folder was passed over without a word, as if its ink had been read."""
    scans = tmp_path / "scans"
    scans.mkdir()
    (scans / "page.png").write_bytes(b"not ink")
    line = tmp_path / "line.json"
    line.write_text('{"strokes": [[[0, 0, 0], [4, 1, 0.1], [8, 3, 0.2]]]}')
    rc, out, err = run(capsys, "recognize", "--beam", "0", scans, line)
    assert rc == 2 and out.split()[0] == "line.json"
    assert err.splitlines() == [
        f"lstmrec: skipping {scans}: no ink files found",
        "lstmrec: 1 input failed (named above)",
    ]
    rc, out, err = run(capsys, "recognize", "--beam", "0", "--strict", scans, line)
    assert rc == 2 and out == "" and one_line(err) == f"lstmrec: {scans}: no ink files found"


def test_standard_input_of_json_with_a_byte_order_mark_or_a_mistake():
    """Pretty-printed JSON with a byte-order mark, or with a mistake, was read as NDJSON: one
    error for each of its lines (thousands for a line of ink) instead of its samples or one."""
    import io

    from lstmrec.inference.recognize import read_stdin_ink

    objects = [{"id": f"s{k}", "strokes": [[[0, 0, 0], [4, 1, 0.1], [8, k, 0.2]]]} for k in (1, 2)]
    pretty = json.dumps(objects, indent=1)
    skipped: list[DataError] = []
    got = read_stdin_ink(io.StringIO("\ufeff" + pretty), on_error=skipped.append)
    assert [s.id for s in got] == ["s1", "s2"] and not skipped
    with pytest.raises(DataError, match=r"^-: not JSON \(line \d+: ") as e:
        read_stdin_ink(io.StringIO(pretty.rstrip()[:-1]), on_error=skipped.append)  # no "]"
    assert "\n" not in str(e.value) and not skipped
    # NDJSON still skips its bad lines and reads the others
    ndjson = "".join(json.dumps(d) + "\n" for d in objects) + "oops\n"
    got = read_stdin_ink(io.StringIO(ndjson), on_error=skipped.append)
    assert [s.id for s in got] == ["s1", "s2"]
    assert [e.reason for e in skipped] == ["sample stdin-3: not JSON (line 3: Expecting value)"]
