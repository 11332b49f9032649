"""Command-line pieces for scoring: the sclite-style report flags and printing shared by
``evaluate`` and ``score``, and the ``score`` and ``compare`` commands."""

from __future__ import annotations

import argparse
import json
import sys

from lstmrec.cli.common import EXIT_BAD_INPUT, fold_arg, format_arg
from lstmrec.features.errors import DataError, require_at_least
from lstmrec.phones import fold
from lstmrec.scoring.align import parse_kaldi_text, read_kaldi_text, score
from lstmrec.scoring.ids import read_utt2spk, speakers_of
from lstmrec.scoring.plots import plot_confusions, require_matplotlib
from lstmrec.scoring.refs import SILENCE, drop_silence
from lstmrec.scoring.report import (
    ReportOptions,
    compare_reports,
    comparison_text,
    evaluation_dict,
    report_text,
)


def _count(text: str) -> int:
    """An argparse type: a whole number, 0 or more."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"{n} must be 0 or more")
    return n


def report_args(p: argparse.ArgumentParser, *, details: bool = True) -> None:
    """Flags of the sclite-style report (lstmrec.scoring.report) and its bootstrap interval."""
    if details:
        p.add_argument(
            "--details",
            action="store_true",
            help="also show every utterance aligned (REF/HYP lines, errors in upper case)",
        )
        p.add_argument(
            "--speaker-label",
            default="speaker",
            help="header of the per-speaker column, e.g. writer (default: speaker)",
        )
        p.add_argument(
            "--top",
            type=_count,
            default=10,
            metavar="N",
            help="confusion pairs, deleted and inserted symbols listed; 0: none (default: 10)",
        )
    p.add_argument(
        "--bootstrap",
        type=int,
        default=1000,
        metavar="N",
        help="bootstrap replicates for the 95 %% confidence intervals (default: 1000)",
    )
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")


def report_options(args):
    require_at_least({"--bootstrap": (args.bootstrap, 1)})
    if args.seed < 0:
        raise DataError(f"--seed must be 0 or more, got {args.seed}", "command line")
    return ReportOptions(
        speaker_label=getattr(args, "speaker_label", "speaker"),
        top=getattr(args, "top", 10),
        details=getattr(args, "details", False),
        replicates=args.bootstrap,
        seed=args.seed,
    )


def plot_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--plot",
        metavar="PNG",
        help="also draw the confusion matrix (rows: reference, columns: hypothesis) to this PNG",
    )


def print_report(report, fmt: str, *, extra: dict, options=None) -> None:
    options = options or ReportOptions()
    if fmt == "json":
        print(json.dumps(evaluation_dict(report, options, extra=extra), indent=None))
    else:
        print(report_text(report, options, "PER" if report.fold_to else "Error rate"))


def print_text_report(report, fmt: str, *, extra: dict, options) -> None:
    """A handwriting model's CER report (the speech keys, with ``cer`` and ``wer`` in percent)
    and its WER report (under ``words`` in JSON)."""
    if fmt == "json":
        print(json.dumps(evaluation_dict(report, options, extra=extra), ensure_ascii=False))
    else:
        print(report_text(report.chars, options, "CER"))
        print(report_text(report.words, options, "WER"))


STDIN = "-"  # a transcript argument that reads standard input, as `transcribe ... |` gives it


def source_name(path: str) -> str:
    """How messages name a transcript argument."""
    return "<stdin>" if path == STDIN else path


def read_once(*paths: str) -> None:
    """Refuse standard input named for more than one transcript: it can be read only once."""
    if list(paths).count(STDIN) > 1:
        raise DataError(
            f"'{STDIN}' (standard input) may stand for one transcript file only", "command line"
        )


def read_transcripts(path: str, fold_to: int | None, silence: str = "keep") -> dict[str, list[str]]:
    """A Kaldi text file (``-``: standard input), each utterance folded to ``fold_to`` when
    given (a label that does not fold is an error naming the file; folding again, as scoring
    does, changes nothing).
    ``silence="drop"`` leaves out the silence phones (:data:`SILENCE`), after folding (a
    closure folds to ``sil``)."""
    try:
        if path == STDIN:
            lines = sys.stdin.buffer.read().decode("utf-8-sig").splitlines(keepends=True)
            texts = parse_kaldi_text(lines, source_name(path))
        else:
            texts = read_kaldi_text(path)
    except UnicodeDecodeError:
        raise DataError("not UTF-8 text", source_name(path)) from None
    for utt, phones in texts.items():
        try:
            folded = fold(phones, fold_to) if fold_to is not None else phones
        except DataError as e:
            raise DataError(f"utterance {utt}: {e.reason}", source_name(path)) from None
        texts[utt] = drop_silence(folded) if silence == "drop" else folded
    return texts


def silence_note(refs: dict, hyps: dict, hyp_path: str, ref_path: str) -> None:
    """A line on stderr when the hypotheses hold silence phones and the references none (as
    ``lstmrec refs`` writes them by default): each silence would count as an insertion. Both
    as :func:`read_transcripts` gives them (folded)."""

    def silent(texts):
        return any(SILENCE.intersection(t) for t in texts.values())

    if not silent(refs) and silent(hyps):
        print(
            f"lstmrec: note: {hyp_path} has silence phones ({', '.join(sorted(SILENCE))}) and "
            f"{ref_path} none, so they count as errors: --silence drop leaves them out of "
            "both (or write the references with lstmrec refs --silence keep)",
            file=sys.stderr,
        )


def require_scorable(report, ref: str) -> None:
    """Refuse (:class:`DataError` naming ``ref``) references no error rate can be taken over:
    none at all, or none with a symbol (after folding), as a rate over 0 symbols is no rate."""
    if report.num_utterances == 0:
        raise DataError("no reference utterances; there is nothing to score against", ref)
    if report.total.reference_length == 0:
        folded = "" if report.fold_to is None else f" once folded to {report.fold_to}"
        raise DataError(
            f"its {report.num_utterances} utterance(s) have no reference symbols{folded}; "
            "an error rate over 0 symbols is undefined",
            ref,
        )


def _speakers(args, refs) -> dict[str, str]:
    """The speaker of each reference id: from ``--utt2spk``, else ``unknown`` (never guessed
    from an id's shape)."""
    return speakers_of(refs, read_utt2spk(args.utt2spk) if args.utt2spk else None)


def silence_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--silence",
        choices=["keep", "drop"],
        default="keep",
        help="drop: leave the silence phones sil, h#, pau, epi (after --fold: closures too) out "
        "of references and hypotheses alike, as lstmrec refs writes references by default "
        "(default: keep, as evaluate scores hand-labelled phones)",
    )


def utt2spk_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--utt2spk",
        help="Kaldi utt2spk file (<utt-id> <speaker>) for the per-speaker rows "
        "(default: every utterance under 'unknown')",
    )


def cmd_score(args) -> int:
    if args.plot:
        require_matplotlib()
    read_once(args.ref, args.hyp)
    refs = read_transcripts(args.ref, args.fold, args.silence)
    hyps = read_transcripts(args.hyp, args.fold, args.silence)
    ref_name, hyp_name = source_name(args.ref), source_name(args.hyp)
    report = score(refs, hyps, speakers=_speakers(args, refs), fold_to=args.fold)
    require_scorable(report, ref_name)
    silence_note(refs, hyps, hyp_name, ref_name)
    options = report_options(args)
    print_report(report, args.format, extra={"ref": args.ref, "hyp": args.hyp}, options=options)
    if args.plot:
        plot_confusions(report, args.plot)
    if report.missing:
        shown = ", ".join(report.missing[:3]) + (", ..." if len(report.missing) > 3 else "")
        print(
            f"lstmrec: {hyp_name}: no hypothesis for {len(report.missing)} reference "
            f"utterance(s) ({shown})",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    return 0


def cmd_compare(args) -> int:
    if not 0.0 < args.alpha < 1.0:
        raise DataError(f"--alpha must be between 0 and 1, got {args.alpha}", "command line")
    read_once(args.ref, *args.hyps)
    refs = read_transcripts(args.ref, args.fold, args.silence)
    spk = _speakers(args, refs)
    hyps = [read_transcripts(h, args.fold, args.silence) for h in args.hyps]
    reports = [score(refs, h, speakers=spk, fold_to=args.fold) for h in hyps]
    ref_name, hyp_names = source_name(args.ref), [source_name(h) for h in args.hyps]
    require_scorable(reports[0], ref_name)  # both are scored against the same references
    for name, h in zip(hyp_names, hyps, strict=True):
        silence_note(refs, h, name, ref_name)
    options = report_options(args)
    comparison = compare_reports(*reports, options, alpha=args.alpha)
    if args.format == "json":
        out = {"ref": args.ref, "hyp_a": args.hyps[0], "hyp_b": args.hyps[1]}
        print(json.dumps({**out, **comparison.to_dict()}))
    else:
        rate = "PER" if args.fold else "Error rate"
        print(comparison_text(comparison, *hyp_names, rate=rate), end="")
    status = 0
    for hyp, report in zip(hyp_names, reports, strict=True):
        if report.missing:
            print(
                f"lstmrec: {hyp}: no hypothesis for {len(report.missing)} reference "
                f"utterance(s) (scored as all deletions)",
                file=sys.stderr,
            )
            status = EXIT_BAD_INPUT
        if report.extra:  # as score's report says it: not scored, and no failure
            print(
                f"lstmrec: {hyp}: {len(report.extra)} hypothesis utterance(s) have no reference "
                f"(ignored)",
                file=sys.stderr,
            )
    return status


def add_report_parsers(sub) -> None:
    """The ``score`` and ``compare`` subcommands."""
    p = sub.add_parser("score", help="score a hypothesis file against a reference file")
    p.add_argument(
        "ref", help="reference transcripts, Kaldi text format (<utt-id> p1 p2 ...); -: stdin"
    )
    p.add_argument(
        "hyp", help="hypothesis transcripts, Kaldi text format; -: stdin (lstmrec transcribe |)"
    )
    format_arg(p)
    fold_arg(p)
    silence_arg(p)
    utt2spk_arg(p)
    report_args(p)
    plot_arg(p)
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("compare", help="is one system better than another? (paired tests)")
    p.add_argument("ref", help="reference transcripts, Kaldi text format; -: stdin")
    p.add_argument(
        "hyps",
        nargs=2,
        metavar="hyp",
        help="hypotheses of system A, then system B; one of the three may be - (stdin)",
    )
    format_arg(p)
    fold_arg(p)
    silence_arg(p)
    p.set_defaults(utt2spk=None)  # no per-speaker rows: compare takes no --utt2spk
    report_args(p, details=False)
    p.add_argument(
        "--alpha",
        type=float,
        default=0.05,
        help="significance level of the verdict (default: 0.05)",
    )
    p.set_defaults(func=cmd_compare)
