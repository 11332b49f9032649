"""A synthetic handwriting corpus of many hands, real English text and augmented training ink.

:func:`write_hands_corpus` writes the training corpus of the shipped English ink model, in the
IAM-OnDB layout (so the ordinary readers, ``prepare``, ``train`` and ``evaluate`` read it):

- writers: ``writers_per_hand`` simulated writers for every hand of ``HANDS``
  (:mod:`lstmrec.corpora.ink_hands`), each with its own slant, size, spacing, baseline,
  jitter, speed, connection and stroke-order habits (:func:`~lstmrec.corpora.synth_ink.
  writer_style`), some writing their digits as real MNIST pen-stroke digits;
- splits by hand: the ``train`` hands' writers are the training set, the ``dev`` hands' the
  validation set, the ``test`` hands' the held-out test set; no hand, and no font family, is
  in two splits;
- text: lines of the ``fortunes`` collection (:mod:`lstmrec.corpora.ink_text`), train texts
  for training writers and held-out texts for held-out writers; a share (``number_share``) of
  the training lines are number lines (:func:`~lstmrec.corpora.ink_text.number_text`), half of
  them written with MNIST digits whatever the writer's habit, so that digits are learnt; a
  share of the dev lines (``dev_number_share``, none by default) may be number lines too, so
  that a model trained for numbers is also chosen on them; test lines never change;
- digits: MNIST digits of the ``train`` part of ``MNIST_SPLITS`` for training writers, of the
  ``dev`` part for held-out writers; its ``test`` digits are never written;
- augmentation (:class:`~lstmrec.features.inkaugment.InkAugment`) on every training line,
  with its own draw; held-out lines are written as their writer writes them.

The same spec always gives the same corpus.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from lstmrec.corpora.ink_hands import HANDS, MnistDigits, hands_of
from lstmrec.corpora.ink_text import FORTUNES_DIR, NUMBER_SHARE, number_text, text_lines
from lstmrec.corpora.mnist_strokes import MNIST_SPLITS
from lstmrec.corpora.synth_ink import LINES_PER_FORM, render_line, write_tree, writer_style
from lstmrec.features.inkaugment import InkAugment
from lstmrec.progress import progress

WRITER_LETTERS = "wxyzabcdefghijklmnopqrstuv"  # writer ids w00..w99, x00..x99, ...


@dataclasses.dataclass(frozen=True)
class HandsCorpusSpec:
    """What :func:`write_hands_corpus` writes."""

    writers_per_hand: int = 24  # training writers per train hand
    lines_per_writer: int = 24
    eval_writers_per_hand: int = 6  # writers per dev and per test hand
    eval_lines_per_writer: int = 12
    seed: int = 0
    mnist: str | None = None  # the MNIST pen-stroke strokes.npz (None: no MNIST digits)
    fortunes: str = str(FORTUNES_DIR)
    augment: bool = True
    number_share: float = NUMBER_SHARE  # training lines that are number lines
    dev_number_share: float = 0.0  # dev lines that are number lines

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise ValueError(f"seed={self.seed} must be 0 or more")
        for name in ("writers_per_hand", "lines_per_writer", "eval_lines_per_writer"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be at least 1")
        if self.eval_writers_per_hand < 0:
            n = self.eval_writers_per_hand
            raise ValueError(f"eval_writers_per_hand={n} must be 0 or more")
        for name in ("number_share", "dev_number_share"):
            if not 0 <= getattr(self, name) <= 1:  # NaN too
                raise ValueError(f"{name}={getattr(self, name)} must be a share from 0 to 1")

    def writers(self) -> list[tuple[str, str]]:
        """``(hand, split)`` of every writer, in writer-id order."""
        out = []
        for split, n in (
            ("train", self.writers_per_hand),
            ("dev", self.eval_writers_per_hand),
            ("test", self.eval_writers_per_hand),
        ):
            out += [(hand, split) for hand in hands_of(split) for _ in range(n)]
        if len(out) > 100 * len(WRITER_LETTERS):
            raise ValueError(f"{len(out)} writers: at most {100 * len(WRITER_LETTERS)}")
        return out


def writer_id(index: int) -> str:
    return f"{WRITER_LETTERS[index // 100]}{index % 100:02d}"


_WORKER: dict = {}  # per process: the spec, its digit banks and the augmentation


def _setup(spec: HandsCorpusSpec) -> None:
    """A process's :data:`_WORKER`. An error here (a bad ``mnist`` file) is kept and raised by
    :func:`_writer_lines`: a pool restarts a process whose initializer fails, forever, while a
    task's error reaches the caller."""
    _WORKER.clear()
    try:
        digits = {}
        if spec.mnist is not None:
            digits = {
                "train": MnistDigits(spec.mnist, MNIST_SPLITS["train"]),
                "held-out": MnistDigits(spec.mnist, MNIST_SPLITS["dev"]),
            }
    except Exception as e:  # raised again by the first task
        _WORKER.update(error=e)
        return
    _WORKER.update(spec=spec, digits=digits, augment=InkAugment())


def _writer_lines(item: tuple[int, str, str]) -> list[tuple]:
    """The lines of writer ``w`` (who writes with ``hand`` in ``split``)."""
    if "error" in _WORKER:
        raise _WORKER["error"]
    w, hand, split = item
    spec, augment = _WORKER["spec"], _WORKER["augment"]
    style = writer_style(spec.seed * 100_000 + w, (hand,))
    rng = np.random.default_rng([spec.seed, w, 11])
    n = spec.lines_per_writer if split == "train" else spec.eval_lines_per_writer
    bank = _WORKER["digits"].get("train" if split == "train" else "held-out")
    texts = text_lines(split, rng, n, root=spec.fortunes)
    styles = [style] * n
    share = {"train": spec.number_share, "dev": spec.dev_number_share}.get(split, 0.0)
    if share > 0:
        # A generator of its own, so the other lines are those of a corpus without numbers.
        nrng = np.random.default_rng([spec.seed, w, 13])
        mnist = dataclasses.replace(style, mnist_digits=True)
        for k, text in enumerate(texts):
            if nrng.random() < share:
                texts[k] = number_text(nrng, text)
                styles[k] = mnist if nrng.random() < 0.5 else style
    out = []
    for i, (text, line_style) in enumerate(zip(texts, styles, strict=True)):
        strokes = render_line(text, line_style, seed=int(rng.integers(2**31)), digits=bank)
        if spec.augment and split == "train":
            strokes = [_tablet(s) for s in augment(strokes, rng)]
        form = f"{writer_id(w)}-{i // LINES_PER_FORM:03d}"
        out.append((form, i % LINES_PER_FORM + 1, writer_id(w), text, strokes, split))
    return out


def hands_lines(spec: HandsCorpusSpec, *, jobs: int = 1):
    """Yield ``(form, line number, writer, text, strokes, split)`` for every line, writers in
    order; ``jobs`` processes write the writers' lines in parallel (same lines either way)."""
    items = [(w, hand, split) for w, (hand, split) in enumerate(spec.writers())]
    bar = progress(total=len(items), desc="writers", unit="writer")
    if jobs <= 1:
        _setup(spec)
        results = map(_writer_lines, items)
    else:
        import multiprocessing

        pool = multiprocessing.get_context("spawn").Pool(jobs, initializer=_setup, initargs=(spec,))
        results = pool.imap(_writer_lines, items)
    try:
        for lines in results:
            bar.update()
            yield from lines
    finally:
        bar.close()
        if jobs > 1:
            pool.terminate()


def _tablet(stroke: np.ndarray) -> np.ndarray:
    """Whole tablet units and milliseconds, as :func:`render_line` writes them."""
    out = stroke.copy()
    out[:, :2] = np.round(out[:, :2])
    out[:, 2] = np.round(out[:, 2], 3)
    return out


def write_hands_corpus(
    root: str | os.PathLike, spec: HandsCorpusSpec = HandsCorpusSpec(), *, jobs: int = 1
) -> dict[str, int]:
    """Write the corpus under ``root`` (which must not exist); lines per split."""
    return write_tree(root, hands_lines(spec, jobs=jobs))


def hands_table() -> str:
    """A Markdown table of the hands: name, split, source package, licence."""
    rows = ["| hand | split | package | licence |", "|---|---|---|---|"]
    rows += [f"| {h.name} | {h.split} | {h.package} | {h.licence} |" for h in HANDS]
    return "\n".join(rows)
