"""The one exception type for bad input data.

Every reader, feature function and command raises :class:`DataError` (or a subclass) when the
user's data is at fault: a missing or corrupt file, an unknown label, a transcript too long for
its frames. The message always names the file (when there is one) and the reason, so the command
line can print it as one line and exit with status 2. Functions over many inputs take an
``on_error`` callback and hand each bad input to :func:`report_or_raise`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable


class DataError(ValueError):
    """Bad input data. ``str(err)`` is ``"<path>: <reason>"`` (or just the reason)."""

    def __init__(self, reason: str, path: str | os.PathLike | None = None) -> None:
        self.reason = reason
        self.path = None if path is None else os.fspath(path)
        super().__init__(f"{self.path}: {reason}" if self.path is not None else reason)


def require_at_least(limits: dict[str, tuple[float | None, float]]) -> None:
    """Refuse (:class:`DataError` of the command line) the first flag whose value is below its
    least, as ``{"--steps": (args.steps, 1)}`` gives them; a value of ``None`` (a flag not
    given) passes."""
    for flag, (value, least) in limits.items():
        if value is not None and value < least:
            raise DataError(f"{flag} must be at least {least}, got {value}", "command line")


class CorpusGap(DataError):
    """A known gap of a corpus as distributed, not a fault of the user's copy: IAM-OnDB's
    transcribed lines that have no strokes file (1,014 in a real copy), or a line whose
    transcription the corpus's own conventions mark as missing (a placeholder text, an
    unreadable word). Skipped like any bad input, but commands list such gaps once, in a file,
    and do not count them as failures. ``kind`` says which gap, as the summary words it
    (``"transcribed line(s) have no ink"``)."""

    def __init__(
        self, reason: str, path: str | os.PathLike | None = None, *, kind: str = "gap(s)"
    ) -> None:
        super().__init__(reason, path)
        self.kind = kind


OnError = Callable[[DataError], object]  # called with each bad input, which is then skipped


def gap_summary(gaps: Iterable[CorpusGap]) -> str:
    """``"1014 transcribed line(s) have no ink (a known gap of the corpus)"``: the gaps counted
    by kind, the most frequent first."""
    counts = Counter(g.kind for g in gaps)
    parts = [f"{n} {kind}" for kind, n in sorted(counts.items(), key=lambda kv: -kv[1])]
    if len(parts) == 1:
        return f"{parts[0]} (a known gap of the corpus)"
    return f"{'; '.join(parts)} (known gaps of the corpus)"


def skip_gaps(err: DataError) -> None:
    """An ``on_error`` that skips known corpus gaps (:class:`CorpusGap`) and raises every other
    error: what a caller that stops at bad input passes to read a corpus with gaps."""
    if not isinstance(err, CorpusGap):
        raise err


def report_or_raise(err: DataError, on_error: OnError | None) -> None:
    """Pass ``err`` to ``on_error`` (which reports it, and the caller skips the bad input), or
    raise it when there is none: the rule of every reader and command over many inputs."""
    if on_error is None:
        raise err
    on_error(err)
