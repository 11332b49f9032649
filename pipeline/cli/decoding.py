"""Command-line pieces for decoding: the decoding flags shared by evaluate, transcribe and
recognize, and the ``lm`` command that trains n-gram language models."""

from __future__ import annotations

import argparse
import math

from lstmrec.bundle import load_bundle
from lstmrec.cli.common import Failures, bundle_held_out, lexicon_arg, split_from_args
from lstmrec.corpora.splits import SPLITS
from lstmrec.features.errors import DataError
from lstmrec.features.files import regular_file
from lstmrec.inference.decoder import DecoderOptions, bundle_decoder
from lstmrec.inference.evaluate import recipe_lexicon
from lstmrec.inference.lm_files import (
    MAX_NGRAM_ORDER,
    corpus_sentences,
    text_tokens,
    train_ngram,
    write_arpa,
)
from lstmrec.lexicon import STYLES, Lexicon
from lstmrec.targets import Targets
from lstmrec.textnorm import TEXT_NORMALIZATIONS, resolve_for_utterances


def add_decoding_args(p: argparse.ArgumentParser, *, nbest: bool = True) -> None:
    """The decoding flags of evaluate, transcribe and recognize (defaults: the bundle's recipe
    ``[decoding]`` table; see :func:`decoder_from_args`); ``nbest=False`` leaves out
    ``--nbest``, for a command that writes no N-best list."""
    g = p.add_argument_group(
        "decoding",
        "Each defaults to the model's own setting, its recipe's [decoding] table (a shipped"
        " model's beam and language model: lstmrec models); in parentheses, what a model"
        " without the setting uses.",
    )
    g.add_argument("--beam", type=int, help="prefix beam width; 0 or 1: greedy best path (100)")
    if nbest:
        g.add_argument("--nbest", type=int, help="hypotheses per utterance in JSON output (1)")
    g.add_argument("--lm", help="ARPA n-gram language model fused into the beam search (none)")
    g.add_argument(
        "--lm-weight", type=float, help="weight of the LM's natural-log probability (0.5)"
    )
    g.add_argument(
        "--insertion-bonus", type=float, help="score added per output symbol, natural log (0)"
    )
    g.add_argument(
        "--lexicon",
        help="word list (first field per line): output only these words, scored by a word --lm",
    )


def decoder_from_args(args, bundle):
    """The :class:`lstmrec.inference.decoder.Decoder` for a bundle and the flags of
    :func:`add_decoding_args`."""
    if args.beam is not None and args.beam < 0:
        raise DataError(f"--beam {args.beam} must be 0 or more")
    nbest = getattr(args, "nbest", None)  # None: the command has no --nbest
    if nbest is not None and nbest < 1:
        raise DataError(f"--nbest {nbest} must be at least 1")
    json_out = getattr(args, "format", None) == "json" or getattr(args, "runner", None)
    if nbest is not None and nbest > 1 and not json_out:  # text and CTM show one (--runner: JSON)
        raise DataError(f"--nbest {nbest} lists hypotheses in JSON output: add --format json")
    for flag, value in (
        ("--lm-weight", args.lm_weight),
        ("--insertion-bonus", args.insertion_bonus),
    ):
        if value is not None and not math.isfinite(value):
            raise DataError(f"{flag} {value} must be a finite number")
    if args.lm_weight is not None and args.lm_weight < 0:  # it would reward unlikely text
        raise DataError(f"--lm-weight {args.lm_weight:g} must be 0 or more")
    try:
        options = DecoderOptions.from_summary(
            bundle.summary,
            beam=args.beam,
            nbest=nbest,
            lm=args.lm,
            lm_weight=args.lm_weight,
            insertion_bonus=args.insertion_bonus,
            lexicon=args.lexicon,
        )
    except (TypeError, ValueError) as e:  # a hand-edited summary.json
        raise DataError(f"bad [decoding] settings in the bundle ({e})", args.model) from None
    given = [
        flag
        for flag, value in (
            ("--lm", args.lm),
            ("--lm-weight", args.lm_weight),  # 0, as the bonus's, changes nothing
            ("--lexicon", args.lexicon),
            ("--insertion-bonus", args.insertion_bonus),
        )
        if value
    ]
    if given and options.greedy:  # the best path reads no LM nor bonus: the flags would go unused
        source = "--beam" if args.beam is not None else "the model's beam"
        verb = "needs" if len(given) == 1 else "need"
        raise DataError(
            f"{' and '.join(given)} {verb} a beam search, and {source} {options.beam} decodes "
            "greedily: give --beam 2 or more"
        )
    if args.lm_weight and not options.lm:  # nothing for the weight to weigh
        raise DataError(
            "--lm-weight weighs a language model, and this decoding has none: give --lm, or "
            "drop --lm-weight"
        )
    return bundle_decoder(bundle, options)


def cmd_lm(args) -> int:
    if not 1 <= args.order <= MAX_NGRAM_ORDER:  # higher orders are refused when read
        raise DataError(f"--order {args.order} must be in 1..{MAX_NGRAM_ORDER}")
    if (args.data is None) == (args.text is None):
        raise DataError("give either --data (a corpus or manifest) or --text (a text file)")
    _refuse_unused_lm_flags(args)
    if args.text is not None:
        if args.unit == "phones":
            raise DataError("--text gives characters or words: use --unit chars or words")
        try:
            lines = regular_file(args.text).read_text(encoding="utf-8-sig").splitlines()
        except UnicodeDecodeError:
            raise DataError("not UTF-8 text", args.text) from None
        sentences = [text_tokens(ln, args.unit) for ln in lines if ln.strip()]
        source = args.text
    else:
        lists_from = "the command line" if args.dev_speakers or args.test_speakers else "the corpus"
        targets = None
        if args.model:  # the model's held-out speakers stay out of its language model
            bundle = load_bundle(args.model, engine="numpy")
            lists_from = bundle_held_out(args, bundle)
            lexicon = args.pron_lexicon or recipe_lexicon(bundle, args.data)  # as evaluate
            targets = Targets.of_bundle(bundle, lexicon=lexicon)
            if (args.unit == "phones") != (targets.unit == "phones"):  # an LM it cannot use
                writes = "phones" if targets.unit == "phones" else "characters"
                use = "--unit phones" if writes == "phones" else "--unit chars or words"
                raise DataError(f"the model writes {writes}: use {use}", args.model)
        failures = Failures(strict=False)
        utts = split_from_args(args, args.split, on_error=failures)
        lexicon = None
        if targets is not None and targets.lexicon:  # the model's lexicon, in its style
            lexicon = targets.lexicon_object
        elif args.pron_lexicon:
            lexicon = Lexicon(args.pron_lexicon, style=args.pron_lexicon_style)
        phone_set = args.phone_set
        if phone_set is None:  # the model's set, else as labelled
            phone_set = targets.phone_set if targets is not None else 61
        sentences = corpus_sentences(
            utts,
            args.unit,
            phone_set=phone_set,
            lexicon=lexicon,
            on_error=failures,
            speech=targets is not None and targets.speech,  # the words a speech model writes
            normalization=_normalization(args, targets, utts),
        )
        source = args.data
        speakers = sorted({u.speaker for u in utts})
        print(f"{args.split} speakers (split by {lists_from}): {' '.join(speakers)}")
    if not sentences:
        raise DataError("no sentences to train a language model on", source)
    model = train_ngram(sentences, args.order)
    write_arpa(model, args.out)
    sizes = ", ".join(f"{len(t)} {n}-grams" for n, t in enumerate(model.probs, start=1))
    print(f"{len(sentences)} sentences, {len(model.vocab)} tokens: {sizes} -> {args.out}")
    return failures.finish() if args.text is None else 0


def _refuse_unused_lm_flags(args) -> None:
    """Refuse (:class:`DataError`, before any input is read) the flags of ``lm`` that its
    source and unit would leave unused: those of a corpus with ``--text``, those of phones
    with ``--unit chars`` or ``words``, the text normalisation with ``--unit phones``, and a
    lexicon style that ``--model``'s own replaces."""
    phones = {
        "--phone-set": args.phone_set is not None,
        "--pron-lexicon": bool(args.pron_lexicon),
        "--pron-lexicon-style": args.pron_lexicon_style != "plain",
    }
    words = {"--text-normalization": args.text_normalization != "auto"}
    corpus = {
        "--model": args.model is not None,
        "--split": args.split != "train",
        "--keep-sa": args.keep_sa,
        "--dev-speakers": args.dev_speakers is not None,
        "--test-speakers": args.test_speakers is not None,
        **words,
    }
    unused = {
        "for --data, not --text": corpus if args.text is not None else {},
        f"for --unit phones, not --unit {args.unit}": phones if args.unit != "phones" else {},
        "for --unit chars or words, not --unit phones": words if args.unit == "phones" else {},
        "with --model, the model's lexicon style is used": {
            "--pron-lexicon-style": args.model is not None and phones["--pron-lexicon-style"]
        },
    }
    for why, flags in unused.items():
        given = [flag for flag, on in flags.items() if on]
        if given:
            raise DataError(f"{' and '.join(given)}: {why}")


def _normalization(args, targets: Targets | None, utts) -> str:
    """The text normalisation of ``lm --data``: ``--text-normalization``; by default the
    model's (with ``--model``), else "iam_ondb" when the utterances are ink files, else
    "none" (the rules of ``[data] text_normalization = "auto"``)."""
    if args.text_normalization == "auto" and targets is not None:
        return targets.text_normalization
    return resolve_for_utterances(args.text_normalization, utts)


def add_lm_parser(sub) -> None:
    """The ``lm`` subcommand, on the subparsers of the main parser."""
    p = sub.add_parser("lm", help="train an n-gram language model (ARPA) for the beam search")
    p.add_argument("--data", help="corpus or manifest whose transcripts train the model")
    p.add_argument(
        "--split", default="train", choices=SPLITS, help="utterances of --data (default: train)"
    )
    p.add_argument("--keep-sa", action="store_true", help="keep TIMIT's SA sentences")
    p.add_argument("--dev-speakers", help="speaker-list file defining the dev split")
    p.add_argument("--test-speakers", help="speaker-list file defining the test splits")
    p.add_argument(
        "--model",
        help="with --data: the model the LM is for (bundle folder or shipped name); its "
        "recipe's held-out (dev and test) speaker lists split --data unless "
        "--dev-speakers/--test-speakers are given",
    )
    p.add_argument("--text", help="instead of --data: a UTF-8 text file, one sentence a line")
    p.add_argument(
        "--order", type=int, default=2, help=f"n-gram order, 1..{MAX_NGRAM_ORDER} (default: 2)"
    )
    p.add_argument(
        "--unit",
        choices=["phones", "chars", "words"],
        default="phones",
        help="tokens: phones (of --data), characters (space as <space>) or words as written "
        "(split at white space; with --model of a speech model: in lower case without "
        "punctuation, as a speech model of characters writes them) (default: phones)",
    )
    p.add_argument(
        "--phone-set",
        type=int,
        choices=[61, 48, 39],
        help="fold phones to this set; use the model's (default: with --model the model's, "
        "else 61)",
    )
    lexicon_arg(p, default_help="with --model: the model's")
    p.add_argument(
        "--pron-lexicon-style",
        choices=STYLES,
        default="plain",
        help="phones of the lexicon as they are, or in TIMIT's conventions (default: plain; "
        "with --model: the model's)",
    )
    p.add_argument(
        "--text-normalization",
        choices=TEXT_NORMALIZATIONS,
        default="auto",
        help="with --data and --unit chars or words: the transcription conventions undone "
        "before training, as for a model's targets (docs/handwriting.md): 'iam_ondb' or "
        "'none' (default: auto = the model's with --model, else iam_ondb for ink, none for "
        "speech)",
    )
    p.add_argument("--out", required=True, help="ARPA file to write")
    p.set_defaults(func=cmd_lm)
