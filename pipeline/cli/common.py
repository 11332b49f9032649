"""Command-line pieces every ``lstmrec`` command module shares: the failure collector of batch
commands (with the list of a corpus's known gaps), the exit status of bad input, the
output-format and phone-folding flags, the check that an output file is neither an input, nor
another output of the command, nor, without ``--force``, an existing file, and the command line
of scripts that copy lines of an IAM-OnDB tree."""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

from lstmrec.corpora.iam_ondb import IAM_ONDB_SPLIT_FILES, lines_of_splits
from lstmrec.corpora.splits import SPLITS, load_split
from lstmrec.features.errors import CorpusGap, DataError, gap_summary
from lstmrec.features.files import check_output, same_file, write_text
from lstmrec.featurize import default_cache_dir
from lstmrec.inference.evaluate import held_out_lists, recipe_speaker_lists
from lstmrec.scoring.ids import STDIN

EXIT_BAD_INPUT = 2
GAPS_FILE = "corpus_gaps.txt"  # the known gaps of the corpus, beside prepared data or a run


class Failures:
    """Collects skipped inputs of a batch command; ``strict`` turns the first into an error.

    Each failure is one line on stderr as it happens (``skipping <file>: <reason>``), and
    :meth:`finish` adds one line that counts them, without naming them again. A failure met
    again (a corpus read once per split finds its bad files each time) is neither named nor
    counted twice. ``batch=False``
    (a command given one input) drops both the ``skipping`` and the count: its one line is
    ``<file>: <reason>``, as for any other bad input.

    Known gaps of a corpus (:class:`CorpusGap`: IAM-OnDB's transcribed lines without ink, lines
    its conventions leave out) are not failures: never stopped at, not printed one by one, and
    no reason for exit status 2. :meth:`finish` lists them once, in ``gaps_file`` (default: a
    file named by its content in ``gaps_dir``, itself by default the feature cache folder), and
    sums them up in one line.
    """

    def __init__(
        self,
        strict: bool,
        *,
        gaps_file: str | os.PathLike | None = None,
        gaps_dir: str | os.PathLike | None = None,
        batch: bool = True,
        what: str = "input",
    ) -> None:
        self.strict = strict
        self.batch = batch
        self.what = what  # what is counted at the end: "input", "model card"
        self.errors: list[DataError] = []
        self.messages: set[str] = set()  # of the errors: one met again is not named again
        self.gaps: dict[str, CorpusGap] = {}  # by message: a corpus read twice lists each once
        self.gaps_file = gaps_file
        self.gaps_dir = gaps_dir

    def __call__(self, err: DataError) -> None:
        if isinstance(err, CorpusGap):
            self.gaps.setdefault(str(err), err)
            return
        if self.strict:
            raise err
        if str(err) in self.messages:
            return
        self.messages.add(str(err))
        self.errors.append(err)
        print(f"lstmrec: {'skipping ' if self.batch else ''}{err}", file=sys.stderr)

    def finish(self) -> int:
        """Report the gaps and count the failures; the exit status (2 when an input failed)."""
        self.report_gaps()
        if not self.errors:
            return 0
        if self.batch:  # each was named as it was skipped: the count alone
            n = len(self.errors)
            what = f"{self.what}{'s' if n > 1 else ''}"
            print(f"lstmrec: {n} {what} failed (named above)", file=sys.stderr)
        return EXIT_BAD_INPUT

    def report_gaps(self) -> Path | None:
        """Write the list of known gaps (one ``file: reason`` a line, sorted) and print the one
        summary line; the list's path (None when there are no gaps or it cannot be written)."""
        if not self.gaps:
            return None
        text = "".join(line + "\n" for line in sorted(self.gaps))
        target = self.gaps_file
        if target is None:
            digest = hashlib.sha256(text.encode()).hexdigest()[:12]
            target = Path(self.gaps_dir or default_cache_dir()) / f"corpus-gaps-{digest}.txt"
        try:
            write_text(target, text)
        except DataError as e:
            print(f"lstmrec: {gap_summary(self.gaps.values())}: not listed ({e})", file=sys.stderr)
            return None
        print(f"lstmrec: {gap_summary(self.gaps.values())}: listed in {target}", file=sys.stderr)
        return Path(target)


def format_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format", choices=["text", "json"], default="text", help="output format (default: text)"
    )


def fold_arg(p: argparse.ArgumentParser, *, default_help: str = "no folding") -> None:
    """``--fold`` (default None); ``default_help`` says what the command does without it."""
    p.add_argument(
        "--fold",
        type=int,
        choices=[61, 48, 39],
        help=f"fold TIMIT phones to this set before output/scoring (default: {default_help})",
    )


def split_from_args(args, split: str, *, on_error=None) -> list:
    """The utterances of ``split`` in ``args.data``, chosen by the command's data flags
    (``--keep-sa``, ``--dev-speakers``, ``--test-speakers``, and ``--corpus`` where it has one):
    a list of :class:`lstmrec.manifest.Utterance`."""
    return load_split(
        args.data,
        split,
        keep_sa=args.keep_sa,
        dev_speakers=args.dev_speakers,
        test_speakers=args.test_speakers,
        on_error=on_error,
        corpus=getattr(args, "corpus", "auto"),
    )


# The files each command writes beside its printed output: (attribute, flag). prepare's --out is
# a folder of <split>.jsonl; a transcribe --plot folder is checked picture by picture.
OUTPUTS = {
    "prepare": (("out", "--out"),),
    "evaluate": (("hyp_out", "--hyp-out"), ("ref_out", "--ref-out"), ("plot", "--plot")),
    "score": (("plot", "--plot"),),
    "transcribe": (("plot", "--plot"), ("output", "--output")),
    "lm": (("out", "--out"),),
    "refs": (
        ("stm_out", "--stm-out"),
        ("text_out", "--text-out"),
        ("utt2spk_out", "--utt2spk-out"),
    ),
}


def add_force_args(sub) -> None:
    """``--force`` on each command of ``OUTPUTS`` (``sub``: the main parser's subparsers)."""
    for name in OUTPUTS:
        sub.choices[name].add_argument(
            "--force",
            action="store_true",
            help="overwrite output files that exist (an input of the command never is)",
        )


def stdout_closed() -> int:
    """After a ``BrokenPipeError``: send nothing more to the closed pipe (Python flushes stdout
    at exit) and return the status a shell gives a writer whose pipe closed (128 + SIGPIPE)."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 141


def check_pictures(args, pictures: list[Path], files: list[str]) -> list[Path]:
    """``pictures`` (of ``transcribe --plot``), once none is an input or, without ``--force``,
    an existing file."""
    inputs = [f for f in files if f != STDIN]  # "-" names no file
    for png in pictures:
        check_output(png, inputs=[*inputs, args.model], force=args.force, flag="--plot")
    return pictures


def input_paths(args) -> list[str]:
    """Every path on the command line that exists and is not one of the command's outputs."""
    outputs = {dest for dest, _ in OUTPUTS.get(args.command, ())}
    found = []
    for dest, value in vars(args).items():
        values = value if isinstance(value, list) else [value]
        if dest in outputs:
            continue
        found += [v for v in values if isinstance(v, str) and v and os.path.exists(v)]
    return found


def check_outputs(args) -> None:
    """Refuse (:class:`DataError`) an output file that is also an input, that two output flags
    name (one would replace the other), that is a folder or ``-``, or that exists when
    ``--force`` is not given: nothing a user made is overwritten by mistake, and nothing is
    written before the check."""
    inputs = input_paths(args)
    force = getattr(args, "force", False)
    chosen: list[tuple[Path, str]] = []  # (target, flag) of the outputs checked so far
    for dest, flag in OUTPUTS.get(args.command, ()):
        value = getattr(args, dest, None)
        if not value:
            continue
        if value == STDIN:  # no file named "-", which a user takes for standard output
            raise DataError(
                f"{flag} - : {args.command} writes a file, not standard output; name one"
            )
        if args.command == "prepare":
            targets = [Path(value) / f"{split}.jsonl" for split in args.splits]
        elif (
            dest == "plot" and args.command == "transcribe" and Path(value).suffix.lower() != ".png"
        ):
            continue  # a folder of pictures: checked per picture
        else:
            targets = [Path(value)]
        for target in targets:
            for other, other_flag in chosen:
                if other_flag != flag and same_file(target, other):
                    raise DataError(
                        f"{other_flag} and {flag} name the same file; give each its own", target
                    )
            if target.is_dir():  # never replaced, even with --force
                raise DataError(f"{flag} is a folder; name a file", target)
            if flag == "--plot" and target.suffix.lower() != ".png":  # (not PNG data in a .jpg)
                raise DataError(f"{flag} draws a PNG picture; name a .png file", target)
            check_output(target, inputs=inputs, force=force, flag=flag)
            chosen.append((target, flag))


def bundle_held_out(args, bundle) -> str:
    """Make the bundle's held-out speakers the default split of ``args``, and say whose they are.

    Without ``--dev-speakers`` / ``--test-speakers``, the recipe's speaker lists when ``args.data``
    gives the training set the bundle records (:func:`lstmrec.inference.evaluate.held_out_lists`)
    go into ``args``. Returns where the lists come from: "the command line", "the model's
    recipe" or "the corpus" (its own split rules)."""
    if args.dev_speakers or args.test_speakers:
        return "the command line"
    dev, test = held_out_lists(bundle, args.data)
    if not (dev or test):
        return "the corpus"
    args.dev_speakers, args.test_speakers = dev, test
    return "the model's recipe"


def recipe_lists_hint(bundle) -> str:
    """`` (the model's held-out speakers: --dev-speakers A --test-speakers B)`` when the
    bundle's recipe names speaker lists that exist but were not used (the corpus given is not
    the training set it records, e.g. one with an utterance more); else ``""``."""
    lists = recipe_speaker_lists(bundle)
    flags = [f"--{key.replace('_', '-')} {path}" for key, path in lists.items()]
    return f" (the model's held-out speakers: {' '.join(flags)})" if flags else ""


def quiet_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--quiet", action="store_true", help="no progress bars (they show on a terminal only)"
    )


def engine_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--engine",
        choices=["numpy", "keras"],
        default="numpy",
        help="forward pass in plain NumPy (same logits, starts without importing Keras) or "
        "with the Keras model on its backend (default: numpy)",
    )


def lexicon_arg(p: argparse.ArgumentParser, *, default_help: str) -> None:
    """``--pron-lexicon SOURCE``, repeatable: pronunciation lexicons for word-only transcripts
    (``--lexicon`` is the decoder's word list)."""
    p.add_argument(
        "--pron-lexicon",
        action="append",
        metavar="SOURCE",
        help="pronunciation lexicon for utterances with only words: a lexicon.txt file or "
        f"'cmudict'; repeat to look words up in several, in order ({default_help})",
    )


def add_data_args(p: argparse.ArgumentParser, *, split_default: str | None) -> None:
    """The flags that choose utterances of a corpus: --data, --split (unless ``split_default`` is
    None), --keep-sa, the speaker lists and --strict."""
    p.add_argument(
        "--data",
        required=True,
        help="TIMIT copy, Kaldi data dir, LibriSpeech tree, Common Voice folder, IAM-OnDB "
        "copy, TIMIT-style corpus folder, JSONL manifest, or a folder written by "
        "'lstmrec prepare'",
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
        help="stop at the first bad utterance instead of skipping it (known gaps of the "
        "corpus, such as IAM-OnDB's lines without ink, are skipped still)",
    )


def add_tree_copy_args(p: argparse.ArgumentParser, *, verb: str) -> None:
    """SRC, DST and --splits of a script that writes the lines of some task 1 splits of an
    IAM-OnDB tree to a new folder (``verb``: what is done to those lines)."""
    p.add_argument("src", type=Path, help="an IAM-OnDB tree (lineStrokes/, ascii/, split files)")
    p.add_argument("dst", type=Path, help="the folder to write (must not exist)")
    p.add_argument(
        "--splits",
        nargs="+",
        choices=sorted(set(IAM_ONDB_SPLIT_FILES.values())),
        default=["test", "dev"],
        help=f"the task 1 splits whose lines are {verb} (default: test dev)",
    )


def tree_copy_lines(args, prog: str) -> tuple[list, dict[str, str]] | None:
    """The lines of ``args.splits`` of the tree ``args.src`` and each one's split
    (:func:`lstmrec.corpora.iam_ondb.lines_of_splits`), for :func:`add_tree_copy_args`; None
    after one line on stderr when ``args.dst`` exists or the tree has no such lines."""
    if args.dst.exists():
        print(f"{prog}: {args.dst}: exists; choose a new folder", file=sys.stderr)
        return None
    try:
        return lines_of_splits(args.src, args.splits)
    except DataError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return None
