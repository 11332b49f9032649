"""Reference transcripts in the files other tools read: NIST STM (for sclite's ``-r x.stm stm``)
and Kaldi ``text``, named by the utterance ids of :mod:`lstmrec.scoring.ids`.

An STM line is ``<file id> <channel> <speaker> <start s> <end s> <transcript>``; each utterance
is one file, so its one segment runs from 0 to the end of the recording. Lines are sorted by
file id, as sclite requires.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lstmrec.scoring.ids import safe_id

STM_CHANNEL = "1"  # the channel of every STM and CTM line (our inputs are mono)
# Phones that mark silence, not speech: left out of CTM and STM output unless asked for (sclite
# would score them as words). TIMIT's 61 set has h#, pau and epi; the 48 and 39 sets fold them
# to sil.
SILENCE = frozenset({"sil", "h#", "pau", "epi"})


def drop_silence(symbols: Sequence[str]) -> list[str]:
    """``symbols`` without the phones of :data:`SILENCE`."""
    return [s for s in symbols if s not in SILENCE]


def stm_lines(
    refs: Mapping[str, Sequence[str]],
    durations: Mapping[str, float],
    speakers: Mapping[str, str],
) -> list[str]:
    """One STM line per utterance of ``refs`` (``{id: symbols}``), sorted by id: speaker from
    ``speakers``, segment ``0`` to ``durations[id]`` seconds (rounded up to the millisecond,
    so no word of the recording falls outside it)."""
    lines = []
    for utt in sorted(refs):
        end_ms = -(-durations[utt] * 1000 // 1)  # ceiling, in whole milliseconds
        words = " ".join(refs[utt])
        lines.append(
            f"{safe_id(utt)} {STM_CHANNEL} {safe_id(speakers[utt])} 0.000 "
            f"{end_ms / 1000:.3f} {words}".rstrip()
        )
    return lines


def kaldi_text_lines(refs: Mapping[str, Sequence[str]]) -> list[str]:
    """Kaldi ``text`` lines ``<id> sym sym ...``, sorted by id."""
    return [" ".join([safe_id(u), *refs[u]]) for u in sorted(refs)]


def utt2spk_lines(speakers: Mapping[str, str]) -> list[str]:
    """Kaldi ``utt2spk`` lines ``<id> <speaker>``, sorted by id."""
    return [f"{safe_id(u)} {safe_id(speakers[u])}" for u in sorted(speakers)]
