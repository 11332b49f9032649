"""Resource limits and bad input: memory bounded by something other than file length x labels,
sizes validated before allocation, and every hostile input one DataError (one line, exit 2).
"""

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # before anything imports TensorFlow

import json
import math
import shutil
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO, one_line, run

from lstmrec.bundle import load_bundle, read_bundle_meta
from lstmrec.config import load_recipe
from lstmrec.features import audio
from lstmrec.features.audio import FeatureConfig, fbank, load_audio
from lstmrec.features.errors import DataError
from lstmrec.features.ink import InkFeatureConfig, ink_features
from lstmrec.features.inkfiles import read_ink_file
from lstmrec.inference.decoder import Decoder, DecoderOptions
from lstmrec.inference.evaluate import evaluate_bundle
from lstmrec.inference.lm_files import read_arpa, read_lexicon
from lstmrec.lexicon import Lexicon
from lstmrec.manifest import Utterance, read_manifest
from lstmrec.models.align import forced_align
from lstmrec.models.beam import beam_decode, log_softmax
from lstmrec.models.decoding import Token
from lstmrec.phones import read_speaker_list

SPHERE = REPO / "data" / "timit-demo" / "TIMIT" / "TRAIN" / "DR1" / "FVMH0" / "SA1.WAV"


def peak_mb(fn, *args, **kwargs):
    """``(result, peak MB of Python and NumPy allocations while fn ran)``."""
    tracemalloc.start()
    try:
        result = fn(*args, **kwargs)
        return result, tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


# ---------------------------------------------------------------------------------------------
# Alignment and features of long files


def spiky_log_probs(t_max: int, spikes: list[int], labels: list[int], classes: int) -> np.ndarray:
    """``(T, classes)`` log-probabilities: blank 0.9 everywhere but at the spikes (0.9 label)."""
    probs = np.full((t_max, classes), 0.1 / (classes - 1))
    probs[:, 0] = 0.9
    for f, c in zip(spikes, labels, strict=True):
        probs[f] = 0.1 / (classes - 1)
        probs[f, c] = 0.9
    return np.log(probs)


@pytest.mark.slow  # about 20 s: 60,000 frames under tracemalloc
def test_alignment_of_ten_minutes_needs_megabytes_not_gigabytes():
    # 10 minutes at 100 frames/s with 2 labels a second: the full float64 lattice of 60,000
    # frames x 2,401 states (twice) would be 2.3 GB.
    t_max, classes = 60_000, 40
    spikes = list(range(20, t_max - 20, 50))
    labels = [1 + i % (classes - 1) for i in range(len(spikes))]
    lp = spiky_log_probs(t_max, spikes, labels, classes)
    guide = np.array(spikes) - 7  # where a beam search would have found them, roughly
    tokens, peak = peak_mb(forced_align, lp, labels, guide=guide)
    assert peak < 64, f"alignment peaked at {peak:.0f} MB"
    assert [t.start for t in tokens] == spikes
    assert [t.symbol for t in tokens] == labels


def test_guided_alignment_equals_the_full_one():
    rng = np.random.default_rng(3)
    for _ in range(30):
        t_max = int(rng.integers(20, 200))
        lp = log_softmax(rng.normal(size=(t_max, 6)) * 4)
        tokens, hyps = beam_decode(lp, beam=8)
        if hyps:
            assert tokens == forced_align(lp, hyps[0].labels)  # no guide: every state


def test_alignment_falls_back_to_the_guide_when_no_path_fits_its_window(monkeypatch):
    from lstmrec.models import align

    monkeypatch.setattr(align, "FULL_BAND_BYTES", 0)
    lp = spiky_log_probs(5000, [100, 4900], [1, 2], 3)
    lp[:, 1:] = -np.inf  # the labels are possible only at their spikes
    lp[100, 1] = lp[4900, 2] = np.log(0.9)
    tokens = forced_align(lp, [1, 2], guide=np.array([2500, 2600]))  # 2400 frames off
    assert tokens == [Token(1, 2500, 2600), Token(2, 2600, 2601)]
    monkeypatch.setattr(align, "FULL_BAND_BYTES", 2**28)
    assert forced_align(lp, [1, 2], guide=np.array([2500, 2600])) == [
        Token(1, 100, 4900),
        Token(2, 4900, 4901),
    ]


def test_features_of_a_long_signal_go_block_by_block(monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.normal(size=16000 * 600).astype(np.float32)  # 10 minutes
    config = FeatureConfig()
    whole, peak = peak_mb(fbank, x, config)
    # One go: a (60000, 400) float64 frame copy three times and a (60000, 257) complex
    # spectrum, over 800 MB; by blocks of 4096 frames, the output and one block.
    assert peak < 150, f"fbank peaked at {peak:.0f} MB"
    monkeypatch.setattr(audio, "FRAME_BLOCK", 997)
    part = fbank(x[: 16000 * 30], config)  # blocks of 997 frames
    assert np.array_equal(part, whole[: len(part)])


def test_a_truncated_sphere_file_is_refused(tmp_path):
    cut = tmp_path / "cut.wav"
    cut.write_bytes(SPHERE.read_bytes()[:60000])
    with pytest.raises(DataError, match="header promises 54682 samples, the file holds 29488"):
        load_audio(cut)
    assert len(load_audio(SPHERE)) == 54682


def test_a_fifo_is_not_reported_missing(tmp_path):
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match="not a regular file"):
        load_audio(fifo)
    os.mkfifo(tmp_path / "pipe.json")
    with pytest.raises(DataError, match="not a regular file"):
        read_ink_file(tmp_path / "pipe.json")


@pytest.mark.parametrize(
    "reader",
    [load_recipe, read_arpa, read_lexicon, Lexicon, read_manifest, read_speaker_list],
    ids=["recipe", "arpa", "word list", "lexicon", "manifest", "speaker list"],
)
def test_a_device_or_folder_given_as_a_file_is_refused_unopened(tmp_path, reader):
    """Each reader of a file a user names (--config, --lm, --lexicon, --pron-lexicon, --data,
    --dev-speakers): a FIFO there would be opened and wait for a writer forever."""
    for path in (Path(os.devnull), tmp_path):
        with pytest.raises(DataError) as e:
            reader([path] if reader is Lexicon else path)
        assert (e.value.path, e.value.reason) == (
            str(path),
            "not a regular file (a folder, FIFO or device)",
        )


# ---------------------------------------------------------------------------------------------
# Ink: sizes validated before allocation

HOSTILE_INK = {
    "wide.json": '{"strokes": [[[0, 0], [1e7, 1], [2e7, 0]], [[3e7, 1], [4e7, 0], [5e7, 1]]]}',
    "huge.json": '{"strokes": [[[0, 0], [1e308, 1], [2, 0]]]}',
    "digits.json": '{"strokes": [[[0, 0], [' + "9" * 400 + ", 1], [2, 0]]]}",
    "deep.json": '{"strokes": ' + "[" * 100_000 + "]" * 100_000 + "}",
    "deep.ndjson": "[" * 100_000 + "]" * 100_000 + "\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_INK))
def test_hostile_ink_is_one_data_error_within_megabytes(tmp_path, name):
    path = tmp_path / name
    path.write_text(HOSTILE_INK[name])

    def featurize():
        for sample in read_ink_file(path):
            ink_features(sample.strokes, InkFeatureConfig())

    tracemalloc.start()
    try:
        with pytest.raises(DataError):
            featurize()
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    assert peak < 64, f"{name} peaked at {peak:.0f} MB"


def test_wide_ink_names_the_frame_limit(tmp_path):
    path = tmp_path / "wide.json"
    path.write_text(HOSTILE_INK["wide.json"])
    (sample,) = read_ink_file(path)
    with pytest.raises(DataError, match="over the limit of 200000"):
        ink_features(sample.strokes, InkFeatureConfig())


def test_xml_dtd_is_refused_in_utf16(tmp_path):
    doc = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE ink [<!ENTITY a "b">]><ink/>'
    path = tmp_path / "x.inkml"
    path.write_bytes(doc.encode("utf-16"))
    with pytest.raises(DataError, match="DTD"):
        read_ink_file(path)


@pytest.mark.parametrize("name", ["wide.json", "huge.json", "digits.json", "deep.json"])
def test_recognize_skips_hostile_ink_and_prints_the_good_file(ink_run, capsys, tmp_path, name):
    corpus, bundle = ink_run
    good = sorted((corpus / "lineStrokes").rglob("*.xml"))[0]
    bad = tmp_path / name
    bad.write_text(HOSTILE_INK[name])
    rc, out, err = run(capsys, "recognize", bundle, bad, good)
    assert rc == 2 and len(out.splitlines()) == 1 and good.stem in out
    assert "Traceback" not in err and f"skipping {bad}:" in err


# ---------------------------------------------------------------------------------------------
# Recipes, bundles, language models, manifests


@pytest.mark.parametrize(
    "override, words",
    [
        ("training.learning_rate=inf", "finite positive"),
        ("training.learning_rate=nan", "finite positive"),
        ("training.learning_rate_decay=0", "learning_rate_decay"),
        ("training.learning_rate_decay=1.5", "learning_rate_decay"),
        ("model.units=100000000", "1..8192"),
        ("training.batch_size=10000000", "1..65536"),
        ("features.n_fft=1073741824", "n_fft"),
        ("training.seed=" + "9" * 400, "2**32"),
        ("decoding.lm_weight=inf", "lm_weight"),
    ],
)
def test_absurd_recipe_values_are_one_line(capsys, tmp_path, override, words):
    with pytest.raises(DataError, match=words.replace("*", r"\*").replace(".", r"\.")):
        load_recipe(None, [override])
    rc, _, err = run(
        capsys, "train", "--data", tmp_path, "--out", tmp_path / "o", "--set", override
    )
    assert rc == 2 and words in one_line(err)


def test_a_recipe_that_is_not_utf8_is_one_line(tmp_path):
    path = tmp_path / "r.toml"
    path.write_bytes(b"[training]\nlearning_rate = 1e-3\n# caf\xe9\n")
    with pytest.raises(DataError, match="not UTF-8"):
        load_recipe(path)
    path.write_text("features = 3\n")
    with pytest.raises(DataError, match=r"\[features\] must be a table"):
        load_recipe(path)


@pytest.fixture
def bundle_copy(speech_model, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(speech_model["bundle"], copy)
    return copy


def test_a_bundle_may_not_ask_for_a_huge_fft(bundle_copy):
    features = json.loads((bundle_copy / "features.json").read_text())
    (bundle_copy / "features.json").write_text(json.dumps({**features, "n_fft": 2**30}))
    with pytest.raises(DataError, match=r"n_fft=1073741824 must be in \[1, 65536\]"):
        read_bundle_meta(bundle_copy)
    (bundle_copy / "features.json").write_text("[1, 2]")
    with pytest.raises(DataError, match="unreadable"):
        read_bundle_meta(bundle_copy)


def test_a_bundle_with_nan_cmvn_is_refused(bundle_copy):
    with np.load(bundle_copy / "cmvn.npz") as z:
        mean, std = z["mean"].copy(), z["std"]
    mean[0] = np.nan
    np.savez(bundle_copy / "cmvn.npz", mean=mean, std=std)
    with pytest.raises(DataError, match="NaN"):
        load_bundle(bundle_copy, engine="numpy")


ARPA_HEAD = "\\data\\\nngram 1=3\n\n\\1-grams:\n"


@pytest.mark.parametrize(
    "text, words",
    [
        ("\\data\\\n\n\\end\\\n", "no n-grams"),
        (ARPA_HEAD + "nan <s>\n-1 </s>\n-1 a\n\n\\end\\\n", "NaN or infinite"),
        (ARPA_HEAD + "-99 <s> nan\n-1 </s>\n-1 a\n\n\\end\\\n", "NaN or infinite"),
        (ARPA_HEAD + "inf <s>\n-1 </s>\n-1 a\n\n\\end\\\n", "NaN or infinite"),
        (ARPA_HEAD + "-99 <s>\n-1 </s>\n0.5 a\n\n\\end\\\n", "line 7: log-probability above 0"),
    ],
)
def test_arpa_without_ngrams_or_with_nan_is_refused(tmp_path, text, words):
    path = tmp_path / "lm.arpa"
    path.write_text(text)
    with pytest.raises(DataError, match=words):
        read_arpa(path)


@pytest.mark.parametrize(
    "field", [{"phone_times": "x"}, {"phone_times": [[0, "a"]]}, {"duration": math.inf},
              {"phones": 3}, {"duration": [1]}]
)  # fmt: skip
def test_manifest_fields_of_the_wrong_type_are_one_line(tmp_path, field):
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps({"id": "u", "audio": "a.wav", **field}, allow_nan=True) + "\n")
    with pytest.raises(DataError, match="manifest entry 'u'"):
        read_manifest(path)


def test_evaluate_skips_and_lists_an_unknown_phone_of_a_manifest(speech_model):
    bundle = load_bundle(speech_model["bundle"], engine="numpy")
    wavs = sorted((REPO / "data" / "timit-demo" / "TIMIT" / "TRAIN" / "DR1").rglob("*.WAV"))[:2]
    utts = []
    for i, wav in enumerate(wavs):
        phones = [ln.split()[2] for ln in Path(wav.with_suffix(".PHN")).read_text().splitlines()]
        if i == 0:
            phones[3] = "zz"
        utts.append(Utterance(f"u{i}", str(wav), "s", tuple(phones)))
    errors = []
    decoder = Decoder(DecoderOptions(beam=1), bundle.symbols.to_list())
    report, hyps = evaluate_bundle(
        bundle, utts, fold_to=39, decoder=decoder, on_error=errors.append
    )
    assert [str(e) for e in errors] == [
        "reference u0: unknown phone 'zz' (cannot fold to the 39-phone set)"
    ]
    assert list(hyps) == ["u1"] and report.num_utterances == 1


def test_arpa_orders_and_recipe_numbers_too_big_for_a_float_are_one_line(tmp_path):
    path = tmp_path / "lm.arpa"
    path.write_text("\\data\\\nngram 1=1\nngram " + "9" * 60 + "=1\n\n\\end\\\n")
    with pytest.raises(DataError, match="implausible count line"):
        read_arpa(path)
    path.write_text("\\data\\\nngram 1=3\nngram 2=870\n\n\\1-grams:\n-1 a\n-1 b\n")  # cut short
    with pytest.raises(DataError, match="line 3: 870 2-grams announced, but the file has 6 lines"):
        read_arpa(path)
    for override in ("features.sample_rate=" + "9" * 400, "training.momentum=" + "9" * 400):
        with pytest.raises(DataError, match="must be"):
            load_recipe(None, [override])
