"""The ``refs`` command: a corpus split's reference transcripts as NIST STM, Kaldi ``text`` and
``utt2spk``, named by utterance id (the ids of ``evaluate --hyp-out`` and ``transcribe --data``)."""

from __future__ import annotations

from lstmrec.cli.common import Failures, add_data_args, split_from_args
from lstmrec.features.audio import audio_info
from lstmrec.features.errors import DataError
from lstmrec.features.files import write_text
from lstmrec.phones import fold
from lstmrec.scoring.refs import drop_silence, kaldi_text_lines, stm_lines, utt2spk_lines
from lstmrec.targets import text_words
from lstmrec.textnorm import TEXT_NORMALIZATIONS, normalize_text, resolve_for_utterances


def _symbols(utt, unit: str, fold_to: int | None, silence: str, norm: str) -> list[str]:
    """The reference of one utterance: its phones (folded, silence dropped unless kept) or the
    words of its text, normalised (``norm``, :mod:`lstmrec.textnorm`). Raises
    :class:`DataError` naming it when it has none."""
    if unit == "words":
        if not utt.text:
            raise DataError(f"utterance {utt.id} has no text", utt.path)
        return text_words(normalize_text(utt.text, norm, name=f"utterance {utt.id}",
                                         path=utt.path))  # fmt: skip
    if utt.phones is None:
        raise DataError(f"utterance {utt.id} has no phone labels", utt.path)
    phones = list(utt.phones) if fold_to is None else fold(utt.phones, fold_to)
    return phones if silence == "keep" else drop_silence(phones)


def _check_unit_flags(args) -> None:
    """Refuse (:class:`DataError`, before any input is read) the flags of the other ``--unit``,
    which would go unused: ``--fold`` and ``--silence keep`` shape phones, and
    ``--text-normalization`` words."""
    if args.unit == "words":
        given = [("--fold", args.fold is not None), ("--silence keep", args.silence == "keep")]
    else:
        given = [("--text-normalization", args.text_normalization != "auto")]
    unused = [flag for flag, on in given if on]
    if unused:
        other = "phones" if args.unit == "words" else "words"
        raise DataError(f"{' and '.join(unused)}: for --unit {other}, not --unit {args.unit}")


def _seconds(utt) -> float:
    """How long an utterance lasts: its slice of a recording (a Kaldi segment), its samples in
    memory (a TFDS example), else its whole audio file, from the header."""
    if getattr(utt, "samples", None) is not None:
        return utt.duration
    n, sr, _ = audio_info(utt.path)
    if utt.offset is None:
        return n / sr
    return utt.duration if utt.duration is not None else n / sr - utt.offset


def cmd_refs(args) -> int:
    # The outputs were checked before (lstmrec.cli.common.check_outputs): none is an input or
    # another output, and none exists unless --force is given.
    outs = [(f, p) for f, p in (("--stm-out", args.stm_out), ("--text-out", args.text_out),
            ("--utt2spk-out", args.utt2spk_out)) if p]  # fmt: skip
    if not outs:
        raise DataError("give --stm-out, --text-out and/or --utt2spk-out", "command line")
    _check_unit_flags(args)
    failures = Failures(args.strict)
    utts = split_from_args(args, args.split, on_error=failures)
    refs, durations, speakers = {}, {}, {}
    norm = resolve_for_utterances(args.text_normalization, utts)
    for utt in utts:
        try:
            refs[utt.id] = _symbols(utt, args.unit, args.fold, args.silence, norm)
            if args.stm_out:
                durations[utt.id] = _seconds(utt)
        except DataError as e:
            failures(e)
            refs.pop(utt.id, None)
            continue
        speakers[utt.id] = utt.speaker
    if not refs:
        raise DataError(f"split {args.split!r} has no usable utterances", args.data)
    lines = {
        "--stm-out": lambda: stm_lines(refs, durations, speakers),
        "--text-out": lambda: kaldi_text_lines(refs),
        "--utt2spk-out": lambda: utt2spk_lines(speakers),
    }
    for flag, path in outs:
        write_text(path, "".join(line + "\n" for line in lines[flag]()))
    names = ", ".join(str(p) for _, p in outs)
    n_spk = len(set(speakers.values()))
    print(f"{args.split}: {len(refs)} utterances, {n_spk} speakers -> {names}")
    return failures.finish()


def add_refs_parser(sub) -> None:
    """The ``refs`` subcommand, on the subparsers of the main parser."""
    p = sub.add_parser(
        "refs", help="write a split's references as STM (sclite), Kaldi text and utt2spk"
    )
    add_data_args(p, split_default="core-test")
    p.add_argument(
        "--unit",
        choices=["phones", "words"],
        default="phones",
        help="reference symbols: phone labels or the words of the text (default: phones)",
    )
    p.add_argument(
        "--fold",
        type=int,
        choices=[61, 48, 39],
        help="fold TIMIT phones to this set (default: as labelled)",
    )
    p.add_argument(
        "--silence",
        choices=["drop", "keep"],
        default="drop",
        help="leave out the silence phones sil, h#, pau, epi (as transcribe --format ctm does "
        "by default) or keep them (default: drop)",
    )
    p.add_argument(
        "--text-normalization",
        choices=TEXT_NORMALIZATIONS,
        default="auto",
        help="--unit words: the transcription conventions undone first, as for a model's "
        "references (docs/handwriting.md): 'iam_ondb' or 'none' (default: auto = iam_ondb "
        "for ink files, none for speech)",
    )
    p.add_argument("--stm-out", help="NIST STM file for sclite -r FILE stm")
    p.add_argument("--text-out", help="Kaldi text file (<utt-id> sym sym ...)")
    p.add_argument("--utt2spk-out", help="Kaldi utt2spk file (<utt-id> <speaker>)")
    p.set_defaults(func=cmd_refs)
