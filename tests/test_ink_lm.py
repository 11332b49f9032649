"""Language models for handwriting on the command line: ``lm --unit chars|words`` on an
IAM-OnDB tree, then ``recognize`` and ``evaluate`` with a character LM, and with a lexicon and a
word LM.

The ink bundle is untrained and its output layer ignores the ink: every frame has the same
distribution (blank likely, every character equally likely). The acoustics then carry no
information, so what the beam search outputs is what the language model prefers, and the tests
can say exactly what that is.
"""

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # before anything imports TensorFlow

from pathlib import Path

import numpy as np
import pytest
from helpers import run

from lstmrec.bundle import Bundle, save_bundle
from lstmrec.config import Recipe
from lstmrec.corpora.splits import load_split
from lstmrec.corpora.synth_ink import CorpusSpec, write_corpus
from lstmrec.features.ink import InkFeatureConfig
from lstmrec.inference.lm_files import read_arpa
from lstmrec.targets import char_table

CHARSET = "abcdefghijklmnopqrstuvwxyz "


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A synthetic IAM-OnDB tree: 2 training writers, 1 dev, 1 test, 3 lines each."""
    root = tmp_path_factory.mktemp("inklm") / "corpus"
    write_corpus(
        root, CorpusSpec(writers=4, lines_per_writer=3, dev_writers=1, test_writers=1, seed=3)
    )
    return root


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """An ink bundle whose every frame is blank with probability ~0.8 and each character ~0.008."""
    import keras  # here, not at the top: only this fixture needs Keras

    from lstmrec.models.blstm import build_model  # Keras

    keras.utils.set_random_seed(0)
    features = InkFeatureConfig()
    symbols = char_table([], CHARSET)
    model = build_model(input_dim=features.dim, num_classes=len(symbols), num_layers=1, units=4)
    dense = model.layers[-1]
    kernel, bias = dense.get_weights()
    bias[:] = 0.0
    bias[0] = 6.0
    dense.set_weights([np.zeros_like(kernel), bias])
    path = tmp_path_factory.mktemp("inkbundle") / "model"
    summary = {"recipe": Recipe().to_dict(), "labels": "chars", "score_phone_set": None}
    mean, std = np.zeros(features.dim, np.float32), np.ones(features.dim, np.float32)
    save_bundle(path, Bundle(model, features, symbols, mean, std, summary))
    return path


def train_words(corpus: Path) -> list[str]:
    utts = load_split(corpus, "train")
    return [w for u in utts for w in u.text.split()]


def test_lm_on_an_iam_ondb_tree_learns_the_training_writers_only(capsys, corpus, tmp_path):
    words = train_words(corpus)
    rc, out, err = run(capsys, "lm", "--data", corpus, "--unit", "words", "--order", "2",
                       "--out", tmp_path / "w.arpa")  # fmt: skip
    assert rc == 0, err
    assert out.splitlines()[-1].startswith("6 sentences, ")  # 2 training writers x 3 lines
    assert set(read_arpa(tmp_path / "w.arpa").vocab) == {"<s>", "</s>", "<unk>", *words}
    rc, _, err = run(capsys, "lm", "--data", corpus, "--unit", "chars", "--order", "4",
                     "--out", tmp_path / "c.arpa")  # fmt: skip
    assert rc == 0, err
    chars = read_arpa(tmp_path / "c.arpa")
    assert chars.order == 4
    assert set(chars.vocab) == {"<s>", "</s>", "<unk>", "<space>", *"".join(words)}


def test_recognize_and_evaluate_with_a_character_lm(capsys, corpus, bundle, tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("the cat\n" * 5)
    arpa = tmp_path / "chars.arpa"
    assert (
        run(capsys, "lm", "--text", text, "--unit", "chars", "--order", "4", "--out", arpa)[0] == 0
    )
    files = sorted((corpus / "lineStrokes").rglob("*.xml"))[:2]
    decoding = ("--beam", "20", "--lm", arpa, "--lm-weight", "2", "--insertion-bonus", "3")
    rc, out, err = run(capsys, "recognize", bundle, *files, *decoding)
    assert rc == 0, err
    # The space of the model's symbol table is the LM's <space>: the words come out separated.
    assert [ln.split(" ", 1)[1] for ln in out.splitlines()] == ["the cat"] * len(files)
    rc, out, err = run(capsys, "recognize", bundle, files[0], "--beam", "20")
    assert rc == 0 and len(out.split()) == 1  # without the LM: blank everywhere, the id alone
    hyp = tmp_path / "hyp.txt"
    rc, out, err = run(capsys, "evaluate", bundle, "--data", corpus, "--split", "dev",
                       "--hyp-out", hyp, *decoding)  # fmt: skip
    assert rc == 0, err
    assert out.startswith("CER ") and "\nWER " in out
    # --hyp-out lists symbols, as scored
    assert {ln.split(None, 1)[1] for ln in hyp.read_text().splitlines()} == {"t h e <space> c a t"}


def test_recognize_and_evaluate_with_a_lexicon_and_word_lm(capsys, corpus, bundle, tmp_path):
    arpa = tmp_path / "words.arpa"
    assert run(capsys, "lm", "--data", corpus, "--unit", "words", "--out", arpa)[0] == 0
    lexicon = sorted(set(train_words(corpus)))
    (tmp_path / "lexicon.txt").write_text("".join(w + "\n" for w in lexicon))
    decoding = ("--beam", "20", "--lm", arpa, "--lexicon", tmp_path / "lexicon.txt",
                "--lm-weight", "1", "--insertion-bonus", "3")  # fmt: skip
    files = sorted((corpus / "lineStrokes").rglob("*.xml"))
    rc, out, err = run(capsys, "recognize", bundle, *files, *decoding)
    assert rc == 0, err
    recognised = [w for ln in out.splitlines() for w in ln.split()[1:]]
    assert recognised and set(recognised) <= set(lexicon)
    rc, out, err = run(capsys, "recognize", bundle, files[0], "--lm", arpa)  # no --lexicon
    assert rc == 2 and out == "" and err.count("\n") == 1
    assert "the LM has no <space>: no LM of its characters (a word LM needs --lexicon" in err
    hyp = tmp_path / "hyp.txt"
    rc, out, err = run(capsys, "evaluate", bundle, "--data", corpus, "--split", "core-test",
                       "--hyp-out", hyp, *decoding)  # fmt: skip
    assert rc == 0, err
    hyp_words = [
        w for ln in hyp.read_text().splitlines() for w in "".join(ln.split()[1:]).split("<space>")
    ]
    assert hyp_words and set(hyp_words) <= set(lexicon)


def test_tune_decoding_scores_cer_and_wer_like_evaluate(
    capsys, corpus, bundle, tmp_path, monkeypatch
):
    import json
    import runpy
    import sys

    text = tmp_path / "text.txt"
    text.write_text("the cat\n")
    arpa = tmp_path / "chars.arpa"
    assert (
        run(capsys, "lm", "--text", text, "--unit", "chars", "--order", "3", "--out", arpa)[0] == 0
    )
    script = Path(__file__).resolve().parents[1] / "scripts" / "tune_decoding.py"
    tune = runpy.run_path(str(script))["main"]
    argv = ["tune_decoding.py", bundle, "--data", corpus, "--split", "dev", "--beam", "20",
            "--lm", arpa, "--lm-weights", 0, 2, "--bonuses", 3, "--format", "json"]  # fmt: skip
    monkeypatch.setattr(sys, "argv", [str(a) for a in argv])
    capsys.readouterr()
    assert tune() == 0
    grid = json.loads(capsys.readouterr().out)["grid"]
    assert [(r["lm_weight"], r["insertion_bonus"]) for r in grid] == [(0, 3), (2, 3)]
    for row in grid:
        rc, out, err = run(capsys, "evaluate", bundle, "--data", corpus, "--split", "dev",
                           "--beam", "20", "--lm", arpa, "--lm-weight", row["lm_weight"],
                           "--insertion-bonus", 3, "--format", "json")  # fmt: skip
        assert rc == 0, err
        report = json.loads(out)
        assert (row["error_rate"], row["wer"]) == (round(report["cer"], 2), round(report["wer"], 2))
    assert grid[0]["error_rate"] != grid[1]["error_rate"]  # the LM weight took effect


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--lm-weights", "0", "nan"), "--lm-weights 0.0 nan: each must be a finite number"),
        (("--bonuses", "inf"), "--bonuses inf: each must be a finite number"),
        (("--beam", "-1"), "--beam -1 must be 0 or more"),
    ],
)
def test_tune_decoding_refuses_bad_grids_in_one_line(capsys, corpus, bundle, monkeypatch,
                                                     extra, message):  # fmt: skip
    import runpy
    import sys

    script = Path(__file__).resolve().parents[1] / "scripts" / "tune_decoding.py"
    tune = runpy.run_path(str(script))["main"]
    argv = ["tune_decoding.py", bundle, "--data", corpus, "--split", "dev", *extra]
    monkeypatch.setattr(sys, "argv", [str(a) for a in argv])
    capsys.readouterr()
    assert tune() == 2
    out, err = capsys.readouterr()
    assert out == "" and err.strip().splitlines() == [f"tune_decoding: {message}"]


def test_tune_decoding_names_a_bad_lm_before_it_runs_the_network(capsys, bundle, monkeypatch,
                                                                   tmp_path):  # fmt: skip
    """The LM is read before the split (here, not even there): the wait is not for nothing."""
    import runpy
    import sys

    script = Path(__file__).resolve().parents[1] / "scripts" / "tune_decoding.py"
    tune = runpy.run_path(str(script))["main"]
    argv = ["tune_decoding.py", bundle, "--data", tmp_path / "no-corpus", "--lm",
            tmp_path / "no.arpa", "--beam", "4"]  # fmt: skip
    monkeypatch.setattr(sys, "argv", [str(a) for a in argv])
    capsys.readouterr()
    assert tune() == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"tune_decoding: {tmp_path / 'no.arpa'}: ")


def test_tune_decoding_takes_a_model_by_name(capsys, corpus, bundle, tmp_path, monkeypatch):
    import json
    import runpy
    import shutil
    import sys

    shutil.copytree(bundle, tmp_path / "tiny-ink")
    card = {"name": "tiny-ink", "modality": "ink", "unit": "chars"}
    (tmp_path / "tiny-ink" / "card.json").write_text(json.dumps(card))
    monkeypatch.setenv("LSTMREC_MODELS_DIR", str(tmp_path))
    script = Path(__file__).resolve().parents[1] / "scripts" / "tune_decoding.py"
    tune = runpy.run_path(str(script))["main"]
    for name, rc in (("tiny-ink", 0), ("no-such-model", 2)):
        argv = ["tune_decoding.py", name, "--data", corpus, "--split", "dev", "--beam", "2"]
        monkeypatch.setattr(sys, "argv", [str(a) for a in argv])
        capsys.readouterr()
        assert tune() == rc
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1
    assert "no model folder or shipped model named no-such-model" in err
