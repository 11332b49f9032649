"""The ``lstmrec`` command line: prepare, train, evaluate, transcribe, score.

Bad input ends in one line on stderr naming the file and the reason, and exit status 2. Commands
over many files skip a bad file, say so, list the failures at the end and exit 2 (``--strict``
stops at the first).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from features.errors import DataError
from pipeline.corpus import SPLITS

EXIT_BAD_INPUT = 2


class Failures:
    """Collects skipped inputs of a batch command; ``strict`` turns the first into an error."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.errors: list[DataError] = []

    def __call__(self, err: DataError) -> None:
        if self.strict:
            raise err
        self.errors.append(err)
        print(f"lstmrec: skipping {err}", file=sys.stderr)

    def finish(self) -> int:
        if not self.errors:
            return 0
        print(f"lstmrec: {len(self.errors)} input(s) failed:", file=sys.stderr)
        for err in self.errors:
            print(f"  {err}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _quiet_backend(args) -> None:
    """Import Keras up front, without TensorFlow's start-up chatter, for commands that use it.

    Inference commands on the NumPy engine never import Keras (nor TensorFlow, ~6 s here).
    """
    if args.command == "train" or getattr(args, "engine", None) == "keras":
        from pipeline.backend import import_keras

        import_keras()


def _add_data_args(p: argparse.ArgumentParser, *, split_default: str | None) -> None:
    p.add_argument(
        "--data",
        required=True,
        help="TIMIT copy, TIMIT-style corpus folder, JSONL manifest, or a folder "
        "written by 'lstmrec prepare'",
    )
    if split_default is not None:
        p.add_argument(
            "--split",
            default=split_default,
            choices=SPLITS,
            help=f"which utterances (default: {split_default})",
        )
    p.add_argument(
        "--keep-sa", action="store_true", help="keep TIMIT's SA sentences (excluded by default)"
    )
    p.add_argument(
        "--dev-speakers",
        help="speaker-list file defining the dev split "
        "(default: the standard 50-speaker TIMIT dev set)",
    )
    p.add_argument(
        "--test-speakers",
        help="speaker-list file defining the test splits "
        "(default: the standard 24-speaker TIMIT core test set)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first bad utterance instead of skipping it",
    )


def _format_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format", choices=["text", "json"], default="text", help="output format (default: text)"
    )


def _engine_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--engine",
        choices=["numpy", "keras"],
        default="numpy",
        help="forward pass in plain NumPy (same logits, starts without importing Keras) or "
        "with the Keras model on its backend (default: numpy)",
    )


def _fold_arg(p: argparse.ArgumentParser, default: int | None) -> None:
    p.add_argument(
        "--fold",
        type=int,
        choices=[61, 48, 39],
        default=default,
        help=f"fold TIMIT phones to this set before output/scoring "
        f"(default: {default or 'no folding'})",
    )


def cmd_prepare(args) -> int:
    from pipeline.data import load_split
    from pipeline.manifest import write_manifest

    failures = Failures(args.strict)
    out = Path(args.out)
    for split in args.splits:
        utts = load_split(
            args.data,
            split,
            keep_sa=args.keep_sa,
            dev_speakers=args.dev_speakers,
            test_speakers=args.test_speakers,
            on_error=failures,
        )
        write_manifest(utts, out / f"{split}.jsonl")
        print(
            f"{split}: {len(utts)} utterances, "
            f"{len({u.speaker for u in utts})} speakers -> {out / f'{split}.jsonl'}"
        )
    return failures.finish()


def _recipe_with_data_flags(args, overrides: list[str] = ()):
    """The recipe, with --keep-sa / --dev-speakers / --test-speakers written into its data table
    (so the bundle records the splits actually used); ``overrides`` come after ``--set``."""
    import dataclasses

    from pipeline.config import load_recipe

    recipe = load_recipe(args.config, [*(args.set or []), *overrides])
    data = dataclasses.replace(
        recipe.data,
        keep_sa=recipe.data.keep_sa or args.keep_sa,
        dev_speakers=args.dev_speakers or recipe.data.dev_speakers,
        test_speakers=args.test_speakers or recipe.data.test_speakers,
    )
    return dataclasses.replace(recipe, data=data)


def cmd_features(args) -> int:
    from pipeline.data import load_split
    from pipeline.featurize import compute_features

    recipe = _recipe_with_data_flags(args)
    failures = Failures(args.strict)
    for split in args.splits:
        utts = load_split(
            args.data,
            split,
            keep_sa=recipe.data.keep_sa,
            dev_speakers=recipe.data.dev_speakers,
            test_speakers=recipe.data.test_speakers,
            on_error=failures,
        )
        feats = compute_features(
            utts, recipe.features, cache_dir=args.cache, on_error=failures, desc=f"{split} features"
        )
        frames = sum(len(f) for f in feats.values())
        print(
            f"{split}: {len(feats)} utterances, {frames} frames of {recipe.features.dim} "
            f"features cached in {args.cache}"
        )
    return failures.finish()


def cmd_train(args) -> int:
    from pipeline.data import load_split
    from pipeline.train import train

    # --cell is model.cell: an override, so the recipe validates it and the bundle records it.
    cell = [f"model.cell={json.dumps(args.cell)}"] if args.cell else []
    recipe = _recipe_with_data_flags(args, cell)
    failures = Failures(args.strict)
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
    )
    if "dev_error_rate" in summary:
        print(f"dev error rate {summary['dev_error_rate']:.2f} % (epoch {summary['best_epoch']})")
    return failures.finish()


def cmd_evaluate(args) -> int:
    from pipeline.bundle import load_bundle
    from pipeline.data import load_split
    from pipeline.evaluate import evaluate_bundle
    from pipeline.scoring import write_kaldi_text

    bundle = load_bundle(args.model, engine=args.engine)
    failures = Failures(args.strict)
    utts = load_split(
        args.data,
        args.split,
        keep_sa=args.keep_sa,
        dev_speakers=args.dev_speakers,
        test_speakers=args.test_speakers,
        on_error=failures,
    )
    if not utts:
        raise DataError(f"split {args.split!r} has no utterances", args.data)
    fold_to = args.fold if args.fold is not None else bundle.summary.get("score_phone_set")
    report, hyps = evaluate_bundle(bundle, utts, fold_to=fold_to, on_error=failures)
    if args.hyp_out:
        write_kaldi_text(hyps, args.hyp_out)
    _print_report(report, args.format, extra={"model": str(args.model), "split": args.split})
    return failures.finish()


def _print_report(report, fmt: str, *, extra: dict) -> None:
    if fmt == "json":
        print(json.dumps({**extra, **report.to_dict()}, indent=None))
    else:
        print(report.to_text("PER" if report.fold_to else "Error rate"))


def cmd_transcribe(args) -> int:
    from pipeline.bundle import load_bundle
    from pipeline.transcribe import expand_inputs, transcribe_files

    bundle = load_bundle(args.model, engine=args.engine)
    files = expand_inputs(args.inputs)
    if not files:
        raise DataError("no audio files found", " ".join(args.inputs))
    failures = Failures(args.strict)
    for tr in transcribe_files(bundle, files, fold_to=args.fold, on_error=failures):
        if args.format == "json":
            print(json.dumps(tr.to_dict()), flush=True)
        else:
            print(" ".join([tr.file, *(p.phone for p in tr.phones)]), flush=True)
    return failures.finish()


def _read_transcripts(path: str, fold_to: int | None) -> dict[str, list[str]]:
    """A Kaldi text file; with ``fold_to`` each label must fold (errors name the file)."""
    from pipeline.phones import fold
    from pipeline.scoring import read_kaldi_text

    try:
        texts = read_kaldi_text(path)
    except UnicodeDecodeError:
        raise DataError("not UTF-8 text", path) from None
    for utt, phones in texts.items() if fold_to is not None else ():
        try:
            fold(phones, fold_to)
        except DataError as e:
            raise DataError(f"utterance {utt}: {e.reason}", path) from None
    return texts


def cmd_score(args) -> int:
    from pipeline.scoring import score

    refs, hyps = _read_transcripts(args.ref, args.fold), _read_transcripts(args.hyp, args.fold)
    report = score(refs, hyps, fold_to=args.fold)
    _print_report(report, args.format, extra={"ref": args.ref, "hyp": args.hyp})
    if report.missing:
        shown = ", ".join(report.missing[:3]) + (", ..." if len(report.missing) > 3 else "")
        print(
            f"lstmrec: {args.hyp}: no hypothesis for {len(report.missing)} reference "
            f"utterance(s) ({shown})",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    return 0


def cmd_bench(args) -> int:
    from pipeline.benchmark import BenchSettings, format_table, quick_settings, run_bench

    chosen = {
        k: v
        for k, v in dict(
            backends=tuple(args.backends) if args.backends else None,
            steps=args.steps,
            corpus=args.corpus,
            model=args.model,
            audio=args.audio,
            layers=args.layers,
            units=args.units,
            torch=False if args.no_torch else None,
        ).items()
        if v is not None
    }
    settings = quick_settings(**chosen) if args.quick else BenchSettings(**chosen)
    result = run_bench(settings, log=lambda msg: print(f"lstmrec bench: {msg}", file=sys.stderr))
    if args.format == "json":
        print(json.dumps(result))
    else:
        print(format_table(result))
    return 0


def _add_bench_parser(sub) -> None:
    from pipeline.benchmark import BACKENDS

    p = sub.add_parser("bench", help="training, inference, cold-start and feature speed")
    p.add_argument(
        "--quick",
        action="store_true",
        help="reduced set: one backend, 2 timed steps per network, one cold start",
    )
    p.add_argument("--steps", type=int, help="timed training steps per network (default: 10)")
    p.add_argument(
        "--backends",
        nargs="+",
        choices=BACKENDS,
        help="Keras backends to train on, each in its own process (default: tensorflow)",
    )
    p.add_argument("--corpus", help="take utterance lengths from this corpus (default: 1.5-4.5 s)")
    p.add_argument("--model", help="bundle to time inference with (default: random weights)")
    p.add_argument("--audio", help="folder of speech files (default: the bundled TIMIT sample)")
    p.add_argument("--layers", type=int, help="BLSTM layers (default: 3)")
    p.add_argument("--units", type=int, help="units per direction (default: 250)")
    p.add_argument("--no-torch", action="store_true", help="skip the plain PyTorch reference")
    _format_arg(p)
    p.set_defaults(func=cmd_bench)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lstmrec", description="BLSTM-CTC phone recognition: train, evaluate, transcribe."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("prepare", help="write JSONL manifests of a corpus's splits")
    _add_data_args(p, split_default=None)
    p.add_argument("--out", required=True, help="folder for <split>.jsonl")
    p.add_argument(
        "--splits",
        nargs="+",
        default=["train", "dev", "core-test"],
        choices=SPLITS,
        help="splits to write (default: train dev core-test)",
    )
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser("features", help="compute and cache a recipe's features for some splits")
    p.add_argument("--config", help="TOML recipe (its [features] and [data] tables are used)")
    _add_data_args(p, split_default=None)
    p.add_argument(
        "--cache", required=True, help="feature cache folder (pass it to train's --feature-cache)"
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
    p.set_defaults(func=cmd_features)

    p = sub.add_parser("train", help="train a BLSTM-CTC model and write its bundle")
    p.add_argument("--config", help="TOML recipe (default: built-in CTC-3l-250h defaults)")
    _add_data_args(p, split_default=None)
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
    p.add_argument("--feature-cache", help="feature cache folder (default: <out>/features)")
    p.add_argument(
        "--cell",
        help="recurrent cell of every layer: lstm, peephole, cifg, gru or rnn "
        "(sets model.cell; default: the recipe's, lstm)",
    )
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="phone error rate of a model on a split")
    p.add_argument("model", help="model bundle folder (e.g. runs/x/model)")
    _add_data_args(p, split_default="core-test")
    _format_arg(p)
    _fold_arg(p, None)
    p.add_argument("--hyp-out", help="also write the hypotheses in Kaldi text format")
    _engine_arg(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("transcribe", help="phone sequence of each audio file")
    p.add_argument("model", help="model bundle folder")
    p.add_argument("inputs", nargs="+", help="audio files or folders (searched recursively)")
    _format_arg(p)
    _fold_arg(p, None)
    p.add_argument("--strict", action="store_true", help="stop at the first bad file")
    _engine_arg(p)
    p.set_defaults(func=cmd_transcribe)

    p = sub.add_parser("score", help="score a hypothesis file against a reference file")
    p.add_argument("ref", help="reference transcripts, Kaldi text format (<utt-id> p1 p2 ...)")
    p.add_argument("hyp", help="hypothesis transcripts, Kaldi text format")
    _format_arg(p)
    _fold_arg(p, None)
    p.set_defaults(func=cmd_score)

    _add_bench_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _quiet_backend(args)
    try:
        return args.func(args)
    except DataError as e:
        print(f"lstmrec: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("lstmrec: interrupted (training continues with --resume)", file=sys.stderr)
        return 130
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        print(f"lstmrec: {where}{e.strerror or e}", file=sys.stderr)
        return EXIT_BAD_INPUT
