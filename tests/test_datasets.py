"""The TFDS TIMIT builder: prepared offline from a TIMIT copy, read back as training input."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lstmrec.corpora.splits import load_split, select_split
from lstmrec.corpora.timit import find_timit
from lstmrec.features.audio import FeatureConfig
from lstmrec.features.errors import DataError
from lstmrec.featurize import compute_features

tfds = pytest.importorskip("tensorflow_datasets", reason="tensorflow-datasets is not installed")

DEMO = Path(__file__).resolve().parents[1] / "data" / "timit-demo" / "TIMIT"


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_timit_builder_prepares_and_reads_offline(tmp_path, no_network):
    if not DEMO.is_dir():
        pytest.skip(f"bundled TIMIT demo corpus not found at {DEMO}")
    import lstmrec.corpora.tfds  # noqa: F401  (registers "timit"; needs tensorflow_datasets)

    copy = tmp_path / "TIMIT" / "TRAIN"
    for speaker in ("DR1/FVMH0", "DR2/MARC0"):
        shutil.copytree(DEMO / "TRAIN" / speaker, copy / speaker)
    data_dir = tmp_path / "tfds"
    config = tfds.download.DownloadConfig(manual_dir=str(tmp_path / "TIMIT"))
    ds = tfds.load(
        "timit/phones61",
        split="train",
        data_dir=str(data_dir),
        download_and_prepare_kwargs={"download_config": config},
    )
    examples = {ex["id"].decode(): ex for ex in tfds.as_numpy(ds)}
    expected = select_split(find_timit(tmp_path), "train")  # SA sentences left out
    assert sorted(examples) == [u.id for u in expected] and len(expected) == 16
    for utt in expected[:3]:
        ex = examples[utt.id]
        np.testing.assert_array_equal(ex["audio"], sf.read(utt.path, dtype="int16")[0])
        assert tuple(p.decode() for p in ex["phones"]) == utt.phones

    # As lstmrec's data source: same utterances and labels, features from memory.
    utts = load_split(f"tfds:timit/phones61?data_dir={data_dir}", "train")
    assert [u.id for u in utts] == [u.id for u in expected]
    assert [u.phones for u in utts] == [u.phones for u in expected]
    feats = compute_features(utts[:2], FeatureConfig(), cache_dir=tmp_path / "cache")
    direct = compute_features(expected[:2], FeatureConfig())
    for utt in expected[:2]:
        np.testing.assert_allclose(feats[utt.id], direct[utt.id], rtol=1e-5, atol=1e-5)


def test_timit_style_builder_splits_by_speaker_lists(tmp_path, no_network, capsys):
    if not DEMO.is_dir():
        pytest.skip(f"bundled TIMIT demo corpus not found at {DEMO}")
    from lstmrec.corpora.tfds.timit import CorpusConfig  # needs tensorflow_datasets

    corpus = tmp_path / "corpus"  # <speaker>/<utt>.WAV with .PHN: no TIMIT parts or regions
    for speaker in ("DR1/FVMH0", "DR2/MARC0", "DR2/FAEM0"):
        shutil.copytree(DEMO / "TRAIN" / speaker, corpus / speaker.split("/")[1].lower())
    (tmp_path / "test.list").write_text("faem0\n")
    config = CorpusConfig(name="mini", test_speakers=str(tmp_path / "test.list"))
    builder = tfds.builder("timit_style", config=config, data_dir=str(tmp_path / "tfds"))
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(corpus))
    )
    assert sorted(builder.info.splits) == ["core_test", "full_test", "train"]  # no dev list

    spec = f"tfds:timit_style/mini?data_dir={tmp_path / 'tfds'}"
    test = load_split(spec, "core-test")
    train = load_split(spec, "train")
    assert {u.speaker for u in test} == {"faem0"} and len(test) == 8  # SA sentences left out
    assert {u.speaker for u in train} == {"fvmh0", "marc0"} and len(train) == 16
    assert all(u.sample_rate == 16000 and u.phones for u in train)

    # transcribe --data decodes the stored samples (no file behind them), as their files decode
    from lstmrec.cli.main import main

    bundle = str(Path(__file__).parent / "data" / "bundles-0.1" / "speech")
    capsys.readouterr()
    assert main(["transcribe", bundle, "--data", spec, "--format", "json"]) == 0
    stored = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    got = {r["id"]: r["phones"] for r in stored}
    wavs = sorted((corpus / "faem0").glob("S[IX]*.WAV"))
    assert main(["transcribe", bundle, *map(str, wavs), "--format", "json"]) == 0
    files = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert got == {f"faem0_{r['id'][:-4].lower()}": r["phones"] for r in files}


def test_transcription_never_imports_tfds_or_beam():
    import subprocess
    import sys

    code = (
        "import sys, lstmrec, lstmrec.cli.main, lstmrec.inference.transcribe;"
        "import lstmrec.corpora.splits, lstmrec.training.train;"
        "print(sorted(m for m in ('tensorflow_datasets', 'apache_beam') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_tfds_dataset_is_one_line(tmp_path, no_network):
    with pytest.raises(DataError, match="cannot read TFDS dataset 'nosuch'") as err:
        load_split(f"tfds:nosuch?data_dir={tmp_path}", "train")
    assert "\n" not in str(err.value)
