"""Scoring reports people read: sclite-style tables, confusion pairs, aligned utterances, CIs.

Built on :class:`lstmrec.scoring.align.Report` (which keeps every utterance's alignment). The text
report follows NIST sclite's ``sys`` report: one row per speaker (or writer: the column label is
an option) with the number of utterances and reference symbols, then Corr, Sub, Del, Ins and Err
as percentages of the reference symbols, and S.Err, the percentage of utterances with at least
one error. With ``details`` each utterance follows as sclite's ``pralign`` shows it: ``REF:``
and ``HYP:`` lines in aligned columns, errors in upper case, ``***`` where one side has nothing,
and an ``Eval:`` line marking S, D and I under each error.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections import Counter

import numpy as np

from lstmrec.scoring import stats
from lstmrec.scoring.align import (
    CORRECT,
    DELETION,
    INSERTION,
    SUBSTITUTION,
    AlignedPair,
    ErrorCounts,
    Report,
)

GAP = "***"  # sclite's filler for the side of an insertion or deletion that has no symbol


@dataclasses.dataclass(frozen=True)
class ReportOptions:
    speaker_label: str = "speaker"  # header of the per-speaker column ("writer" for ink)
    top: int = 10  # confusion pairs, deleted and inserted symbols listed
    details: bool = False  # aligned REF / HYP lines for every utterance
    replicates: int = stats.REPLICATES  # bootstrap replicates of the confidence interval
    seed: int = stats.SEED


def utterance_arrays(report: Report) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Utterance ids (sorted), ``(N,)`` int64 errors and ``(N,)`` int64 reference lengths."""
    counts = report.utterance_counts()
    ids = sorted(counts)
    errors = np.array([counts[u].errors for u in ids], dtype=np.int64)
    lengths = np.array([counts[u].reference_length for u in ids], dtype=np.int64)
    return ids, errors, lengths


def confidence_interval(report: Report, options: ReportOptions = ReportOptions()) -> list[float]:
    """95 % bootstrap interval ``[lo, hi]`` (percent) of the report's error rate, or ``[]``
    when it has no utterances."""
    _, errors, lengths = utterance_arrays(report)
    if len(errors) == 0:
        return []
    lo, hi = stats.bootstrap_ci(errors, lengths, replicates=options.replicates, seed=options.seed)
    return [lo, hi]


def confusions(report: Report) -> tuple[Counter, Counter, Counter]:
    """Counters over all alignments: ``(ref, hyp)`` substitutions, deleted reference symbols,
    inserted hypothesis symbols."""
    subs: Counter = Counter()
    deleted: Counter = Counter()
    inserted: Counter = Counter()
    for pairs in report.alignments.values():
        for op, r, h in pairs:
            if op == SUBSTITUTION:
                subs[(r, h)] += 1
            elif op == DELETION:
                deleted[r] += 1
            elif op == INSERTION:
                inserted[h] += 1
    return subs, deleted, inserted


def _most_common(counter: Counter) -> list:
    """Most frequent first, ties in symbol order (Counter alone keeps insertion order)."""
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))


def speaker_rows(report: Report) -> list[dict]:
    """One dict per speaker, sorted: counts, and sclite's percentages of the reference length."""
    utt_counts = report.utterance_counts()
    by_speaker: dict[str, list] = {}
    for utt, spk in report.utterance_speakers.items():
        by_speaker.setdefault(spk, []).append(utt_counts[utt])
    return [_row(spk, by_speaker.get(spk, [])) for spk in sorted(report.per_speaker)]


def _row(name: str, utts: list[ErrorCounts]) -> dict:
    """A speaker's counts and percentages. Percentages of a reference length of 0 are None:
    a speaker whose references are all empty has no rate, only its insertions."""
    c = sum(utts, start=ErrorCounts())
    n = c.reference_length

    def pct(count: int) -> float | None:
        return 100.0 * count / n if n else None

    return {
        "speaker": name,
        "num_utterances": len(utts),
        "reference_length": c.reference_length,
        "correct": c.correct,
        "substitutions": c.substitutions,
        "deletions": c.deletions,
        "insertions": c.insertions,
        "errors": c.errors,
        "utterances_with_errors": sum(1 for u in utts if u.errors),
        "corr_pct": pct(c.correct),
        "sub_pct": pct(c.substitutions),
        "del_pct": pct(c.deletions),
        "ins_pct": pct(c.insertions),
        "err_pct": pct(c.errors),
        "s_err_pct": 100.0 * sum(1 for u in utts if u.errors) / max(len(utts), 1),
    }


_PERCENT_COLUMNS = (
    ("Corr", "corr_pct"),
    ("Sub", "sub_pct"),
    ("Del", "del_pct"),
    ("Ins", "ins_pct"),
    ("Err", "err_pct"),
    ("S.Err", "s_err_pct"),
)


def sys_table(report: Report, speaker_label: str = "speaker") -> list[str]:
    """sclite's ``sys`` table: a row per speaker, the sum, and the mean and standard deviation
    over speakers of each percentage."""
    rows = speaker_rows(report)
    utt_counts = list(report.utterance_counts().values())
    total = _row("Sum/Avg", utt_counts)
    width = max([len(speaker_label), 7, *(len(r["speaker"]) for r in rows)])
    head = f"{speaker_label:<{width}} {'#utt':>6} {'#ref':>7} |"
    head += "".join(f" {title:>6}" for title, _ in _PERCENT_COLUMNS)

    def cell(value: float | None) -> str:
        return f" {'-':>6}" if value is None else f" {value:>6.1f}"

    def line(r: dict) -> str:
        cells = "".join(cell(r[key]) for _, key in _PERCENT_COLUMNS)
        return (
            f"{r['speaker']:<{width}} {r['num_utterances']:>6} {r['reference_length']:>7} |{cells}"
        )

    out = [head, "-" * len(head), *map(line, rows), "=" * len(head), line(total)]
    if len(rows) > 1:
        # over the speakers that have a rate: one with no reference symbols has none
        for name, fn, least in (("Mean", statistics.fmean, 1), ("S.D.", statistics.stdev, 2)):
            cells = ""
            for _, key in _PERCENT_COLUMNS:
                values = [r[key] for r in rows if r[key] is not None]
                cells += cell(fn(values) if len(values) >= least else None)
            out.append(f"{name:<{width}} {'':>6} {'':>7} |{cells}")
    return out


def confusion_lines(report: Report, top: int) -> list[str]:
    """The ``top`` most frequent substitutions, deletions and insertions, side by side; "no
    errors" when there are none, and no lines when ``top`` is 0 (no list asked for)."""
    subs, deleted, inserted = confusions(report)
    if not (subs or deleted or inserted):
        return ["no errors"]
    if top < 1:
        return []
    cols = [
        [f"{n:>5}  {r} -> {h}" for (r, h), n in _most_common(subs)[:top]],
        [f"{n:>5}  {s}" for s, n in _most_common(deleted)[:top]],
        [f"{n:>5}  {s}" for s, n in _most_common(inserted)[:top]],
    ]
    titles = ["substitutions (ref -> hyp)", "deleted", "inserted"]
    widths = [max([len(t), *map(len, col)]) for t, col in zip(titles, cols, strict=True)]
    out = ["  ".join(f"{t:<{w}}" for t, w in zip(titles, widths, strict=True)).rstrip()]
    for i in range(max(map(len, cols))):
        cells = [col[i] if i < len(col) else "" for col in cols]
        out.append("  ".join(f"{c:<{w}}" for c, w in zip(cells, widths, strict=True)).rstrip())
    return out


def aligned_lines(pairs: list[AlignedPair]) -> tuple[str, str, str]:
    """sclite's ``REF:``, ``HYP:`` and ``Eval:`` lines for one alignment (without the prefix):
    one column per aligned pair, correct symbols as they are, errors in upper case, ``***``
    for a missing side, and S / D / I under each error."""
    ref, hyp, ev = [], [], []
    for op, r, h in pairs:
        r_txt = GAP if r is None else (r if op == CORRECT else r.upper())
        h_txt = GAP if h is None else (h if op == CORRECT else h.upper())
        w = max(len(r_txt), len(h_txt))
        ref.append(f"{r_txt:<{w}}")
        hyp.append(f"{h_txt:<{w}}")
        ev.append(f"{'' if op == CORRECT else op:<{w}}")
    return " ".join(ref).rstrip(), " ".join(hyp).rstrip(), " ".join(ev).rstrip()


def detail_lines(report: Report) -> list[str]:
    """Every utterance, sorted by id: id, speaker, counts and the aligned REF / HYP / Eval."""
    out = []
    for utt in sorted(report.alignments):
        pairs = report.alignments[utt]
        c = ErrorCounts.from_alignment(pairs)
        ref, hyp, ev = aligned_lines(pairs)
        out += [
            f"id: ({utt})  speaker {report.utterance_speakers.get(utt, '?')}",
            f"Scores: (#C #S #D #I) {c.correct} {c.substitutions} {c.deletions} {c.insertions}"
            + (f"  ({c.error_rate:.1f} %)" if c.reference_length else "  (no reference symbols)"),
            f"REF:  {ref}",
            f"HYP:  {hyp}",
            f"Eval: {ev}",
            "",
        ]
    return out


def report_dict(report: Report, options: ReportOptions = ReportOptions()) -> dict:
    """``report.to_dict()`` (every key kept) plus ``ci95``, the bootstrap settings, the
    speaker table, the confusion lists and, with ``details``, every utterance's alignment."""
    subs, deleted, inserted = confusions(report)
    out = {
        **report.to_dict(),
        "ci95": confidence_interval(report, options),
        "bootstrap": {"replicates": options.replicates, "seed": options.seed, "level": 0.95},
        "speaker_label": options.speaker_label,
        "speakers": speaker_rows(report),
        "confusions": {
            "substitutions": [
                {"ref": r, "hyp": h, "count": n} for (r, h), n in _most_common(subs)[: options.top]
            ],
            "deletions": [{"ref": s, "count": n} for s, n in _most_common(deleted)[: options.top]],
            "insertions": [
                {"hyp": s, "count": n} for s, n in _most_common(inserted)[: options.top]
            ],
        },
    }
    if options.details:
        out["utterances"] = [
            {
                "id": utt,
                "speaker": report.utterance_speakers.get(utt),
                **ErrorCounts.from_alignment(pairs).to_dict(),
                "alignment": [[op, r, h] for op, r, h in pairs],
            }
            for utt, pairs in sorted(report.alignments.items())
        ]
    return out


def evaluation_dict(report, options: ReportOptions, *, extra: dict) -> dict:
    """What ``lstmrec evaluate --format json`` prints: ``extra`` and :func:`report_dict` of a
    :class:`Report`; for a character and word report pair (``report.chars``, ``report.words``)
    the character report's keys, ``cer`` and ``wer`` in percent, and the word report under
    ``words``."""
    if isinstance(report, Report):
        return {**extra, **report_dict(report, options)}
    chars = report_dict(report.chars, options)
    words = report_dict(report.words, options)
    rates = {"cer": chars["error_rate"], "wer": words["error_rate"]}
    return {**extra, **chars, **rates, "words": words}


def report_text(report: Report, options: ReportOptions = ReportOptions(), name: str = "PER") -> str:
    """The summary line (as :meth:`Report.to_text` starts), the 95 % interval, the sys table,
    the confusion lists and, with ``details``, every utterance aligned."""
    lines = report.summary_lines(name)
    ci = confidence_interval(report, options)
    if ci:
        lines.append(
            f"95 % confidence interval [{ci[0]:.2f}, {ci[1]:.2f}] % (bootstrap over "
            f"{report.num_utterances} utterances, {options.replicates} replicates, "
            f"seed {options.seed})"
        )
    lines += ["", *sys_table(report, options.speaker_label), ""]
    lines += confusion_lines(report, options.top)
    if options.details:
        lines += ["", *detail_lines(report)]
    return "\n".join(lines).rstrip("\n") + "\n"


def compare_reports(
    a: Report, b: Report, options: ReportOptions = ReportOptions(), *, alpha: float = stats.ALPHA
) -> stats.Comparison:
    """Paired comparison of two reports scored against the same references."""
    ids_a, errors_a, lengths = utterance_arrays(a)
    ids_b, errors_b, lengths_b = utterance_arrays(b)
    if ids_a != ids_b or not np.array_equal(lengths, lengths_b):
        raise ValueError("the two reports are not scored against the same references")
    return stats.compare_systems(
        errors_a, errors_b, lengths, replicates=options.replicates, seed=options.seed, alpha=alpha
    )


def comparison_text(c: stats.Comparison, name_a: str, name_b: str, rate: str = "PER") -> str:
    """Both error rates, the difference with its interval, the tests and a one-line verdict."""
    lo, hi = c.difference_ci
    equal = c.num_utterances - c.utterances_a_better - c.utterances_b_better
    lines = [
        f"A: {name_a}  {rate} {c.rate_a:.2f} % [ {c.errors_a} / {c.reference_length} ]",
        f"B: {name_b}  {rate} {c.rate_b:.2f} % [ {c.errors_b} / {c.reference_length} ]",
        f"B - A: {c.difference:+.2f} points, 95 % CI [{lo:+.2f}, {hi:+.2f}] (paired bootstrap "
        f"over {c.num_utterances} utterances, {c.replicates} replicates, seed {c.seed})",
        f"probability that B is better: {c.prob_b_better:.3f}",
        f"utterances with fewer errors: B {c.utterances_b_better}, A {c.utterances_a_better}, "
        f"tied {equal}",
        f"matched-pairs test (Gillick & Cox, utterance segments): p = {c.matched_pairs_p:.3g}",
        f"Wilcoxon signed-rank test: p = {c.wilcoxon_p:.3g}",
        f"verdict: {c.verdict('A', 'B')}",
    ]
    return "\n".join(lines) + "\n"


INSERTION_ROW = "<ins>"  # reference side of an insertion, in the confusion matrix
DELETION_COLUMN = "<del>"  # hypothesis side of a deletion


def confusion_matrix(
    report: Report, symbols: list[str] | None = None
) -> tuple[list[str], list[str], np.ndarray]:
    """Counts of every aligned pair: rows are reference symbols, columns hypothesis symbols.

    ``symbols`` fixes the order (e.g. the 39 folded TIMIT phones); by default it is every
    symbol in the alignments, sorted. Symbols outside ``symbols`` are appended, sorted.

    Returns:
        Row labels ``symbols + [<ins>]``, column labels ``symbols + [<del>]``, and int64 counts
        ``(K + 1, K + 1)``: ``[i, j]`` pairs reference ``i`` with hypothesis ``j`` (the diagonal
        is correct), the last column counts deletions and the last row insertions.
    """
    seen = {s for pairs in report.alignments.values() for _, r, h in pairs for s in (r, h)}
    seen.discard(None)
    order = list(symbols or [])
    order += sorted(seen - set(order))
    index = {s: i for i, s in enumerate(order)}
    k = len(order)
    counts = np.zeros((k + 1, k + 1), dtype=np.int64)  # (ref + <ins>, hyp + <del>)
    for pairs in report.alignments.values():
        for _, r, h in pairs:
            counts[k if r is None else index[r], k if h is None else index[h]] += 1
    return [*order, INSERTION_ROW], [*order, DELETION_COLUMN], counts
