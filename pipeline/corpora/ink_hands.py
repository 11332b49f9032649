"""The hands of synthetic handwriting: vector fonts, traced handwriting fonts, MNIST digits.

A *hand* gives, for each character, the pen traces of one way of writing it (a
:class:`~lstmrec.corpora.font_strokes.Glyph`, in x-heights with the baseline at y = 0):

- ``hershey:<name>``: a Hershey vector font (package ``Hershey-Fonts``, MIT; glyphs public
  domain): already pen paths;
- ``font:<file>``: a handwriting font from a Debian package, traced by
  :mod:`lstmrec.corpora.font_strokes`.

``HANDS`` lists every hand the generator knows, the Debian package and licence it comes from,
and the split it belongs to. Whole font *families* are held out: the ``test`` hands share no
family, foundry or designer with the ``train`` hands, and the ``dev`` hands (for picking
epochs) are further families of their own. The held-out hands include fonts under the GPL and
CC BY-SA, which are only ever read, never learnt from, so no shipped model depends on them.

Left out after a look at their traces: fonts whose lower case is small capitals (the six of
``fonts-bwht``, ``fonts-humor-sans``: a model would learn capitals for lower-case labels),
bold weights (thinning a heavy outline leaves knotted skeletons), and fonts drawn as hollow
outlines or patterns (``fonts-femkeklaver``, ``fonts-ecolier-court``).

:class:`MnistDigits` writes digits with real digits of the MNIST pen-stroke set.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path

import numpy as np

from lstmrec.corpora.font_strokes import Glyph
from lstmrec.features.errors import DataError

FONT_DIR = Path("/usr/share/fonts")
HERSHEY_BASELINE = 9.0  # y of the baseline in Hershey glyph units (y down)
HERSHEY_X_HEIGHT = 9.0  # height of a lower-case "x" in Hershey glyph units


@dataclasses.dataclass(frozen=True)
class HandSpec:
    name: str  # "hershey:futural" or "font:<file name>"
    split: str  # "train", "dev" or "test"
    package: str  # where it comes from (Debian package, or the PyPI package)
    licence: str


def _fonts(split: str, package: str, licence: str, *files: str) -> list[HandSpec]:
    return [HandSpec(f"font:{f}", split, package, licence) for f in files]


HANDS: tuple[HandSpec, ...] = tuple(
    [
        HandSpec(f"hershey:{n}", "train", "Hershey-Fonts (PyPI)", "MIT; glyph data public domain")
        for n in ("futural", "futuram", "scripts", "scriptc", "cursive", "rowmans")
    ]
    + [HandSpec("hershey:timesi", "dev", "Hershey-Fonts (PyPI)", "MIT; glyph data public domain")]
    + _fonts("train", "fonts-breip", "OFL-1.0", "Breip.ttf")
    + _fonts(
        "train",
        "fonts-dancingscript",
        "OFL-1.1",
        "DancingScript-Regular.otf",
        "DancingScript-Bold.otf",
    )
    + _fonts(
        "train",
        "fonts-comic-neue",
        "OFL-1.1",
        "ComicNeue-Regular.otf",
        "ComicNeue-Italic.otf",
        "ComicNeue-Light.otf",
        "ComicNeue-LightItalic.otf",
    )
    + _fonts("train", "fonts-kaushanscript", "OFL-1.1", "KaushanScript-Regular.otf")
    + _fonts("train", "fonts-klee", "OFL-1.1", "KleeOne-Regular.ttf", "KleeOne-SemiBold.ttf")
    + _fonts("train", "fonts-sil-andika", "OFL-1.1", "Andika-Regular.ttf", "Andika-Italic.ttf")
    + _fonts("dev", "fonts-kristi", "OFL-1.1", "Kristi.ttf")
    + _fonts("test", "fonts-dkg-handwriting", "GPL-3+", "dkg.ttf", "dkgIt.ttf")
    + _fonts("test", "fonts-rufscript", "GPL-3+ with font exception", "Rufscript010.ttf")
    + _fonts("test", "fonts-sjfonts", "GPL-2+", "SteveHand.ttf", "Delphine.ttf")
)
HAND_PACKAGES = sorted({h.package for h in HANDS if h.package.startswith("fonts-")})


def hands_of(split: str) -> tuple[str, ...]:
    """The names of the hands of one split, in ``HANDS`` order."""
    return tuple(h.name for h in HANDS if h.split == split)


@functools.cache
def font_path(file: str, root: str | os.PathLike = FONT_DIR) -> Path:
    """Where the font file ``file`` is installed (``DataError`` naming its package if not)."""
    found = sorted(Path(root).rglob(file))
    if not found:
        package = next((h.package for h in HANDS if h.name == f"font:{file}"), "its package")
        raise DataError(f"font {file} is not installed (apt-get install {package})", Path(root))
    return found[0]


class HersheyHand:
    """A Hershey vector font as a hand."""

    def __init__(self, name: str) -> None:
        from HersheyFonts import HersheyFonts

        font = HersheyFonts()
        font.load_default_font(name)
        self.name, self._glyphs = name, font.all_glyphs

    def has(self, ch: str) -> bool:
        return ch in self._glyphs

    @functools.cache  # noqa: B019 - hands live as long as the process
    def glyph(self, ch: str) -> Glyph:
        g = self._glyphs[ch]
        strokes = []
        for s in g.strokes:
            pts = np.asarray(s, dtype=np.float64)
            pts = np.stack([pts[:, 0] - g.left_offset, pts[:, 1] - HERSHEY_BASELINE], axis=1)
            strokes.append(pts / HERSHEY_X_HEIGHT)
        return Glyph(tuple(strokes), g.char_width / HERSHEY_X_HEIGHT)


@functools.cache
def load_hand(name: str):
    """The hand called ``name`` (``hershey:<font>``, ``font:<file>``, or a bare Hershey name)."""
    kind, _, value = name.rpartition(":")
    if kind in ("", "hershey"):
        return HersheyHand(value)
    if kind == "font":
        from lstmrec.corpora.font_strokes import FontHand

        return FontHand(font_path(value))
    raise ValueError(f"unknown hand {name!r} (expected hershey:<name> or font:<file>)")


class MnistDigits:
    """Digits written with real digits of the MNIST pen-stroke set (one draw per digit)."""

    HEIGHT = 1.45  # a digit's height in x-heights (digits stand about as tall as capitals)

    def __init__(self, npz: str | os.PathLike, indices) -> None:
        from lstmrec.corpora.mnist_strokes import load_mnist_strokes

        self.by_digit: dict[str, list[Glyph]] = {str(d): [] for d in range(10)}
        for sample in load_mnist_strokes(npz, indices=list(indices)):
            pts = np.concatenate(sample.strokes)[:, :2]
            lo, hi = pts.min(axis=0), pts.max(axis=0)
            height = max(float(hi[1] - lo[1]), 1.0)
            strokes = tuple(
                (s[:, :2] - [lo[0], hi[1]]) * (self.HEIGHT / height) for s in sample.strokes
            )
            width = float(hi[0] - lo[0]) * self.HEIGHT / height
            self.by_digit[sample.text].append(Glyph(strokes, width + 0.25))

    def glyph(self, ch: str, rng: np.random.Generator) -> Glyph:
        options = self.by_digit[ch]
        return options[int(rng.integers(len(options)))]
