"""Synthetic on-line handwriting: text lines written by simulated writers with Hershey fonts.

No on-line handwriting corpus of text lines can be shipped with the project, so the demo and the
tests write their own: each glyph of a Hershey vector font (the ``Hershey-Fonts`` package, MIT
licence; the glyph data is the public-domain Hershey set, A. V. Hershey, 1967) is a list of pen
strokes, which this module lays out along a line and disturbs the way writers differ:

- hand: the font (``HANDS``): Roman simplex (print) and Script simplex are single-stroke
  designs; Script complex traces each letter with doubled lines, a more elaborate hand;
- slant, size (x-height), letter and word spacing, per-letter size wobble;
- baseline drift (a slow wave plus a tilt across the line);
- jitter: smooth random displacement of the pen trace (noise low-passed along the stroke);
- connected script: the pen stays down from the end of one letter to the start of the next
  within a word, with a straight connecting trace;
- writing speed: time stamps from the distance the pen travels, slower in the air.

A writer's style depends only on its seed (:func:`writer_style`), so whole writers can be held
out; a line depends only on (style, text, line seed). Output follows the ink convention of
:mod:`features.ink`: strokes ``(N_i, 3)`` float64 ``[x, y, t]``, y down, t in seconds.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
import os
from pathlib import Path

import numpy as np

from lstmrec.corpora.font_strokes import Glyph
from lstmrec.corpora.ink_hands import load_hand
from lstmrec.features.files import atomic_dir
from lstmrec.features.inkfiles import write_iam_ondb_strokes

HANDS = ("futural", "scripts", "scriptc")  # Hershey font names, one per kind of hand
FONT_X_HEIGHT = 9.0  # height of a lower-case "x" in glyph units (from y = 0 to the baseline)
SAMPLE_STEP = 0.8  # pen samples every this many glyph units (tablets sample densely)
ORIGIN = (300.0, 1000.0)  # where a line starts on the tablet (x, baseline y), tablet units
AIR_SPEED = 0.6  # pen speed in the air relative to writing speed
DELAYED_MARK = 0.7  # strokes smaller than this (x-heights) after a letter's first are marks


@dataclasses.dataclass(frozen=True)
class WriterStyle:
    """How one simulated writer writes; drawn by :func:`writer_style`."""

    hand: str  # Hershey font name, one of HANDS
    x_height: float  # height of a lower-case "x", tablet units
    slant: float  # horizontal shift per unit of height (dx / -dy): > 0 leans right
    letter_spacing: float  # extra space between letters, in x-heights (may be negative)
    word_spacing: float  # width of a space, in x-heights
    drift: float  # amplitude of the baseline wave, in x-heights
    tilt: float  # baseline slope across the line (dy / dx)
    jitter: float  # std of the smooth trace displacement, in x-heights
    wobble: float  # std of the per-letter relative size change
    speed: float  # writing speed, x-heights per second
    connected: bool  # pen stays down between the letters of a word
    delayed: bool = False  # i-dots and t-bars written after the word
    mnist_digits: bool = False  # digits written as MNIST digits (when the corpus gives them)


def writer_style(seed: int, hands: tuple[str, ...] = HANDS) -> WriterStyle:
    """The style of writer ``seed`` with one of ``hands``: the same seed, the same writer."""
    rng = np.random.default_rng([seed, 0x1A7])
    style = WriterStyle(
        hand=hands[int(rng.integers(len(hands)))],
        x_height=float(rng.uniform(60.0, 140.0)),
        slant=float(rng.normal(0.15, 0.2)),
        letter_spacing=float(rng.uniform(-0.1, 0.35)),
        word_spacing=float(rng.uniform(0.6, 1.3)),
        drift=float(rng.uniform(0.0, 0.3)),
        tilt=float(rng.normal(0.0, 0.02)),
        jitter=float(rng.uniform(0.01, 0.05)),
        wobble=float(rng.uniform(0.0, 0.08)),
        speed=float(rng.uniform(15.0, 35.0)),
        connected=bool(rng.random() < 0.5),
    )
    # Drawn after the others, so that the writers of earlier corpora keep their styles.
    return dataclasses.replace(
        style, delayed=bool(rng.random() < 0.5), mnist_digits=bool(rng.random() < 0.4)
    )


FALLBACK_HAND = "futural"  # writes what a font lacks (rare punctuation), as a writer would


def _glyph(ch: str, style: WriterStyle, rng: np.random.Generator, digits) -> Glyph:
    """The glyph of ``ch`` in the writer's hand (digits from ``digits`` when the writer uses
    them); a character the hand lacks comes from ``FALLBACK_HAND``."""
    if digits is not None and style.mnist_digits and ch.isdigit():
        return digits.glyph(ch, rng)
    for name in (style.hand, FALLBACK_HAND):
        hand = load_hand(name)
        if hand.has(ch):
            return hand.glyph(ch)
    raise ValueError(f"character {ch!r} is not in the hand {style.hand!r}")


def _letter_strokes(
    text: str, style: WriterStyle, rng: np.random.Generator, digits=None
) -> list[list]:
    """Glyph strokes laid along an undisturbed line, in x-heights (y down, baseline at 0).

    Returns one entry per character: a list of ``(K, 2)`` arrays (empty for a space).
    """
    x, out = 0.0, []
    for ch in text:
        if ch == " ":
            x += style.word_spacing
            out.append([])
            continue
        g = _glyph(ch, style, rng, digits)
        scale = 1.0 + rng.normal(0.0, style.wobble)
        out.append([pts * scale + [x, 0.0] for pts in g.strokes])
        x += g.advance * scale + style.letter_spacing
    return out


def _densify(points: np.ndarray, step: float) -> np.ndarray:
    """Points every ``step`` along the polyline ``(K, 2)`` (its corners kept), ``(M, 2)``."""
    if len(points) < 2:
        return points
    d = np.diff(points, axis=0)
    n = np.maximum(np.ceil(np.hypot(d[:, 0], d[:, 1]) / step).astype(np.int64), 1)
    seg = np.repeat(np.arange(len(d)), n)
    frac = (np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n) + 1) / np.repeat(n, n)
    return np.concatenate([points[:1], points[seg] + frac[:, None] * d[seg]])


def _is_mark(stroke: np.ndarray) -> bool:
    """A dot, accent or bar: a small later stroke of a letter, which many writers add only
    when the word is done."""
    return len(stroke) > 0 and float(np.ptp(stroke, axis=0).max()) < DELAYED_MARK


def _pen_paths(letters: list[list], connected: bool, delayed: bool = False) -> list[np.ndarray]:
    """Pen-down paths: each glyph stroke, or with ``connected`` the last stroke of a letter
    joined to the first stroke of the next letter of the same word; with ``delayed`` the small
    later strokes of a word's letters (i-dots, t-bars) come after the word."""
    paths: list[np.ndarray] = []
    joinable = False  # the last path ends a letter that the next letter may join
    marks: list[np.ndarray] = []
    for strokes in [*letters, []]:
        if not strokes:
            joinable = False
            paths += marks
            marks = []
            continue
        for i, s in enumerate(strokes):
            if delayed and i > 0 and _is_mark(s):
                marks.append(s)
            elif i == 0 and connected and joinable:
                paths[-1] = np.concatenate([paths[-1], s])
            else:
                paths.append(s)
        joinable = True
    return paths


def render_line(text: str, style: WriterStyle, *, seed: int = 0, digits=None) -> list[np.ndarray]:
    """Ink of ``text`` written by ``style``.

    Args:
        text: the line; every character must be in the hand's font (printable ASCII).
        style: the writer.
        seed: varies this one line (jitter, letter sizes); same inputs, same ink.
        digits: an :class:`~lstmrec.corpora.ink_hands.MnistDigits` for writers whose
            ``mnist_digits`` is set (ignored otherwise).

    Returns:
        Strokes, each float64 ``(N_i, 3)`` ``[x, y, t]``: whole tablet units (y down, the line
        starting near ``ORIGIN``) and seconds from the first pen-down (to the millisecond), in
        writing order (left to right).

    Raises:
        ValueError: empty text (after stripping) or a character the font lacks.
    """
    if not text.strip():
        raise ValueError("cannot write an empty line")
    rng = np.random.default_rng([seed, len(text), *map(ord, text[:32])])
    letters = _letter_strokes(text, style, rng, digits)
    step = SAMPLE_STEP / FONT_X_HEIGHT
    paths = [_densify(p, step) for p in _pen_paths(letters, style.connected, style.delayed)]
    paths = [_disturb(p, style, rng, step) for p in paths if len(p)]
    out = []
    for stroke in _timed(paths, style):
        # A tablet reports whole units and (here) milliseconds; repeated points are kept, as a
        # tablet repeats them when the pen rests.
        stroke[:, :2] = np.round(stroke[:, :2] + ORIGIN)
        stroke[:, 2] = np.round(stroke[:, 2], 3)
        out.append(stroke)
    return out


def _disturb(path: np.ndarray, style: WriterStyle, rng, step: float) -> np.ndarray:
    """Slant, baseline drift and smooth jitter applied to one path ``(M, 2)`` in x-heights."""
    x, y = path[:, 0].copy(), path[:, 1].copy()
    x -= style.slant * y  # y is down, so -y is the height above the baseline
    width = 8.0  # samples over which the jitter is smoothed (a wavering hand, not a noisy one)
    kernel = np.hanning(int(2 * width) + 1)
    kernel /= np.sqrt((kernel**2).sum())
    for arr in (x, y):
        noise = rng.normal(0.0, style.jitter, len(arr) + len(kernel) - 1)
        arr += np.convolve(noise, kernel, mode="valid")
    y += style.drift * np.sin(x / 6.0 + _wave_phase(style)) + style.tilt * x
    return np.stack([x, y], axis=1) * style.x_height


def _wave_phase(style: WriterStyle) -> float:
    """Phase of a writer's baseline wave (fixed per writer, from its style)."""
    return float((style.x_height * 7.0 + style.speed) % (2 * np.pi))


def _timed(paths: list[np.ndarray], style: WriterStyle) -> list[np.ndarray]:
    """Add time stamps: arc length over speed on paper, slower moves through the air."""
    speed = style.speed * style.x_height  # tablet units per second
    t, out, last = 0.0, [], None
    for p in paths:
        if last is not None:
            t += np.hypot(*(p[0] - last)) / (speed * AIR_SPEED) + 0.05
        seg = np.hypot(*np.diff(p, axis=0).T) if len(p) > 1 else np.zeros(0)
        times = t + np.concatenate([[0.0], np.cumsum(seg)]) / speed
        out.append(np.concatenate([p, times[:, None]], axis=1))
        t, last = float(times[-1]), p[-1]
    return out


@functools.cache
def word_list() -> tuple[str, ...]:
    """The shipped word list (``pipeline/resources/ink_words.txt``), one word a line."""
    text = (importlib.resources.files("lstmrec") / "resources" / "ink_words.txt").read_text(
        encoding="utf-8"
    )
    return tuple(w for w in (line.strip() for line in text.splitlines()) if w and w[0] != "#")


def random_text(rng: np.random.Generator, *, min_words: int = 2, max_words: int = 5) -> str:
    """A line of ``min_words``..``max_words`` words from :func:`word_list`, space separated."""
    words = word_list()
    n = int(rng.integers(min_words, max_words + 1))
    return " ".join(words[int(i)] for i in rng.integers(len(words), size=n))


LINES_PER_FORM = 4  # text lines on one synthetic form (IAM-OnDB forms hold about 8)


@dataclasses.dataclass(frozen=True)
class CorpusSpec:
    """What :func:`write_corpus` writes."""

    writers: int = 12  # simulated writers, w00 .. w<N-1>
    lines_per_writer: int = 20
    dev_writers: int = 2  # the last writers before the test writers form testset_v
    test_writers: int = 2  # the last writers form testset_f
    seed: int = 0  # corpus seed: writer styles, texts and lines all follow from it
    min_words: int = 2
    max_words: int = 5

    def __post_init__(self) -> None:
        if not 0 < self.writers <= 100:
            raise ValueError(f"writers={self.writers} must be 1..100 (form ids w00..w99)")
        if self.seed < 0:
            raise ValueError(f"seed={self.seed} must be 0 or more")
        if self.lines_per_writer < 1:
            raise ValueError(f"lines_per_writer={self.lines_per_writer} must be at least 1")
        if min(self.dev_writers, self.test_writers) < 0:
            raise ValueError("dev_writers and test_writers must be 0 or more")
        if self.dev_writers + self.test_writers >= self.writers:
            raise ValueError("dev_writers + test_writers must leave at least one train writer")
        if not 1 <= self.min_words <= self.max_words:
            raise ValueError(f"need 1 <= min_words={self.min_words} <= max_words")


def corpus_lines(spec: CorpusSpec):
    """Yield ``(form id, line number, writer id, text, strokes)`` for every line of the corpus."""
    for w in range(spec.writers):
        style = writer_style(spec.seed * 1000 + w)
        rng = np.random.default_rng([spec.seed, w, 7])
        for i in range(spec.lines_per_writer):
            form = f"w{w:02d}-{i // LINES_PER_FORM:03d}"
            text = random_text(rng, min_words=spec.min_words, max_words=spec.max_words)
            yield (
                form,
                i % LINES_PER_FORM + 1,
                f"w{w:02d}",
                text,
                render_line(text, style, seed=int(rng.integers(2**31))),
            )


def split_of_writer(writer: int, spec: CorpusSpec) -> str:
    """``"train"``, ``"dev"`` or ``"test"`` for writer number ``writer``."""
    if writer >= spec.writers - spec.test_writers:
        return "test"
    if writer >= spec.writers - spec.test_writers - spec.dev_writers:
        return "dev"
    return "train"


def write_corpus(root: str | os.PathLike, spec: CorpusSpec = CorpusSpec()) -> dict[str, int]:
    """Write a synthetic corpus in the IAM-OnDB layout under ``root`` (must not exist yet).

    ::

        lineStrokes/w03/w03-001/w03-001-02.xml   one line of ink (IAM-OnDB stroke XML)
        ascii/w03/w03-001/w03-001.txt            the form's lines after "CSR:"
        original/w03/w03-001/strokes.xml         <Form id="w03-001" writerID="w03">
        trainset.txt testset_v.txt testset_f.txt form ids of the train, dev and test writers

    The tree is built under a temporary name and renamed at the end. Returns the number of
    lines per split.
    """
    return write_tree(
        root,
        (
            (form, n, writer, text, strokes, split_of_writer(int(writer[1:]), spec))
            for form, n, writer, text, strokes in corpus_lines(spec)
        ),
    )


def write_tree(root: str | os.PathLike, lines) -> dict[str, int]:
    """Write ``(form id, line number, writer id, text, strokes, split)`` items as an IAM-OnDB
    tree under ``root`` (see :func:`write_corpus`), in a fresh temporary folder renamed at the
    end (:func:`features.files.atomic_dir`: removed if the writing fails); returns the number of
    lines per split."""
    root = Path(root)
    if root.exists():
        raise FileExistsError(f"{root} exists; choose a new folder")
    with atomic_dir(root) as tmp:
        return _write_tree_in(tmp, lines)


def _write_tree_in(tmp: Path, lines) -> dict[str, int]:
    """The tree of :func:`write_tree`, written into the folder ``tmp``."""
    forms: dict[str, tuple[str, list[str]]] = {}
    counts = {"train": 0, "dev": 0, "test": 0}
    for form, n, _writer, text, strokes, split in lines:
        folder = Path(form[:3]) / form
        write_iam_ondb_strokes(tmp / "lineStrokes" / folder / f"{form}-{n:02d}.xml", strokes)
        forms.setdefault(form, (split, []))[1].append(text)
        counts[split] += 1
    split_files = {"train": "trainset.txt", "dev": "testset_v.txt", "test": "testset_f.txt"}
    listed: dict[str, list[str]] = {name: [] for name in split_files.values()}
    for form, (split, lines_) in forms.items():
        folder = Path(form[:3]) / form
        body = "\n".join(lines_)
        (tmp / "ascii" / folder).mkdir(parents=True)
        (tmp / "ascii" / folder / f"{form}.txt").write_text(
            f"OCR:\n\n{body}\n\nCSR:\n\n{body}\n", encoding="utf-8"
        )
        (tmp / "original" / folder).mkdir(parents=True)
        (tmp / "original" / folder / "strokes.xml").write_text(
            '<?xml version="1.0" encoding="UTF-8"?>\n<WhiteboardCaptureSession>\n  <General>\n'
            f'    <Form id="{form}" writerID="{form[:3]}"/>\n  </General>\n'
            "</WhiteboardCaptureSession>\n",
            encoding="utf-8",
        )
        listed[split_files[split]].append(form)
    for name, ids in listed.items():
        (tmp / name).write_text("".join(i + "\n" for i in ids), encoding="utf-8")
    return counts
