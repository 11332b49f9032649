"""An IAM-OnDB copy as people hold it: transcribed lines without ink (a known gap of the corpus,
1,014 in a real copy), the transcription conventions (``#``, ``%%%``, placeholder texts,
``Mr .``), and a cap on the training lines to try a recipe on part of the corpus.

The tree is the synthetic handwriting of ``lstmrec.corpora.synth_ink`` in the IAM-OnDB layout,
with strokes files deleted and transcription lines rewritten the way the real corpus has them.
"""

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # before anything imports TensorFlow

import json
import re
import runpy
import shutil
import string
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO, one_line, run

from lstmrec.bundle import Bundle
from lstmrec.config import DataConfig, Recipe, load_recipe
from lstmrec.corpora.splits import cap_utterances
from lstmrec.corpora.synth_ink import CorpusSpec, write_corpus
from lstmrec.features.errors import CorpusGap, DataError
from lstmrec.features.ink import InkFeatureConfig
from lstmrec.manifest import Utterance, read_manifest
from lstmrec.targets import Targets, text_symbols
from lstmrec.textnorm import normalize_text, resolve_normalization

CHARSET = string.ascii_letters + string.digits + " .,;:!?'-"
TINY = f"""
[features]
kind = "ink"
[data]
charset = "{CHARSET}"
[model]
num_layers = 1
units = 4
[training]
optimizer = "adam"
learning_rate = 3e-3
batch_size = 2
loss_reduction = "mean"
max_epochs = 1
"""
GAP_LINE = re.compile(
    r"^lstmrec: (.+) \((?:a known gap|known gaps) of the corpus\): listed in (.+)$", re.M
)


def form_of(root: Path, split_file: str) -> str:
    """The first form a task 1 split file lists."""
    return (root / split_file).read_text().split()[0]


def strokes(root: Path, form: str, n: int) -> Path:
    return next((root / "lineStrokes").rglob(f"{form}-{n:02d}.xml"))


def rewrite_csr_line(root: Path, form: str, n: int, text) -> str:
    """Replace the ``n``-th transcription line (after ``CSR:``) of ``form`` by ``text(old)``."""
    path = next((root / "ascii").rglob(f"{form}.txt"))
    head, csr, body = path.read_text(encoding="latin-1").partition("CSR:")
    lines = body.split("\n")
    filled = [i for i, ln in enumerate(lines) if ln.strip()]
    lines[filled[n - 1]] = new = text(lines[filled[n - 1]].strip())
    path.write_text(head + csr + "\n".join(lines), encoding="latin-1")
    return new


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict:
    """One writer each for train, dev and test, 4 lines each. Missing ink: train line 2, dev
    line 1, test line 3 (3 known gaps). Train line 3 has an unreadable word (#); test line 1 is
    a placeholder and test line 2 has IAM-OnDB's detached punctuation."""
    tmp = tmp_path_factory.mktemp("iam_road")
    root = tmp / "IAM-OnDB"
    spec = CorpusSpec(writers=3, lines_per_writer=4, dev_writers=1, test_writers=1, seed=5,
                      max_words=2)  # fmt: skip
    write_corpus(root, spec)
    train, dev, test = (
        form_of(root, f) for f in ("trainset.txt", "testset_v.txt", "testset_f.txt")
    )
    missing = [strokes(root, train, 2), strokes(root, dev, 1), strokes(root, test, 3)]
    for path in missing:
        path.unlink()
    rewrite_csr_line(root, train, 3, lambda old: old + " #")
    rewrite_csr_line(root, test, 1, lambda old: "Please Enter Transcription here")
    rewrite_csr_line(root, test, 2, lambda old: "Mr . Smith 's pen , too")
    (tmp / "tiny.toml").write_text(TINY)
    return {"root": root, "tmp": tmp, "missing": missing, "forms": (train, dev, test),
            "recipe": tmp / "tiny.toml"}  # fmt: skip


def gap_report(err: str) -> tuple[str, Path]:
    """The one gap summary line of a command's stderr: (what it counts, the list's path)."""
    found = GAP_LINE.findall(err)
    assert len(found) == 1, f"expected one gap summary line, got:\n{err}"
    assert "input(s) failed" not in err and "skipping" not in err, err
    return found[0][0], Path(found[0][1])


def test_prepare_lists_the_lines_without_ink_once_and_succeeds(capsys, corpus, tmp_path):
    rc, out, err = run(capsys, "prepare", "--data", corpus["root"], "--out", tmp_path / "prep",
                       "--splits", "train", "dev", "core-test")  # fmt: skip
    assert rc == 0, err
    counted, listing = gap_report(err)
    assert counted == "3 transcribed line(s) have no ink"
    assert listing == tmp_path / "prep" / "corpus_gaps.txt"  # beside the manifests
    lines = listing.read_text().splitlines()
    assert len(lines) == 3
    for line, path in zip(lines, sorted(corpus["missing"]), strict=True):
        assert line.endswith(f"has no strokes file {path}")
    ids = {
        u.id
        for s in ("train", "dev", "core-test")
        for u in read_manifest(tmp_path / "prep" / f"{s}.jsonl")
    }
    assert len(ids) == 9 and not {p.stem for p in corpus["missing"]} & ids


def test_prepare_from_a_relative_path_writes_manifests_that_read_back(
    capsys, monkeypatch, corpus, tmp_path
):
    """`prepare --data IAM-OnDB --out prep` run beside the tree: each manifest's stroke files
    are found again when it is read (from the manifest's folder or anywhere else)."""
    monkeypatch.chdir(corpus["root"].parent)
    rc, _, err = run(capsys, "prepare", "--data", corpus["root"].name, "--out", tmp_path / "prep")
    assert rc == 0, err
    monkeypatch.chdir(tmp_path)
    utts = read_manifest(Path("prep") / "core-test.jsonl")
    assert utts and all(Path(u.path).is_file() for u in utts)


@pytest.fixture(scope="module")
def trained(corpus) -> dict:
    """``lstmrec features`` then ``lstmrec train --max-utterances 1`` on one feature cache."""
    from lstmrec.cli.main import main

    tmp, cache = corpus["tmp"], corpus["tmp"] / "cache"
    common = ["--config", str(corpus["recipe"]), "--data", str(corpus["root"])]
    rc = main(["features", *common, "--cache", str(cache), "--set", "data.max_utterances=1"])
    assert rc == 0
    entries = sorted(p.name for p in cache.glob("*.npz"))
    rc = main(["train", *common, "--out", str(tmp / "run"), "--feature-cache", str(cache),
               "--max-utterances", "1"])  # fmt: skip
    assert rc == 0
    return {"run": tmp / "run", "cache": cache, "entries": entries}


def test_features_and_train_skip_the_gaps_and_cap_the_training_lines(capsys, corpus, trained):
    # `features` filled exactly the cache entries training read (same capped, gap-free lines).
    assert len(trained["entries"]) == 2  # train and dev
    assert sorted(p.name for p in trained["cache"].glob("*.npz")) == trained["entries"]
    summary = json.loads((trained["run"] / "model" / "summary.json").read_text())
    # 4 training lines: one without ink, one with an unreadable word; the cap keeps 1 of 2.
    assert summary["train_utterances"] == 1
    assert summary["train_utterances_available"] == 2 and summary["max_utterances"] == 1
    assert summary["recipe"]["data"]["max_utterances"] == 1
    assert "shuffled with seed 1234" in summary["train_selection"]
    assert summary["dev_utterances"] == 3  # 4 dev lines, one without ink
    listed = (trained["run"] / "corpus_gaps.txt").read_text().splitlines()
    assert len(listed) == 4 and sum("unreadable word (#)" in ln for ln in listed) == 1


def test_train_reports_the_gaps_once(capsys, corpus, tmp_path):
    rc, out, err = run(capsys, "train", "--config", corpus["recipe"], "--data", corpus["root"],
                       "--out", tmp_path / "run", "--set", 'data.dev_split=""')  # fmt: skip
    assert rc == 0, err
    counted, listing = gap_report(err)
    assert counted == "3 transcribed line(s) have no ink; 1 line(s) have an unreadable word (#)"
    assert listing == tmp_path / "run" / "corpus_gaps.txt"
    assert "train: 2 utterances" in out


def test_evaluate_scores_normalised_references_and_skips_the_gaps(
    capsys, corpus, trained, tmp_path
):
    refs = tmp_path / "refs.txt"
    rc, out, err = run(capsys, "evaluate", trained["run"] / "model", "--data", corpus["root"],
                       "--split", "core-test", "--ref-out", refs, "--beam", "0")  # fmt: skip
    assert rc == 0, err
    counted, listing = gap_report(err)
    assert counted == (
        "3 transcribed line(s) have no ink; 1 line(s) have a placeholder instead of a transcription"
    )
    assert listing.is_file() and listing.parent == Path(os.environ["LSTMREC_CACHE_DIR"])
    test_form = corpus["forms"][2]
    scored = dict(line.split(" ", 1) for line in refs.read_text().splitlines())
    assert sorted(scored) == [f"{test_form}-02", f"{test_form}-04"]
    assert scored[f"{test_form}-02"] == " ".join(text_symbols("Mr. Smith's pen, too"))
    # The Python API skips the same gaps (and raises at any other bad input).
    import lstmrec

    api = lstmrec.load(trained["run"] / "model").evaluate(corpus["root"], "core-test")
    assert api["num_utterances"] == 2


def test_lm_and_tune_decoding_skip_the_gaps(capsys, corpus, trained, tmp_path):
    rc, out, err = run(capsys, "lm", "--data", corpus["root"], "--unit", "chars",
                       "--out", tmp_path / "c.arpa")  # fmt: skip
    assert rc == 0, err
    counted, _ = gap_report(err)
    assert counted == "3 transcribed line(s) have no ink; 1 line(s) have an unreadable word (#)"
    assert out.splitlines()[-1].startswith("2 sentences, ")  # 4 lines, 2 left out
    tune = runpy.run_path(str(REPO / "scripts" / "tune_decoding.py"))["main"]
    capsys.readouterr()
    rc = tune([str(trained["run"] / "model"), "--data", str(corpus["root"]), "--split",
               "core-test", "--beam", "2", "--format", "json"])  # fmt: skip
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert json.loads(out)["utterances"] == 2
    gap_report(err)


def test_a_corrupt_stroke_file_still_fails(capsys, corpus, tmp_path):
    root = tmp_path / "IAM-OnDB"
    shutil.copytree(corpus["root"], root)
    bad = strokes(root, corpus["forms"][0], 1)
    bad.write_text("<WhiteboardCaptureSession><StrokeSet><Stroke>")
    args = ["features", "--config", corpus["recipe"], "--data", root, "--splits", "train",
            "--cache", tmp_path / "cache"]  # fmt: skip
    rc, _, err = run(capsys, *args, "--strict")
    assert rc == 2
    assert one_line(err).startswith(f"lstmrec: {bad}: ")  # the gaps did not stop --strict
    rc, _, err = run(capsys, *args)
    assert rc == 2
    assert f"lstmrec: skipping {bad}: " in err and err.count(str(bad)) == 1  # named once
    assert "lstmrec: 1 input failed (named above)" in err  # and counted
    assert len(GAP_LINE.findall(err)) == 1  # the gaps: still one line


# ---------------------------------------------------------------------------------------------
# Benchmark scripts on the same tree


def corrupt_copy(corpus, tmp_path) -> tuple[Path, Path]:
    """A copy of the tree whose first training line has a cut-short strokes file: (root, file)."""
    root = tmp_path / "IAM-OnDB"
    shutil.copytree(corpus["root"], root)
    bad = strokes(root, corpus["forms"][0], 1)
    bad.write_text("<WhiteboardCaptureSession><StrokeSet><Stroke>")
    return root, bad


def test_bench_beam_features_skips_the_gaps_and_stops_at_a_corrupt_file(capsys, corpus, tmp_path):
    bench = runpy.run_path(str(REPO / "scripts" / "bench_beam_features.py"))["main"]
    capsys.readouterr()
    assert bench(["--data", str(corpus["root"]), "--repeat", "1", "--workers", "1"]) == 0
    out, err = capsys.readouterr()
    counted, listing = gap_report(err)
    assert counted == "3 transcribed line(s) have no ink"  # reading only: no text rules
    assert len(listing.read_text().splitlines()) == 3
    assert out.splitlines()[0] == "9 ink lines"  # 12 lines, 3 without ink
    root, bad = corrupt_copy(corpus, tmp_path)
    assert bench(["--data", str(root), "--repeat", "1", "--workers", "1"]) == 2
    out, err = capsys.readouterr()
    assert len(GAP_LINE.findall(err)) == 1  # read first; then the features stop at the bad file
    assert "Traceback" not in err and err.splitlines()[-1].startswith(f"error: {bad}: ")


def test_training_benchmark_lengths_need_audio_not_a_gap(corpus):
    from lstmrec.bench.training import real_lengths

    with pytest.raises(DataError) as info:  # the reason: no durations, not a line without ink
        real_lengths(str(corpus["root"]), count=4)
    assert not isinstance(info.value, CorpusGap)
    expected = "no utterance has a duration (lengths come from audio)"
    assert str(info.value) == f"{corpus['root']}: {expected}"


def test_compare_ink_features_skips_the_gaps_and_a_corrupt_file(capsys, corpus, tmp_path):
    compare = runpy.run_path(str(REPO / "scripts" / "compare_ink_features.py"))["main"]
    args = ["--recipe", str(corpus["recipe"]), "--epochs", "1", "--sets", "basic",
            "--format", "json"]  # fmt: skip
    capsys.readouterr()
    assert compare([str(corpus["root"]), *args, "--out", str(tmp_path / "out")]) == 0
    out, err = capsys.readouterr()
    counted, listing = gap_report(err)
    assert counted == (  # read, trained on and scored: the gaps of all three steps
        "3 transcribed line(s) have no ink; 1 line(s) have an unreadable word (#); "
        "1 line(s) have a placeholder instead of a transcription"
    )
    assert listing == tmp_path / "out" / "corpus_gaps.txt"  # beside the results
    assert len(listing.read_text().splitlines()) == 5
    assert "train: 3 lines, dev: 3 lines, test: 3 lines" in err  # read: no ink left out
    assert json.loads(out)["systems"]["basic"]["test_lines"] == 2  # scored: the placeholder too
    root, bad = corrupt_copy(corpus, tmp_path)
    assert compare([str(root), *args, "--out", str(tmp_path / "bad")]) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in err and f"lstmrec: skipping {bad}: " in err  # named when met
    assert err.count(str(bad)) == 1  # and not named again:
    assert err.splitlines()[-1] == "lstmrec: 1 input failed (named above)"  # counted at the end
    assert (tmp_path / "bad" / "results.json").exists() and json.loads(out)["systems"]["basic"]


# ---------------------------------------------------------------------------------------------
# The cap on training lines


def test_cap_utterances_is_seeded_nested_and_independent_of_input_order():
    utts = [Utterance(f"u{i:02d}", f"u{i}.xml", f"w{i % 3}", text="a") for i in range(20)]
    five = cap_utterances(utts, 5, seed=1)
    assert len(five) == 5 and [u.id for u in five] == sorted(u.id for u in five)  # input order
    assert cap_utterances(utts[::-1], 5, seed=1) == five[::-1]  # the same lines
    assert {u.id for u in five} < {u.id for u in cap_utterances(utts, 9, seed=1)}  # nested
    assert cap_utterances(utts, 5, seed=2) != five
    assert cap_utterances(utts, 0, seed=1) == utts == cap_utterances(utts, 20, seed=1)
    assert len({u.speaker for u in five}) > 1  # line by line, not one writer


def test_max_utterances_is_checked(capsys, corpus, tmp_path):
    rc, _, err = run(capsys, "train", "--data", corpus["root"], "--out", tmp_path / "run",
                     "--max-utterances", "-1")  # fmt: skip
    assert rc == 2 and one_line(err) == "lstmrec: --max-utterances -1 must be 0 (all) or more"
    assert not (tmp_path / "run").exists()
    with pytest.raises(ValueError, match="max_utterances=-1 must be an integer >= 0"):
        DataConfig(max_utterances=-1)
    with pytest.raises(ValueError, match="text_normalization='iam'"):
        DataConfig(text_normalization="iam")


# ---------------------------------------------------------------------------------------------
# IAM-OnDB's transcription conventions


@pytest.mark.parametrize(
    "text, normalised",
    [
        ("A MOVE to stop Mr . Gaitskell", "A MOVE to stop Mr. Gaitskell"),  # detached punctuation
        (
            "yes , he said ; well : no ! why ? it 's the writers ' pens",
            "yes, he said; well: no! why? it's the writers' pens",
        ),
        ("Mr. Gaitskell, as written", "Mr. Gaitskell, as written"),  # attached: unchanged
        ("from %%% nominating", "from nominating"),  # struck-out text
        ("from%%%%% nominating %%%", "from nominating"),
        ("50 % of the 100%", "50 % of the 100%"),  # one or two % are a percent sign
        ("  spaced   out  ", "spaced out"),
    ],
)
def test_iam_ondb_rules(text, normalised):
    assert normalize_text(text, "iam_ondb") == normalised
    assert normalize_text(text, "none") == text


@pytest.mark.parametrize(
    "text, kind",
    [
        ("Please Enter Transcription here", "placeholder"),
        ("please  enter transcription HERE.", "placeholder"),
        ("the # was unreadable", "unreadable word (#)"),
        ("#", "unreadable word (#)"),
        ("%%% %%%%", "only struck-out text"),
    ],
)
def test_iam_ondb_lines_left_out_are_known_gaps(text, kind):
    with pytest.raises(CorpusGap) as info:
        normalize_text(text, "iam_ondb", name="utterance x", path="x.txt")
    assert kind in info.value.kind and str(info.value).startswith("x.txt: utterance x: ")
    assert normalize_text(text, "none") == text
    other = "Please enter your name here"
    assert normalize_text(other, "iam_ondb") == other


def test_auto_is_iam_ondb_for_ink_and_none_for_speech():
    assert resolve_normalization("auto", ink=True) == "iam_ondb"
    assert resolve_normalization("auto", ink=False) == "none"
    assert resolve_normalization("none", ink=True) == "none"
    with pytest.raises(ValueError):
        resolve_normalization("iam", ink=True)


def _bundle(recipe: Recipe, targets: Targets, data: dict | None = None) -> Bundle:
    """A bundle without a network: what ``Targets.of_bundle`` reads (features, symbols,
    summary)."""
    summary = {"recipe": recipe.to_dict()}
    if data is not None:
        summary["recipe"]["data"] = data
    dim = recipe.features.dim
    return Bundle(None, recipe.features, targets.symbols, np.zeros(dim), np.ones(dim), summary)


def test_targets_and_references_are_normalised_alike():
    recipe = Recipe(features=InkFeatureConfig(), data=DataConfig(charset=CHARSET))
    utt = Utterance("a01-000u-01", "a.xml", "w1", text="Mr . Smith 's pen , too")
    gap = Utterance("a01-000u-02", "a.xml", "w1", text="the # word")
    targets = Targets.for_training(recipe, [utt, gap])
    assert targets.text_normalization == "iam_ondb"  # "auto" for an ink recipe
    expected = text_symbols("Mr. Smith's pen, too")
    assert targets.sequence(utt) == expected  # the training target
    scoring = Targets.of_bundle(_bundle(recipe, targets))
    assert scoring.reference(utt) == expected  # the reference it is scored against
    for t in (targets, scoring):
        errors = []
        assert t.sequences([utt, gap], on_error=errors.append) == {utt.id: expected}
        assert [type(e) for e in errors] == [CorpusGap]
        with pytest.raises(CorpusGap):
            t.reference(gap)
    # "none" keeps the corpus's spelling on both sides; so does a bundle that predates the
    # setting (it was trained on the texts as they were).
    plain = Recipe(features=InkFeatureConfig(),
                   data=DataConfig(charset=CHARSET, text_normalization="none"))  # fmt: skip
    as_written = text_symbols(utt.text)
    assert Targets.for_training(plain, [utt]).sequence(utt) == as_written
    assert Targets.of_bundle(_bundle(plain, targets)).reference(utt) == as_written
    old = {k: v for k, v in recipe.to_dict()["data"].items() if k != "text_normalization"}
    assert Targets.of_bundle(_bundle(recipe, targets, old)).reference(utt) == as_written


def test_the_graves_2009_recipe_loads_and_builds():
    from lstmrec.training.transducer import build_trainer  # Keras

    recipe = load_recipe(REPO / "configs" / "iam_ondb_graves2009.toml")
    m, t, d = recipe.model, recipe.training, recipe.data
    assert (m.num_layers, m.units, m.cell, m.kind) == (1, 100, "peephole", "ctc")
    assert (t.optimizer, t.learning_rate, t.momentum, t.batch_size) == ("sgd", 1e-4, 0.9, 1)
    assert t.weight_noise > 0 and t.patience > 0 and d.dev_split == "dev"
    assert d.text_normalization == "iam_ondb" and recipe.features.feature_set == "graves2009"
    assert recipe.features.dim == 25  # the paper's input layer
    model = build_trainer(recipe, 82, t.loss_reduction).acoustic_model  # blank included
    # Per direction: input kernel 25 x 4*100, recurrent 100 x 4*100, bias 4*100 and 3 peephole
    # vectors of 100; output layer (2*100) x 82 + 82 (81 characters and the blank, say).
    per_direction = 25 * 400 + 100 * 400 + 400 + 3 * 100
    assert model.count_params() == 2 * per_direction + 200 * 82 + 82
    assert model.output_shape[-1] == 82


def test_untimed_copy_keeps_the_held_out_lines_and_drops_only_their_time(capsys, corpus, tmp_path):
    from lstmrec.features.inkfiles import read_ink_file

    main = runpy.run_path(str(REPO / "scripts" / "untimed_ink.py"))["main"]
    root, (_, dev, test) = corpus["root"], corpus["forms"]
    dst = tmp_path / "untimed"
    assert main([str(root), str(dst)]) == 0
    lines = sorted(
        p.relative_to(root) for f in (dev, test) for p in (root / "lineStrokes").rglob(f"{f}-*.xml")
    )
    assert len(lines) == 6  # 4 dev and 4 test lines, less a known gap in each
    assert sorted(p.relative_to(dst) for p in (dst / "lineStrokes").rglob("*.xml")) == lines
    for rel in lines:
        (timed,), (bare,) = read_ink_file(root / rel), read_ink_file(dst / rel)
        assert b"time=" not in (dst / rel).read_bytes()
        for a, b in zip(timed.strokes, bare.strokes, strict=True):
            np.testing.assert_array_equal(b[:, :2], a[:, :2])
            assert np.isfinite(a[:, 2]).all() and np.isnan(b[:, 2]).all()
    # The same references, gaps and normalisation included.
    refs = {}
    for name, tree in (("timed", root), ("bare", dst)):
        rc, _, err = run(capsys, "refs", "--data", tree, "--split", "core-test", "--unit",
                         "words", "--text-out", tmp_path / f"{name}.txt", "--quiet")  # fmt: skip
        assert rc == 0, err
        refs[name] = (tmp_path / f"{name}.txt").read_text()
    assert refs["bare"] == refs["timed"] and refs["timed"].count("\n") == 2  # a placeholder left
    # Nothing overwritten; a bad --splits, a tree without held-out lines and a file that is not
    # XML each refused or skipped with their reason.
    assert main([str(root), str(dst)]) == 2
    assert "exists" in one_line(capsys.readouterr().err)
    with pytest.raises(SystemExit) as e:
        main([str(root), str(tmp_path / "x"), "--splits", "nope"])
    assert e.value.code == 2 and "invalid choice: 'nope'" in capsys.readouterr().err
    broken = tmp_path / "broken"
    shutil.copytree(root, broken)
    for name in ("testset_f.txt", "testset_v.txt"):
        (broken / name).rename(tmp_path / name)  # no held-out lines any more
    assert main([str(broken), str(tmp_path / "x")]) == 2
    assert "no lines in the splits test dev" in one_line(capsys.readouterr().err)
    assert not (tmp_path / "x").exists()
    for name in ("testset_f.txt", "testset_v.txt"):
        (tmp_path / name).rename(broken / name)
    (broken / lines[0]).write_text("<Whiteboard")
    assert main([str(broken), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"skipped: {broken / lines[0]}: not XML" in err and "1 file(s) failed" in err
    assert not (tmp_path / "out" / lines[0]).exists() and (tmp_path / "out" / lines[1]).exists()


def test_inkml_copy_keeps_the_held_out_lines_and_their_time_in_each_unit(capsys, corpus, tmp_path):
    from lstmrec.corpora.iam_ondb import load_iam_ondb
    from lstmrec.features.inkfiles import read_ink_file

    main = runpy.run_path(str(REPO / "scripts" / "inkml_lines.py"))["main"]
    root = corpus["root"]
    timed = {u.id: u for u in load_iam_ondb(root, on_error=lambda e: None)}
    unit = {"s": 'units="s"', "ms": 'units="ms"', "ms-unstated": 'name="T"', "none": None}
    for time, marker in unit.items():
        dst = tmp_path / time
        assert main([str(root), str(dst), "--time", time]) == 0, capsys.readouterr().err
        test, dev = read_manifest(dst / "core-test.jsonl"), read_manifest(dst / "dev.jsonl")
        assert (len(test), len(dev)) == (3, 3)  # 4 lines each, less a known gap
        for u in test + dev:
            original = timed[u.id]
            assert (u.text, u.speaker) == (original.text, original.speaker)
            text = Path(u.path).read_text()
            assert ('name="T"' in text) == (marker is not None)
            assert marker is None or marker in text
            assert (time == "ms-unstated") == ('name="T"' in text and "units=" not in text)
            (sample,) = read_ink_file(u.path)
            assert sample.text == u.text
            for a, b in zip(read_ink_file(original.path)[0].strokes, sample.strokes, strict=True):
                np.testing.assert_array_equal(b[:, :2], a[:, :2])
                if marker is None:
                    assert np.isnan(b[:, 2]).all()
                else:  # read back in seconds, whatever the unit written
                    np.testing.assert_allclose(b[:, 2], a[:, 2], rtol=1e-12)
        rc, _, err = run(capsys, "refs", "--data", dst, "--split", "core-test", "--unit",
                         "words", "--text-out", tmp_path / f"{time}.txt", "--quiet")  # fmt: skip
        assert rc == 0, err
    rc, _, err = run(capsys, "refs", "--data", root, "--split", "core-test", "--unit", "words",
                     "--text-out", tmp_path / "tree.txt", "--quiet")  # fmt: skip
    assert rc == 0, err
    assert (tmp_path / "ms.txt").read_text() == (tmp_path / "tree.txt").read_text()
    assert main([str(root), str(tmp_path / "ms")]) == 2
    assert "exists" in one_line(capsys.readouterr().err)


def test_inkml_copy_distorts_lines_reproducibly_and_keeps_their_strokes(capsys, corpus, tmp_path):
    from lstmrec.corpora.iam_ondb import load_iam_ondb
    from lstmrec.features.inkfiles import read_ink_file

    main = runpy.run_path(str(REPO / "scripts" / "inkml_lines.py"))["main"]
    root = corpus["root"]
    lines = {u.id: u for u in load_iam_ondb(root, on_error=lambda e: None)}
    runs = {}
    for name, flags in (("a", ["--distort", "2"]), ("b", ["--distort", "2"]),
                        ("c", ["--distort", "2", "--seed", "1"])):  # fmt: skip
        assert main([str(root), str(tmp_path / name), "--splits", "dev", *flags]) == 0
        assert "distorted x2" in capsys.readouterr().out
        written = read_manifest(tmp_path / name / "dev.jsonl")
        runs[name] = {u.id: read_ink_file(u.path)[0] for u in written}
    assert len(runs["a"]) == 3
    for uid, sample in runs["a"].items():
        original = read_ink_file(lines[uid].path)[0]
        assert sample.text == lines[uid].text and len(sample.strokes) == len(original.strokes)
        again, other = runs["b"][uid].strokes, runs["c"][uid].strokes
        for a, b, c in zip(sample.strokes, again, other, strict=True):
            np.testing.assert_array_equal(a, b)  # the same seed writes the same ink
            assert a.shape != c.shape or not np.allclose(a, c)  # another seed, other ink
            assert np.all(np.diff(a[:, 2]) >= 0)  # time still runs forward
        before, after = (np.concatenate([s[:, :2] for s in x.strokes]) for x in (original, sample))
        box, new_box = np.ptp(before, axis=0), np.ptp(after, axis=0)
        assert not np.allclose(box, new_box, rtol=1e-3)  # moved
        assert 0.5 < new_box.max() / box.max() < 2  # bent, not blown up
    for bad in ("-1", "nan", "inf"):
        assert main([str(root), str(tmp_path / "bad"), "--distort", bad]) == 2
        assert "must be a finite number, 0 or more" in one_line(capsys.readouterr().err)
    assert not (tmp_path / "bad").exists()
