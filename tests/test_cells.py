"""The recurrent cells (models/cells.py) against NumPy versions of their equations, and in use.

Each NumPy reference below is written from the equations in the cells' docstrings (and, for the
GRU, Keras' ``reset_after=True`` convention), in the ``W_k · [h_{t−1}, x_t] + b_k`` form, not
from the layers' code: the LSTM and GRU references checking out against Keras' own layers is what
vouches for the harness.
"""

from __future__ import annotations

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # before anything imports TensorFlow

import json
import zipfile

import keras
import numpy as np
import pytest
from keras import ops

from lstmrec import config as recipe_config
from lstmrec.backend import backend_has_gpu
from lstmrec.cli.main import build_parser, main
from lstmrec.models.blstm import build_model
from lstmrec.models.cells import (
    CELLS,
    CIFGLSTMCell,
    HoistedInputRNN,
    PeepholeLSTMCell,
    TanhRNNCell,
    gates_per_cell,
    make_recurrent,
)
from lstmrec.models.layers import LengthAwareBidirectional

B, T, F, U = 2, 5, 3, 4


# On GPUs, cuDNN and XLA multiply float32 as TF32 (10-bit mantissa) by default: outputs differ
# from float64 by ~1e-3 there (measured on an H200, torch and JAX), by ~1e-7 on CPUs.
ATOL_EQUATIONS, ATOL_PADDING = (5e-3, 5e-3) if backend_has_gpu() else (1e-5, 1e-4)


# --- NumPy references ------------------------------------------------------------------------


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def weights_of(layer: keras.layers.Layer) -> dict[str, np.ndarray]:
    """A unidirectional layer's weights by name, as float64."""
    names = [w.name for w in layer.weights]
    assert len(set(names)) == len(names), names
    return {n: w.astype(np.float64) for n, w in zip(names, layer.get_weights(), strict=True)}


def reference(cell: str, w: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Outputs ``(T, U)`` of one sequence ``x`` ``(T, F)``, zero initial state.

    Layout (documented in models/cells.py and Keras): input kernel ``kernel`` ``(F, G·U)``,
    ``recurrent_kernel`` ``(U, G·U)`` and the bias, in gate blocks of U columns: lstm and peephole
    ``[i, f, C̃, o]``, cifg ``[f, C̃, o]``, gru ``[z, r, h̃]`` with bias ``(2, 3U)`` (input row,
    recurrent row), rnn ``[h]``.
    """
    units = w["recurrent_kernel"].shape[0]
    h, c = np.zeros(units), np.zeros(units)

    def block(m, k):
        return m[..., k * units : (k + 1) * units]

    def affine(k, x_t, bias):  # W_k · [h_{t−1}, x_t] + b_k, W_k stacked as [W_hk; W_xk]
        stacked = np.vstack([block(w["recurrent_kernel"], k), block(w["kernel"], k)])
        return np.concatenate([h, x_t]) @ stacked + block(bias, k)

    out = []
    for x_t in x:
        if cell in ("lstm", "peephole"):
            p = {"i": 0.0, "f": 0.0, "o": 0.0}
            if cell == "peephole":
                p = {
                    g: w[f"{name}_peephole"]
                    for g, name in zip("ifo", ("input", "forget", "output"), strict=True)
                }
            i = sigmoid(affine(0, x_t, w["bias"]) + p["i"] * c)
            f = sigmoid(affine(1, x_t, w["bias"]) + p["f"] * c)
            c = f * c + i * np.tanh(affine(2, x_t, w["bias"]))
            o = sigmoid(affine(3, x_t, w["bias"]) + p["o"] * c)
            h = o * np.tanh(c)
        elif cell == "cifg":
            f = sigmoid(affine(0, x_t, w["bias"]))
            c = f * c + (1 - f) * np.tanh(affine(1, x_t, w["bias"]))
            h = sigmoid(affine(2, x_t, w["bias"])) * np.tanh(c)
        elif cell == "gru":
            # Keras, reset_after=True: r multiplies the recurrent part, recurrent bias included.
            b_x, b_h = w["bias"]
            x_z, x_r, x_h = (block(x_t @ w["kernel"] + b_x, k) for k in range(3))
            h_z, h_r, h_h = (block(h @ w["recurrent_kernel"] + b_h, k) for k in range(3))
            z = sigmoid(x_z + h_z)
            r = sigmoid(x_r + h_r)
            h = z * h + (1 - z) * np.tanh(x_h + r * h_h)
        elif cell == "rnn":
            h = np.tanh(affine(0, x_t, w["bias"]))
        out.append(h)
    return np.array(out)


def randomize(layer: keras.layers.Layer, seed: int) -> None:
    """Every weight random (biases and peepholes too, so each term of the equations counts)."""
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(scale=0.7, size=w.shape) for w in layer.get_weights()])


def inputs(seed: int = 0, shape=(B, T, F)) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


# --- each cell against its equations --------------------------------------------------------


@pytest.mark.parametrize("cell", CELLS)
def test_unidirectional_layer_matches_numpy_equations(cell):
    layer = make_recurrent(cell, U, name=cell)
    x = inputs(1)
    layer(x)  # build
    randomize(layer, seed=2)
    y = ops.convert_to_numpy(layer(x))
    assert y.shape == (B, T, U)
    w = weights_of(layer)
    for b in range(B):
        np.testing.assert_allclose(y[b], reference(cell, w, x[b]), atol=ATOL_EQUATIONS)


@pytest.mark.parametrize("cell", CELLS)
def test_bidirectional_layer_matches_numpy_per_length(cell):
    layer = LengthAwareBidirectional(U, cell=cell)
    x, lengths = inputs(3), [T, 3]
    layer([x, np.array(lengths, np.int32)])
    randomize(layer, seed=4)
    y = ops.convert_to_numpy(layer([x, np.array(lengths, np.int32)]))
    assert y.shape == (B, T, 2 * U)
    forward, backward = weights_of(layer.forward_lstm), weights_of(layer.backward_lstm)
    for b, n in enumerate(lengths):
        np.testing.assert_allclose(
            y[b, :n, :U], reference(cell, forward, x[b, :n]), atol=ATOL_EQUATIONS
        )
        # The backward direction starts on the last real frame, never on padding.
        expected = reference(cell, backward, x[b, :n][::-1])[::-1]
        np.testing.assert_allclose(y[b, :n, U:], expected, atol=ATOL_EQUATIONS)
        np.testing.assert_array_equal(y[b, n:], 0.0)


@pytest.mark.parametrize("cell", ["peephole", "cifg", "rnn"])
def test_fused_layer_initial_weights(cell):
    layer = make_recurrent(cell, U)
    assert isinstance(layer, HoistedInputRNN)
    layer(inputs())
    w = weights_of(layer)
    g = gates_per_cell[cell]
    assert w["kernel"].shape == (F, g * U) and w["recurrent_kernel"].shape == (U, g * U)
    # Orthogonal recurrent kernel: its rows (U of them, G·U long) are orthonormal.
    np.testing.assert_allclose(
        w["recurrent_kernel"] @ w["recurrent_kernel"].T, np.eye(U), atol=1e-5
    )
    bias = w["bias"].reshape(g, U)  # (G, U): one row per gate block
    forget = {"peephole": 1, "cifg": 0}.get(cell)
    for k in range(g):
        np.testing.assert_array_equal(bias[k], 1.0 if k == forget else 0.0)
    if cell == "peephole":
        for gate in ("input", "forget", "output"):
            np.testing.assert_array_equal(w[f"{gate}_peephole"], 0.0)
    no_forget_bias = make_recurrent(cell, U, unit_forget_bias=False)
    no_forget_bias(inputs())
    np.testing.assert_array_equal(weights_of(no_forget_bias)["bias"], 0.0)


# --- sizes -----------------------------------------------------------------------------------


def expected_params(cell: str, f: int, u: int) -> int:
    return {
        "lstm": 4 * (u * (f + u) + u),
        "peephole": 4 * (u * (f + u) + u) + 3 * u,
        "cifg": 3 * (u * (f + u) + u),
        "gru": 3 * (u * (f + u) + 2 * u),  # reset_after: separate input and recurrent biases
        "rnn": u * (f + u) + u,
    }[cell]


@pytest.mark.parametrize("cell", CELLS)
def test_parameter_counts(cell):
    f, u = 7, 5
    layer = make_recurrent(cell, u)
    layer(inputs(shape=(1, 2, f)))
    assert layer.count_params() == expected_params(cell, f, u)
    bi = LengthAwareBidirectional(u, cell=cell)
    bi([inputs(shape=(1, 2, f)), np.array([2], np.int32)])
    assert bi.count_params() == 2 * expected_params(cell, f, u)


# --- gradients over a long sequence ----------------------------------------------------------


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="uses tf.GradientTape")
@pytest.mark.parametrize("cell", ["lstm", "peephole", "cifg", "gru"])
def test_gradient_reaches_the_first_step_of_200(cell):
    import tensorflow as tf

    keras.utils.set_random_seed(6)
    # float64: through 200 steps of a randomly initialised GRU the gradient is ~1e-43, a
    # genuinely vanishing value that float32 rounds to exactly zero.
    layer = make_recurrent(cell, U, dtype="float64")
    x = tf.constant(inputs(7, shape=(1, 200, F)), dtype="float64")
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = ops.sum(layer(x)[:, -1] ** 2)  # the last step only
    grad = ops.convert_to_numpy(tape.gradient(loss, x))  # (1, 200, F)
    assert np.isfinite(grad).all()
    assert np.abs(grad[0, 0]).max() > 0  # a loop that cut the gradient would leave exact zeros


# --- in the model: padding invariance, serialization -----------------------------------------

_MODELS: dict[str, keras.Model] = {}


def small_model(cell: str) -> keras.Model:
    """A 2-layer model of ``cell``, peepholes made non-zero; built once per cell."""
    if cell not in _MODELS:
        keras.utils.set_random_seed(0)
        model = build_model(input_dim=6, num_classes=5, num_layers=2, units=8, cell=cell)
        rng = np.random.default_rng(8)
        for w in model.weights:
            if w.name.endswith("_peephole"):
                w.assign(rng.normal(scale=0.5, size=w.shape))
        _MODELS[cell] = model
    return _MODELS[cell]


def logits_of(model: keras.Model, x: np.ndarray, lengths) -> np.ndarray:
    return ops.convert_to_numpy(model([x, np.asarray(lengths, np.int32)], training=False))


@pytest.mark.parametrize("cell", CELLS)
def test_padding_with_garbage_does_not_change_logits(cell):
    model = small_model(cell)
    rng = np.random.default_rng(9)
    lengths = [11, 6, 3]
    utts = [rng.normal(size=(n, 6)).astype(np.float32) for n in lengths]
    alone = [logits_of(model, u[None], [len(u)])[0] for u in utts]
    batch = rng.normal(scale=50.0, size=(3, 14, 6)).astype(np.float32)  # garbage everywhere
    for i, u in enumerate(utts):
        batch[i, : len(u)] = u
    padded = logits_of(model, batch, lengths)
    for i, n in enumerate(lengths):
        np.testing.assert_allclose(padded[i, :n], alone[i], atol=ATOL_PADDING)


@pytest.mark.parametrize("cell", CELLS)
def test_blstm_config_round_trip(cell):
    layer = LengthAwareBidirectional(6, unit_forget_bias=False, cell=cell, name="b")
    config = layer.get_config()
    assert config["cell"] == cell
    clone = LengthAwareBidirectional.from_config(config)
    assert clone.get_config() == config
    assert clone.cell == cell and type(clone.forward_lstm) is type(layer.forward_lstm)


def test_fused_layer_and_cells_config_round_trip():
    layer = HoistedInputRNN("cifg", 6, unit_forget_bias=False, name="f")
    clone = HoistedInputRNN.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert (clone.kind, clone.units, clone.unit_forget_bias) == ("cifg", 6, False)
    for cls in (PeepholeLSTMCell, CIFGLSTMCell, TanhRNNCell):
        config = cls(7, name="c").get_config()
        assert cls.from_config(config).get_config() == config and config["units"] == 7


@pytest.mark.parametrize("cell", CELLS)
def test_model_save_and_load_give_identical_outputs(cell, tmp_path):
    model = small_model(cell)
    x, lengths = inputs(10, shape=(2, 9, 6)), [9, 5]
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.get_layer("blstm_2").cell == cell
    np.testing.assert_array_equal(logits_of(loaded, x, lengths), logits_of(model, x, lengths))


def test_bundle_saved_before_cells_loads_as_lstm(tmp_path):
    # A .keras file whose layer configs have no "cell" key, as every bundle saved before cells.
    model = small_model("lstm")
    model.save(tmp_path / "new.keras")
    with zipfile.ZipFile(tmp_path / "new.keras") as src:
        files = {name: src.read(name) for name in src.namelist()}
    config = json.loads(files["config.json"])
    for layer in config["config"]["layers"]:
        if layer["class_name"] == "LengthAwareBidirectional":
            del layer["config"]["cell"]
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "old.keras", "w") as dst:
        for name, data in files.items():
            dst.writestr(name, data)
    assert b'"cell"' not in files["config.json"]
    loaded = keras.saving.load_model(tmp_path / "old.keras")
    assert loaded.get_layer("blstm_1").cell == "lstm"
    assert isinstance(loaded.get_layer("blstm_1").forward_lstm, keras.layers.LSTM)
    x = inputs(11, shape=(1, 7, 6))
    np.testing.assert_array_equal(logits_of(loaded, x, [7]), logits_of(model, x, [7]))


# --- choosing a cell: validation, recipe, command line ---------------------------------------


def test_unknown_cells_are_rejected_by_name():
    with pytest.raises(ValueError, match="'foo'"):
        recipe_config.ModelConfig(cell="foo")
    with pytest.raises(ValueError, match="'LSTM'"):
        LengthAwareBidirectional(4, cell="LSTM")
    with pytest.raises(ValueError, match="'gru'"):
        HoistedInputRNN("gru", 4)  # GRU is Keras' layer, not a fused one
    assert recipe_config.CELLS == CELLS  # the Keras-free copy the recipe validates with
    assert recipe_config.ModelConfig().cell == "lstm"


def test_train_help_lists_cell(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    out = capsys.readouterr().out
    assert "--cell {lstm,peephole,cifg,gru,rnn}" in out


def test_train_cell_flag_sets_model_cell(monkeypatch, tmp_path, capsys):
    seen = []
    monkeypatch.setattr("lstmrec.cli.main.load_split", lambda *a, **k: [])
    monkeypatch.setattr(
        "lstmrec.training.train.train", lambda recipe, *a, **k: seen.append(recipe) or {}
    )
    common = ["train", "--data", tmp_path, "--out", tmp_path / "run"]
    assert main([str(a) for a in [*common, "--cell", "gru"]]) == 0
    assert main([str(a) for a in [*common, "--set", "model.cell=cifg"]]) == 0
    assert main([str(a) for a in [*common, "--set", "model.cell=cifg", "--cell", "rnn"]]) == 0
    assert [r.model.cell for r in seen] == ["gru", "cifg", "rnn"]
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:  # argparse: an invalid choice, status 2
        main([str(a) for a in [*common, "--cell", "foo"]])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "argument --cell: invalid choice: 'foo'" in err
