"""Pictures (PNG) of a scoring report and of one transcription.

* :func:`plot_confusions`: the confusion matrix of a report (rows: reference symbols, columns:
  hypothesis symbols, plus an insertion row and a deletion column), log colour scale.
* :func:`plot_transcription`: one file's log-mel spectrogram (computed by the bundle's own
  feature settings), the network's CTC posteriors over time (a transducer's: its joint
  network's distribution at each frame on the best path; blank as a grey area) and the decoded
  phones at their times.

matplotlib is an optional dependency (``pip install 'lstmrec[plot]'``): it is imported only
when a picture is asked for, and drawn on its Agg canvas through the object API
(``matplotlib.figure.Figure``), so no display and no global pyplot state is involved.
:func:`new_figure` and :func:`save_png` serve every picture of the project.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from lstmrec.bundle import Bundle
from lstmrec.features.audio import fbank, frame_center_s, load_audio
from lstmrec.features.errors import DataError
from lstmrec.features.files import atomic_path
from lstmrec.phones import PHONES39, PHONES48
from lstmrec.scoring.align import Report
from lstmrec.scoring.ids import STDIN
from lstmrec.scoring.report import confusion_matrix

DPI = 100  # pixels per inch of every PNG
PHONE_SETS = {39: PHONES39, 48: PHONES48}  # axis order of a folded confusion matrix
SPIKE_LABEL_MIN = 0.2  # posteriors below this are not labelled in the transcription picture
# What the transcription picture's middle panel shows, by the bundle's kind of model
POSTERIOR_LABELS = {
    "ctc": "CTC posterior\n(blank: grey area)",
    "transducer": "joint network on\nthe best path\n(blank: grey area)",
}


class TimedSymbol(Protocol):
    """A decoded phone at its time, as a transcript holds it."""

    phone: str
    start: float  # seconds
    end: float  # seconds


class TimedTranscript(Protocol):
    """What the transcription picture reads of a transcript
    (:class:`lstmrec.inference.transcribe.Transcript` is one)."""

    file: str
    duration: float  # seconds
    phones: Sequence[TimedSymbol]


def require_matplotlib() -> None:
    """Raise :class:`DataError` (one clear line at the command line) when matplotlib is absent."""
    if importlib.util.find_spec("matplotlib") is None:
        raise DataError("--plot needs matplotlib: pip install 'lstmrec[plot]'")


def new_figure(width_in: float, height_in: float):
    """A ``matplotlib.figure.Figure`` of this size in inches, constrained layout, no pyplot."""
    require_matplotlib()
    from matplotlib.figure import Figure  # matplotlib is loaded only to draw

    return Figure(figsize=(width_in, height_in), dpi=DPI, layout="constrained")


def save_png(fig, path: str | os.PathLike) -> Path:
    """Write ``fig`` as PNG to a temporary name, then rename: never half a picture."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI)
    return path


def plot_confusions(report: Report, path: str | os.PathLike) -> Path:
    """Draw the report's confusion matrix to ``path`` (PNG) and return the path.

    The axes hold the 39 (or 48) folded TIMIT phones when the report was folded, otherwise
    every symbol that occurs; the last row counts insertions, the last column deletions. Empty
    cells are white; counts use a logarithmic colour scale, since the diagonal dwarfs the rest.
    """
    from matplotlib.colors import LogNorm  # matplotlib is loaded only to draw

    rows, cols, counts = confusion_matrix(report, list(PHONE_SETS.get(report.fold_to, ())))
    size = min(max(4.0, 0.2 * len(rows) + 2.5), 16.0)
    fig = new_figure(size + 1.2, size)
    ax = fig.add_subplot()
    shown = np.ma.masked_equal(counts, 0)  # zeros drawn as the background, not the colour map
    image = ax.imshow(shown, norm=LogNorm(vmin=1, vmax=max(int(counts.max()), 2)), cmap="viridis")
    ax.set_xticks(range(len(cols)), cols, rotation=90, fontsize=7)
    ax.set_yticks(range(len(rows)), rows, fontsize=7)
    ax.axhline(len(rows) - 1.5, color="0.5", lw=0.8)  # separates the insertion row
    ax.axvline(len(cols) - 1.5, color="0.5", lw=0.8)  # and the deletion column
    ax.set_xlabel("hypothesis")
    ax.set_ylabel("reference")
    t = report.total
    phones = f", {report.fold_to} phones" if report.fold_to else ""
    ax.set_title(
        f"error rate {t.error_rate:.1f} % (S {t.substitutions}, D {t.deletions}, "
        f"I {t.insertions}), {report.num_utterances} utterances{phones}",
        fontsize=9,
    )
    fig.colorbar(image, ax=ax, shrink=0.8, label="count (log scale)")
    return save_png(fig, path)


def log_mel(
    path: str | os.PathLike, bundle: Bundle, *, samples: np.ndarray | None = None
) -> np.ndarray:
    """The static log-mel energies the bundle's features start from: float32 ``(T, n_mels)``,
    natural log, frames as the model sees them (same window, hop, filters). ``samples`` (mono
    float32 ``(N,)`` at the model's rate) are used in place of reading ``path``."""
    config = bundle.features
    if samples is None:
        samples = load_audio(path, sample_rate=config.sample_rate)
    return fbank(samples, config)[:, : config.n_mels]


def plot_transcription(
    bundle: Bundle,
    transcript: TimedTranscript,
    probs: np.ndarray,
    path: str | os.PathLike,
    *,
    samples: np.ndarray | None = None,
) -> Path:
    """Draw spectrogram, CTC posteriors and decoded phones of one file to ``path`` (PNG).

    Args:
        transcript: from :func:`lstmrec.inference.transcribe.transcribe_detailed`.
        probs: ``(T, V + 1)`` CTC posteriors of the same file (the softmax of its logits), or a
            transducer's joint-network distributions on its best path, blank at index 0.
        samples: the audio, mono float32 ``(N,)`` at the model's sample rate, when
            ``transcript.file`` is no file to read (standard input); None reads the file.
    """
    spec = log_mel(transcript.file, bundle, samples=samples)  # (T, n_mels)
    times = frame_center_s(np.arange(len(probs)) * len(spec) / max(len(probs), 1), bundle.features)
    times = np.atleast_1d(times)
    fig = new_figure(12.0, 7.0)
    ax_spec, ax_post, ax_phones = fig.subplots(
        3, 1, sharex=True, gridspec_kw={"height_ratios": [3, 3, 1]}
    )
    hop_s = bundle.features.hop_length / bundle.features.sample_rate
    ax_spec.imshow(
        spec.T,  # (n_mels, T): frequency up, time right
        origin="lower",
        aspect="auto",
        cmap="magma",
        interpolation="nearest",
        extent=(times[0] - hop_s / 2, times[-1] + hop_s / 2, 0, spec.shape[1]),
    )
    ax_spec.set_ylabel("mel channel")
    name = "standard input" if transcript.file == STDIN else Path(transcript.file).name
    ax_spec.set_title(f"{name}: {len(transcript.phones)} phones", fontsize=10)
    _draw_posteriors(ax_post, times, probs, bundle.symbols.to_list())
    ax_post.set_ylabel(POSTERIOR_LABELS[bundle.kind])
    _draw_phones(ax_phones, transcript)
    ax_phones.set_xlim(0.0, max(transcript.duration, float(times[-1])))
    ax_phones.set_xlabel("time (s)")
    return save_png(fig, path)


def _draw_posteriors(ax, times: np.ndarray, probs: np.ndarray, names: list[str]) -> None:
    """Blank as a grey area, each symbol as a coloured line, its spikes labelled."""
    import matplotlib  # loaded only to draw

    ax.fill_between(times, probs[:, 0], color="0.85", lw=0)
    colours = matplotlib.colormaps["tab20"]
    best = probs.argmax(axis=1)  # (T,)
    for k in range(1, probs.shape[1]):
        if probs[:, k].max() < 0.05:
            continue  # a class that never rises would only add ink
        ax.plot(times, probs[:, k], color=colours(k % 20), lw=1.0)
        # Label each best-path spike of this class once, at its peak.
        frames = np.flatnonzero((best == k) & (probs[:, k] >= SPIKE_LABEL_MIN))
        for run in np.split(frames, np.flatnonzero(np.diff(frames) > 1) + 1) if len(frames) else []:
            peak = run[np.argmax(probs[run, k])]
            ax.text(times[peak], probs[peak, k] + 0.02, names[k], ha="center", fontsize=7)
    ax.set_ylim(0.0, 1.12)


def _draw_phones(ax, transcript: TimedTranscript) -> None:
    for i, p in enumerate(transcript.phones):
        ax.broken_barh(
            [(p.start, max(p.end - p.start, 1e-3))], (0, 1), color=f"C{i % 2}", alpha=0.5
        )
        ax.text((p.start + p.end) / 2, 0.5, p.phone, ha="center", va="center", fontsize=7)
    ax.set_yticks([])
    ax.set_ylabel("phones", rotation=0, ha="right", va="center")


def picture_paths(ids: list[str], target: str | os.PathLike) -> list[Path]:
    """Where ``transcribe --plot target`` draws each input, given the inputs' ids
    (:mod:`lstmrec.scoring.ids`).

    ``target`` ending in ``.png`` is the picture of a single input (more raise
    :class:`DataError`); so is any other name for a single input, unless it is an existing folder
    or ends in ``/`` (``.png`` is added: ``--plot x`` draws ``x.png``). Otherwise ``target`` is a
    folder that gets ``<id>.png`` per input, the id's ``/`` written as ``_`` and its extension
    dropped (``DR1/FAKS0/SA1.WAV`` -> ``DR1_FAKS0_SA1.png``), a counter added where two would
    share a name.
    """
    folder = os.fspath(target).endswith(("/", os.sep)) or Path(target).is_dir()
    target = Path(target)
    if target.suffix.lower() == ".png" or (len(ids) == 1 and not folder):
        if len(ids) != 1:
            raise DataError(
                f"--plot names one PNG but {len(ids)} files are transcribed; give a folder",
                target,
            )
        png = target.suffix.lower() == ".png"
        return [target if png else target.with_name(target.name + ".png")]
    out, used = [], set()
    for fid in ids:
        stem = fid.rsplit(".", 1)[0] if "." in fid.rsplit("/", 1)[-1] else fid
        name, n = stem.replace("/", "_"), 2
        while name in used:
            name, n = f"{stem.replace('/', '_')}-{n}", n + 1
        used.add(name)
        out.append(target / f"{name}.png")
    return out
