"""A plain image classifier beside the digit recipe: the peer for MNIST pen-stroke digits.

A 2-D convolutional network of the kind that reads MNIST's own images (two blocks of two 3 × 3
convolutions with batch normalisation, each block max-pooled and dropped out at 0.25, then 256
units, dropout 0.5, softmax over the ten digits), in plain Keras. It reads the digits exactly
as the recipe's CRNNs see them: the ``image`` features of ``configs/mnist_ink_crnn.toml`` (the
ink drawn 28 pixels high, the box 20), each digit centred on a 28 × 36 canvas (wider images
are squeezed to 36 columns, and counted). Trained on the ``train`` manifest of
``scripts/mnist_ink.py prepare`` with a new random affine distortion of every digit each epoch
(rotation, shear, scale, shift: the usual distortions for MNIST, ``scipy.ndimage``), Adam at
2e-3 decaying by 0.8 each epoch; the epoch with the best dev accuracy is kept. ``--holdout N``
keeps the last N training digits out of training and scores them too: a second held-out set,
larger than dev, that is not the test set. It writes its answers as hypothesis files, so that
``scripts/mnist_ink.py accuracy`` scores it beside the recipe's models in one run:

    .venv/bin/python scripts/mnist_cnn_peer.py runs/mnist_full/data --out runs/mnist_full/cnn
    .venv/bin/python scripts/mnist_ink.py accuracy runs/mnist_full/data \\
        runs/mnist_full/cnn/test_hyp.txt runs/mnist_full/test_hyp.txt

Writes ``OUT/dev_hyp.txt``, ``OUT/test_hyp.txt`` and ``OUT/history.csv`` (epoch, loss, dev
accuracy); refuses an ``OUT`` that already holds them unless ``--force``. A digit whose ink
cannot be read or drawn is named, skipped and counted wrong (exit status 2 after the rest).
This is not a recognizer of the project (no CTC, one digit per image, nothing exported): it
measures what a standard image classifier makes of these digits.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import runpy
import sys
import time
from pathlib import Path

import numpy as np

from lstmrec.config import load_recipe
from lstmrec.features.errors import DataError
from lstmrec.features.files import write_text
from lstmrec.features.inkfiles import read_ink_file
from lstmrec.manifest import read_manifest
from lstmrec.progress import progress

REPO = Path(__file__).resolve().parent.parent
# The digits and their scoring line of scripts/mnist_ink.py, which scores the recipe's answers.
MNIST_INK = runpy.run_path(str(REPO / "scripts" / "mnist_ink.py"))
DIGITS, accuracy_line = MNIST_INK["DIGITS"], MNIST_INK["accuracy_line"]
RECIPE = REPO / "configs" / "mnist_ink_crnn.toml"  # the picture the recipe's CRNNs read
LEARNING_RATE, DECAY = 2e-3, 0.8  # Adam's rate in the first epoch, its factor per epoch
# Canvas columns: 4 of a digit's columns are white margin each side; 2 % of the digits (1,033
# of the 50,000) are wider. (A canvas of 44 columns, wide enough for all but 0.1 %, trained
# markedly slower: a higher loss after each of 3 epochs on 10,000 digits.)
WIDTH = 36
SPLITS = {"train": "train", "dev": "dev", "test": "core-test"}  # role -> manifest name
OUTPUTS = ("dev_hyp.txt", "test_hyp.txt", "history.csv")
# Each epoch's distortion: rotation (degrees), shear, scale and shift (pixels), drawn uniformly.
ROTATION, SHEAR, SCALE, SHIFT = 10.0, 0.15, 0.1, 2.0


def canvas(feats: np.ndarray, width: int = WIDTH) -> tuple[np.ndarray, bool]:
    """``(rows, width)`` image of ``(T, rows)`` pixel-column features, centred (an odd spare
    column goes to the right), and whether it was squeezed: an image wider than ``width`` is
    resized to it (bilinear, Pillow), as MNIST fits a wide digit's width into its box."""
    from lstmrec.features.inkimage import pillow_modules

    columns, rows = feats.shape
    if columns > width:
        image_mod, _ = pillow_modules()
        picture = image_mod.fromarray(np.ascontiguousarray(feats.T, dtype=np.float32), mode="F")
        squeezed = picture.resize((width, rows), image_mod.Resampling.BILINEAR)
        return np.asarray(squeezed, dtype=np.float32).copy(), True
    image = np.zeros((rows, width), np.float32)
    left = (width - columns) // 2
    image[:, left : left + columns] = feats.T
    return image, False


def distort(images: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """A random affine distortion of each ``(rows, columns)`` image about its centre (bilinear,
    white outside); ``strength`` scales every range (0: the images unchanged)."""
    from scipy.ndimage import affine_transform

    out = np.empty_like(images)
    centre = np.array(images.shape[1:]) / 2.0
    for i, image in enumerate(images):
        a = np.deg2rad(rng.uniform(-ROTATION, ROTATION) * strength)
        shear = rng.uniform(-SHEAR, SHEAR) * strength
        scale = 1.0 + rng.uniform(-SCALE, SCALE, size=2) * strength
        shift = rng.uniform(-SHIFT, SHIFT, size=2) * strength
        rotate = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        forward = rotate @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag(scale)
        inverse = np.linalg.inv(forward)  # affine_transform maps output pixels to input ones
        offset = centre - inverse @ (centre + shift)
        out[i] = affine_transform(image, inverse, offset=offset, order=1, cval=0.0)
    return out


@dataclasses.dataclass
class Split:
    """The digits of one manifest: every id in order, and the images and labels of those that
    could be drawn (``ids``); the others count as wrong."""

    all_ids: list[str]
    ids: list[str]
    images: np.ndarray  # (N, rows, WIDTH)
    labels: np.ndarray  # (N,) digit indices
    squeezed: int  # digits wider than the canvas, squeezed to its width

    def accuracy(self, probs: np.ndarray) -> float:
        """Share of all the split's digits whose most probable digit is their label."""
        return 1.0 - sum(self.wrong(probs)) / len(self.all_ids)

    def wrong(self, probs: np.ndarray) -> list[int]:
        """1 for each of the split's digits read wrong or not drawn, in manifest order."""
        best = probs.argmax(axis=1)
        right = {u for u, p, y in zip(self.ids, best, self.labels, strict=True) if p == y}
        return [int(u not in right) for u in self.all_ids]

    def split_off(self, n: int) -> tuple[Split, Split]:
        """``(first, last)``: the split without its last ``n`` digits, and those ``n``."""
        last_ids = set(self.all_ids[-n:])
        last = np.array([u in last_ids for u in self.ids], bool)
        parts = []
        for ids, keep in ((self.all_ids[:-n], ~last), (self.all_ids[-n:], last)):
            drawn = [u for u, k in zip(self.ids, keep, strict=True) if k]
            parts.append(Split(ids, drawn, self.images[keep], self.labels[keep], 0))
        return parts[0], parts[1]

    def answers(self, probs: np.ndarray) -> str:
        """Kaldi text lines ``id digit`` of the drawn digits, in manifest order."""
        best = dict(zip(self.ids, probs.argmax(axis=1).tolist(), strict=True))
        return "".join(f"{u} {DIGITS[best[u]]}\n" for u in self.all_ids if u in best)


def load_split(data: Path, name: str, config) -> Split:
    """The digits of ``data/<name>.jsonl`` drawn as images; unreadable ones are named on
    stderr and left out."""
    from lstmrec.featurize import checked_ink_features

    manifest = data / f"{name}.jsonl"
    if not manifest.is_file():
        raise DataError("no such manifest (run 'scripts/mnist_ink.py prepare' first)", manifest)
    utts = read_manifest(manifest)
    if not utts:
        raise DataError("the manifest has no digits", manifest)
    ids, images, labels, squeezed = [], [], [], 0
    for u in progress(utts, desc=f"drawing {name}", unit="digit"):
        if u.text not in tuple(DIGITS):
            print(f"mnist_cnn_peer: skipped: {u.path}: label {u.text!r} is not a digit",
                  file=sys.stderr)  # fmt: skip
            continue
        try:
            feats, _ = checked_ink_features(read_ink_file(u.path)[0].strokes, config, u.path)
        except DataError as e:
            print(f"mnist_cnn_peer: skipped: {e}", file=sys.stderr)
            continue
        image, was_squeezed = canvas(feats)
        ids.append(u.id)
        images.append(image)
        labels.append(DIGITS.index(u.text))
        squeezed += was_squeezed
    stacked = np.stack(images) if images else np.zeros((0, config.dim, WIDTH), np.float32)
    return Split([u.id for u in utts], ids, stacked, np.array(labels, int), squeezed)


def build_model(rows: int, seed: int):
    """The classifier, compiled (Adam, cross-entropy)."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((rows, WIDTH))
    x = layers.Reshape((rows, WIDTH, 1))(inputs)  # one grey channel
    for channels in (32, 64):
        for _ in range(2):
            x = layers.Conv2D(channels, 3, padding="same", use_bias=False)(x)
            x = layers.ReLU()(layers.BatchNormalization()(x))
        x = layers.Dropout(0.25)(layers.MaxPooling2D()(x))
    x = layers.Dropout(0.5)(layers.Dense(256, activation="relu")(layers.Flatten()(x)))
    model = keras.Model(inputs, layers.Dense(len(DIGITS), activation="softmax")(x))
    model.compile(
        optimizer=keras.optimizers.Adam(LEARNING_RATE), loss="sparse_categorical_crossentropy"
    )
    return model


def run(data: Path, out: Path, epochs: int, seed: int, force: bool, holdout: int = 0) -> int:
    """Train, keep the best dev epoch, write the answers; returns the digits skipped.
    ``holdout`` N > 0: the last N training digits are not trained on, and scored at the end."""
    if not force:
        for name in OUTPUTS:
            if (out / name).exists():
                raise DataError("exists (nothing is overwritten without --force)", out / name)
    config = load_recipe(RECIPE).features
    splits = {role: load_split(data, name, config) for role, name in SPLITS.items()}
    skipped = sum(len(s.all_ids) - len(s.ids) for s in splits.values())
    squeezed = sum(s.squeezed for s in splits.values())
    print(f"{squeezed} digit(s) wider than {WIDTH} columns squeezed to that width")
    if holdout:
        if holdout >= len(splits["train"].all_ids):
            raise DataError(f"--holdout {holdout} leaves no training digits", data)
        splits["train"], splits["holdout"] = splits["train"].split_off(holdout)
    train, dev = splits["train"], splits["dev"]
    if not train.ids or not dev.ids:
        raise DataError("no readable training or dev digits", data)
    model = build_model(config.dim, seed)
    rng = np.random.default_rng(seed)
    history, best, best_weights = ["epoch,loss,dev_accuracy\n"], -1.0, None
    for epoch in range(1, epochs + 1):
        start = time.monotonic()
        model.optimizer.learning_rate.assign(LEARNING_RATE * DECAY ** (epoch - 1))
        fit = model.fit(distort(train.images, rng), train.labels, batch_size=128, verbose=0)
        loss = fit.history["loss"][-1]
        accuracy = dev.accuracy(model.predict(dev.images, batch_size=500, verbose=0))
        history.append(f"{epoch},{loss:.5f},{accuracy:.5f}\n")
        print(f"epoch {epoch}: loss {loss:.4f}, dev accuracy {100 * accuracy:.2f} % "
              f"({time.monotonic() - start:.0f} s)", flush=True)  # fmt: skip
        if accuracy > best:
            best, best_weights = accuracy, model.get_weights()
    model.set_weights(best_weights)
    out.mkdir(parents=True, exist_ok=True)
    for role, split in splits.items():
        if role == "train":
            continue
        probs = np.zeros((0, len(DIGITS)))
        if split.ids:
            probs = model.predict(split.images, batch_size=500, verbose=0)
        if role != "holdout":  # the held-out training digits have no manifest to score against
            write_text(out / f"{role}_hyp.txt", split.answers(probs))
        print(accuracy_line(f"{role} (the best dev epoch's weights): ", split.wrong(probs)))
    write_text(out / "history.csv", "".join(history))
    return skipped


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", type=Path, help="the folder written by 'scripts/mnist_ink.py prepare'")
    p.add_argument("--out", type=Path, required=True, help="folder for the answers")
    p.add_argument("--epochs", type=int, default=16, help="training epochs (default 16)")
    p.add_argument("--seed", type=int, default=1, help="weights, order and distortions (default 1)")
    p.add_argument(
        "--holdout",
        type=int,
        default=0,
        metavar="N",
        help="keep the last N training digits out of training and score them (default 0)",
    )
    p.add_argument("--force", action="store_true", help="overwrite earlier answers in --out")
    args = p.parse_args(argv)
    if args.epochs < 1:
        p.error(f"--epochs must be at least 1, got {args.epochs}")
    if args.holdout < 0:
        p.error(f"--holdout must be 0 or more digits, got {args.holdout}")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # the digit recipe's backend
    try:
        skipped = run(args.data, args.out, args.epochs, args.seed, args.force, args.holdout)
    except DataError as e:
        print(f"mnist_cnn_peer: {e}", file=sys.stderr)
        return 2
    if skipped:
        print(f"mnist_cnn_peer: {skipped} digit(s) skipped", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
