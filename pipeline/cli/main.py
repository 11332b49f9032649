"""The ``lstmrec`` command line: one console script, a subcommand per task.

Bad input ends in one line on stderr naming the file and the reason, and exit status 2. Commands
over many files skip a bad file, say so in one line, count the failures at the end and exit 2
(``--strict`` stops at the first). Known gaps of a corpus (IAM-OnDB's lines without ink) are
skipped, counted in one line and listed in a file, and do not change the exit status.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

from lstmrec.backend import import_keras
from lstmrec.bundle import load_bundle
from lstmrec.cli import common
from lstmrec.cli.common import (
    EXIT_BAD_INPUT,
    GAPS_FILE,
    Failures,
    add_data_args,
    bundle_held_out,
    engine_arg,
    fold_arg,
    format_arg,
    lexicon_arg,
    quiet_arg,
    recipe_lists_hint,
    split_from_args,
)
from lstmrec.cli.decoding import add_decoding_args, add_lm_parser, decoder_from_args
from lstmrec.cli.export import add_export_parser
from lstmrec.cli.models import add_models_parser, resolve_model_arg
from lstmrec.cli.refs import add_refs_parser
from lstmrec.cli.reports import (
    add_report_parsers,
    plot_arg,
    print_report,
    print_text_report,
    report_args,
    report_options,
)
from lstmrec.cli.scale import add_bench_parser, beam_args, beam_options
from lstmrec.cli.serve import add_serve_parser
from lstmrec.cli.transcribe import add_recognize_parser, add_transcribe_parser
from lstmrec.config import CELLS, load_recipe
from lstmrec.corpora.splits import CORPUS_KINDS, SPLITS, cap_utterances, load_split
from lstmrec.features.errors import CorpusGap, DataError
from lstmrec.featurize import compute_features, default_cache_dir
from lstmrec.inference.evaluate import evaluate_bundle, evaluate_text_bundle, recipe_lexicon
from lstmrec.jobs.pipelines import beam_features
from lstmrec.manifest import write_manifest
from lstmrec.phones import SPEAKER_LISTS
from lstmrec.progress import set_quiet
from lstmrec.scoring.align import write_kaldi_text
from lstmrec.scoring.plots import plot_confusions, require_matplotlib
from lstmrec.targets import Targets


def _quiet_backend(args) -> None:
    """Import Keras up front, without TensorFlow's start-up chatter, for commands that use it.

    Inference commands on the NumPy engine never import Keras (nor TensorFlow, ~6 s here).
    """
    if args.command == "train" or getattr(args, "engine", None) == "keras":
        import_keras()


def cmd_prepare(args) -> int:
    out = Path(args.out)
    failures = Failures(args.strict, gaps_file=out / GAPS_FILE)  # beside the manifests
    for split in args.splits:
        utts = split_from_args(args, split, on_error=failures)
        write_manifest(utts, out / f"{split}.jsonl")
        print(
            f"{split}: {len(utts)} utterances, "
            f"{len({u.speaker for u in utts})} speakers -> {out / f'{split}.jsonl'}"
        )
    return failures.finish()


def _recipe_with_data_flags(args, overrides: list[str] = ()):
    """The recipe, with --keep-sa / --dev-speakers / --test-speakers written into its data table
    (so the bundle records the splits actually used); ``overrides`` come after ``--set``."""
    recipe = load_recipe(args.config, [*(args.set or []), *overrides])
    data = dataclasses.replace(
        recipe.data,
        keep_sa=recipe.data.keep_sa or args.keep_sa,
        dev_speakers=_absolute(args.dev_speakers or recipe.data.dev_speakers),
        test_speakers=_absolute(args.test_speakers or recipe.data.test_speakers),
    )
    return dataclasses.replace(recipe, data=data)


def _absolute(speaker_list: str | None) -> str | None:
    """A speaker-list file's absolute path, so a bundle's recipe names it from any folder (a
    shipped list's name, or a path that is no file, stays as it is)."""
    if speaker_list and speaker_list not in SPEAKER_LISTS and Path(speaker_list).is_file():
        return os.path.abspath(speaker_list)
    return speaker_list


def cmd_features(args) -> int:
    recipe = _recipe_with_data_flags(args)
    options = beam_options(args)  # a missing Beam, or a Beam flag without --runner, fails first
    cache = args.cache or default_cache_dir()
    failures = Failures(args.strict, gaps_dir=cache)
    for split in args.splits:
        utts = load_split(
            args.data,
            split,
            keep_sa=recipe.data.keep_sa,
            dev_speakers=recipe.data.dev_speakers,
            test_speakers=recipe.data.test_speakers,
            on_error=failures,
        )
        utts = _as_trained(recipe, split, utts, failures)
        if args.runner:
            feats = beam_features(
                utts,
                recipe.features,
                cache_dir=cache,
                options=options,
                on_error=failures,
            )
        else:
            feats = compute_features(
                utts,
                recipe.features,
                cache_dir=cache,
                on_error=failures,
                desc=f"{split} features",
            )
        frames = sum(len(f) for f in feats.values())
        print(
            f"{split}: {len(feats)} utterances, {frames} frames of {recipe.features.dim} "
            f"features cached in {cache}"
        )
    return failures.finish()


def _as_trained(recipe, split: str, utts: list, failures: Failures) -> list:
    """The utterances of ``split`` whose features training computes (so that ``lstmrec
    features`` fills the cache entries ``train`` reads): no line the text normalisation leaves
    out (a known gap), and of the training split at most ``[data] max_utterances``."""
    targets = Targets.for_training(recipe, ())  # the unit and normalisation; no symbol table
    kept = []
    for utt in utts:
        try:
            if targets.unit == "chars":  # phones: no text normalisation
                targets.symbols_of(utt)
        except CorpusGap as gap:
            failures(gap)
            continue
        except DataError:
            pass  # other faults are training's to report, as they were
        kept.append(utt)
    if split != recipe.data.train_split:
        return kept
    return cap_utterances(kept, recipe.data.max_utterances, seed=recipe.training.seed)


def cmd_train(args) -> int:
    from lstmrec.training.train import train  # Keras and TensorFlow: only train loads them

    # --cell is model.cell, --max-utterances data.max_utterances: overrides, so the recipe
    # validates them and the bundle records them.
    overrides = [f"model.cell={json.dumps(args.cell)}"] if args.cell else []
    if args.max_utterances is not None:
        if args.max_utterances < 0:
            raise DataError(f"--max-utterances {args.max_utterances} must be 0 (all) or more")
        overrides.append(f"data.max_utterances={args.max_utterances}")
    recipe = _recipe_with_data_flags(args, overrides)
    failures = Failures(args.strict, gaps_file=Path(args.out) / GAPS_FILE)  # in the run folder
    kw = dict(
        keep_sa=recipe.data.keep_sa,
        dev_speakers=recipe.data.dev_speakers,
        test_speakers=recipe.data.test_speakers,
        on_error=failures,
    )
    train_utts = load_split(args.data, recipe.data.train_split, **kw)
    dev_utts = load_split(args.data, recipe.data.dev_split, **kw) if recipe.data.dev_split else []
    summary = train(
        recipe,
        train_utts,
        dev_utts,
        out_dir=args.out,
        resume=args.resume,
        cache_dir=args.feature_cache,
        on_error=failures,
        log=print,
        init_from=args.init_from,
    )
    if "dev_error_rate" in summary:
        print(f"dev error rate {summary['dev_error_rate']:.2f} % (epoch {summary['best_epoch']})")
    return failures.finish()


def cmd_evaluate(args) -> int:
    options = report_options(args)  # bad flags fail before the decoding, not after it
    if args.plot:
        require_matplotlib()
    bundle = load_bundle(args.model, engine=args.engine)
    failures = Failures(args.strict)
    lists_from = bundle_held_out(args, bundle)  # the model's held-out speakers by default
    utts = split_from_args(args, args.split, on_error=failures)
    if not utts:
        hint = recipe_lists_hint(bundle) if lists_from == "the corpus" else ""
        raise DataError(f"split {args.split!r} has no utterances{hint}", args.data)
    speakers = sorted({u.speaker for u in utts})
    extra = {"model": str(args.model), "split": args.split, "split_speakers": speakers,
             "speaker_lists_from": lists_from}  # fmt: skip
    decoder = decoder_from_args(args, bundle)
    targets = Targets.of_bundle(bundle)
    if targets.unit == "chars":
        text_report, hyps = evaluate_text_bundle(bundle, utts, decoder=decoder, on_error=failures)
        report = text_report.chars
    else:
        fold_to = args.fold if args.fold is not None else targets.fold
        report, hyps = evaluate_bundle(
            bundle,
            utts,
            fold_to=fold_to,
            decoder=decoder,
            on_error=failures,
            lexicon=args.pron_lexicon or recipe_lexicon(bundle, args.data),
        )
    if not report.num_utterances:  # every one failed: no error rate to print
        failures.finish()
        raise DataError(f"no utterance of split {args.split!r} could be scored", args.data)
    if targets.unit == "chars":
        if not targets.speech:  # handwriting: per writer
            options = dataclasses.replace(options, speaker_label="writer")
        print_text_report(text_report, args.format, extra=extra, options=options)
    else:
        print_report(report, args.format, extra=extra, options=options)
    if args.format == "text":
        print(f"{args.split} speakers (split by {lists_from}): {' '.join(speakers)}")
    if args.hyp_out:
        write_kaldi_text(hyps, args.hyp_out)
    if args.ref_out:  # what the hypotheses were scored against, for `lstmrec compare`
        write_kaldi_text(report.references(), args.ref_out)
    if args.plot:
        plot_confusions(report, args.plot)
    return failures.finish()


# ---------------------------------------------------------------------------------------------
# The parser: one add_<command>_parser per subcommand


def add_prepare_parser(sub) -> None:
    p = sub.add_parser("prepare", help="write JSONL manifests of a corpus's splits")
    add_data_args(p, split_default=None)
    p.add_argument("--out", required=True, help="folder for <split>.jsonl")
    p.add_argument(
        "--corpus",
        choices=CORPUS_KINDS,
        default="auto",
        help="how to read a corpus folder: 'auto' (recognised by its files: IAM-OnDB's "
        "lineStrokes/ and ascii/, a Kaldi dir's wav.scp and text, LibriSpeech's *.trans.txt, "
        "Common Voice's TSVs and clips/, else TIMIT or TIMIT-style), or one of "
        f"{', '.join(k for k in CORPUS_KINDS if k != 'auto')} (default: auto)",
    )
    p.add_argument(
        "--splits",
        nargs="+",
        default=["train", "dev", "core-test"],
        choices=SPLITS,
        help="splits to write (default: train dev core-test)",
    )
    p.set_defaults(func=cmd_prepare)


def add_features_parser(sub) -> None:
    p = sub.add_parser("features", help="compute and cache a recipe's features for some splits")
    p.add_argument("--config", help="TOML recipe (its [features] and [data] tables are used)")
    add_data_args(p, split_default=None)
    p.add_argument(
        "--cache",
        help="feature cache folder (default: the cache train reads, $LSTMREC_CACHE_DIR, else "
        "$XDG_CACHE_HOME/lstmrec/features, else ~/.cache/lstmrec/features)",
    )
    p.add_argument(
        "--splits",
        nargs="+",
        default=["train", "dev"],
        choices=SPLITS,
        help="splits to compute (default: train dev)",
    )
    p.add_argument(
        "--set",
        action="append",
        metavar="TABLE.FIELD=VALUE",
        help="override a recipe field (repeatable)",
    )
    beam_args(p)
    p.set_defaults(func=cmd_features)


def add_train_parser(sub) -> None:
    p = sub.add_parser(
        "train", help="train a BLSTM-CTC model or RNN transducer and write its bundle"
    )
    p.add_argument("--config", help="TOML recipe (default: built-in CTC-3l-250h defaults)")
    add_data_args(p, split_default=None)
    p.add_argument("--out", required=True, help="run folder (checkpoint/, model/)")
    p.add_argument(
        "--set",
        action="append",
        metavar="TABLE.FIELD=VALUE",
        help="override a recipe field, e.g. --set training.max_epochs=5 (repeatable)",
    )
    p.add_argument(
        "--resume", action="store_true", help="continue from the run folder's last checkpoint"
    )
    p.add_argument(
        "--init-from",
        metavar="BUNDLE",
        help="start from this bundle's weights (a folder or a shipped model's name): a "
        "transducer's encoder from the BLSTM layers of a bundle of the same features and "
        "layers, or a CTC model from a CTC bundle of the same symbols (ignored with --resume of "
        "a run that has a checkpoint)",
    )
    p.add_argument(
        "--feature-cache",
        help="feature cache folder (default: $LSTMREC_CACHE_DIR, else "
        "$XDG_CACHE_HOME/lstmrec/features, else ~/.cache/lstmrec/features, shared by all runs)",
    )
    p.add_argument(
        "--cell",
        choices=CELLS,
        help="recurrent cell of every layer (sets model.cell; default: the recipe's, lstm)",
    )
    p.add_argument(
        "--max-utterances",
        type=int,
        metavar="N",
        help="train on at most N utterances of the training split, the first N of a shuffle "
        "seeded with training.seed, to try a recipe on part of a corpus (sets "
        "data.max_utterances; default: the recipe's, 0 = all)",
    )
    p.set_defaults(func=cmd_train)


def add_evaluate_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate", help="phone error rate (speech) or CER and WER (handwriting) on a split"
    )
    p.add_argument(
        "model",
        help="model bundle folder (e.g. runs/x/model) or shipped model name (lstmrec models)",
    )
    add_data_args(p, split_default="core-test")
    format_arg(p)
    fold_arg(
        p,
        default_help="the model's scoring set, data.score_phone_set of its recipe, 39 unless "
        "set otherwise; no folding for a model whose symbols are not TIMIT phones",
    )
    p.add_argument("--hyp-out", help="also write the hypotheses in Kaldi text format")
    p.add_argument(
        "--ref-out",
        help="also write the references as scored (folded; lexicon phones without silences) in "
        "Kaldi text format, e.g. for lstmrec compare",
    )
    lexicon_arg(p, default_help="default: the lexicon the model was trained with")
    add_decoding_args(p, nbest=False)  # it scores the best hypothesis only
    report_args(p)
    plot_arg(p)
    engine_arg(p)
    p.set_defaults(func=cmd_evaluate)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lstmrec",
        description="BLSTM-CTC recognition of speech (phones) and on-line handwriting (text).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (
        add_prepare_parser,
        add_features_parser,
        add_train_parser,
        add_evaluate_parser,
        add_transcribe_parser,
        add_recognize_parser,
        add_lm_parser,
        add_report_parsers,
        add_refs_parser,
        add_bench_parser,
        add_models_parser,
        add_export_parser,
        add_serve_parser,
    ):
        add(sub)
    common.add_force_args(sub)
    for p in sub.choices.values():
        quiet_arg(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.quiet:
        set_quiet()
    try:
        _quiet_backend(args)  # a backend that cannot be imported is bad input too
        resolve_model_arg(args)  # a shipped model's name becomes its folder
        common.check_outputs(args)
        return args.func(args)
    except BrokenPipeError:  # the reader went away (`lstmrec ... | head`): stop quietly
        return common.stdout_closed()
    except DataError as e:
        print(f"lstmrec: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        resume = " (training continues with --resume)" if args.command == "train" else ""
        print(f"lstmrec: interrupted{resume}", file=sys.stderr)
        return 130
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        print(f"lstmrec: {where}{e.strerror or e}", file=sys.stderr)
        return EXIT_BAD_INPUT
