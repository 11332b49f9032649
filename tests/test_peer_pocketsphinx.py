"""scripts/peer_pocketsphinx.py without decoding: PocketSphinx's CMU phones as TIMIT labels, the
int16 samples it is fed, and the one-line refusals of bad arguments (before anything is
decoded, so pocketsphinx need not be installed)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from helpers import REPO, load_script

from lstmrec.features.errors import DataError
from lstmrec.phones import fold

SPEECH = REPO / "tests" / "data" / "bundles-0.1" / "speech"
INK = REPO / "tests" / "data" / "bundles-0.1" / "ink"


@pytest.fixture(scope="module")
def peer():
    return load_script("peer_pocketsphinx")


def test_cmu_phones_become_timit_labels(peer):
    # "the cat ..." as PocketSphinx's allphone search writes it, with a noise filler
    cmu = ["SIL", "DH", "AH", "K", "AE", "T", "+NSN+", "CH", "EH", "JH", "+SPN+", "SIL"]
    assert peer.cmu_to_timit(cmu) == [
        "h#", "dh", "ah", "kcl", "k", "ae", "tcl", "t", "tcl", "ch", "eh", "dcl", "jh", "h#",
    ]  # fmt: skip
    assert peer.cmu_to_timit(cmu, closures=False) == [
        "h#", "dh", "ah", "k", "ae", "t", "ch", "eh", "jh", "h#",
    ]  # fmt: skip
    # At 39 phones a closure and h# are both sil, as TIMIT's own labels of the same sounds are.
    assert fold(peer.cmu_to_timit(["SIL", "B", "IY"]), 39) == ["sil", "sil", "b", "iy"]


def test_every_cmu_phone_is_a_timit_label(peer):
    assert len(peer.CMU_PHONES) == 39
    for phone in sorted(peer.CMU_PHONES):
        assert fold(peer.cmu_to_timit([phone]), 61)  # raises on a label TIMIT lacks


def test_an_unknown_phone_names_the_utterance(peer):
    with pytest.raises(DataError, match="hypothesis u1: .*'AX' has no TIMIT label"):
        peer.cmu_to_timit(["SIL", "AX"], source="hypothesis u1")


def test_pcm16_rounds_clips_and_is_little_endian(peer):
    pcm = peer.pcm16(np.array([0.0, 0.5, -1.0, 1.0, -1.5, 1e-5], dtype=np.float32))
    assert np.frombuffer(pcm, dtype="<i2").tolist() == [0, 16384, -32768, 32767, -32768, 0]
    assert pcm[2:4] == b"\x00\x40"  # 16384, low byte first


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--limit", "0"], "--limit must be at least 1"),
        (["--alpha", "1.5"], "--alpha must be between 0 and 1"),
        (["--bootstrap", "0"], "--bootstrap must be at least 1"),
        (["--threads", "0"], "--threads must be at least 1"),
    ],
)
def test_bad_numbers_are_one_line(peer, tmp_path, capsys, extra, message):
    assert peer.main([str(SPEECH), "--data", str(tmp_path), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_models_that_cannot_be_compared(peer, tmp_path, capsys):
    assert peer.main([str(tmp_path / "none"), "--data", str(tmp_path)]) == 2
    assert "no model folder or shipped model named" in capsys.readouterr().err
    assert peer.main([str(INK), "--data", str(tmp_path)]) == 2
    assert "not a speech model with phone outputs" in capsys.readouterr().err


def test_out_never_overwrites(peer, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "pocketsphinx.txt").write_text("mine\n")
    assert peer.main([str(SPEECH), "--data", str(tmp_path), "--out", str(out)]) == 2
    assert "--out exists; pass --force" in capsys.readouterr().err
    assert (out / "pocketsphinx.txt").read_text() == "mine\n"


def test_missing_pocketsphinx_is_one_line(peer, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)  # import fails
    assert peer.main([str(SPEECH), "--data", str(tmp_path)]) == 2
    assert 'pocketsphinx: not installed: pip install -e ".[peer]"' in capsys.readouterr().err


def test_decoder_uses_the_shipped_phone_lm(peer):
    """PocketSphinx falls back to a phone loop, saying so only in its log, when the allphone LM
    path is wrong: the settings must name files that exist."""
    pytest.importorskip("pocketsphinx")
    from pathlib import Path

    _, settings = peer.pocketsphinx_decoder(2.0)
    assert Path(settings["allphone"]).is_file()
    assert (Path(settings["hmm"]) / "mdef").is_file()
