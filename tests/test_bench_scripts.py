"""The training and feature benchmarks of docs/benchmarks.md (scripts/bench_train.py,
scripts/bench_beam_features.py): numbers no run can use are one line and exit status 2, before
Keras or Beam starts."""

from __future__ import annotations

import pytest
from helpers import REPO, load_script, one_line


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--steps", "0"], "--steps must be at least 1, got 0"),
        (["--classes", "1"], "--classes must be at least 2, got 1"),
        (["--batch-size", "-1"], "--batch-size must be at least 1, got -1"),
    ],
)
def test_bench_train_refuses_bad_numbers(capsys, extra, message):
    assert load_script("bench_train").main(extra) == 2
    out, err = capsys.readouterr()
    assert out == "" and one_line(err) == f"error: command line: {message}"


@pytest.mark.parametrize("flag", ["--repeat", "--workers"])
def test_bench_beam_features_refuses_counts_below_one(capsys, flag):
    pytest.importorskip("apache_beam")
    main = load_script("bench_beam_features").main
    assert main(["--data", str(REPO / "data" / "timit-demo"), flag, "0"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and one_line(err) == f"error: command line: {flag} must be at least 1, got 0"


def test_bench_transducer_says_a_bad_corpus_or_recipe_in_one_line(capsys, tmp_path):
    main = load_script("bench_transducer").main
    assert main(["--corpus", str(tmp_path / "no")]) == 2  # before any training run starts
    out, err = capsys.readouterr()
    assert (
        out == ""
        and one_line(err) == f"bench_transducer: {tmp_path / 'no'}: no such file or directory"
    )
    recipe = tmp_path / "none.toml"
    assert main(["--ctc-config", str(recipe), "--steps", "1", "--batch-size", "2"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and one_line(err) == (
        f"bench_transducer: the ctc training run failed: {recipe}: config file not found"
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--steps", "0"], "--steps must be at least 1, got 0"),  # was a division by zero
        (["--utterances", "0"], "--utterances must be at least 1, got 0"),  # was 0 frames/s
        (["--classes", "1"], "--classes must be at least 2, got 1"),
        (["--batch-size", "0"], "--batch-size must be at least 1, got 0"),
    ],
)
def test_bench_transducer_refuses_bad_numbers(capsys, extra, message):
    assert load_script("bench_transducer").main(extra) == 2  # before any run starts
    out, err = capsys.readouterr()
    assert out == "" and one_line(err) == f"bench_transducer: command line: {message}"


def test_bench_transducer_refuses_a_split_without_utterances(capsys, tmp_path):
    """The demo corpus has none of TIMIT's core-test speakers: one line, not speeds of 0."""
    demo = REPO / "data" / "timit-demo"
    args = ["--skip-training", "--data", str(demo), "--ctc-bundle", str(tmp_path / "ctc")]
    assert load_script("bench_transducer").main([*args, "--transducer-bundle", "t"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and one_line(err) == (
        f"bench_transducer: {demo}: split 'core-test' has no utterances"
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--ctc-bundle", "c", "--transducer-bundle", "t"], "missing --data"),
        (["--data", "d"], "missing --ctc-bundle and --transducer-bundle"),
    ],
)
def test_bench_transducer_refuses_part_of_the_decoding_flags(capsys, extra, message):
    """Decoding was left out without a word when one of its three flags was missing."""
    assert load_script("bench_transducer").main(["--skip-training", *extra]) == 2
    out, err = capsys.readouterr()
    together = "--ctc-bundle, --transducer-bundle and --data together"
    assert out == "" and one_line(err) == (
        f"bench_transducer: command line: decoding is timed with {together}; {message}"
    )
    assert load_script("bench_transducer").main(["--skip-training"]) == 2  # nothing to time
    assert "nothing to time" in one_line(capsys.readouterr().err)


def test_bench_transducer_refuses_a_bundle_of_the_other_kind(capsys, speech_model):
    """A CTC bundle given as --transducer-bundle was timed and reported as the transducer."""
    assert speech_model["rc"] == 0
    ctc = str(speech_model["bundle"])
    demo = str(REPO / "data" / "timit-demo")
    args = ["--skip-training", "--data", demo, "--split", "train", "--utterances", "1"]
    main = load_script("bench_transducer").main
    assert main([*args, "--ctc-bundle", ctc, "--transducer-bundle", ctc]) == 2
    out, err = capsys.readouterr()
    assert out == "" and one_line(err) == (
        f"bench_transducer: {ctc}: --transducer-bundle is a CTC model, not a transducer one"
    )


def test_the_examples_of_each_scripts_help_keep_their_line_breaks():
    """A command of a script's docstring (its --help) continued with ``\\`` must stay on its
    lines: a single backslash before a newline in a Python string joins the two lines."""
    import ast
    import re

    for path in sorted((REPO / "scripts").glob("*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text()), clean=False) or ""
        assert not re.search(r"\S {4,}--", doc), path.name


def test_test_backends_has_help_and_says_an_unknown_backend_on_stderr(capsys):
    main = load_script("test_backends").main
    assert main(["--help"]) == 0
    out, err = capsys.readouterr()
    assert (
        out.startswith("Run the model-level tests on every installed Keras backend") and err == ""
    )
    assert main(["tensorflw"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and one_line(err).startswith("test_backends: unknown backend(s) tensorflw;")


def test_backends_md_names_the_test_files_test_backends_runs():
    import re

    page = (REPO / "docs" / "backends.md").read_text()
    listed = page[: page.index("scripts/test_backends.py")]  # the list above the command
    named = set(re.findall(r"`(tests/test_\w+\.py)`", listed))
    assert named == set(load_script("test_backends").MODEL_TESTS)


@pytest.mark.parametrize("name", ["transcribe_onnx", "transcribe_transducer_onnx"])
def test_the_onnx_programs_say_their_usage(name):
    """The programs of docs/export.md, run without their two arguments (or with --help)."""
    import subprocess
    import sys

    path = REPO / "scripts" / f"{name}.py"
    done = subprocess.run([sys.executable, str(path), "--help"], capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == ""
    assert one_line(done.stderr) == f"usage: python {path} EXPORT_FOLDER AUDIO_FILE"


def test_bench_export_says_bad_input_in_one_line(capsys, tmp_path):
    main = load_script("bench_export").main
    wav = tmp_path / "none.wav"
    assert main(["en-phones", str(wav), "--formats", "onnx"]) == 2
    assert one_line(capsys.readouterr().err) == f"bench_export: {wav}: no such file"
    assert main(["en-phones", str(wav), "--repeats", "0"]) == 2
    assert one_line(capsys.readouterr().err) == (
        "bench_export: command line: --repeats must be at least 1, got 0"
    )


def test_bench_serve_says_a_missing_model_or_audio_in_one_line(capsys, tmp_path):
    main = load_script("bench_serve").main
    assert main(["--ink", str(tmp_path / "nope")]) == 2
    assert "no model folder or shipped model named" in one_line(capsys.readouterr().err)
    for audio, reason in ((tmp_path / "none", "no such file or directory"),
                          (tmp_path, "no audio files to send (pass --audio)")):  # fmt: skip
        assert main(["--ink", "en-ink", "--audio", str(audio)]) == 2
        assert one_line(capsys.readouterr().err) == f"bench_serve: {audio}: {reason}"


def test_the_staged_scripts_rerun_over_their_own_outputs():
    """Each recipe reruns over what its earlier run wrote: an lstmrec command of it that writes
    a file must pass --force (or be skipped when the file is there), or the rerun stops at it.
    demo.sh, which says that rerunning reuses its finished runs, stopped at its first
    evaluate --hyp-out."""
    import re

    out_flags = ("--hyp-out", "--text-out", "--stm-out", "--utt2spk-out", "--ref-out", "--plot")
    for path in sorted((REPO / "scripts").glob("*.sh")):
        for line in path.read_text().replace("\\\n", " ").splitlines():
            code = line.split(" #")[0]
            command = re.search(r"lstmrec\"?\s+(\w+)", code)
            if command is None or code.lstrip().startswith("#"):
                continue
            writes = any(flag in code.split() for flag in out_flags) or (
                command.group(1) in ("lm", "prepare", "export") and " --out " in code
            )
            guarded = re.search(r"\[ -[fde] [^]]*\] \|\|", code)
            assert not writes or "--force" in code or guarded, f"{path.name}: {code.strip()}"
