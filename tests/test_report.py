"""sclite-style reports (tables, confusion pairs, aligned utterances) and ``lstmrec compare``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import one_line, run

from lstmrec.scoring.align import align, score
from lstmrec.scoring.refs import stm_lines
from lstmrec.scoring.report import (
    ReportOptions,
    aligned_lines,
    compare_reports,
    confusion_matrix,
    report_dict,
    report_text,
    sys_table,
)

# spk1_u1: one substitution (iy -> ih) and one insertion (y); spk2_u1: one deletion (r);
# spk2_u2: correct. 11 reference phones, 3 errors.
REFS = {
    "spk1_u1": "sh iy hh ae d".split(),
    "spk2_u1": "aa r k".split(),
    "spk2_u2": "k aa r".split(),
}
HYPS = {
    "spk1_u1": "sh ih hh ae d y".split(),
    "spk2_u1": "aa k".split(),
    "spk2_u2": "k aa r".split(),
}
SPEAKERS = {u: u.split("_")[0] for u in REFS}  # as the corpus would name them


def write_text(path: Path, texts: dict[str, list[str]]) -> Path:
    path.write_text("".join(f"{u} {' '.join(p)}\n" for u, p in texts.items()))
    return path


def test_aligned_lines_sclite_style():
    # One substitution, one deletion, one insertion: columns as wide as their wider side.
    ref, hyp, ev = aligned_lines(align("sh iy hh ae d k".split(), "sh ih hh d k y".split()))
    assert ref == "sh IY hh AE  d k ***"
    assert hyp == "sh IH hh *** d k Y"
    assert ev == "   S     D       I"


def test_sys_table_by_hand():
    report = score(REFS, HYPS, speakers=SPEAKERS)
    lines = sys_table(report, "writer")
    assert lines[0].split()[:3] == ["writer", "#utt", "#ref"]
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    #            #utt #ref |  Corr   Sub   Del   Ins   Err  S.Err
    assert rows["spk1"] == ["spk1", "1", "5", "|", "80.0", "20.0", "0.0", "20.0", "40.0", "100.0"]
    assert rows["spk2"] == ["spk2", "2", "6", "|", "83.3", "0.0", "16.7", "0.0", "16.7", "50.0"]
    total = ["Sum/Avg", "3", "11", "|", "81.8", "9.1", "9.1", "9.1", "27.3", "66.7"]
    assert rows["Sum/Avg"] == total
    assert rows["Mean"][-2:] == ["28.3", "75.0"]  # Err (40 + 16.7) / 2, S.Err (100 + 50) / 2


def test_a_speaker_with_no_reference_symbols_has_no_rate():
    # spk3's one reference is empty and its hypothesis two insertions: no percentage of 0
    # symbols is defined (it read 200 %), and the mean over speakers leaves it out
    refs, hyps = {**REFS, "spk3_u1": []}, {**HYPS, "spk3_u1": ["y", "y"]}
    report = score(refs, hyps, speakers={u: u.split("_")[0] for u in refs})
    rows = {line.split()[0]: line.split() for line in sys_table(report)[2:]}
    assert rows["spk3"] == ["spk3", "1", "0", "|", "-", "-", "-", "-", "-", "100.0"]
    assert rows["Sum/Avg"][3:9] == ["|", "81.8", "9.1", "9.1", "27.3", "45.5"]
    assert rows["Mean"][-2:] == ["28.3", "83.3"]  # Err over spk1 and spk2; S.Err over all three
    d = report_dict(report, ReportOptions())
    assert {r["speaker"]: r["err_pct"] for r in d["speakers"]}["spk3"] is None
    details = report_text(report, ReportOptions(details=True)).splitlines()
    at = details.index("id: (spk3_u1)  speaker spk3")
    assert details[at + 1] == "Scores: (#C #S #D #I) 0 0 0 2  (no reference symbols)"


def test_report_text_sections():
    report = score(REFS, HYPS, speakers=SPEAKERS)
    text = report_text(report, ReportOptions(details=True), "Error rate")
    assert text.startswith("Error rate 27.27 % [ 3 / 11 ] (S 1, D 1, I 1) over 3 utterances\n")
    assert "95 % confidence interval [" in text and "1000 replicates, seed 0" in text
    assert "substitutions (ref -> hyp)" in text
    confusions = text.splitlines()[text.splitlines().index("") + 1 :]
    assert any(line.split()[:4] == ["1", "iy", "->", "ih"] for line in confusions)
    block = text[text.index("id: (spk2_u1)") :].splitlines()
    assert block[:5] == [
        "id: (spk2_u1)  speaker spk2",
        "Scores: (#C #S #D #I) 2 0 1 0  (33.3 %)",
        "REF:  aa R   k",
        "HYP:  aa *** k",
        "Eval:    D",
    ]
    assert "id: (" not in report_text(report)  # details only when asked


def test_top_0_lists_nothing_and_claims_no_errors_only_when_true():
    report = score(REFS, HYPS, speakers=SPEAKERS)  # 3 errors
    text = report_text(report, ReportOptions(top=0))
    assert "no errors" not in text and "substitutions (ref -> hyp)" not in text
    assert text.splitlines()[-1].startswith("S.D.")  # nothing after the table
    perfect = report_text(score(REFS, REFS), ReportOptions(top=0))
    assert perfect.splitlines()[-1] == "no errors"


def test_negative_top_is_refused_by_the_parser(capsys, tmp_path):
    ref = write_text(tmp_path / "ref.txt", REFS)
    hyp = write_text(tmp_path / "hyp.txt", HYPS)
    with pytest.raises(SystemExit) as e:
        run(capsys, "score", ref, hyp, "--top", "-1")
    out, err = capsys.readouterr()
    assert e.value.code == 2 and out == ""
    assert err.splitlines()[-1] == "lstmrec score: error: argument --top: -1 must be 0 or more"


def test_report_dict_keeps_old_keys_and_adds_new_ones():
    report = score(REFS, HYPS, speakers=SPEAKERS)
    d = report_dict(report, ReportOptions(top=5, details=True, replicates=200, seed=2))
    assert {k: d[k] for k in report.to_dict()} == report.to_dict()
    lo, hi = d["ci95"]
    assert lo <= d["error_rate"] <= hi
    assert d["bootstrap"] == {"replicates": 200, "seed": 2, "level": 0.95}
    assert d["confusions"] == {
        "substitutions": [{"ref": "iy", "hyp": "ih", "count": 1}],
        "deletions": [{"ref": "r", "count": 1}],
        "insertions": [{"hyp": "y", "count": 1}],
    }
    spk2 = d["speakers"][1]
    assert (spk2["speaker"], spk2["num_utterances"], spk2["correct"]) == ("spk2", 2, 5)
    assert spk2["err_pct"] == pytest.approx(100 / 6) and spk2["s_err_pct"] == 50.0
    utt = {u["id"]: u for u in d["utterances"]}["spk1_u1"]
    assert utt["alignment"][-1] == ["I", None, "y"] and utt["errors"] == 2
    json.dumps(d)  # JSON-ready


def test_missing_hypothesis_is_all_deletions_in_the_details():
    report = score(REFS, {"spk1_u1": HYPS["spk1_u1"], "spk2_u2": HYPS["spk2_u2"]})
    text = report_text(report, ReportOptions(details=True))
    assert "HYP:  *** *** ***" in text and "REF:  AA  R   K" in text


def test_confusion_matrix_by_hand():
    rows, cols, counts = confusion_matrix(score(REFS, HYPS), ["sh", "iy"])
    # The given order first, then the rest sorted; <ins> and <del> last.
    assert rows == ["sh", "iy", "aa", "ae", "d", "hh", "ih", "k", "r", "y", "<ins>"]
    assert cols == [*rows[:-1], "<del>"]
    at = lambda r, h: counts[rows.index(r), cols.index(h)]  # noqa: E731
    assert at("iy", "ih") == 1 and at("r", "<del>") == 1 and at("<ins>", "y") == 1
    assert at("aa", "aa") == 2 and at("k", "k") == 2 and at("r", "r") == 1
    assert counts.sum() == 11 + 1  # every reference symbol once, plus the insertion
    assert np.trace(counts[:-1, :-1]) == 9  # correct


def test_compare_reports_needs_the_same_references():
    a = score(REFS, HYPS)
    with pytest.raises(ValueError):
        compare_reports(a, score({"spk1_u1": REFS["spk1_u1"]}, HYPS))


# ---------------------------------------------------------------------------------------------
# The command line


def test_score_details_and_json(capsys, tmp_path):
    ref, hyp = write_text(tmp_path / "ref.txt", REFS), write_text(tmp_path / "hyp.txt", HYPS)
    rc, out, err = run(capsys, "score", ref, hyp, "--details", "--speaker-label", "writer")
    assert rc == 0 and err == ""
    assert out.startswith("Error rate 27.27 % [ 3 / 11 ]")
    assert "\nwriter " in out and "REF:  sh IY hh ae d ***" in out
    rc, out, _ = run(capsys, "score", ref, hyp, "--format", "json", "--bootstrap", "50")
    d = json.loads(out)
    assert d["substitutions"] == 1 and len(d["ci95"]) == 2 and "utterances" not in d
    assert d["bootstrap"]["replicates"] == 50


@pytest.mark.parametrize(
    "args, flag",
    [
        (["score", "--bootstrap", "0"], "--bootstrap"),
        (["compare", "--bootstrap", "-3"], "--bootstrap"),
        (["compare", "--alpha", "1.5"], "--alpha"),
        (["score", "--seed", "-1"], "--seed"),
        (["compare", "--seed", "-7"], "--seed"),
    ],
)
def test_bad_statistics_flags_are_one_line(capsys, tmp_path, args, flag):
    ref = write_text(tmp_path / "ref.txt", REFS)
    extra = [ref] if args[0] == "compare" else []
    rc, out, err = run(capsys, args[0], ref, ref, *extra, *args[1:])
    assert rc == 2 and out == "" and flag in err and len(err.strip().splitlines()) == 1


@pytest.fixture
def systems(tmp_path):
    """References of 30 utterances; system A with 4 errors in each, B with 1."""
    rng = np.random.default_rng(0)
    phones = ["aa", "b", "d", "iy", "k", "s", "t"]
    refs = {f"s{i % 3}_u{i:02d}": list(rng.choice(phones, 12)) for i in range(30)}

    def damage(n: int) -> dict[str, list[str]]:
        return {u: ["zh"] * n + p[n:] for u, p in refs.items()}  # n substitutions

    return {
        "ref": write_text(tmp_path / "ref.txt", refs),
        "a": write_text(tmp_path / "a.txt", damage(4)),
        "b": write_text(tmp_path / "b.txt", damage(1)),
    }


def test_compare_text(capsys, systems):
    rc, out, err = run(capsys, "compare", systems["ref"], systems["a"], systems["b"])
    assert rc == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].endswith("Error rate 33.33 % [ 120 / 360 ]")
    assert lines[1].endswith("Error rate 8.33 % [ 30 / 360 ]")
    assert lines[2].startswith("B - A: -25.00 points, 95 % CI [-25.00, -25.00]")
    assert lines[-1] == (
        "verdict: B is significantly better than A at alpha = 0.05 (matched-pairs p = 1.86e-09)"
    )


def test_two_utterances_changed_alike_are_no_significant_difference(capsys, tmp_path):
    """Two equal differences have no spread, so no normal test: the exact chance of both
    falling one way, 0.5, is no evidence (it was p = 0, "significantly better")."""
    ref, a, b = (tmp_path / n for n in ("ref.txt", "a.txt", "b.txt"))
    ref.write_text("u1 a b c\nu2 d e f\n")
    a.write_text("u1 a b x\nu2 d e x\n")
    b.write_text("u1 a b c\nu2 d e f\n")
    rc, out, _ = run(capsys, "compare", ref, a, b)
    assert rc == 0 and out.splitlines()[-1] == (
        "verdict: no significant difference between A and B at alpha = 0.05 (matched-pairs p = 0.5)"
    )


def test_compare_identical_json(capsys, systems):
    a = systems["a"]
    rc, out, _ = run(capsys, "compare", systems["ref"], a, a, "--format", "json", "--alpha", "0.01")
    assert rc == 0
    d = json.loads(out)
    assert d["difference"] == 0.0 and d["difference_ci"] == [0.0, 0.0]
    assert d["matched_pairs_p"] == 1.0 and d["wilcoxon_p"] == 1.0
    assert d["significant"] is False and d["alpha"] == 0.01 and d["num_utterances"] == 30


def test_compare_missing_hypotheses(capsys, systems, tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("".join(systems["b"].read_text().splitlines(keepends=True)[:-2]))
    rc, out, err = run(capsys, "compare", systems["ref"], systems["a"], short)
    assert rc == 2 and "verdict:" in out
    assert f"{short}: no hypothesis for 2 reference utterance(s)" in err


def test_compare_and_score_name_hypotheses_without_reference(capsys, systems, tmp_path):
    """An id the references lack is ignored by both, and both say so (no failure)."""
    more = tmp_path / "more.txt"
    more.write_text(systems["b"].read_text() + "nobody_u1 a b\n")
    rc, _, err = run(capsys, "compare", systems["ref"], systems["a"], more)
    assert (
        rc == 0
        and err == f"lstmrec: {more}: 1 hypothesis utterance(s) have no reference (ignored)\n"
    )
    rc, out, _ = run(capsys, "score", systems["ref"], more)
    assert rc == 0 and "\n1 hypothesis had no reference (ignored)\n" in out


@pytest.mark.parametrize(
    "content, reason",
    [
        ("", "no reference utterances"),
        (" \n\t\n", "no reference utterances"),  # white space only
        ("spk1_u1\nspk2_u1\n", "its 2 utterance(s) have no reference symbols"),  # ids only
    ],
)
@pytest.mark.parametrize("command", ["score", "compare"])
def test_references_without_symbols_are_refused(capsys, systems, command, content, reason):
    # An error rate over 0 reference symbols is no rate: one line naming the file, status 2.
    ref = systems["ref"].with_name("empty.txt")
    ref.write_text(content)
    hyps = [systems["a"], systems["b"]] if command == "compare" else [systems["a"]]
    for fmt in ("text", "json"):
        rc, out, err = run(capsys, command, ref, *hyps, "--format", fmt)
        assert rc == 2 and out == ""
        assert one_line(err).startswith(f"lstmrec: {ref}: {reason}")


def test_references_that_fold_to_nothing_are_refused(capsys, tmp_path):
    ref = tmp_path / "ref.txt"
    ref.write_text("u1 q\n")  # q is deleted by the 39-phone folding
    rc, out, err = run(capsys, "score", ref, ref, "--fold", "39")
    assert rc == 2 and out == ""
    assert "no reference symbols once folded to 39" in one_line(err)


def test_transcripts_with_a_byte_order_mark_score_by_their_ids(capsys, tmp_path):
    bom = b"\xef\xbb\xbf"
    ref, hyp, utt2spk = tmp_path / "ref.txt", tmp_path / "hyp.txt", tmp_path / "utt2spk"
    ref.write_bytes(bom + b"u1 a b c d\nu2 e\n")
    hyp.write_bytes(b"u1 a b c\nu2 e\n")  # without: the ids must still be the same
    utt2spk.write_bytes(bom + b"u1 s1\nu2 s1\n")
    rc, out, err = run(capsys, "score", ref, hyp, "--utt2spk", utt2spk, "--format", "json")
    assert rc == 0 and err == ""
    r = json.loads(out)
    assert (r["errors"], r["reference_length"], r["missing"], r["extra"]) == (1, 5, [], [])
    assert list(r["per_speaker"]) == ["s1"]


def test_sclite_files_are_not_read_as_kaldi_text(capsys, tmp_path):
    """An STM (lstmrec refs --stm-out) or CTM (transcribe --format ctm) given where Kaldi text
    belongs is refused, not scored with its channels and times as symbols."""
    ref, hyp = write_text(tmp_path / "ref.txt", REFS), write_text(tmp_path / "hyp.txt", HYPS)
    stm = tmp_path / "ref.stm"
    durations = dict.fromkeys(REFS, 1.5)
    stm.write_text("".join(line + "\n" for line in stm_lines(REFS, durations, SPEAKERS)))
    ctm = tmp_path / "hyp.ctm"
    ctm.write_text("".join(f"{u} 1 {0.1 * i:.3f} 0.100 {p}\n" for u, phones in HYPS.items()
                           for i, p in enumerate(phones)))  # fmt: skip
    for args, kind in (((stm, hyp), "STM"), ((ref, ctm), "CTM"), ((stm, ref, hyp), "STM")):
        command = "compare" if len(args) == 3 else "score"
        rc, out, err = run(capsys, command, *args)
        assert rc == 2 and out == ""
        assert f"a NIST {kind} file, not Kaldi text" in one_line(err)
    jsonl = tmp_path / "hyp.jsonl"  # transcribe --format json
    jsonl.write_text("".join(json.dumps({"id": u, "phones": p}) + "\n" for u, p in HYPS.items()))
    rc, out, err = run(capsys, "score", ref, jsonl)
    assert (rc, out) == (2, "")
    assert one_line(err) == (
        f"lstmrec: {jsonl}: JSON Lines, not Kaldi text (<utt-id> sym sym ...); lstmrec "
        "transcribe and recognize write Kaldi text unless --format json"
    )
    digits = write_text(tmp_path / "digits.txt", {"u1": ["1", "2", "3", "4"]})
    rc, out, _ = run(capsys, "score", digits, digits)
    assert rc == 0 and out.startswith("Error rate 0.00 %")


def test_compare_takes_no_utt2spk(capsys, tmp_path):
    """compare shows no per-speaker rows: an utt2spk file would go unused."""
    ref, hyp = write_text(tmp_path / "ref.txt", REFS), write_text(tmp_path / "hyp.txt", HYPS)
    utt2spk = write_text(tmp_path / "utt2spk", {u: [s] for u, s in SPEAKERS.items()})
    with pytest.raises(SystemExit) as stopped:
        run(capsys, "compare", ref, hyp, hyp, "--utt2spk", utt2spk)
    assert stopped.value.code == 2
    assert "unrecognized arguments: --utt2spk" in capsys.readouterr().err


def test_a_folder_given_as_a_transcript_or_utt2spk_is_named_as_such(capsys, tmp_path):
    ref = write_text(tmp_path / "ref.txt", REFS)
    folder = tmp_path / "hyps"
    folder.mkdir()
    for args in ((ref, folder), (ref, ref, "--utt2spk", folder), (folder, ref)):
        rc, out, err = run(capsys, "score", *args)
        assert rc == 2 and out == ""
        assert one_line(err) == f"lstmrec: {folder}: not a regular file (a folder, FIFO or device)"
