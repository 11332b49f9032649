"""RNN transducer bundles end to end: ``[model] kind = "transducer"`` trains from a CTC bundle's
encoder (``--init-from``) with a pretrained prediction network, resumes, and its bundle loads on
both engines, transcribes (greedy, beam, N-best, JSON, picture) and evaluates like a CTC one."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from helpers import REPO, TEST_FILE, load_script, one_line, run, train_args

from lstmrec.bundle import load_bundle
from lstmrec.cli.main import main
from lstmrec.models.decoding import BLANK
from lstmrec.models.numpy_transducer import path_log_probs
from lstmrec.models.transducer_decoding import greedy_transducer

TRANSDUCER = (
    "--set", 'model.kind="transducer"', "--set", "model.pred_units=12",
    "--set", "model.joint_units=10", "--set", "training.prediction_pretrain_epochs=3",
    "--set", "training.label_pad_multiple=8", "--set", "decoding.beam=4",
)  # fmt: skip


@pytest.fixture(scope="module")
def rnnt(tmp_path_factory, speech_corpus, speech_model):
    """A tiny transducer trained 2 epochs from the session's tiny CTC model."""
    assert speech_model["rc"] == 0
    out = tmp_path_factory.mktemp("rnnt") / "run"
    args = train_args(
        speech_corpus["root"], out, *TRANSDUCER, "--init-from", speech_model["bundle"],
        test_list=speech_corpus["test_list"],
    )  # fmt: skip
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        rc = main([str(a) for a in args])
    assert rc == 0
    return {"out": out, "bundle": out / "model", "stdout": stdout.getvalue()}


def wav(speech_corpus):
    return speech_corpus["test_dir"] / f"{TEST_FILE}.WAV"


def test_the_run_starts_from_the_ctc_encoder_and_a_pretrained_predictor(rnnt, speech_model):
    summary = json.loads((rnnt["bundle"] / "summary.json").read_text())
    assert summary["model_kind"] == "transducer"
    assert summary["recipe"]["model"]["kind"] == "transducer"
    assert summary["init_from"] == str(speech_model["bundle"])
    rate = json.loads((speech_model["bundle"] / "summary.json").read_text()).get("dev_error_rate")
    shown = "n/a" if rate is None else f"{rate:.2f} %"  # a run without a dev set has none
    assert (
        f"encoder initialised from {speech_model['bundle']} (its dev error rate: {shown})"
        in rnnt["stdout"]
    )
    line = next(ln for ln in rnnt["stdout"].splitlines() if "pretrained as a label LM" in ln)
    losses = [float(v) for v in line.split("epoch ")[1:] for v in [v.split()[1]]]
    assert len(losses) == 3 and losses[-1] < losses[0]  # the label LM learns
    assert [h["epoch"] for h in summary["history"]] == [1, 2]


def test_init_from_copies_the_blstm_layers_exactly(speech_model, speech_corpus, tmp_path):
    from lstmrec.config import load_recipe
    from lstmrec.training.transducer import build_trainer, init_from

    recipe = load_recipe(REPO / "configs" / "demo.toml", ["model.units=8", "model.num_layers=1",
                         'model.kind="transducer"'])  # fmt: skip
    ctc = load_bundle(speech_model["bundle"], engine="keras")
    trainer = build_trainer(recipe, len(ctc.symbols), "sum")
    lines = []
    init_from(trainer, speech_model["bundle"], recipe, ctc.symbols, lines.append)
    blstm = [w for w in ctc.model.get_weights()][:-2]  # all but the output layer's
    got = trainer.encoder.get_weights()
    assert len(got) == len(blstm) > 0
    for a, b in zip(got, blstm, strict=True):
        np.testing.assert_array_equal(a, b)
    assert lines and "encoder initialised" in lines[0]


def test_init_from_a_bundle_of_other_features_names_them(speech_model):
    from lstmrec.config import load_recipe
    from lstmrec.features.errors import DataError
    from lstmrec.training.transducer import build_trainer, init_from

    recipe = load_recipe(REPO / "configs" / "demo.toml", ["model.units=8", "model.num_layers=1",
                         "features.preemphasis=0.9"])  # fmt: skip
    ctc = load_bundle(speech_model["bundle"], engine="keras")
    trainer = build_trainer(recipe, len(ctc.symbols), "sum")
    with pytest.raises(DataError) as e:
        init_from(trainer, speech_model["bundle"], recipe, ctc.symbols, print)
    assert "preemphasis = 0.97 in the bundle, 0.9 in the recipe" in str(e.value)
    assert "n_mels" not in str(e.value)  # only what differs


def test_init_from_a_model_of_other_layers_is_one_line(
    capsys, speech_model, speech_corpus, tmp_path
):
    args = train_args(
        speech_corpus["root"], tmp_path / "run", *TRANSDUCER, "--set", "model.units=6",
        "--init-from", speech_model["bundle"], test_list=speech_corpus["test_list"],
    )  # fmt: skip
    rc, _, err = run(capsys, *args)
    assert rc == 2
    assert "--init-from" in err and "weight shapes" in err and "Traceback" not in err
    assert not (tmp_path / "run" / "model").exists()


def test_both_engines_give_the_same_encodings_and_transcripts(rnnt, speech_corpus):
    numpy_b = load_bundle(rnnt["bundle"], engine="numpy")
    keras_b = load_bundle(rnnt["bundle"], engine="keras")
    assert numpy_b.kind == keras_b.kind == "transducer"
    x = np.random.default_rng(0).normal(size=(2, 30, numpy_b.features.dim)).astype(np.float32)
    lengths = np.array([30, 17])
    a = numpy_b.model.predict_on_batch([x, lengths])
    b = keras_b.model.predict_on_batch([x, lengths])
    np.testing.assert_allclose(a[0], b[0], atol=1e-4)
    np.testing.assert_allclose(a[1, :17], b[1, :17], atol=1e-4)
    outs = {}
    for engine in ("numpy", "keras"):
        proc = subprocess.run(
            [sys.executable, "-m", "lstmrec", "transcribe", "--model", str(rnnt["bundle"]),
             str(wav(speech_corpus)), "--engine", engine, "--beam", "3", "--nbest", "3",
             "--format", "json"],
            cwd=REPO, capture_output=True, text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        outs[engine] = json.loads(proc.stdout)
    assert [p["phone"] for p in outs["numpy"]["phones"]] == [
        p["phone"] for p in outs["keras"]["phones"]
    ]
    got = outs["numpy"]
    scores = [h["score"] for h in got["nbest"]]
    assert scores == sorted(scores, reverse=True)
    assert len({tuple(h["phones"]) for h in got["nbest"]}) == len(got["nbest"])
    assert [p["phone"] for p in got["phones"]] == got["nbest"][0]["phones"]
    for p in got["phones"]:
        assert 0 <= p["start"] <= p["end"] <= got["duration"]


def test_greedy_path_posteriors_are_distributions_that_chose_the_blank(rnnt, speech_corpus):
    from lstmrec.features.audio import apply_cmvn
    from lstmrec.featurize import checked_features

    b = load_bundle(rnnt["bundle"], engine="numpy")
    feats = apply_cmvn(checked_features(wav(speech_corpus), b.features), b.mean, b.std)
    enc = b.model.predict_on_batch([feats[None], np.array([len(feats)])])[0]
    hyp = greedy_transducer(enc, b.model.step, max_symbols_per_frame=50)
    rows = path_log_probs(enc, b.model.step, hyp.labels, hyp.frames)
    assert rows.shape == (len(enc), len(b.symbols))
    np.testing.assert_allclose(np.exp(rows.astype(np.float64)).sum(axis=1), 1.0, atol=1e-5)
    # Greedy leaves a frame by its most probable class, the blank, unless the cap ended it.
    capped = np.bincount(hyp.frames, minlength=len(enc)) == 50
    assert not capped.all()
    assert (rows.argmax(axis=1)[~capped] == BLANK).all()
    # The path's probability: its labels' terms are elsewhere, its blanks are these rows'.
    blanks = float(rows[:, BLANK].astype(np.float64).sum())
    assert blanks >= hyp.acoustic - 1e-3


def test_transcribe_plot_and_evaluate_work_on_a_transducer(capsys, rnnt, speech_corpus, tmp_path):
    png = tmp_path / "t.png"
    rc, out, err = run(
        capsys, "transcribe", "--model", rnnt["bundle"], wav(speech_corpus), "--plot", png
    )
    assert rc == 0, err
    assert png.stat().st_size > 10_000
    rc, out, err = run(
        capsys, "evaluate", rnnt["bundle"], "--data", speech_corpus["root"], "--split",
        "core-test", "--test-speakers", speech_corpus["test_list"], "--format", "json",
    )  # fmt: skip
    assert rc == 0, err
    report = json.loads(out)
    assert report["num_utterances"] == 8 and report["reference_length"] > 0
    assert 0 <= report["error_rate"]


def test_a_language_model_is_refused_in_one_line(capsys, rnnt, speech_corpus, tmp_path):
    arpa = tmp_path / "lm.arpa"
    arpa.write_text("\\data\\\nngram 1=1\n\n\\1-grams:\n-1.0 a\n\n\\end\\\n")
    rc, _, err = run(
        capsys, "transcribe", "--model", rnnt["bundle"], wav(speech_corpus), "--beam", "4",
        "--lm", arpa,
    )  # fmt: skip
    assert rc == 2
    assert "without an external language model" in err and len(err.strip().splitlines()) == 1


def test_an_insertion_bonus_is_refused_in_one_line(capsys, rnnt, speech_corpus):
    """The transducer's beam search ranks by probability alone: a bonus would change nothing."""
    rc, out, err = run(
        capsys, "transcribe", "--model", rnnt["bundle"], wav(speech_corpus), "--beam", "4",
        "--insertion-bonus", "5",
    )  # fmt: skip
    assert rc == 2 and out == ""
    assert "without an insertion bonus" in err and len(err.strip().splitlines()) == 1


def test_resume_after_an_interruption_equals_one_run(capsys, rnnt, speech_corpus, tmp_path):
    """Two epochs, then a third by --resume, against three in one go: the same losses."""
    resumed = tmp_path / "resumed"
    shutil.copytree(rnnt["out"], resumed)
    common = dict(test_list=speech_corpus["test_list"], epochs=3)
    rc, _, err = run(
        capsys, *train_args(speech_corpus["root"], resumed, *TRANSDUCER, "--resume", **common)
    )
    assert rc == 0, err
    once = tmp_path / "once"
    init = json.loads((rnnt["bundle"] / "summary.json").read_text())["init_from"]
    rc, _, err = run(
        capsys,
        *train_args(speech_corpus["root"], once, *TRANSDUCER, "--init-from", init, **common),
    )
    assert rc == 0, err
    a, b = (json.loads((d / "model" / "summary.json").read_text()) for d in (resumed, once))
    assert [h["epoch"] for h in a["history"]] == [1, 2, 3]
    np.testing.assert_allclose(
        [h["loss"] for h in a["history"]], [h["loss"] for h in b["history"]], rtol=1e-4
    )
    assert a["init_from"] == b["init_from"] == init


def test_the_python_api_transcribes_with_a_transducer(rnnt, speech_corpus):
    import lstmrec

    model = lstmrec.load(rnnt["bundle"])
    got = model.transcribe(wav(speech_corpus))
    b = load_bundle(rnnt["bundle"], engine="numpy")
    from lstmrec.inference.transcribe import transcribe_detailed

    want, _ = transcribe_detailed(b, str(wav(speech_corpus)))
    assert [p.phone for p in got.phones] == [p.phone for p in want.phones]


def test_bench_transducer_gives_decoding_speeds_with_their_ratios(
    capsys, rnnt, speech_model, speech_corpus
):
    """scripts/bench_transducer.py says each speed comes with its ratio to CTC's: decoding's
    too, not only training's."""
    main = load_script("bench_transducer").main
    args = ["--skip-training", "--data", speech_corpus["root"], "--split", "train"]
    args += ["--utterances", "1", "--ctc-bundle", speech_model["bundle"]]
    assert main([str(a) for a in [*args, "--transducer-bundle", rnnt["bundle"]]]) == 0
    decoding = json.loads(capsys.readouterr().out)["decoding"]
    ratios = decoding["transducer_vs_ctc"]
    assert list(ratios) == ["greedy", "recipe beam"]
    ctc, transducer = (
        [v for v in decoding[kind].values() if isinstance(v, dict)]
        for kind in ("ctc", "transducer")
    )
    for name, c, t in zip(ratios, ctc, transducer, strict=True):  # greedy, then the recipe's beam
        want = t["input_frames_per_s"] / c["input_frames_per_s"]  # rounded speeds: about
        assert ratios[name] == pytest.approx(want, rel=0.02)


def test_bench_decode_refuses_a_transducer(capsys, rnnt, speech_corpus):
    """bench_decode decoded a transducer's projected encoder outputs as CTC logits: figures of
    a search that means nothing."""
    main = load_script("bench_decode").main
    args = ["--model", rnnt["bundle"], "--data", speech_corpus["root"], "--split", "train"]
    assert main([str(a) for a in [*args, "--beams", "2", "--repeats", "1"]]) == 2
    out, err = capsys.readouterr()
    assert out == "" and one_line(err) == (
        f"bench_decode: {rnnt['bundle']}: a transducer has no CTC logits to decode "
        "(scripts/bench_transducer.py times its search)"
    )


def test_a_transducer_trains_on_more_labels_than_frames(tmp_path):
    """CTC needs a frame per label (and between repeats); a transducer emits several labels on
    a frame, so training keeps the utterance a CTC recipe rejects."""
    from lstmrec.config import load_recipe
    from lstmrec.manifest import Utterance
    from lstmrec.phones import SymbolTable
    from lstmrec.training.train import prepare_split

    wav = REPO / "data" / "timit-demo" / "TIMIT" / "TRAIN" / "DR3" / "MADC0" / "SA1.WAV"
    utt = Utterance("madc0_sa1", str(wav), "madc0", offset=1.0, duration=0.1)  # 8 frames
    phones = ("s", "iy", "s", "iy", "s", "iy", "s", "iy", "s", "iy", "s", "iy")
    skipped = {"ctc": [], "transducer": []}
    kept = {}
    for kind, errors in skipped.items():
        recipe = load_recipe(None, [f'model.kind="{kind}"'])
        kept[kind] = prepare_split(
            [utt], {utt.id: phones}, recipe, SymbolTable(["iy", "s"]),
            cache_dir=tmp_path, on_error=errors.append, desc="x",
        )  # fmt: skip
    assert kept["ctc"].utts == [] and "12 labels need 12 frames for CTC" in str(*skipped["ctc"])
    assert kept["transducer"].utts == [utt] and skipped["transducer"] == []
    assert [len(f) for f in kept["transducer"].feats] == [8]


@pytest.mark.parametrize(
    "override, message",
    [
        ('model.kind="rnnt"', "kind='rnnt' must be 'ctc' or 'transducer'"),
        ("model.pred_units=0", "pred_units=0 must be an integer in 1.."),
        ("model.embed_dim=-1", "embed_dim=-1 must be an integer >= 0"),
        ("training.label_pad_multiple=-8", "label_pad_multiple=-8 must be an integer in 0.."),
        ("training.prediction_pretrain_epochs=1.5", "prediction_pretrain_epochs=1.5 must be"),
    ],
)
def test_bad_transducer_settings_are_one_line(override, message):
    from lstmrec.config import load_recipe
    from lstmrec.features.errors import DataError

    with pytest.raises(DataError, match=re.escape(message)):
        load_recipe(None, [override])


@pytest.mark.parametrize(
    "override, message",
    [
        ('decoding.lm="phones.arpa"', "[decoding] lm: a transducer decodes without an external"),
        ("decoding.insertion_bonus=1", "[decoding] insertion_bonus: a transducer's beam search"),
    ],
)
def test_a_transducer_recipe_refuses_decoding_settings_it_cannot_use(override, message):
    """Such a recipe trained, then every beam decoding of its bundle was refused, telling the
    user to drop a flag they never gave."""
    from lstmrec.config import load_recipe
    from lstmrec.features.errors import DataError

    with pytest.raises(DataError, match=re.escape(message)):
        load_recipe(None, ['model.kind="transducer"', override])
    assert load_recipe(None, [override]).model.kind == "ctc"  # a CTC model uses them


@pytest.mark.parametrize(
    "override, message",
    [
        ("model.embed_dim=8", "embed_dim=8 is the label embedding of a transducer's prediction"),
        ("training.prediction_pretrain_epochs=10", "prediction_pretrain_epochs pretrains a"),
    ],
)
def test_transducer_settings_in_a_ctc_recipe_are_refused(override, message):
    """A CTC recipe trained as if they were not there: a forgotten kind = "transducer" went
    unnoticed."""
    from lstmrec.config import load_recipe
    from lstmrec.features.errors import DataError

    with pytest.raises(DataError, match=re.escape(message)):
        load_recipe(None, [override])
    assert load_recipe(None, ['model.kind="transducer"', override]).model.kind == "transducer"


def test_an_ink_recipe_trains_a_transducer_that_recognizes(capsys, ink_run, tmp_path):
    """``kind = "transducer"`` on a handwriting recipe: trained from scratch, then ``recognize``
    on both engines gives the same text, with one stroke span per character."""
    from helpers import INK_RECIPE

    corpus, _ = ink_run
    (tmp_path / "ink.toml").write_text(
        INK_RECIPE.replace(
            "[model]", '[model]\nkind = "transducer"\npred_units = 8\njoint_units = 8'
        ).replace("[training]", "[training]\nlabel_pad_multiple = 8\n")
        + "[decoding]\nbeam = 3\n"
    )
    rc, out, err = run(
        capsys, "train", "--config", tmp_path / "ink.toml", "--data", corpus,
        "--out", tmp_path / "run",
    )  # fmt: skip
    assert rc == 0, err
    bundle = tmp_path / "run" / "model"
    assert json.loads((bundle / "summary.json").read_text())["model_kind"] == "transducer"
    line = sorted((corpus / "lineStrokes").rglob("*.xml"))[0]
    got = {}
    for engine in ("numpy", "keras"):
        rc, out, err = run(
            capsys, "recognize", "--model", bundle, line, "--format", "json", "--engine", engine
        )
        assert rc == 0, err
        got[engine] = json.loads(out)
    assert got["numpy"]["text"] == got["keras"]["text"]
    assert "".join(c["char"] for c in got["numpy"]["chars"]) == got["numpy"]["text"]
