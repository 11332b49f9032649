"""Image classifiers beside the digit recipe: the peers for MNIST pen-stroke digits.

``--arch plain`` (the default): a 2-D convolutional network of the kind that reads MNIST's own
images (two blocks of two 3 × 3 convolutions with batch normalisation, each block max-pooled
and dropped out at 0.25, then 256 units, dropout 0.5, softmax over the ten digits), in plain
Keras; Adam at 2e-3 decaying by 0.8 each epoch, 16 epochs. ``--arch deep``: the deeper network
of the strongest single models on MNIST's images (each block two 3 × 3 convolutions and a
strided 5 × 5 one in place of pooling, then a 4 × 4 convolution of 128 channels); 2e-3 decaying
by 0.9, 24 epochs. ``--arch wide``: the deep network with twice its channels (64, 128, 256),
20 epochs. Each reads the digits exactly as the recipe's CRNNs see them: the ``image``
features of ``configs/mnist_ink_crnn.toml`` (the ink drawn 28 pixels high, the box 20), each
digit centred on a 28 × 36 canvas (wider images are squeezed to 36 columns, and counted).
``--deslant`` shears each digit upright before drawing it: a second normalisation of the same
digits, for a network that errs differently from one on the digits as written. ``--trajectory``
draws the pen's path beside the picture, in 12 more planes of the same canvas: the ink drawn in
each of 8 directions of movement, in each third of the path's length, and the pen's moves
between strokes (the direction and path maps of on-line character recognisers; the grey picture
alone cannot tell the order and direction of the pen).
Trained on the ``train`` manifest of ``scripts/mnist_ink.py prepare`` with a new random affine
distortion of every digit each epoch (rotation, shear, scale, shift: the usual distortions for
MNIST, ``scipy.ndimage``; ``--elastic`` bends them too, Simard et al. 2003's elastic
distortion); the epoch with the best dev accuracy is kept. ``--holdout N`` keeps the last N
training digits out of training and scores them too: a second held-out set, larger than dev,
that is not the test set. It writes its answers as hypothesis files, so that
``scripts/mnist_ink.py accuracy`` scores it beside the recipe's models in one run:

    .venv/bin/python scripts/mnist_cnn_peer.py runs/mnist_full/data --out runs/mnist_full/cnn
    .venv/bin/python scripts/mnist_ink.py accuracy runs/mnist_full/data \\
        runs/mnist_full/cnn/test_hyp.txt runs/mnist_full/test_hyp.txt

Writes ``OUT/dev_hyp.txt``, ``OUT/test_hyp.txt``, ``OUT/history.csv`` (epoch, loss, dev
accuracy) and ``OUT/probs.npz`` (each scored digit's probabilities, and those of 8 distorted
copies of it at half the training distortion); refuses an ``OUT`` that already holds them
unless ``--force``. ``--combine RUN... [--copies K]`` trains nothing: it adds the runs'
log-probabilities of each digit (and of its first K copies), scores dev, test and, when every
run held the same digits out, the held-out ones, and writes the combined answers to ``--out``.
A digit whose ink cannot be read or drawn is named, skipped and counted wrong (exit status 2
after the rest). These are not recognizers of the project (no CTC, one digit per image,
nothing exported): they measure what standard image classifiers make of these digits.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import itertools
import os
import runpy
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

from lstmrec.config import load_recipe
from lstmrec.features.errors import DataError
from lstmrec.features.files import atomic_path, check_output, write_text
from lstmrec.features.ink import MAX_INK_FRAMES, normalized_ink
from lstmrec.features.inkfiles import read_ink_file
from lstmrec.features.inkimage import PEN_WIDTH, draw_paths, image_features, image_grid
from lstmrec.manifest import read_manifest
from lstmrec.progress import progress

REPO = Path(__file__).resolve().parent.parent
# The digits, their scoring line and manifests of scripts/mnist_ink.py, which scores the
# recipe's answers.
MNIST_INK = runpy.run_path(str(REPO / "scripts" / "mnist_ink.py"))
DIGITS, accuracy_line = MNIST_INK["DIGITS"], MNIST_INK["accuracy_line"]
manifest_path = MNIST_INK["manifest_path"]
RECIPE = REPO / "configs" / "mnist_ink_crnn.toml"  # the picture the recipe's CRNNs read
# Canvas columns: 4 of a digit's columns are white margin each side; 2 % of the digits (1,033
# of the 50,000) are wider. (A canvas of 44 columns, wide enough for all but 0.1 %, trained
# markedly slower: a higher loss after each of 3 epochs on 10,000 digits.)
WIDTH = 36
SPLITS = {"train": "train", "dev": "dev", "test": "core-test"}  # role -> manifest name
OUTPUTS = ("dev_hyp.txt", "test_hyp.txt", "history.csv", "probs.npz")
# Each epoch's distortion: rotation (degrees), shear, scale and shift (pixels), drawn uniformly.
ROTATION, SHEAR, SCALE, SHIFT = 10.0, 0.15, 0.1, 2.0
# --elastic: the displacement field's smoothing (pixels) and scale, Simard et al. 2003's values
# for MNIST's 28 x 28 images (ours are drawn at the same scale): about 1.4 pixels of typical
# displacement, smooth over about 4 pixels (a fifth of the digit's height).
ELASTIC_SIGMA, ELASTIC_ALPHA = 4.0, 34.0
# Distorted copies of every scored digit read after training (at half the training distortion,
# the same copies in every run), kept beside the digits' own probabilities for --combine.
COPIES, COPY_STRENGTH, COPY_SEED = 8, 0.5, 0
# --trajectory: planes of the pen's direction of movement (8 sectors of 45 degrees, the first
# centred on rightward, then clockwise as y grows downward) and of its path's thirds.
DIRECTIONS, THIRDS = 8, 3


def trajectory_image(strokes, config, source) -> np.ndarray:
    """``(columns, rows, 13)``: the picture of the ``image`` features of ``config`` and, beside
    it, the planes of the pen's path on its grid: the segments moving in each of
    :data:`DIRECTIONS` directions, those in each of :data:`THIRDS` thirds of the path's length,
    and the pen's moves between strokes, each drawn with the picture's pen, 0 to 1. The ink is
    normalised once for both; :class:`DataError` naming ``source`` for unusable ink."""
    try:
        ink, _ = normalized_ink(strokes, config)
        grey, _ = image_features(ink, config.reference, config.spacing, MAX_INK_FRAMES)
    except DataError as e:
        raise DataError(e.reason, source) from None
    origin, columns, rows = image_grid(ink, config.reference, config.spacing)
    paths = [(s[:, :2] - origin) / config.spacing for s in ink]
    segments = np.concatenate([np.stack([p[:-1], p[1:]], axis=1) for p in paths])  # (S, 2, 2)
    step = segments[:, 1] - segments[:, 0]
    length = np.hypot(step[:, 0], step[:, 1])
    moving = length > 0
    sector = np.round(np.arctan2(step[:, 1], step[:, 0]) / (2 * np.pi / DIRECTIONS))
    sector = sector.astype(int) % DIRECTIONS
    along = (np.cumsum(length) - length / 2) / max(float(length.sum()), 1e-9)
    third = np.minimum((along * THIRDS).astype(int), THIRDS - 1)
    groups = [moving & (sector == d) for d in range(DIRECTIONS)]
    groups += [moving & (third == k) for k in range(THIRDS)]
    pen_px = PEN_WIDTH / config.spacing
    planes = [draw_paths(list(segments[g]), pen_px, (columns, rows)) for g in groups]
    lifts = [np.stack([a[-1], b[0]]) for a, b in itertools.pairwise(paths)]
    planes.append(draw_paths(lifts, pen_px, (columns, rows)))
    planes = (255 - np.stack(planes, axis=-1).transpose(1, 0, 2).astype(np.float32)) / 255.0
    return np.concatenate([grey[:, :, None], planes], axis=2)


def canvas(feats: np.ndarray, width: int = WIDTH) -> tuple[np.ndarray, bool]:
    """``(rows, width)`` image of ``(T, rows)`` pixel-column features (``(rows, width, C)`` of
    ``(T, rows, C)`` planes), centred (an odd spare column goes to the right), and whether it
    was squeezed: an image wider than ``width`` is resized to it (bilinear, Pillow), as MNIST
    fits a wide digit's width into its box."""
    from lstmrec.features.inkimage import pillow_modules

    columns, rows = feats.shape[:2]
    planes = feats.reshape(columns, rows, -1).transpose(1, 0, 2)  # (rows, columns, C)
    image = np.zeros((rows, width, planes.shape[2]), np.float32)
    if columns > width:
        image_mod, _ = pillow_modules()
        for c in range(planes.shape[2]):
            plane = np.ascontiguousarray(planes[:, :, c], dtype=np.float32)
            squeezed = image_mod.fromarray(plane, mode="F").resize(
                (width, rows), image_mod.Resampling.BILINEAR
            )
            image[:, :, c] = np.asarray(squeezed, dtype=np.float32)
    else:
        left = (width - columns) // 2
        image[:, left : left + columns] = planes
    return image.reshape(image.shape[:2] + feats.shape[2:]), columns > width


def distort(
    images: np.ndarray, rng: np.random.Generator, strength: float = 1.0, elastic: float = 0.0
) -> np.ndarray:
    """A random affine distortion of each ``(rows, columns)`` image (or each of its planes, the
    same way, for ``(rows, columns, C)``) about its centre (bilinear, white outside);
    ``strength`` scales every range (0: the images unchanged). ``elastic`` > 0 bends it too: a
    smooth random displacement field (uniform noise smoothed by a Gaussian of
    ``ELASTIC_SIGMA`` pixels, times ``elastic``: Simard et al. 2003's elastic distortion)
    added to the affine map, both applied in one interpolation."""
    from scipy.ndimage import gaussian_filter, map_coordinates

    out = np.empty_like(images)
    shape = images.shape[1:3]
    centre = np.array(shape, dtype=np.float64)[:, None] / 2.0
    grid = np.indices(shape, dtype=np.float64).reshape(2, -1)  # each output pixel's (row, col)
    for i, image in enumerate(images):
        a = np.deg2rad(rng.uniform(-ROTATION, ROTATION) * strength)
        shear = rng.uniform(-SHEAR, SHEAR) * strength
        scale = 1.0 + rng.uniform(-SCALE, SCALE, size=2) * strength
        shift = rng.uniform(-SHIFT, SHIFT, size=2)[:, None] * strength
        rotate = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        forward = rotate @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag(scale)
        # The input pixel each output pixel is read from: the inverse map.
        coords = np.linalg.inv(forward) @ (grid - centre - shift) + centre
        if elastic:
            noise = rng.uniform(-1.0, 1.0, size=(2, *shape))
            field = gaussian_filter(noise, sigma=(0, ELASTIC_SIGMA, ELASTIC_SIGMA))
            coords += field.reshape(2, -1) * (elastic * strength)
        planes = image.reshape(image.shape[:2] + (-1,))
        for c in range(planes.shape[2]):
            out[i].reshape(planes.shape)[:, :, c] = map_coordinates(
                planes[:, :, c], coords, order=1, cval=0.0
            ).reshape(shape)
    return out


@dataclasses.dataclass
class Split:
    """The digits of one manifest: every id in order, and the images and labels of those that
    could be drawn (``ids``); the others count as wrong."""

    all_ids: list[str]
    ids: list[str]
    images: np.ndarray  # (N, rows, WIDTH), or (N, rows, WIDTH, planes) with --trajectory
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
        return answer_lines(self.all_ids, dict(zip(self.ids, probs.argmax(axis=1), strict=True)))


def answer_lines(all_ids: list[str], best: dict[str, int]) -> str:
    """Kaldi text lines ``id digit`` of the digits in ``best`` (id -> digit index), in the
    order of ``all_ids``."""
    return "".join(f"{u} {DIGITS[best[u]]}\n" for u in all_ids if u in best)


def load_split(data: Path, name: str, config, trajectory: bool = False) -> Split:
    """The digits of ``data/<name>.jsonl`` drawn as images (with ``trajectory``, the picture
    and the planes of :func:`trajectory_image`); unreadable ones are named on stderr and left
    out."""
    from lstmrec.featurize import checked_ink_features

    manifest = manifest_path(data, name)
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
            strokes = read_ink_file(u.path)[0].strokes
            if trajectory:
                feats = trajectory_image(strokes, config, u.path)
            else:
                feats, _ = checked_ink_features(strokes, config, u.path)
        except DataError as e:
            print(f"mnist_cnn_peer: skipped: {e}", file=sys.stderr)
            continue
        image, was_squeezed = canvas(feats)
        ids.append(u.id)
        images.append(image)
        labels.append(DIGITS.index(u.text))
        squeezed += was_squeezed
    empty = (0, config.dim, WIDTH) + ((1 + DIRECTIONS + THIRDS + 1,) if trajectory else ())
    stacked = np.stack(images) if images else np.zeros(empty, np.float32)
    return Split([u.id for u in utts], ids, stacked, np.array(labels, int), squeezed)


def plain_layers(x, layers):
    """Two blocks of two 3 x 3 convolutions (32, then 64 channels), each block max-pooled and
    dropped out at 0.25, then 256 units dropped out at 0.5: the usual small MNIST network."""
    for channels in (32, 64):
        for _ in range(2):
            x = layers.Conv2D(channels, 3, padding="same", use_bias=False)(x)
            x = layers.ReLU()(layers.BatchNormalization()(x))
        x = layers.Dropout(0.25)(layers.MaxPooling2D()(x))
    return layers.Dropout(0.5)(layers.Dense(256, activation="relu")(layers.Flatten()(x)))


def deep_layers(x, layers, widths=(32, 64, 128)):
    """Two blocks of two 3 x 3 convolutions and a strided 5 x 5 one that halves the image (32,
    then 64 channels), each block dropped out at 0.4, then a 4 x 4 convolution of 128 channels:
    the deeper network of the strongest single models on MNIST's own images, with learned
    subsampling in place of pooling. ``widths``: the three layers' channels."""

    def conv(x, channels, size, stride=1, padding="same"):
        x = layers.Conv2D(channels, size, strides=stride, padding=padding, use_bias=False)(x)
        return layers.ReLU()(layers.BatchNormalization()(x))

    for channels in widths[:2]:
        x = conv(conv(x, channels, 3), channels, 3)
        x = layers.Dropout(0.4)(conv(x, channels, 5, stride=2))
    return layers.Dropout(0.4)(layers.Flatten()(conv(x, widths[2], 4, padding="valid")))


# name -> (layers, Adam's learning rate in the first epoch, its factor per epoch, epochs).
# 'wide' is 'deep' with twice the channels (3.8 times the weights, about 2.4 times the time per
# epoch on the 2-core machine), trained 20 epochs rather than 24 to fit a working session.
ARCHS = {
    "plain": (plain_layers, 2e-3, 0.8, 16),
    "deep": (deep_layers, 2e-3, 0.9, 24),
    "wide": (functools.partial(deep_layers, widths=(64, 128, 256)), 2e-3, 0.9, 20),
}


def build_model(rows: int, seed: int, arch: str = "plain", planes: int = 0):
    """The classifier, compiled (Adam, cross-entropy): of ``(rows, WIDTH)`` grey images, or of
    ``(rows, WIDTH, planes)`` ones when ``planes``."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((rows, WIDTH, planes) if planes else (rows, WIDTH))
    x = inputs if planes else layers.Reshape((rows, WIDTH, 1))(inputs)  # one grey channel
    x = ARCHS[arch][0](x, layers)
    model = keras.Model(inputs, layers.Dense(len(DIGITS), activation="softmax")(x))
    model.compile(
        optimizer=keras.optimizers.Adam(ARCHS[arch][1]), loss="sparse_categorical_crossentropy"
    )
    return model


def run(
    data: Path,
    out: Path,
    epochs: int,
    seed: int,
    force: bool,
    holdout: int = 0,
    arch: str = "plain",
    deslant: bool = False,
    trajectory: bool = False,
    elastic: bool = False,
) -> int:
    """Train, keep the best dev epoch, write the answers; returns the digits skipped.
    ``holdout`` N > 0: the last N training digits are not trained on, and scored at the end.
    ``deslant``: each digit sheared upright before it is drawn (a second normalisation, whose
    network errs differently). ``trajectory``: the pen's path drawn beside the picture.
    ``elastic``: each epoch's distortion bends the digits too (:func:`distort`)."""
    for name in OUTPUTS:
        check_output(out / name, force=force, flag="--out")
    config = dataclasses.replace(load_recipe(RECIPE).features, deslant=deslant)
    splits = {role: load_split(data, name, config, trajectory) for role, name in SPLITS.items()}
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
    model = build_model(config.dim, seed, arch, train.images.shape[3] if trajectory else 0)
    _, learning_rate, decay, _ = ARCHS[arch]
    rng = np.random.default_rng(seed)
    history, best, best_weights = ["epoch,loss,dev_accuracy\n"], -1.0, None
    for epoch in range(1, epochs + 1):
        start = time.monotonic()
        model.optimizer.learning_rate.assign(learning_rate * decay ** (epoch - 1))
        images = distort(train.images, rng, elastic=ELASTIC_ALPHA if elastic else 0.0)
        fit = model.fit(images, train.labels, batch_size=128, verbose=0)
        loss = fit.history["loss"][-1]
        accuracy = dev.accuracy(model.predict(dev.images, batch_size=500, verbose=0))
        history.append(f"{epoch},{loss:.5f},{accuracy:.5f}\n")
        print(f"epoch {epoch}: loss {loss:.4f}, dev accuracy {100 * accuracy:.2f} % "
              f"({time.monotonic() - start:.0f} s)", flush=True)  # fmt: skip
        if accuracy > best:
            best, best_weights = accuracy, model.get_weights()
    model.set_weights(best_weights)
    out.mkdir(parents=True, exist_ok=True)
    saved = {}  # each scored split's drawn digits and their probabilities, for combining runs
    for role, split in splits.items():
        if role == "train":
            continue
        probs, copies = np.zeros((0, len(DIGITS))), np.zeros((COPIES, 0, len(DIGITS)))
        if split.ids:
            probs = model.predict(split.images, batch_size=500, verbose=0)
            copy_rng = np.random.default_rng(COPY_SEED)
            copies = np.stack([
                model.predict(distort(split.images, copy_rng, COPY_STRENGTH), batch_size=500,
                              verbose=0)
                for _ in range(COPIES)
            ])  # fmt: skip
        saved |= {f"{role}_ids": np.array(split.ids), f"{role}_probs": probs,
                  f"{role}_copies": copies}  # fmt: skip
        if role != "holdout":  # the held-out training digits have no manifest to score against
            write_text(out / f"{role}_hyp.txt", split.answers(probs))
        print(accuracy_line(f"{role} (the best dev epoch's weights): ", split.wrong(probs)))
    write_text(out / "history.csv", "".join(history))
    with atomic_path(out / "probs.npz") as tmp:
        np.savez(tmp, **saved)
    return skipped


def combine(data: Path, runs: list[Path], copies: int, out: Path | None, force: bool) -> None:
    """Score the runs' digits together: each digit's log-probabilities added over the runs and
    over the first ``copies`` distorted copies each run read; writes the combined answers to
    ``out`` when given."""
    for name in OUTPUTS[:2] if out is not None else ():
        check_output(out / name, force=force, flag="--out")
    for name in SPLITS.values():
        manifest_path(data, name)
    saved = []
    for run_dir in runs:
        try:
            with open(run_dir / "probs.npz", "rb") as f, np.load(f) as npz:
                saved.append({key: npz[key] for key in npz.files})
        except (OSError, ValueError, TypeError, zipfile.BadZipFile) as e:
            raise DataError(f"no probabilities of a finished run ({e})", run_dir) from None
        if copies and len(saved[-1].get("test_copies", ())) < copies:
            raise DataError(f"fewer than {copies} distorted copies", run_dir / "probs.npz")
    answers = {}
    for role in ("dev", "test", "holdout"):
        if not all(f"{role}_ids" in s for s in saved):
            continue
        ids = list(saved[0][f"{role}_ids"])
        scores = np.zeros((len(ids), len(DIGITS)))
        for run_dir, s in zip(runs, saved, strict=True):
            if list(s[f"{role}_ids"]) != ids:
                raise DataError(f"its {role} digits differ from {runs[0]}'s", run_dir)
            views = [s[f"{role}_probs"], *s.get(f"{role}_copies", ())[:copies]]
            scores += sum(np.log(np.maximum(v, 1e-30)) for v in views)
        best = dict(zip(ids, scores.argmax(axis=1).tolist(), strict=True))
        manifest = data / f"{'train' if role == 'holdout' else SPLITS[role]}.jsonl"
        utts = read_manifest(manifest)
        labels = {u.id: u.text for u in utts}
        stray = next((u for u in ids if u not in labels), None)
        if stray is not None:  # the runs read another prepared folder
            raise DataError(f"its {role} digit {stray} is not in {manifest}", runs[0])
        if role == "holdout":  # the held-out training digits: those that were drawn
            all_ids = ids
        else:
            all_ids = [u.id for u in utts]
            answers[role] = answer_lines(all_ids, best)
        wrong = [int(u not in best or DIGITS[best[u]] != labels[u]) for u in all_ids]
        print(accuracy_line(f"{role} ({len(runs)} run(s), {copies} copies): ", wrong))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for role, text in answers.items():
            write_text(out / f"{role}_hyp.txt", text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", type=Path, help="the folder written by 'scripts/mnist_ink.py prepare'")
    p.add_argument("--out", type=Path, help="folder for the answers (required unless --combine)")
    p.add_argument(
        "--arch",
        choices=sorted(ARCHS),
        default="plain",
        help="the network: 'plain' (default), 'deep' or 'wide' (module text)",
    )
    p.add_argument(
        "--epochs",
        type=int,
        help="training epochs (default: 16 for 'plain', 24 for 'deep', 20 for 'wide')",
    )
    p.add_argument("--seed", type=int, default=1, help="weights, order and distortions (default 1)")
    p.add_argument(
        "--holdout",
        type=int,
        default=0,
        metavar="N",
        help="keep the last N training digits out of training and score them (default 0)",
    )
    drawing = p.add_mutually_exclusive_group()
    drawing.add_argument(
        "--deslant", action="store_true", help="shear each digit upright before drawing it"
    )
    drawing.add_argument(
        "--trajectory",
        action="store_true",
        help="draw the pen's directions, path thirds and moves between strokes beside the picture",
    )
    p.add_argument(
        "--elastic",
        action="store_true",
        help="bend the training digits too: an elastic distortion added to the affine one",
    )
    p.add_argument("--force", action="store_true", help="overwrite earlier answers in --out")
    p.add_argument(
        "--combine",
        type=Path,
        nargs="+",
        metavar="RUN",
        help="train nothing: score these runs' digits together (their probs.npz)",
    )
    p.add_argument(
        "--copies",
        type=int,
        default=0,
        metavar="K",
        help=f"with --combine: add each run's first K distorted copies (0-{COPIES}, default 0)",
    )
    args = p.parse_args(argv)
    if args.epochs is None:
        args.epochs = ARCHS[args.arch][3]
    if args.epochs < 1:
        p.error(f"--epochs must be at least 1, got {args.epochs}")
    if args.holdout < 0:
        p.error(f"--holdout must be 0 or more digits, got {args.holdout}")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # the digit recipe's backend
    if not 0 <= args.copies <= COPIES:
        p.error(f"--copies must be 0 to {COPIES}, got {args.copies}")
    if args.combine:
        try:
            combine(args.data, args.combine, args.copies, args.out, args.force)
        except DataError as e:
            print(f"mnist_cnn_peer: {e}", file=sys.stderr)
            return 2
        return 0
    if args.out is None:
        p.error("--out is required to train")
    try:
        skipped = run(
            args.data,
            args.out,
            args.epochs,
            args.seed,
            args.force,
            args.holdout,
            args.arch,
            args.deslant,
            args.trajectory,
            args.elastic,
        )
    except DataError as e:
        print(f"mnist_cnn_peer: {e}", file=sys.stderr)
        return 2
    if skipped:
        print(f"mnist_cnn_peer: {skipped} digit(s) skipped", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
