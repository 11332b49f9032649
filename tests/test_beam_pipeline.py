"""Apache Beam pipelines on the DirectRunner: sharded feature cache and batch transcription."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from lstmrec import featurize
from lstmrec.cli.main import main
from lstmrec.corpora.timit import find_timit
from lstmrec.features.audio import FeatureConfig
from lstmrec.features.errors import DataError
from lstmrec.featurize import compute_features
from lstmrec.manifest import Utterance, write_manifest

DEMO = Path(__file__).resolve().parents[1] / "data" / "timit-demo"


@pytest.fixture
def beam():
    return pytest.importorskip("apache_beam", reason="apache-beam (the 'beam' extra) is missing")


@pytest.fixture
def utts(tmp_path):
    if not DEMO.is_dir():
        pytest.skip(f"bundled TIMIT demo corpus not found at {DEMO}")
    good = find_timit(DEMO)[:5]
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    return [*good, Utterance("x_bad", str(bad), "x", phones=("h#",))]


def test_beam_features_write_shards_that_training_reads(beam, utts, tmp_path, monkeypatch):
    from lstmrec.jobs.pipelines import beam_features, pipeline_options

    errors = []
    cache = tmp_path / "cache"
    feats = beam_features(
        utts,
        FeatureConfig(),
        cache_dir=cache,
        options=pipeline_options("DirectRunner"),
        on_error=errors.append,
    )
    assert [p.suffix for p in cache.iterdir()] == [".shards"]  # no temporary folder left
    assert len(errors) == 1 and errors[0].path.endswith("bad.wav")
    direct = compute_features(utts[:5], FeatureConfig())
    assert sorted(feats) == sorted(direct)
    for k in direct:
        np.testing.assert_array_equal(feats[k], direct[k])

    # The trainer's reader takes the shards as they are: nothing is recomputed.
    def no_recompute(*args, **kwargs):
        raise AssertionError("features recomputed instead of read from the shards")

    monkeypatch.setattr(featurize, "utterance_features", no_recompute)
    again = []
    cached = compute_features(utts, FeatureConfig(), cache_dir=cache, on_error=again.append)
    assert sorted(cached) == sorted(direct) and [str(e) for e in again] == [str(errors[0])]


def test_features_command_with_two_worker_processes(beam, utts, tmp_path, capsys):
    write_manifest(utts, tmp_path / "m.jsonl")
    rc = main(
        [
            *("features", "--data", str(tmp_path / "m.jsonl"), "--splits", "all", "--keep-sa"),
            *("--cache", str(tmp_path / "c"), "--runner", "DirectRunner"),
            *("--num-workers", "2"),
        ]
    )
    out, err = capsys.readouterr()
    assert rc == 2 and "all: 5 utterances" in out
    assert "bad.wav" in err and "Traceback" not in err
    assert len(list((tmp_path / "c").glob("*.shards/shard-*.npz"))) == 1


def tiny_bundle(path: Path) -> Path:
    from lstmrec.bundle import Bundle, save_bundle
    from lstmrec.models.blstm import build_model
    from lstmrec.phones import SymbolTable

    symbols = SymbolTable.timit61()
    config = FeatureConfig()
    model = build_model(input_dim=config.dim, num_classes=len(symbols), num_layers=1, units=4)
    mean, std = np.zeros(config.dim, np.float32), np.ones(config.dim, np.float32)
    save_bundle(path, Bundle(model, config, symbols, mean, std, {}))
    return path


def test_transcribe_with_beam_writes_one_record_per_file(beam, utts, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    for utt in utts:
        shutil.copy(utt.path, folder / f"{utt.id}.wav")
    bundle = tiny_bundle(tmp_path / "model")
    out = tmp_path / "results.jsonl"
    rc = main(
        [
            "transcribe",
            str(bundle),
            str(folder),
            "--runner",
            "DirectRunner",
            "--output",
            str(out),
        ]
    )
    _, err = capsys.readouterr()
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert rc == 2 and "x_bad.wav" in err and "Traceback" not in err
    assert sorted(Path(r["file"]).name for r in records) == sorted(p.name for p in folder.iterdir())
    bad = [r for r in records if "error" in r]
    assert len(bad) == 1 and bad[0]["file"].endswith("x_bad.wav")
    good = [r for r in records if "error" not in r]
    assert all(r["duration"] > 1 and isinstance(r["phones"], list) for r in good)
    assert not list(tmp_path.glob("results.jsonl.tmp*"))


def test_missing_beam_is_one_clear_line(monkeypatch, tmp_path, capsys):
    from lstmrec.jobs.pipelines import MISSING, require_beam

    monkeypatch.setitem(sys.modules, "apache_beam", None)  # import fails as if not installed
    with pytest.raises(DataError, match="pip install"):
        require_beam()
    rc = main(
        [
            *("features", "--data", str(tmp_path), "--cache", str(tmp_path / "c")),
            *("--runner", "DirectRunner"),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and err.strip().splitlines() == [f"lstmrec: {MISSING}"]


def test_beam_transcription_runs_on_the_numpy_engine(beam, tmp_path):
    """``transcribe --runner`` loads the bundle as plain transcription does: with the NumPy
    engine, so neither Keras nor TensorFlow (and its CUDA probe messages) is loaded."""
    import subprocess

    bundle = tiny_bundle(tmp_path / "model")
    wav = Path(__file__).resolve().parents[1] / "data/timit-demo/TIMIT/TRAIN/DR2/FAEM0/SX312.WAV"
    code = (
        "import sys; from lstmrec.cli.main import main; "
        f"rc = main(['transcribe', {str(bundle)!r}, {str(wav)!r}, '--runner', 'DirectRunner', "
        f"'--output', {str(tmp_path / 'out.jsonl')!r}]); "
        "print(rc, sorted({'keras', 'tensorflow'} & {m.split('.')[0] for m in sys.modules}))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    assert proc.stdout.splitlines()[-1] == "0 []", proc.stderr[-2000:]
    assert "cuInit" not in proc.stderr


def test_a_runner_that_cannot_run_is_one_line(beam, utts, tmp_path, capsys):
    """A mistyped runner name is the runner's reason on one line (exit status 2), for features
    and for transcription, and leaves no temporary folder in the cache."""
    write_manifest(utts[:2], tmp_path / "m.jsonl")
    cache = tmp_path / "c"
    rc = main(
        [
            *("features", "--data", str(tmp_path / "m.jsonl"), "--splits", "all", "--keep-sa"),
            *("--cache", str(cache), "--runner", "DirectRuner"),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert "lstmrec: Beam runner DirectRuner failed: Unexpected pipeline runner" in err
    assert not cache.exists() or not list(cache.glob("*.tmp-*"))
    bundle = tiny_bundle(tmp_path / "model")
    out = tmp_path / "out.jsonl"
    argv = ["transcribe", str(bundle), utts[0].path, "--runner", "DirectRuner", "--output"]
    rc = main([*argv, str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and "Unexpected pipeline runner" in err
    assert not list(tmp_path.glob("out.jsonl*"))


def test_output_to_standard_output_is_refused(beam, utts, tmp_path, capsys, monkeypatch):
    """``--output -`` is no file named "-" (the pipeline writes a file, not standard output)."""
    monkeypatch.chdir(tmp_path)
    bundle = tiny_bundle(tmp_path / "model")
    argv = ["transcribe", str(bundle), utts[0].path, "--runner", "DirectRunner", "--output", "-"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == "lstmrec: --output - : transcribe writes a file, not standard output; name one\n"
    assert not (tmp_path / "-").exists()


def test_beam_says_nothing_of_its_own_on_a_good_run(beam, utts, tmp_path):
    """A fresh program: importing Beam neither prints its warning of missing cloud clients nor
    configures the program's root logger; the workers of a two-process run print no INFO or
    WARNING lines of the Beam harness (about 45 before)."""
    import subprocess

    probe = (
        "import logging; from lstmrec.jobs.pipelines import require_beam; require_beam(); "
        "print(len(logging.getLogger().handlers), logging.getLogger().level)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert (done.stdout, done.stderr) == ("0 30\n", "")
    write_manifest(utts[:2], tmp_path / "m.jsonl")
    argv = ["features", "--data", str(tmp_path / "m.jsonl"), "--splits", "all", "--keep-sa"]
    argv += ["--cache", str(tmp_path / "c"), "--runner", "DirectRunner", "--num-workers", "2"]
    run = [sys.executable, "-m", "lstmrec", *argv]
    done = subprocess.run(run, capture_output=True, text=True, check=True)
    assert "2 utterances" in done.stdout
    assert not [ln for ln in done.stderr.splitlines() if "apache_beam" in ln or "sdk" in ln]


def test_a_cache_that_is_a_file_is_named_as_one(beam, utts, tmp_path, capsys):
    write_manifest(utts[:1], tmp_path / "m.jsonl")
    (tmp_path / "afile").write_text("mine\n")
    for cache, line in (
        (tmp_path / "afile", f"lstmrec: {tmp_path / 'afile'}: is a file, not a folder"),
        (
            tmp_path / "afile" / "c",
            f"lstmrec: {tmp_path / 'afile' / 'c'}: cannot make the folder "
            f"({tmp_path / 'afile'} is a file, not a folder)",
        ),
    ):
        argv = ["features", "--data", str(tmp_path / "m.jsonl"), "--splits", "all", "--keep-sa"]
        rc = main([*argv, "--cache", str(cache), "--runner", "DirectRunner"])
        assert rc == 2 and capsys.readouterr().err.strip().splitlines()[-1] == line
    assert (tmp_path / "afile").read_text() == "mine\n"


def test_beam_transcription_names_files_as_plain_transcription(beam, utts, tmp_path, capsys):
    """Ids are relative to the folder holding all the inputs, whichever batch a worker gets:
    two speakers' ``SA1.WAV`` stay two ids, the ones ``transcribe --format json`` prints."""
    folder = tmp_path / "in"
    for speaker in ("faks0", "madc0"):  # more files than one batch of 16 holds
        (folder / speaker).mkdir(parents=True)
        for i in range(12):
            shutil.copy(utts[i % 5].path, folder / speaker / f"S{i}.WAV")
    bundle = tiny_bundle(tmp_path / "model")
    out = tmp_path / "out.jsonl"
    argv = ["transcribe", str(bundle), str(folder)]
    assert main([*argv, "--runner", "DirectRunner", "--output", str(out)]) == 0
    capsys.readouterr()
    assert main([*argv, "--format", "json"]) == 0
    text = capsys.readouterr().out
    plain = [json.loads(line) for line in text.splitlines()]
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["id"] for r in records) == sorted(r["id"] for r in plain)
    assert len({r["id"] for r in records}) == 24


def test_beam_transcription_warns_of_a_low_sample_rate(beam, utts, tmp_path, capsys):
    """A file below the model's sample rate gets the warning plain transcription gives."""
    import soundfile as sf

    pcm, rate = sf.read(utts[0].path, dtype="int16")
    low = tmp_path / "8k.wav"
    sf.write(low, pcm[::2], rate // 2)
    argv = ["transcribe", str(tiny_bundle(tmp_path / "model")), str(low)]
    assert main([*argv, "--runner", "DirectRunner", "--output", str(tmp_path / "o.jsonl")]) == 0
    assert "8k.wav: sample rate 8000 Hz is below the model's 16000 Hz" in capsys.readouterr().err


def test_beam_transcription_decodes_as_the_decoding_flags_say(beam, utts, tmp_path, capsys):
    """``--beam``, ``--insertion-bonus`` (and the other decoding flags) are honoured by the
    workers: the phones are those plain transcription prints with the same flags."""
    bundle = tiny_bundle(tmp_path / "model")
    flags = ["--beam", "4", "--insertion-bonus", "8"]
    argv = ["transcribe", str(bundle), utts[0].path, *flags, "--format", "json"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    plain = json.loads(text)
    out = tmp_path / "out.jsonl"
    assert main([*argv, "--runner", "DirectRunner", "--output", str(out)]) == 0
    (record,) = [json.loads(line) for line in out.read_text().splitlines()]
    capsys.readouterr()
    assert main(argv[:3] + ["--format", "json"]) == 0
    default = json.loads(capsys.readouterr().out)
    assert plain["phones"] != default["phones"]  # the flags change the result
    assert record["phones"] == plain["phones"]


def test_beam_transcription_with_an_ink_model_is_one_line(beam, utts, tmp_path, capsys):
    """A handwriting model given to ``transcribe --runner`` is refused before any worker runs:
    one line naming the model, no traceback logged, nothing left beside ``--output``."""
    from lstmrec.bundle import Bundle, save_bundle
    from lstmrec.features.ink import InkFeatureConfig
    from lstmrec.models.blstm import build_model
    from lstmrec.phones import SymbolTable

    symbols = SymbolTable(["a", "b"])
    config = InkFeatureConfig()
    model = build_model(input_dim=config.dim, num_classes=len(symbols), num_layers=1, units=4)
    zeros, ones = np.zeros(config.dim, np.float32), np.ones(config.dim, np.float32)
    save_bundle(tmp_path / "ink", Bundle(model, config, symbols, zeros, ones, {}))
    out = tmp_path / "out" / "results.jsonl"
    out.parent.mkdir()
    argv = ["transcribe", str(tmp_path / "ink"), utts[0].path, "--runner", "DirectRunner"]
    rc = main([*argv, "--output", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert f"lstmrec: {tmp_path / 'ink'}: not a speech model" in err
    assert list(out.parent.iterdir()) == []


def test_beam_transcription_into_a_folder_is_refused(beam, utts, tmp_path, capsys):
    """``--output`` naming a folder, even with ``--force``, is one line; the folder is kept and
    no temporary file is left beside it."""
    bundle = tiny_bundle(tmp_path / "model")
    folder = tmp_path / "results"
    folder.mkdir()
    argv = ["transcribe", str(bundle), utts[0].path, "--runner", "DirectRunner", "--force"]
    rc = main([*argv, "--output", str(folder)])
    err = capsys.readouterr().err
    assert rc == 2 and err.strip() == f"lstmrec: {folder}: --output is a folder; name a file"
    assert folder.is_dir() and not list(tmp_path.glob("results.*")) and not any(folder.iterdir())


def test_a_failed_beam_transcription_leaves_nothing_beside_the_output(
    beam, utts, tmp_path, monkeypatch, capsys
):
    from lstmrec.jobs import pipelines

    def broken(self, files):
        raise OSError("No space left on device")

    monkeypatch.setattr(pipelines._Transcribe, "__call__", broken)
    out = tmp_path / "out" / "results.jsonl"
    out.parent.mkdir()
    argv = ["transcribe", str(tiny_bundle(tmp_path / "model")), utts[0].path]
    rc = main([*argv, "--runner", "DirectRunner", "--output", str(out)])
    assert rc == 2 and "No space left on device" in capsys.readouterr().err
    assert list(out.parent.iterdir()) == []


@pytest.mark.parametrize("flag", [["--num-workers", "4"], ["--runner-option", "project=p"]])
def test_beam_flags_without_a_runner_are_refused_not_ignored(utts, tmp_path, capsys, flag):
    """``--num-workers 4`` alone would run in one process as if it had not been given."""
    write_manifest(utts[:1], tmp_path / "m.jsonl")
    features = ["features", "--data", str(tmp_path / "m.jsonl"), "--cache", str(tmp_path / "c")]
    transcribe = ["transcribe", str(tiny_bundle(tmp_path / "model")), utts[0].path]
    for argv in (features, transcribe):
        assert main([*argv, *flag]) == 2
        assert capsys.readouterr().err == (
            "lstmrec: --num-workers and --runner-option need --runner (e.g. DirectRunner)\n"
        )
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("flag", [["--plot", "p.png"], ["--format", "ctm"]])
def test_beam_transcription_refuses_flags_it_would_not_honour(beam, utts, tmp_path, capsys, flag):
    """Not a picture left undrawn or a CTM unwritten, silently: ``--plot`` and ``--format ctm``
    are refused."""
    argv = ["transcribe", str(tiny_bundle(tmp_path / "model")), utts[0].path, *flag]
    out = tmp_path / "out.jsonl"
    assert main([*argv, "--runner", "DirectRunner", "--output", str(out)]) == 2
    err = capsys.readouterr().err
    named = "--plot" if flag[0] == "--plot" else "--format ctm"
    assert err == f"lstmrec: {named} is not written by --runner, whose --output is JSON Lines\n"
    assert not out.exists()
