"""The NumPy inference engine against the Keras model it is read from.

Every cell type, random (not initial) weights so that peepholes, biases and the GRU's recurrent
bias all matter, a padded batch of very different lengths: the logits on real frames must agree
with Keras to float32 round-off, and each utterance must get the same logits alone as in the
batch. The command line must transcribe with it without importing Keras or any backend.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import random_model

from lstmrec.bundle import Bundle, load_bundle, save_bundle
from lstmrec.features.audio import FeatureConfig
from lstmrec.features.errors import DataError
from lstmrec.models.cells import CELLS
from lstmrec.models.numpy_blstm import UnsupportedModel, load_numpy_model, reverse_by_length
from lstmrec.phones import SymbolTable

REPO = Path(__file__).resolve().parents[1]
WAV = REPO / "data" / "timit-demo" / "TIMIT" / "TRAIN" / "DR3" / "MADC0" / "SX197.WAV"
TOL = 1e-4


def test_reverse_by_length_hand_computed():
    x = np.arange(8).reshape(4, 2)  # (T=4, B=2): column b is sequence b
    y = reverse_by_length(x, np.array([3, 1]))
    assert y.tolist() == [[4, 1], [2, 3], [0, 5], [6, 7]]


@pytest.mark.parametrize("cell", CELLS)
def test_numpy_logits_match_keras(cell, tmp_path):
    model = random_model(cell)
    model.save(tmp_path / "model.keras")
    engine = load_numpy_model(tmp_path / "model.keras")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 16, 7)).astype(np.float32)  # padded to 16, like pad_multiple
    lengths = np.array([13, 5, 1], dtype=np.int32)
    x[np.arange(16)[None, :] >= lengths[:, None]] = 0.0
    want = np.asarray(model.predict_on_batch([x, lengths]))
    got = engine.predict_on_batch([x, lengths])
    assert got.shape == want.shape == (3, 16, 5)
    for b, n in enumerate(lengths):
        assert np.abs(got[b, :n] - want[b, :n]).max() < TOL, (cell, b)
        alone = engine.predict_on_batch([x[b : b + 1, :n], lengths[b : b + 1]])
        assert np.abs(alone[0] - got[b, :n]).max() < TOL, (cell, b)
    # Real logits vary over time: a bug that dropped the recurrence would not.
    assert np.ptp(got[0, :13], axis=0).max() > 0.1


def test_conv_front_end_matches_keras_alone_and_in_a_batch(tmp_path):
    """The image-column front end (models.layers.ColumnConv) in both engines: the same logits,
    and each sequence the same alone as in the padded batch (padding is zeroed before every
    block, as the convolution's own zero padding past the end would be)."""
    from lstmrec.models.numpy_stream import is_causal

    model = random_model("lstm", input_dim=8, conv=(3, 4), seed=7)
    model.save(tmp_path / "model.keras")
    engine = load_numpy_model(tmp_path / "model.keras")
    assert engine.front is not None and not is_causal(engine)  # a convolution looks ahead
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(3, 16, 8)).astype(np.float32)
    lengths = np.array([11, 4, 1], dtype=np.int32)
    x[np.arange(16)[None, :] >= lengths[:, None]] = 0.7  # padding that must not leak in
    want = np.asarray(model.predict_on_batch([x, lengths]))
    got = engine.predict_on_batch([x, lengths])
    assert got.shape == want.shape == (3, 16, 5)
    for b, n in enumerate(lengths):
        assert np.abs(got[b, :n] - want[b, :n]).max() < TOL, b
        alone = np.asarray(model.predict_on_batch([x[b : b + 1, :n], lengths[b : b + 1]]))
        assert np.abs(alone[0] - want[b, :n]).max() < TOL, b
    # Other pixels in frame 5 change the front end's output next to it, and nothing beyond two
    # frames of it (two 3 x 3 blocks; a ReLU or the pooling may hide the change at the edge).
    y = x.copy()
    y[0, 5] = 1.0 - y[0, 5]
    changed = np.abs(engine.front(y, lengths) - engine.front(x, lengths))[0].max(axis=1) > 0
    assert {4, 5, 6} <= set(np.flatnonzero(changed)) <= {3, 4, 5, 6, 7}


def test_conv_front_end_hand_computed():
    """One block, one channel, a kernel that sums the 3 x 3 window, bias -1: a single lit pixel
    lights its 3 x 3 neighbourhood (0 after the bias and ReLU elsewhere), then rows pool by 2."""
    from lstmrec.models.numpy_blstm import ColumnConv

    conv = ColumnConv([np.ones((3, 3, 1, 1))], [np.array([-1.0])])
    x = np.zeros((1, 4, 4), dtype=np.float32)
    x[0, 1, 2] = 3.0  # frame 1, row 2
    out = conv(x, np.array([3]))
    assert out.shape == (1, 4, 2)
    # frames 0-2 see the pixel: rows 1-3 are 2, row 0 is 0 -> pooled (rows 0-1, rows 2-3)
    assert out[0].tolist() == [[2.0, 2.0], [2.0, 2.0], [2.0, 2.0], [0.0, 0.0]]
    # A length of 1 zeroes frames 1-3 first: the pixel is gone.
    assert not conv(x, np.array([1])).any()


def test_unsupported_layer_is_refused(tmp_path):
    import keras

    features = keras.Input(shape=(None, 4), name="features")
    lengths = keras.Input(shape=(), dtype="int32", name="lengths")
    hidden = keras.layers.LayerNormalization()(features)
    model = keras.Model([features, lengths], keras.layers.Dense(3)(hidden))
    model.save(tmp_path / "model.keras")
    with pytest.raises(UnsupportedModel, match="LayerNormalization"):
        load_numpy_model(tmp_path / "model.keras")


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory) -> Path:
    """A tiny bundle (1 × 8 LSTM, random weights) for the default fbank features."""
    features = FeatureConfig()
    symbols = SymbolTable.timit61()
    model = random_model(
        "lstm", input_dim=features.dim, num_classes=len(symbols), layers=1, units=8, dropout=0.0
    )
    rng = np.random.default_rng(0)
    mean = rng.normal(size=features.dim).astype(np.float32)
    std = (1 + rng.random(features.dim)).astype(np.float32)
    path = tmp_path_factory.mktemp("bundle") / "model"
    save_bundle(path, Bundle(model, features, symbols, mean, std, {"recipe": {}}))
    return path


def test_bundle_engines_agree(bundle_dir):
    keras_bundle = load_bundle(bundle_dir, engine="keras")
    numpy_bundle = load_bundle(bundle_dir, engine="numpy")
    x = np.random.default_rng(2).normal(size=(2, 40, 123)).astype(np.float32)
    lengths = np.array([40, 23], dtype=np.int32)
    want = np.asarray(keras_bundle.model.predict_on_batch([x, lengths]))
    got = numpy_bundle.model.predict_on_batch([x, lengths])
    for b, n in enumerate(lengths):
        assert np.abs(got[b, :n] - want[b, :n]).max() < TOL


def test_damaged_weights_are_a_data_error(bundle_dir, tmp_path):
    broken = tmp_path / "model"
    broken.mkdir()
    for f in bundle_dir.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    (broken / "model.keras").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(DataError, match="cannot load model"):
        load_bundle(broken, engine="numpy")
    # The Keras engine names the damage as the NumPy engine does (Keras: "File not found").
    for engine in ("numpy", "keras"):
        with pytest.raises(DataError, match=r"\(BadZipFile: File is not a zip file\)$"):
            load_bundle(broken, engine=engine)


def test_transcribe_never_imports_keras(bundle_dir):
    """A fresh ``lstmrec transcribe`` on the default engine loads no Keras and no backend, and
    prints what the Keras engine prints."""
    code = (
        "import sys\n"
        "from lstmrec.cli.main import main\n"
        f"rc = main(['transcribe', {str(bundle_dir)!r}, {str(WAV)!r}, '--format', 'json'])\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules}"
        " & {'keras', 'tensorflow', 'jax', 'torch'})\n"
        "print('IMPORTED', heavy, file=sys.stderr)\n"
        "sys.exit(rc)\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    runs = {}
    for engine in ("numpy", "keras"):
        src = code.replace("'json']", f"'json', '--engine', '{engine}']")
        proc = subprocess.run(
            [sys.executable, "-c", src], cwd=REPO, capture_output=True, text=True, env=env
        )
        assert proc.returncode == 0, proc.stderr
        runs[engine] = (json.loads(proc.stdout), proc.stderr)
    assert "IMPORTED []" in runs["numpy"][1]
    assert "IMPORTED []" not in runs["keras"][1]  # the check itself can see an import
    assert runs["numpy"][0] == runs["keras"][0]
    assert runs["numpy"][0]["phones"]  # random weights still emit some phones
