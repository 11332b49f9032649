"""Files and folders are written whole or not at all, never through a planted link, never over an
input; one run per output folder; a closed pipe ends a command quietly."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap

import pytest
from helpers import REPO, one_line, run

from lstmrec.features import files
from lstmrec.features.errors import DataError
from lstmrec.features.files import (
    LOCK_NAME,
    atomic_dir,
    check_output,
    complete_dir,
    recover_dir,
    run_lock,
    write_text,
)
from lstmrec.scoring.align import write_kaldi_text


def test_a_planted_link_at_the_old_temporary_name_is_not_written_through(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    hyp = tmp_path / "hyp.txt"
    (tmp_path / "hyp.txt.tmp").symlink_to(victim)
    write_kaldi_text({"u1": ["a", "b"]}, hyp)
    assert victim.read_text() == "precious\n"
    assert hyp.read_text() == "u1 a b\n" and not hyp.is_symlink()


def test_an_existing_link_is_replaced_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    target = tmp_path / "out.txt"
    target.symlink_to(victim)
    write_text(target, "new\n")
    assert victim.read_text() == "precious\n" and target.read_text() == "new\n"
    assert not target.is_symlink()


@pytest.mark.parametrize("swap", ["exchange", "renames"])
@pytest.mark.parametrize("points_to", ["an empty folder", "nothing"])
def test_a_link_where_a_folder_goes_is_replaced_not_followed(
    tmp_path, monkeypatch, points_to, swap
):
    if swap == "renames":  # the three-rename swap of systems without renameat2
        monkeypatch.setattr(files, "_exchange", lambda a, b: False)
    folder = tmp_path / "elsewhere"
    if points_to == "an empty folder":
        folder.mkdir()
    final = tmp_path / "out"
    final.symlink_to(folder)
    with files.atomic_dir(final) as tmp:
        (tmp / "a.txt").write_text("new\n")
    assert not final.is_symlink() and (final / "a.txt").read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["out", "elsewhere"] if points_to == "an empty folder" else ["out"]
    )  # no temporary or set-aside link left beside it
    assert not folder.exists() or list(folder.iterdir()) == []


def test_new_files_get_the_usual_mode_not_mkstemps_0600(tmp_path):
    write_text(tmp_path / "a.txt", "x")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("where", ["file", "folder"])
def test_a_full_disk_names_the_target_and_leaves_no_temporary(tmp_path, monkeypatch, where):
    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    (tmp_path / "keep.txt").write_text("old\n")
    monkeypatch.setattr(files.os, "fsync", full)
    with pytest.raises(DataError) as e:
        if where == "file":
            write_text(tmp_path / "keep.txt", "new\n")
        else:
            with atomic_dir(tmp_path / "bundle") as tmp:
                (tmp / "a.txt").write_text("a")
    target = "keep.txt" if where == "file" else "bundle"
    assert str(e.value) == f"{tmp_path / target}: cannot write (No space left on device)"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]
    assert (tmp_path / "keep.txt").read_text() == "old\n"


def test_an_error_inside_a_folder_write_keeps_the_old_folder(tmp_path):
    final = tmp_path / "model"
    with atomic_dir(final) as tmp:
        (tmp / "a.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_dir(final) as tmp:
        (tmp / "a.txt").write_text("half")
        raise RuntimeError("writer failed")
    assert (final / "a.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


# A writer killed at every fault point of a folder replacement: the newest complete folder is
# always found, and recover_dir puts it back with nothing left beside it.
_KILLED_WRITER = """
import sys
from pathlib import Path
from lstmrec.features import files
if sys.argv[2] == "renames":
    files._exchange = lambda a, b: False  # the three-rename swap of systems without renameat2
with files.atomic_dir(Path(sys.argv[1])) as tmp:
    for name in ("a.txt", "b.txt", "c.txt"):
        (tmp / name).write_text("new " + name)
"""


@pytest.mark.parametrize("swap", ["exchange", "renames"])
def test_a_folder_write_killed_at_each_point_leaves_old_or_new_complete(tmp_path, swap):
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(_KILLED_WRITER))
    names = ["a.txt", "b.txt", "c.txt"]
    seen, point = set(), 0
    while True:
        point += 1
        final = tmp_path / f"run{point}" / "ckpt"
        final.mkdir(parents=True)
        for name in names:
            (final / name).write_text("old " + name)
        env = {**os.environ, "LSTMREC_FAULT_AT": str(point)}
        done = subprocess.run([sys.executable, script, final, swap], env=env, check=False)
        found = complete_dir(final)
        assert found is not None, f"no complete folder after a kill at point {point}"
        contents = {p.read_text() for p in found.iterdir()}
        assert contents in ({f"old {n}" for n in names}, {f"new {n}" for n in names})
        seen.add(next(iter(contents)).split()[0])
        assert recover_dir(final) == final
        assert sorted(p.name for p in final.parent.iterdir()) == ["ckpt"]
        assert {p.read_text() for p in final.iterdir()} == contents
        if done.returncode == 0:
            break
        assert done.returncode == files.FAULT_EXIT
    # 3 files written + the swap (+ removal of the old folder); the three-rename swap has more.
    assert point == (6 if swap == "exchange" else 8) and seen == {"old", "new"}


def test_output_same_as_input_is_refused_even_with_force(tmp_path):
    data = tmp_path / "m.jsonl"
    data.write_text("{}\n")
    (tmp_path / "link.jsonl").symlink_to(data)
    for target in (data, tmp_path / "link.jsonl", tmp_path / "." / "m.jsonl"):
        with pytest.raises(DataError, match="also an input"):
            check_output(target, inputs=[str(data)], force=True, flag="--hyp-out")
    with pytest.raises(DataError, match="exists; pass --force"):
        check_output(data, inputs=[], flag="--out")
    check_output(data, inputs=[], force=True)
    check_output(tmp_path / "new.txt", inputs=[str(data)])


def test_an_output_under_a_file_is_refused_before_the_work(tmp_path):
    """It failed only when written, after the work (mnist_ink.py probs), or as a traceback
    (mnist_ink.py sheet)."""
    (tmp_path / "notes").write_text("mine")
    for target in (tmp_path / "notes" / "probs.npz", tmp_path / "notes" / "a" / "b.txt"):
        with pytest.raises(DataError, match=r"cannot write \(\S+/notes is a file, not a folder\)"):
            check_output(target, force=True)
    check_output(tmp_path / "new" / "b.txt")


def test_an_output_named_dash_is_refused_by_every_command_that_checks_its_outputs(
    tmp_path, monkeypatch, capsys
):
    """The command line's own flags refused it; the scripts, which check their outputs with
    check_output, wrote a file named '-' (mnist_ink.py combine --hyp-out -)."""
    from helpers import load_script

    with pytest.raises(DataError, match="^--json - : a file is written, not standard output"):
        check_output("-", force=True, flag="--json")
    monkeypatch.chdir(tmp_path)
    assert load_script("synth_hands").main(["--train-texts", "-"]) == 2
    assert one_line(capsys.readouterr().err) == (
        "synth_hands: --train-texts - : a file is written, not standard output; name one"
    )
    assert list(tmp_path.iterdir()) == []


def test_evaluate_refuses_to_write_hypotheses_over_its_manifest(capsys, tmp_path):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"id": "u1"}\n')
    rc, out, err = run(
        capsys, "evaluate", tmp_path, "--data", manifest, "--hyp-out", manifest, "--force"
    )
    assert rc == 2 and out == ""
    assert one_line(err) == (
        f"lstmrec: {manifest}: --hyp-out is also an input of this command; choose another name"
    )
    assert manifest.read_text() == '{"id": "u1"}\n'


DEMO = REPO / "data" / "timit-demo"


def test_refs_refuses_to_write_over_its_speaker_list_even_with_force(capsys, tmp_path):
    speakers = tmp_path / "tsl"
    speakers.write_text("faem0\nmadc0\n")
    split = ["refs", "--data", DEMO, "--split", "core-test", "--test-speakers", speakers]
    rc, out, err = run(capsys, *split, "--text-out", speakers, "--force")
    assert rc == 2 and out == ""
    assert one_line(err) == (
        f"lstmrec: {speakers}: --text-out is also an input of this command; choose another name"
    )
    assert speakers.read_text() == "faem0\nmadc0\n"


@pytest.mark.parametrize("same", ["same.txt", "link.txt"])  # one name, or a link to the file
def test_two_outputs_of_one_command_are_never_one_file(capsys, tmp_path, same):
    (tmp_path / "link.txt").symlink_to(tmp_path / "same.txt")  # dangling until written
    first, second = tmp_path / "same.txt", tmp_path / same
    refs = [
        "refs",
        "--data",
        DEMO,
        "--split",
        "core-test",
        "--test-speakers",
        DEMO / "test_spk.list",
    ]
    rc, out, err = run(capsys, *refs, "--stm-out", first, "--text-out", second, "--force")
    assert rc == 2 and out == ""
    assert one_line(err) == (
        f"lstmrec: {second}: --stm-out and --text-out name the same file; give each its own"
    )
    assert not first.exists()  # nothing written
    # evaluate checks its outputs before it loads the model or reads the data
    evaluate = ["evaluate", tmp_path, "--data", DEMO, "--hyp-out", first, "--ref-out", second]
    rc, out, err = run(capsys, *evaluate)
    assert rc == 2 and out == ""
    assert one_line(err) == (
        f"lstmrec: {second}: --hyp-out and --ref-out name the same file; give each its own"
    )
    assert not first.exists()


def test_transcribe_output_is_never_an_input_nor_overwritten_without_force(capsys, tmp_path):
    """The Beam pipeline's --output is checked before the pipeline starts."""
    wav = DEMO / "TIMIT/TRAIN/DR2/FAEM0/SX312.WAV"
    done = tmp_path / "done.jsonl"
    done.write_text('{"file": "a.wav"}\n')
    beam = ["transcribe", wav, "--runner", "DirectRunner", "--output"]
    rc, out, err = run(capsys, *beam, done)
    assert rc == 2 and out == "" and "--output" in one_line(err) and str(done) in err
    assert done.read_text() == '{"file": "a.wav"}\n'
    rc, out, err = run(capsys, *beam, wav, "--force")
    assert rc == 2 and out == "" and "is also an input" in one_line(err)


def test_lm_refuses_its_own_text_and_an_existing_file_without_force(capsys, tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("a b\nb a\n")
    rc, _, err = run(capsys, "lm", "--text", text, "--unit", "words", "--out", text, "--force")
    assert rc == 2 and "--out is also an input" in one_line(err)
    assert text.read_text() == "a b\nb a\n"
    arpa = tmp_path / "words.arpa"
    arpa.write_text("mine\n")
    rc, _, err = run(capsys, "lm", "--text", text, "--unit", "words", "--out", arpa)
    assert rc == 2
    assert one_line(err) == f"lstmrec: {arpa}: --out exists; pass --force to overwrite it"
    assert arpa.read_text() == "mine\n"
    rc, _, err = run(capsys, "lm", "--text", text, "--unit", "words", "--out", arpa, "--force")
    assert rc == 0, err
    assert "\\data\\" in arpa.read_text()


def test_prepare_and_score_plot_refuse_existing_files(capsys, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "dev.jsonl").write_text("mine\n")
    rc, _, err = run(
        capsys, "prepare", "--data", REPO / "data" / "timit-demo", "--out", tmp_path / "out"
    )
    assert rc == 2 and "dev.jsonl: --out exists" in one_line(err)
    assert (tmp_path / "out" / "dev.jsonl").read_text() == "mine\n"
    ref = tmp_path / "ref.txt"
    ref.write_text("u1 a b\n")
    (tmp_path / "c.png").write_text("mine")
    rc, _, err = run(capsys, "score", ref, ref, "--plot", tmp_path / "c.png")
    assert rc == 2 and "--plot exists" in one_line(err)
    assert (tmp_path / "c.png").read_text() == "mine"


def test_an_output_file_that_is_a_folder_is_refused_before_any_output(capsys, tmp_path):
    """Not "pass --force", which could not replace it either: a folder is never an output file."""
    ref, folder = tmp_path / "ref.txt", tmp_path / "pictures"
    ref.write_text("u1 a b\n")
    folder.mkdir()
    for force in ([], ["--force"]):
        rc, out, err = run(capsys, "score", ref, ref, "--plot", folder, *force)
        assert rc == 2 and out == ""  # refused before the report is printed
        assert one_line(err) == f"lstmrec: {folder}: --plot is a folder; name a file"
    refs = ["refs", "--data", DEMO, "--test-speakers", DEMO / "test_spk.list"]
    rc, out, err = run(capsys, *refs, "--text-out", folder, "--force")
    assert rc == 2 and out == "" and "--text-out is a folder" in one_line(err)
    assert list(folder.iterdir()) == []


def test_a_picture_not_named_png_is_refused_before_any_output(capsys, tmp_path):
    """``--plot`` writes PNG: a ``.jpg`` (or no ending) would hold PNG data under another name."""
    ref = tmp_path / "ref.txt"
    ref.write_text("u1 a b\n")
    for name in ("c.jpg", "c", "c.svg"):
        rc, out, err = run(capsys, "score", ref, ref, "--plot", tmp_path / name)
        assert rc == 2 and out == ""
        assert (
            one_line(err)
            == f"lstmrec: {tmp_path / name}: --plot draws a PNG picture; name a .png file"
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ref.txt"]


def test_an_output_file_named_dash_is_refused(capsys, tmp_path, monkeypatch):
    """``-`` is taken for standard output, so no file of that name is written in its stead."""
    monkeypatch.chdir(tmp_path)
    refs = ["refs", "--data", DEMO, "--test-speakers", DEMO / "test_spk.list"]
    rc, out, err = run(capsys, *refs, "--text-out", "-")
    assert rc == 2 and out == ""
    assert one_line(err) == (
        "lstmrec: --text-out - : refs writes a file, not standard output; name one"
    )
    assert not (tmp_path / "-").exists()


def test_a_second_holder_of_a_run_lock_is_refused_at_once(tmp_path):
    with run_lock(tmp_path, log=print):
        with pytest.raises(DataError) as e:
            with run_lock(tmp_path, log=print):
                pass
        assert str(e.value).startswith(f"{tmp_path}: another run (pid {os.getpid()}) is writing")
    assert not (tmp_path / LOCK_NAME).exists()  # released: no pid left behind
    with run_lock(tmp_path, log=print):  # and free again
        pass


def test_a_stale_lock_is_taken_over_with_a_note(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    (tmp_path / LOCK_NAME).write_text(dead + "\n")
    notes = []
    with run_lock(tmp_path, log=notes.append):
        assert (tmp_path / LOCK_NAME).read_text() == f"{os.getpid()}\n"
    note = f"note: taking over the lock of an earlier run (pid {dead}, no longer running)"
    assert notes == [note]


def test_train_into_a_folder_another_run_holds_fails_at_once(capsys, speech_corpus, tmp_path):
    from helpers import train_args

    out = tmp_path / "run"
    with run_lock(out, log=print):
        rc, _, err = run(capsys, *train_args(speech_corpus["root"], out,
                                             test_list=speech_corpus["test_list"]))  # fmt: skip
    assert rc == 2
    assert one_line(err).startswith(f"lstmrec: {out}: another run (pid {os.getpid()})")
    assert not (out / "checkpoint").exists() and not (out / "model").exists()


def test_a_closed_pipe_ends_the_command_quietly(tmp_path):
    # More than a pipe buffer (64 KiB) of output, so writing to the closed pipe must fail.
    lines = "".join(f"utt{i:05d} " + "aa b c d " * 4 + "\n" for i in range(3000))
    (tmp_path / "ref.txt").write_text(lines)
    cmd = [sys.executable, "-m", "lstmrec", "score", "ref.txt", "ref.txt", "--details"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()  # what `| head -1` does after its line
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 141
    assert first and err == ""


def test_a_file_where_the_output_folder_should_be_is_named(capsys, tmp_path):
    """``prepare --out`` (or ``features --cache``) naming a file: the reason says that file is
    not a folder, not "File exists", and the file is left as it was."""
    from lstmrec.cli.main import main

    taken = tmp_path / "taken"
    taken.write_text("mine\n")
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"id": "a", "audio": "a.wav", "phones": ["h#"], "split": "train"}\n')
    rc = main(["prepare", "--data", str(manifest), "--out", str(taken), "--splits", "train"])
    assert rc == 2 and taken.read_text() == "mine\n"
    assert one_line(capsys.readouterr().err) == (
        f"lstmrec: {taken}/train.jsonl: cannot write ({taken} is a file, not a folder)"
    )
