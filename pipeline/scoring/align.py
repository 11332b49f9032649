"""Phone error rate: Levenshtein alignment, error counts, per-speaker reports, Kaldi text files.

The phone error rate (PER) is ``100 * (S + D + I) / N`` over the whole test set, where N is the
number of reference phones, as Kaldi's ``compute-wer`` reports it. For TIMIT, both sides are
usually folded to the 39-phone set first (``score(..., fold_to=39)``).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence

from lstmrec.features.errors import DataError
from lstmrec.features.files import regular_file, write_text
from lstmrec.phones import fold
from lstmrec.scoring.ids import UNKNOWN_SPEAKER, safe_id

CORRECT, SUBSTITUTION, DELETION, INSERTION = "C", "S", "D", "I"

AlignedPair = tuple[str, str | None, str | None]  # (op, ref symbol or None, hyp symbol or None)


def _distance_table(ref: Sequence[str], hyp: Sequence[str]) -> list[list[int]]:
    """``d[i][j]`` = edit distance between ``ref[:i]`` and ``hyp[:j]`` (unit costs)."""
    d = [[j for j in range(len(hyp) + 1)]]
    for i in range(1, len(ref) + 1):
        row = [i]
        for j in range(1, len(hyp) + 1):
            diag = d[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1])
            row.append(min(diag, d[i - 1][j] + 1, row[j - 1] + 1))
        d.append(row)
    return d


def align(ref: Sequence[str], hyp: Sequence[str]) -> list[AlignedPair]:
    """Minimum-cost alignment of ``hyp`` against ``ref`` (substitution = deletion = insertion = 1).

    Returns ``(op, r, h)`` triples in order: ``("C", r, h)`` correct, ``("S", r, h)``
    substitution, ``("D", r, None)`` deletion, ``("I", None, h)`` insertion. The number of S, D
    and I is the edit distance. Ties are broken while tracing back from the end: the diagonal
    (C or S) first, then D, then I; so ``align("a b", "b a")`` gives two substitutions.
    """
    d = _distance_table(ref, hyp)
    i, j = len(ref), len(hyp)
    out: list[AlignedPair] = []
    while i > 0 or j > 0:
        if i > 0 and j > 0 and d[i][j] == d[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]):
            op = CORRECT if ref[i - 1] == hyp[j - 1] else SUBSTITUTION
            out.append((op, ref[i - 1], hyp[j - 1]))
            i, j = i - 1, j - 1
        elif i > 0 and d[i][j] == d[i - 1][j] + 1:
            out.append((DELETION, ref[i - 1], None))
            i -= 1
        else:
            out.append((INSERTION, None, hyp[j - 1]))
            j -= 1
    out.reverse()
    return out


@dataclasses.dataclass(frozen=True)
class ErrorCounts:
    """Counts of one alignment or a sum of many."""

    correct: int = 0
    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0
    reference_length: int = 0  # = correct + substitutions + deletions

    @classmethod
    def from_alignment(cls, pairs: Sequence[AlignedPair]) -> ErrorCounts:
        ops = [p[0] for p in pairs]
        c, s, d = ops.count(CORRECT), ops.count(SUBSTITUTION), ops.count(DELETION)
        return cls(c, s, d, ops.count(INSERTION), c + s + d)

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def error_rate(self) -> float:
        """Percent: ``100 * errors / reference_length``.

        An empty reference counts as length 1 (so 2 insertions against nothing is 200 %), and
        no errors is always 0.0; the rate is therefore never infinite or NaN.
        """
        return 100.0 * self.errors / max(self.reference_length, 1)

    def __add__(self, other: ErrorCounts) -> ErrorCounts:
        if not isinstance(other, ErrorCounts):
            return NotImplemented
        return ErrorCounts(
            *(getattr(self, f.name) + getattr(other, f.name) for f in dataclasses.fields(self))
        )

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "errors": self.errors, "error_rate": self.error_rate}


@dataclasses.dataclass
class Report:
    """The result of :func:`score`.

    Attributes:
        total: counts summed over all reference utterances.
        per_speaker: counts per speaker id.
        num_utterances: number of reference utterances scored (missing ones included).
        missing: sorted ids in the references with no hypothesis (scored as all deletions).
        extra: sorted ids with a hypothesis but no reference (ignored).
        fold_to: the phone set both sides were folded to (61, 48, 39), or ``None``.
        alignments: the alignment of every reference utterance (after folding), by id.
        utterance_speakers: the speaker each reference utterance was counted under, by id.
    """

    total: ErrorCounts
    per_speaker: dict[str, ErrorCounts]
    num_utterances: int
    missing: list[str] = dataclasses.field(default_factory=list)
    extra: list[str] = dataclasses.field(default_factory=list)
    fold_to: int | None = None
    alignments: dict[str, list[AlignedPair]] = dataclasses.field(default_factory=dict)
    utterance_speakers: dict[str, str] = dataclasses.field(default_factory=dict)

    def references(self) -> dict[str, list[str]]:
        """The reference symbols of each utterance as scored (after folding), by id."""
        return {u: [r for _, r, _ in a if r is not None] for u, a in self.alignments.items()}

    def utterance_counts(self) -> dict[str, ErrorCounts]:
        """Counts of each reference utterance, by id (in the order they were scored)."""
        return {utt: ErrorCounts.from_alignment(a) for utt, a in self.alignments.items()}

    def to_dict(self) -> dict:
        """A JSON-ready summary; rates are percent, unrounded floats."""
        keys = ("error_rate", "substitutions", "deletions", "insertions", "reference_length")
        return {
            **self.total.to_dict(),
            "num_utterances": self.num_utterances,
            "phone_set": self.fold_to,
            "missing": list(self.missing),
            "extra": list(self.extra),
            "per_speaker": {
                spk: {k: counts.to_dict()[k] for k in keys}
                for spk, counts in sorted(self.per_speaker.items())
            },
        }

    def summary_lines(self, name: str = "PER") -> list[str]:
        """The summary line, and notes on missing and extra utterances."""
        t = self.total
        phones = "" if self.fold_to is None else f", {self.fold_to} phones"
        lines = [
            f"{name} {t.error_rate:.2f} % [ {t.errors} / {t.reference_length} ] "
            f"(S {t.substitutions}, D {t.deletions}, I {t.insertions}) "
            f"over {self.num_utterances} utterances{phones}"
        ]
        if self.missing:
            n = len(self.missing)
            lines.append(f"{n} utterance{'s' * (n > 1)} had no hypothesis (all deletions)")
        if self.extra:
            n = len(self.extra)
            lines.append(f"{n} hypothes{'es' if n > 1 else 'is'} had no reference (ignored)")
        return lines

    def to_text(self, name: str = "PER") -> str:
        """A human-readable report: a summary line, then one table row per speaker."""
        lines = self.summary_lines(name)
        lines.append(f"{'speaker':<12} {'#ref':>6} {'S':>5} {'D':>5} {'I':>5} {name:>7}")
        for spk, c in sorted(self.per_speaker.items()):
            lines.append(
                f"{spk:<12} {c.reference_length:>6} {c.substitutions:>5} {c.deletions:>5} "
                f"{c.insertions:>5} {c.error_rate:>7.2f}"
            )
        return "\n".join(lines) + "\n"


def score(
    refs: Mapping[str, Sequence[str]],
    hyps: Mapping[str, Sequence[str]],
    *,
    speakers: Mapping[str, str] | None = None,
    fold_to: int | None = None,
) -> Report:
    """Align every reference utterance with its hypothesis and sum the counts.

    A reference with no hypothesis is scored against an empty one (all deletions) and listed in
    ``missing``; a hypothesis with no reference is listed in ``extra`` and ignored. ``speakers``
    maps utterance id to speaker; ids not in it (or all, when it is ``None``) count under
    :data:`lstmrec.scoring.ids.UNKNOWN_SPEAKER` (a speaker is never guessed from an id). With
    ``fold_to``, both sides go through :func:`lstmrec.phones.fold` first (raising
    :class:`DataError` on a label outside the TIMIT sets).
    """
    total = ErrorCounts()
    per_speaker: dict[str, ErrorCounts] = {}
    alignments: dict[str, list[AlignedPair]] = {}
    utterance_speakers: dict[str, str] = {}
    missing = sorted(u for u in refs if u not in hyps)
    for utt, ref in refs.items():
        hyp = hyps.get(utt, ())
        if fold_to is not None:
            ref = fold(ref, fold_to, source=f"reference {utt}")
            hyp = fold(hyp, fold_to, source=f"hypothesis {utt}")
        alignments[utt] = align(ref, hyp)
        counts = ErrorCounts.from_alignment(alignments[utt])
        spk = (speakers or {}).get(utt, UNKNOWN_SPEAKER)
        utterance_speakers[utt] = spk
        per_speaker[spk] = per_speaker.get(spk, ErrorCounts()) + counts
        total = total + counts
    return Report(
        total=total,
        per_speaker=per_speaker,
        num_utterances=len(refs),
        missing=missing,
        extra=sorted(u for u in hyps if u not in refs),
        fold_to=fold_to,
        alignments=alignments,
        utterance_speakers=utterance_speakers,
    )


# How to get Kaldi text instead of each sclite file that lstmrec writes.
WRITES_TEXT = {
    "CTM": "lstmrec transcribe writes Kaldi text unless --format ctm",
    "STM": "lstmrec refs writes Kaldi text with --text-out",
}


def _seconds(field: str) -> bool:
    """Whether ``field`` is a time in seconds as sclite's files write it (``0.120``)."""
    try:
        return "." in field and float(field) >= 0
    except ValueError:
        return False


def sclite_kind(lines: Sequence[str]) -> str | None:
    """``"CTM"`` or ``"STM"`` when every line (``;;`` comments and blank lines aside) has that
    shape (``<id> <channel> <start> <duration> <symbol> [<confidence>]``, ``<id> <channel>
    <speaker> <start> <end> ...``, times with a decimal point); ``None`` otherwise."""
    rows = [line.split() for line in lines if line.strip() and not line.startswith(";;")]
    if rows and all(len(f) in (5, 6) and _seconds(f[2]) and _seconds(f[3]) for f in rows):
        return "CTM"
    if rows and all(len(f) >= 5 and _seconds(f[3]) and _seconds(f[4]) for f in rows):
        return "STM"
    return None


def json_lines(lines: Sequence[str]) -> bool:
    """Whether every line (blank lines aside) is a JSON object, as ``transcribe --format json``
    and ``recognize --format json`` write them (decided at the first line that is not)."""
    rows = [line for line in lines if line.strip()]
    for line in rows:
        try:
            if not isinstance(json.loads(line), dict):
                return False
        except ValueError:
            return False
    return bool(rows)


def read_kaldi_text(path: str | os.PathLike) -> dict[str, list[str]]:
    """Read a Kaldi ``text`` file: ``<utt-id> p1 p2 ...`` per line.

    Blank lines are skipped; a line with only an id is an empty sequence; a UTF-8 byte-order
    mark at the start is not part of the first id. Raises :class:`DataError` if the file is
    missing, is a CTM or STM file (:func:`sclite_kind`), or an id occurs twice.
    """
    path = regular_file(path, missing="transcript file not found")
    with open(path, encoding="utf-8-sig") as f:  # a byte-order mark is not part of an id
        lines = f.readlines()
    return parse_kaldi_text(lines, path)


def parse_kaldi_text(lines: Sequence[str], source: str | os.PathLike) -> dict[str, list[str]]:
    """The lines of a Kaldi ``text`` file (as :func:`read_kaldi_text` reads them), by id;
    errors name ``source``."""
    if json_lines(lines):
        raise DataError(
            "JSON Lines, not Kaldi text (<utt-id> sym sym ...); lstmrec transcribe and "
            "recognize write Kaldi text unless --format json",
            source,
        )
    kind = sclite_kind(lines)
    if kind is not None:
        raise DataError(
            f"a NIST {kind} file, not Kaldi text (<utt-id> sym sym ...); {WRITES_TEXT[kind]}",
            source,
        )
    out: dict[str, list[str]] = {}
    first_line: dict[str, int] = {}
    for lineno, line in enumerate(lines, 1):
        fields = line.split()
        if not fields:
            continue
        utt = fields[0]
        if utt in out:
            raise DataError(
                f"line {lineno}: duplicate utterance id {utt!r} (first on line {first_line[utt]})",
                source,
            )
        out[utt] = fields[1:]
        first_line[utt] = lineno
    return out


def write_kaldi_text(mapping: Mapping[str, Sequence[str]], path: str | os.PathLike) -> None:
    """Write ``mapping`` as a Kaldi ``text`` file sorted by id, atomically (tmp + rename).

    Ids are written through :func:`lstmrec.scoring.ids.safe_id` (a corpus's ``alice smith_sa1``
    as ``alice%20smith_sa1``), as every other output names an utterance. Raises ``ValueError``
    for an empty id or an empty symbol or one containing white space, which could not be read
    back.
    """
    lines = []
    for utt in sorted(mapping):
        symbols = list(mapping[utt])
        if not utt:
            raise ValueError(f"utterance {utt!r}: the id is empty")
        for token in symbols:
            if not token or any(c.isspace() for c in token):
                raise ValueError(f"utterance {utt!r}: token {token!r} is empty or has white space")
        lines.append(" ".join([safe_id(utt), *symbols]) + "\n")
    write_text(path, "".join(lines))
