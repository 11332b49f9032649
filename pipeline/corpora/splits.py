"""Split rules, in one place: which utterances of whatever ``--data`` points at form a split.

TIMIT splits follow Kaldi's ``egs/timit/s5``: train = the TRAIN part (462 speakers, 3,696
utterances without the SA sentences), dev = the 50-speaker development list, core-test = the
24-speaker core test list (192 utterances), full-test = the whole TEST part (168 speakers, 1,344
utterances). A corpus without TRAIN/TEST parts splits by speaker lists, a JSONL manifest by its
``"split"`` fields, an IAM-OnDB tree by its task 1 files (:mod:`lstmrec.corpora.iam_ondb`), Kaldi
data directories and LibriSpeech parts by their folder names (:mod:`lstmrec.corpora.kaldi`,
:mod:`lstmrec.corpora.librispeech`), a Common Voice folder by its ``train``/``dev``/``test.tsv``
(:mod:`lstmrec.corpora.common_voice`); given speaker lists always decide instead.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import numpy as np

from lstmrec.corpora.common_voice import (
    common_voice_splits,
    find_common_voice,
    looks_like_common_voice,
)
from lstmrec.corpora.iam_ondb import iam_ondb_splits, load_iam_ondb, looks_like_iam_ondb
from lstmrec.corpora.kaldi import find_kaldi, kaldi_splits, looks_like_kaldi
from lstmrec.corpora.librispeech import find_librispeech, librispeech_splits, looks_like_librispeech
from lstmrec.corpora.timit import find_corpus, find_timit, looks_like_timit, timit_part
from lstmrec.features.errors import DataError, OnError
from lstmrec.manifest import Utterance, read_jsonl, read_manifest
from lstmrec.phones import read_speaker_list

SPLITS = ("train", "dev", "core-test", "full-test", "all")
# How --corpus says to read a corpus folder ("auto": by what the folder holds).
CORPUS_KINDS = ("auto", "timit", "iam-ondb", "kaldi", "librispeech", "common-voice")
# Split names a manifest's "split" field may hold; "test" is the one test set of a corpus that
# does not distinguish a core test set, so it belongs to both core-test and full-test.
MANIFEST_SPLITS = ("train", "dev", "test", "core-test", "full-test")
_MANIFEST_MEMBERS = {
    "train": {"train"},
    "dev": {"dev"},
    "core-test": {"core-test", "test"},
    "full-test": {"core-test", "full-test", "test"},
}
_SA_RE = re.compile(r"sa\d+")  # TIMIT's dialect sentences SA1, SA2, read by every speaker


def load_split(
    data: str | os.PathLike,
    split: str,
    *,
    keep_sa: bool = False,
    dev_speakers: str | os.PathLike | None = None,
    test_speakers: str | os.PathLike | None = None,
    on_error: OnError | None = None,
    corpus: str = "auto",
) -> list[Utterance]:
    """Utterances of ``split`` from ``data``.

    ``data`` is a TIMIT copy (any layout :func:`lstmrec.corpora.timit.find_timit` reads), a
    TIMIT-style corpus folder, a JSONL manifest (its ``"split"`` fields, or the speaker lists,
    choose the split), a folder written by ``lstmrec prepare`` (``<split>.jsonl`` files; with
    speaker lists, the utterances of all of them, split by the lists), or a
    prepared TFDS dataset, ``tfds:NAME[/CONFIG][?data_dir=DIR]`` (its own splits; SA sentences and
    speaker lists were applied when it was prepared).
    ``dev_speakers`` / ``test_speakers`` are speaker-list files that define dev and test.
    ``corpus`` (one of ``CORPUS_KINDS``) says how to read a corpus folder (see
    :func:`load_corpus`). A corpus with a split of its own uses it when no speaker (writer) lists
    are given: an IAM-OnDB tree its task 1 files (train = trainset, dev = testset_v and
    testset_t, core-test and full-test = testset_f; see :mod:`lstmrec.corpora.iam_ondb`), Kaldi
    data directories and LibriSpeech parts their folder names (train*, dev*, test*), a Common
    Voice folder its ``train.tsv``, ``dev.tsv`` and ``test.tsv`` ("test" is both core-test and
    full-test).
    """
    if str(data).startswith("tfds:"):  # a prepared tensorflow-datasets dataset
        # Here, not at the top: the tfds package imports tensorflow_datasets (and TensorFlow).
        from lstmrec.corpora.tfds.source import load_tfds_split

        return load_tfds_split(str(data), split)
    data = Path(data)
    dev = None if dev_speakers is None else read_speaker_list(dev_speakers)
    test = None if test_speakers is None else read_speaker_list(test_speakers)
    held = [s for s in SPLITS if (data / f"{s}.jsonl").is_file()] if data.is_dir() else []
    if split in held and dev is None and test is None:  # a folder written by lstmrec prepare
        return read_manifest(data / f"{split}.jsonl")
    kind = "prepared" if held and (dev is not None or test is not None) else None
    try:
        if kind == "prepared":  # speaker lists split all that was prepared there anew
            utts = _read_prepared(data, held)
        else:
            kind = _corpus_kind(data, corpus)
            utts = _read(data, kind, on_error)
    except DataError:
        if held and kind != "prepared":  # a folder written by lstmrec prepare, without this split
            raise DataError(
                f"has no {split}.jsonl (the splits prepared there: {', '.join(held)})", data
            ) from None
        raise
    present = {(u.speaker or "").lower() for u in utts}
    for listed, path in ((dev, dev_speakers), (test, test_speakers)):
        if listed and utts and not present.intersection(listed):  # a list for another corpus
            raise DataError(
                f"none of the {len(listed)} speakers it lists is in {data} (its speakers are "
                f"named like {min(present)!r}); give a list of this corpus's speakers",
                path,
            )
    split_of = None
    if dev is None and test is None:
        if kind == "manifest":
            split_of = manifest_splits(data) or None
        elif kind in _OWN_SPLITS:
            split_of = _OWN_SPLITS[kind](data, utts) or None
    try:
        return select_split(
            utts, split, keep_sa=keep_sa, dev_speakers=dev, test_speakers=test, split_of=split_of
        )
    except ValueError as e:
        raise DataError(str(e), data) from None


def _read_prepared(data: Path, splits: Sequence[str]) -> list[Utterance]:
    """Every utterance of the ``<split>.jsonl`` files of a prepared folder, each once (the files
    of two splits may share utterances: core-test and full-test, all), in file order."""
    seen: dict[str, Utterance] = {}
    for split in splits:
        for utt in read_manifest(data / f"{split}.jsonl"):
            seen.setdefault(utt.id, utt)
    return list(seen.values())


def load_corpus(
    path: str | os.PathLike, *, on_error: OnError | None = None, corpus: str = "auto"
) -> list[Utterance]:
    """Utterances from a ``.jsonl`` manifest, a TIMIT tree, an IAM-OnDB tree, a Kaldi data
    directory (or a folder of them), a LibriSpeech tree, a Common Voice folder or a TIMIT-style
    corpus folder.

    A manifest is read whole (``on_error`` is not used). A folder goes to the reader ``corpus``
    names, or with ``"auto"`` to the first whose layout it has: IAM-OnDB (``lineStrokes/`` and
    ``ascii/``, :func:`lstmrec.corpora.iam_ondb.load_iam_ondb`), Kaldi (``wav.scp`` and
    ``text``, :func:`lstmrec.corpora.kaldi.find_kaldi`), Common Voice (``clips/`` and its TSV
    files, :func:`lstmrec.corpora.common_voice.find_common_voice`), LibriSpeech
    (``*.trans.txt``, :func:`lstmrec.corpora.librispeech.find_librispeech`); otherwise to
    :func:`lstmrec.corpora.timit.find_timit` when it looks like TIMIT, else to
    :func:`lstmrec.corpora.timit.find_corpus`. Raises :class:`DataError` for a missing path or a
    file that is not ``.jsonl``.
    """
    path = Path(path)
    return _read(path, _corpus_kind(path, corpus), on_error)


# Folder kinds recognised by what they hold, in the order they are tried with corpus="auto".
_LOOKS_LIKE = {
    "iam-ondb": looks_like_iam_ondb,
    "kaldi": looks_like_kaldi,
    "common-voice": looks_like_common_voice,
    "librispeech": looks_like_librispeech,
}
_READERS = {
    "iam-ondb": load_iam_ondb,
    "kaldi": find_kaldi,
    "common-voice": find_common_voice,
    "librispeech": find_librispeech,
    "timit": find_timit,
}
# The corpus's own split, {utterance id: split}, of the kinds that may carry one: (path, utts).
_OWN_SPLITS = {
    "iam-ondb": iam_ondb_splits,
    "kaldi": lambda path, utts: kaldi_splits(path),
    "common-voice": lambda path, utts: common_voice_splits(path),
    "librispeech": lambda path, utts: librispeech_splits(utts),
}


def _corpus_kind(path: Path, corpus: str) -> str:
    """How to read ``path``: one of ``CORPUS_KINDS`` but "auto", ``"folder"`` (TIMIT-style) or
    ``"manifest"``."""
    if corpus not in CORPUS_KINDS:
        raise ValueError(f"corpus={corpus!r} must be one of {', '.join(CORPUS_KINDS)}")
    if path.is_dir():
        if corpus != "auto":
            return corpus
        kind = next((k for k, looks in _LOOKS_LIKE.items() if looks(path)), None)
        return kind or ("timit" if looks_like_timit(path) else "folder")
    if not path.exists():
        raise DataError("no such file or directory", path)
    if path.suffix.lower() != ".jsonl":
        raise DataError("expected a .jsonl manifest or a corpus folder", path)
    return "manifest"


def _read(path: Path, kind: str, on_error: OnError | None) -> list[Utterance]:
    """The utterances of ``path``, read as ``kind`` (see :func:`_corpus_kind`)."""
    if kind == "manifest":
        return read_manifest(path)
    return _READERS.get(kind, find_corpus)(path, on_error=on_error)


def manifest_splits(path: str | os.PathLike) -> dict[str, str]:
    """``{utterance id: split}`` from the ``"split"`` fields of a JSONL manifest.

    Entries without the field are left out. Raises :class:`DataError` naming the line for a
    value not in ``MANIFEST_SPLITS`` or a line that is not a JSON object with an ``"id"``.
    """
    splits: dict[str, str] = {}
    for lineno, d in read_jsonl(path):
        if "id" not in d:
            raise DataError(f"line {lineno}: expected a JSON object with an 'id'", path)
        if "split" in d:
            if d["split"] not in MANIFEST_SPLITS:
                valid = ", ".join(MANIFEST_SPLITS)
                raise DataError(
                    f"line {lineno}: unknown split {d['split']!r} (valid: {valid})", path
                )
            splits[str(d["id"])] = d["split"]
    return splits


def _utt_name(utt: Utterance) -> str:
    """The utterance part of a ``<speaker>_<utt>`` id (the whole id if it has no such prefix)."""
    prefix = f"{utt.speaker}_"
    return utt.id[len(prefix) :] if utt.id.startswith(prefix) else utt.id


def _in_split(
    utt: Utterance,
    split: str,
    part: str | None,
    dev: frozenset[str],
    test: frozenset[str],
) -> bool:
    """Whether one utterance belongs to ``split`` by TIMIT part (if any) and speaker lists."""
    speaker = utt.speaker.lower()
    if split == "dev":
        return speaker in dev
    if split == "core-test":
        return speaker in test
    if part is None:  # a corpus without parts: the lists are the whole story
        return (speaker not in dev and speaker not in test) if split == "train" else speaker in test
    if split == "train":
        return part == "train" and speaker not in dev and speaker not in test
    return part == "test"  # full-test: the whole TEST part (core test and dev speakers included)


def select_split(
    utts: Sequence[Utterance],
    split: str,
    *,
    keep_sa: bool = False,
    dev_speakers: Collection[str] | None = None,
    test_speakers: Collection[str] | None = None,
    split_of: Mapping[str, str] | None = None,
) -> list[Utterance]:
    """The utterances of one split, in input order.

    ``split`` is one of ``SPLITS``. With ``split_of`` (see :func:`manifest_splits`) an utterance
    belongs to the split its entry names ("test" counts as both core-test and full-test).
    Otherwise TIMIT utterances (see :func:`lstmrec.corpora.timit.timit_part`) split as Kaldi
    does: train = TRAIN part, dev = ``dev_speakers``, core-test = ``test_speakers``, full-test =
    TEST part; the lists default to the shipped ones. For a corpus without parts give one list or
    both: train = speakers in neither list, dev = ``dev_speakers``, core-test and full-test =
    ``test_speakers``. "all" is every utterance. SA sentences (``sa1``, ``sa2``) are dropped
    unless ``keep_sa``.

    Raises ``ValueError`` for an unknown split, or for a corpus without parts and no lists.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    parts = {utt.id: timit_part(utt) for utt in utts}
    is_timit = all(p is not None for p in parts.values())
    if split != "all" and split_of is None and not is_timit:
        if dev_speakers is None and test_speakers is None:
            raise ValueError(
                f"split {split!r}: this corpus has no split of its own; give the speaker lists "
                "that define it (--dev-speakers and/or --test-speakers; dev_speakers / "
                "test_speakers in a recipe or in Python)"
            )
    if is_timit:
        dev_speakers = read_speaker_list("dev") if dev_speakers is None else dev_speakers
        test_speakers = read_speaker_list("core-test") if test_speakers is None else test_speakers
    dev = frozenset(s.lower() for s in dev_speakers or ())
    test = frozenset(s.lower() for s in test_speakers or ())
    out = []
    for utt in utts:
        if not keep_sa and _SA_RE.fullmatch(_utt_name(utt).lower()):
            continue
        if split == "all":
            keep = True
        elif split_of is not None:
            keep = split_of.get(utt.id) in _MANIFEST_MEMBERS[split]
        else:
            keep = _in_split(utt, split, parts[utt.id] if is_timit else None, dev, test)
        if keep:
            out.append(utt)
    return out


def cap_utterances(utts: Sequence[Utterance], limit: int, *, seed: int) -> list[Utterance]:
    """At most ``limit`` of ``utts`` (all of them when ``limit`` is 0 or not below their number),
    in input order: the first ``limit`` of the utterances sorted by id and shuffled with
    ``seed`` (``[data] max_utterances`` with ``[training] seed``).

    Chosen line by line, not writer by writer, so that a small part of a corpus still has many
    writers (speakers); the order does not depend on the input's, and for one seed a smaller
    cap chooses a subset of what a larger one chooses.
    """
    if not limit or limit >= len(utts):
        return list(utts)
    by_id = sorted(utts, key=lambda u: u.id)
    order = np.random.default_rng([seed, 0x5E1EC7]).permutation(len(by_id))
    chosen = {by_id[i].id for i in order[:limit]}
    return [u for u in utts if u.id in chosen]
