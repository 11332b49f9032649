"""``lstmrec evaluate`` and ``lstmrec score`` end to end.

``evaluate`` runs the session's tiny speech model (``speech_model`` in conftest.py) on the
held-out speaker of its 3-speaker corpus; ``score`` compares hand-made reference and hypothesis
files with known substitutions, deletions and insertions. Bad input gives one line on stderr
naming the file and the reason, exit status 2 and never a traceback.
"""

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # before anything imports TensorFlow

import json
from pathlib import Path

import pytest
from helpers import one_line, run, run_subprocess, write_list

from lstmrec.cli.main import main
from lstmrec.phones import fold

# ---------------------------------------------------------------------------------------------
# Helpers


def evaluate_args(bundle: Path, data: Path, test_list: Path, *extra) -> list:
    """``lstmrec evaluate`` on the core-test split defined by ``test_list``."""
    return [
        "evaluate",
        bundle,
        "--data",
        data,
        "--split",
        "core-test",
        "--test-speakers",
        test_list,
        *extra,
    ]


def read_labels(phn: Path) -> list[str]:
    """The labels of a .PHN file, read here without the reader under test."""
    return [line.split()[2] for line in phn.read_text().splitlines() if line.strip()]


# ---------------------------------------------------------------------------------------------
# evaluate


def test_evaluate_text_report(capsys, speech_model, speech_corpus):
    rc, out, err = run(
        capsys,
        *evaluate_args(speech_model["bundle"], speech_corpus["root"], speech_corpus["test_list"]),
    )
    assert rc == 0 and "Traceback" not in err
    assert out.startswith("PER ") and "39 phones" in out and "faem0" in out


def test_evaluate_json_counts_and_score_agree(capsys, speech_model, speech_corpus, tmp_path):
    hyp = tmp_path / "hyp.txt"
    rc, out, err = run(
        capsys,
        *evaluate_args(
            speech_model["bundle"],
            speech_corpus["root"],
            speech_corpus["test_list"],
            "--format",
            "json",
            "--hyp-out",
            hyp,
            "--ref-out",
            tmp_path / "scored_ref.txt",
        ),
    )
    assert rc == 0, err
    report = json.loads(out)
    # The held-out speaker's sentences, SA1/SA2 excluded (evaluate's default), folded to 39.
    phns = sorted(p for p in speech_corpus["test_dir"].glob("*.PHN") if not p.stem.startswith("SA"))
    refs = {f"faem0_{p.stem.lower()}": read_labels(p) for p in phns}
    assert report["num_utterances"] == len(refs) == 8
    assert report["phone_set"] == 39
    assert report["reference_length"] == sum(len(fold(r, 39)) for r in refs.values())
    s, d, i = report["substitutions"], report["deletions"], report["insertions"]
    assert report["error_rate"] == pytest.approx(100 * (s + d + i) / report["reference_length"])
    assert set(report["per_speaker"]) == {"faem0"}
    assert report["per_speaker"]["faem0"]["reference_length"] == report["reference_length"]

    # The hypotheses it wrote, scored by 'lstmrec score', give the same counts.
    ref = tmp_path / "ref.txt"
    ref.write_text("".join(f"{u} {' '.join(p)}\n" for u, p in refs.items()))
    rc, out, err = run(capsys, "score", ref, hyp, "--fold", "39", "--format", "json")
    assert rc == 0, err
    scored = json.loads(out)
    for key in ("substitutions", "deletions", "insertions", "reference_length"):
        assert scored[key] == report[key]
    # --ref-out wrote those references as scored: folded to 39, in Kaldi text format.
    written = dict(
        (line.split(" ", 1)[0], line.split()[1:])
        for line in (tmp_path / "scored_ref.txt").read_text().splitlines()
    )
    assert written == {u: fold(p, 39) for u, p in refs.items()}


def test_ids_with_white_space_are_one_field_in_every_output(
    capsys, speech_model, speech_corpus, tmp_path
):
    """A TIMIT-style corpus whose speaker folder has a space: evaluate --hyp-out and --ref-out,
    refs and transcribe --data all name its utterance alice%20smith_si1392."""
    import shutil

    corpus = tmp_path / "corpus"
    (corpus / "alice smith").mkdir(parents=True)
    for ext in ("WAV", "PHN"):
        shutil.copy(speech_corpus["test_dir"] / f"SI1392.{ext}", corpus / "alice smith")
    files = {name: tmp_path / f"{name}.txt" for name in ("hyp", "ref", "refs", "transcribed")}
    all_split = ("--data", corpus, "--split", "all")
    hyp_ref = ("--hyp-out", files["hyp"], "--ref-out", files["ref"])
    rc, _, err = run(capsys, "evaluate", speech_model["bundle"], *all_split, *hyp_ref)
    assert rc == 0 and err == ""
    rc, _, err = run(capsys, "refs", *all_split, "--text-out", files["refs"])
    assert rc == 0, err
    rc, out, err = run(capsys, "transcribe", speech_model["bundle"], *all_split, "--format", "ctm")
    assert rc == 0 and {line.split()[0] for line in out.splitlines()} == {"alice%20smith_si1392"}
    rc, out, err = run(capsys, "transcribe", speech_model["bundle"], *all_split)
    files["transcribed"].write_text(out)
    for path in files.values():
        assert path.read_text().split(" ", 1)[0] == "alice%20smith_si1392", path
    rc, out, err = run(capsys, "score", files["ref"], files["hyp"])
    assert rc == 0 and "over 1 utterances" in out


def test_evaluate_skips_bad_utterances(capsys, speech_model, bad_speaker):
    rc, out, err = run(
        capsys,
        *evaluate_args(
            speech_model["bundle"], bad_speaker["root"], bad_speaker["fvmh0"], "--format", "json"
        ),
    )
    assert rc == 2 and "Traceback" not in err
    for key in ("unknown", "overlap"):
        assert str(bad_speaker[key]) in err
    assert err.splitlines()[-1] == "lstmrec: 2 inputs failed (named above)"
    # 8 sentences without SA1/SA2, less the 2 unreadable ones; a transcript too long for CTC
    # can still be scored.
    assert json.loads(out)["num_utterances"] == 6


def test_evaluate_strict(capsys, speech_model, bad_speaker):
    rc, out, err = run(
        capsys,
        *evaluate_args(
            speech_model["bundle"], bad_speaker["root"], bad_speaker["fvmh0"], "--strict"
        ),
    )
    assert rc == 2 and out == ""
    assert str(bad_speaker["unknown"]) in one_line(err)


def test_evaluate_empty_split(capsys, speech_model, speech_corpus, tmp_path):
    """A speaker list for another corpus (none of its speakers here) is refused, naming it;
    one that names a speaker of the corpus whose split is then empty says so."""
    nobody = write_list(tmp_path / "x.list", "nobody")
    rc, out, err = run(
        capsys, *evaluate_args(speech_model["bundle"], speech_corpus["root"], nobody)
    )
    assert rc == 2 and out == ""
    assert one_line(err).startswith(f"lstmrec: {nobody}: none of the 1 speakers it lists is in")
    faem0 = write_list(tmp_path / "t.list", "faem0")
    args = evaluate_args(speech_model["bundle"], speech_corpus["root"], faem0, "--split", "dev")
    rc, out, err = run(capsys, *args)  # dev: TIMIT's own dev speakers, none of them here
    assert rc == 2 and out == "" and "no utterances" in one_line(err)


def test_evaluate_has_no_nbest_flag_to_leave_unused(capsys):
    """evaluate scores the best hypothesis and writes no N-best list: --nbest 3 was taken and
    did nothing; it is now an unknown flag, and --help does not offer it."""
    with pytest.raises(SystemExit) as stop:
        main(["evaluate", "en-phones", "--data", "d", "--nbest", "3"])
    assert stop.value.code == 2
    assert capsys.readouterr().err.endswith("unrecognized arguments: --nbest 3\n")
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    assert "--nbest" not in capsys.readouterr().out


def test_evaluate_refuses_a_split_of_which_nothing_could_be_scored(capsys, speech_model, tmp_path):
    """Every utterance's audio is missing: no report of 0 errors over 0 phones, but the
    failures and one line saying nothing was scored; exit status 2."""
    manifest = tmp_path / "gone.jsonl"
    lines = [
        {"id": f"u{k}", "audio": f"gone/u{k}.wav", "speaker": "s1", "phones": ["h#", "aa", "h#"]}
        for k in (1, 2)
    ]
    manifest.write_text("".join(json.dumps(d) + "\n" for d in lines))
    rc, out, err = run(
        capsys, "evaluate", speech_model["bundle"], "--data", manifest, "--split", "all",
        "--format", "json", "--quiet",
    )  # fmt: skip
    assert rc == 2 and out == "" and "Traceback" not in err
    assert str(tmp_path / "gone" / "u1.wav") in err and str(tmp_path / "gone" / "u2.wav") in err
    assert err.strip().splitlines()[-1] == (
        f"lstmrec: {manifest}: no utterance of split 'all' could be scored"
    )


# ---------------------------------------------------------------------------------------------
# score


def write_text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
def ref_hyp(tmp_path):
    """Two speakers: spk1 has one substitution (iy -> ih) and one insertion (y); spk2 one
    deletion (r)."""
    ref = write_text(tmp_path / "ref.txt", "spk1_u1 sh iy hh ae d\nspk2_u1 aa r k\n")
    hyp = write_text(tmp_path / "hyp.txt", "spk2_u1 aa k\nspk1_u1 sh ih hh ae d y\n")
    write_text(tmp_path / "utt2spk", "spk1_u1 spk1\nspk2_u1 spk2\n")
    return ref, hyp


def test_score_known_counts(capsys, ref_hyp):
    utt2spk = ref_hyp[0].parent / "utt2spk"
    rc, out, err = run(capsys, "score", *ref_hyp, "--format", "json", "--utt2spk", utt2spk)
    assert rc == 0 and err == ""
    r = json.loads(out)
    assert (r["substitutions"], r["deletions"], r["insertions"]) == (1, 1, 1)
    assert r["reference_length"] == 8 and r["error_rate"] == pytest.approx(37.5)
    assert r["per_speaker"]["spk1"] == {
        "error_rate": pytest.approx(40.0),
        "substitutions": 1,
        "deletions": 0,
        "insertions": 1,
        "reference_length": 5,
    }
    assert r["per_speaker"]["spk2"] == {
        "error_rate": pytest.approx(100 / 3),
        "substitutions": 0,
        "deletions": 1,
        "insertions": 0,
        "reference_length": 3,
    }


def test_score_text_report(capsys, ref_hyp):
    rc, out, _ = run(capsys, "score", *ref_hyp)
    assert rc == 0
    assert out.startswith("Error rate 37.50 % [ 3 / 8 ] (S 1, D 1, I 1)")


def test_score_fold_39(capsys, tmp_path):
    # ao and aa are one phone in the 39 set, ix -> ih, and q is deleted.
    ref = write_text(tmp_path / "ref.txt", "spk_u1 ao q ix\n")
    hyp = write_text(tmp_path / "hyp.txt", "spk_u1 aa ih\n")
    rc, out, _ = run(capsys, "score", ref, hyp, "--format", "json")
    assert rc == 0
    r = json.loads(out)
    assert (r["substitutions"], r["deletions"], r["insertions"], r["reference_length"]) == (
        2,
        1,
        0,
        3,
    )
    rc, out, _ = run(capsys, "score", ref, hyp, "--format", "json", "--fold", "39")
    assert rc == 0
    r = json.loads(out)
    assert r["errors"] == 0 and r["reference_length"] == 2 and r["phone_set"] == 39


def test_score_missing_ref_end_to_end(ref_hyp, tmp_path):
    missing = tmp_path / "no-such-ref.txt"
    proc = run_subprocess("score", missing, ref_hyp[1])
    assert proc.returncode == 2 and proc.stdout == ""
    assert str(missing) in one_line(proc.stderr)


def test_score_and_compare_read_a_transcript_from_stdin(ref_hyp):
    # as `lstmrec transcribe ... | lstmrec score ref.txt -` pipes it, byte-order mark and all
    ref, hyp = ref_hyp
    piped = "\ufeff" + hyp.read_text()
    proc = run_subprocess("score", ref, "-", "--format", "json", stdin=piped)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert (r["errors"], r["reference_length"], r["hyp"]) == (3, 8, "-")
    proc = run_subprocess("score", "-", hyp, "--format", "json", stdin=ref.read_text())
    assert proc.returncode == 0 and json.loads(proc.stdout)["errors"] == 3
    proc = run_subprocess("compare", ref, "-", hyp, stdin=piped)
    assert proc.returncode == 0 and "<stdin>" in proc.stdout
    # a partial hypothesis on stdin is named as such
    proc = run_subprocess("score", ref, "-", stdin="spk1_u1 sh iy hh ae d\n")
    assert proc.returncode == 2
    assert one_line(proc.stderr).startswith("lstmrec: <stdin>: no hypothesis for 1 reference")
    # stdin can be read once
    proc = run_subprocess("compare", ref, "-", "-", stdin=piped)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "standard input) may stand for one transcript file only" in one_line(proc.stderr)


def test_score_missing_hypothesis(capsys, ref_hyp, tmp_path):
    hyp = write_text(tmp_path / "partial.txt", "spk1_u1 sh iy hh ae d\n")
    rc, out, err = run(capsys, "score", ref_hyp[0], hyp, "--format", "json")
    assert rc == 2
    assert json.loads(out)["missing"] == ["spk2_u1"]
    line = one_line(err)
    assert str(hyp) in line and "spk2_u1" in line


@pytest.mark.parametrize(
    "content, word",
    [
        (b"spk1_u1 sh zz\n", "unknown phone 'zz'"),  # only an error when folding
        (b"\xff\xfe sh\n", "UTF-8"),
        (b"spk1_u1 sh\nspk1_u1 iy\n", "duplicate"),
    ],
)
def test_score_bad_ref(capsys, ref_hyp, tmp_path, content, word):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    rc, out, err = run(capsys, "score", bad, ref_hyp[1], "--fold", "39")
    assert rc == 2 and out == ""
    line = one_line(err)
    assert str(bad) in line and word in line


def test_score_silence_drop_leaves_silences_out_of_both_sides(capsys, tmp_path):
    """References without silences (as `lstmrec refs` writes them) against hypotheses with
    them: kept, each silence is an insertion and a note says why; dropped (after folding, so a
    closure goes too), the same phones score 0 errors."""
    ref = write_text(tmp_path / "ref.txt", "u1 aa b\nu2 iy\n")
    hyp = write_text(tmp_path / "hyp.txt", "u1 h# aa bcl b pau\nu2 iy\n")
    rc, out, err = run(capsys, "score", ref, hyp, "--fold", "39", "--format", "json")
    assert rc == 0 and json.loads(out)["insertions"] == 3  # h#, bcl and pau: sil at 39
    assert one_line(err).startswith(f"lstmrec: note: {hyp} has silence phones")
    rc, out, err = run(
        capsys, "score", ref, hyp, "--fold", "39", "--silence", "drop", "--format", "json"
    )
    d = json.loads(out)
    assert rc == 0 and err == "" and d["errors"] == 0 and d["reference_length"] == 3
    rc, out, err = run(capsys, "score", ref, ref, "--fold", "39")  # no silences anywhere
    assert rc == 0 and err == ""
    args = ("compare", ref, hyp, ref, "--silence", "drop", "--format", "json")
    rc, out, _ = run(capsys, *args)
    assert rc == 0 and json.loads(out)["errors_a"] == 1  # unfolded, bcl is no silence
    rc, out, _ = run(capsys, *args, "--fold", "39")
    assert rc == 0 and json.loads(out)["errors_a"] == 0
