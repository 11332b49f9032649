"""Decoding options on the command line: beam, N-best, language models, lexicons, CTM output,
and the recipe's [decoding] table, with an untrained bundle (only the decoding is under test) and
the bundled TIMIT sample."""

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # before anything imports TensorFlow

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import run

from lstmrec.cli.main import main
from lstmrec.config import DecodingConfig, Recipe, load_recipe
from lstmrec.features.audio import FeatureConfig
from lstmrec.inference.decoder import DecoderOptions
from lstmrec.inference.lm_files import read_arpa
from lstmrec.phones import PHONES39, SymbolTable

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "timit-demo"
WAV = DEMO / "TIMIT" / "TRAIN" / "DR2" / "FAEM0" / "SX312.WAV"
TEST_LIST = DEMO / "test_spk.list"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """An untrained 39-phone bundle whose outputs are mostly blank with a few spikes, like a
    trained model's, so that decoding has something to find."""
    import keras

    from lstmrec.bundle import Bundle, save_bundle
    from lstmrec.models.blstm import build_model

    keras.utils.set_random_seed(0)
    features = FeatureConfig()
    symbols = SymbolTable(PHONES39)
    model = build_model(input_dim=features.dim, num_classes=len(symbols), num_layers=1, units=8)
    dense = model.layers[-1]
    kernel, bias = dense.get_weights()
    bias[0] = 1.5  # blank most of the time
    dense.set_weights([kernel * 8.0, bias])
    path = tmp_path_factory.mktemp("bundle") / "model"
    summary = {"recipe": Recipe().to_dict(), "score_phone_set": 39}
    mean, std = np.zeros(features.dim, np.float32), np.ones(features.dim, np.float32)
    save_bundle(path, Bundle(model, features, symbols, mean, std, summary))
    return path


@pytest.fixture(scope="module")
def bigram(tmp_path_factory):
    out = tmp_path_factory.mktemp("lm") / "phones.arpa"
    args = ["lm", "--data", DEMO, "--test-speakers", TEST_LIST, "--phone-set", "39", "--out", out]
    assert main([str(a) for a in args]) == 0
    return out


def test_lm_command_trains_a_phone_bigram_on_the_training_speakers(bigram):
    model = read_arpa(bigram)
    assert model.order == 2
    assert set(model.vocab) - {"<s>", "</s>", "<unk>"} <= set(PHONES39)
    assert len(model.vocab) > 30  # most of the 39 phones occur in 40 sentences


def test_lm_command_folds_to_the_phone_set_of_its_model(tmp_path):
    """With --model and no --phone-set the LM is over the model's phones (en-phones: 39, with
    sil), not TIMIT's 61, whose closures and pauses the model never writes."""
    out = tmp_path / "p.arpa"
    args = [
        "lm",
        "--data",
        DEMO,
        "--test-speakers",
        TEST_LIST,
        "--model",
        "en-phones",
        "--out",
        out,
    ]
    assert main([str(a) for a in args]) == 0
    vocab = set(read_arpa(out).vocab)
    assert "sil" in vocab and not vocab & {"h#", "pau", "bcl", "ax"}


def test_lm_command_from_text_in_characters(capsys, tmp_path):
    (tmp_path / "t.txt").write_text("the cat sat\n\nthe hat\n")
    rc, out, _ = run(
        capsys,
        "lm",
        "--text",
        tmp_path / "t.txt",
        "--unit",
        "chars",
        "--order",
        3,
        "--out",
        tmp_path / "c.arpa",
    )
    assert rc == 0 and "2 sentences" in out
    model = read_arpa(tmp_path / "c.arpa")
    assert model.order == 3 and "<space>" in model.vocab and " " not in model.vocab
    assert model.log10_prob((model.ids["<space>"], model.ids["h"]), model.ids["a"]) > -0.5


def test_lm_command_words_of_the_corpus_transcripts(capsys, tmp_path):
    out = tmp_path / "w.arpa"
    rc, _, err = run(
        capsys,
        "lm",
        "--data",
        DEMO,
        "--test-speakers",
        TEST_LIST,
        "--unit",
        "words",
        "--order",
        "3",
        "--out",
        out,
    )
    assert rc == 0, err
    model = read_arpa(out)
    # Held-out speakers' sentences stay out, and so does SA1 ("... dark suit ...") without
    # --keep-sa; words are kept as written.
    assert "straightforward" not in model.vocab and "dark" not in model.vocab
    assert model.order == 3
    assert {"And", "His"} <= set(model.vocab)


def test_lm_command_errors_are_one_line(capsys, tmp_path):
    rc, _, err = run(capsys, "lm", "--text", "x.txt", "--order", "0", "--out", tmp_path / "x")
    assert rc == 2 and "--order 0 must be in 1..20" in err
    # An order the ARPA reader refuses is refused before training, not written.
    out = tmp_path / "o.arpa"
    rc, _, err = run(capsys, "lm", "--data", DEMO, "--order", "21", "--out", out)
    assert rc == 2 and "--order 21 must be in 1..20" in err and not out.exists()
    rc, _, err = run(capsys, "lm", "--out", tmp_path / "x.arpa")
    assert rc == 2 and "either --data" in err
    rc, _, err = run(
        capsys,
        "lm",
        "--text",
        tmp_path / "none.txt",
        "--unit",
        "chars",
        "--out",
        tmp_path / "x.arpa",
    )
    assert rc == 2 and "none.txt" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("flags", "reason"),
    [
        (["--text", "t.txt", "--unit", "chars", "--model", "en-ink"], "--model: for --data, not"),
        (["--text", "t.txt", "--unit", "words", "--keep-sa"], "--keep-sa: for --data, not --text"),
        (
            ["--data", DEMO, "--unit", "chars", "--phone-set", "39"],
            "--phone-set: for --unit phones",
        ),
        (
            ["--data", DEMO, "--text-normalization", "none"],
            "--text-normalization: for --unit chars",
        ),
        (
            ["--data", DEMO, "--model", "en-phones", "--pron-lexicon-style", "timit"],
            "--pron-lexicon-style: with --model",
        ),
    ],
)
def test_lm_flags_that_would_go_unused_are_refused(capsys, tmp_path, flags, reason):
    """Flags of a corpus with --text, of phones with characters or words, of words with phones,
    and a lexicon style the model's replaces are refused before anything is read."""
    out = tmp_path / "x.arpa"
    rc, stdout, err = run(capsys, "lm", *flags, "--out", out)
    assert rc == 2 and stdout == "" and not out.exists()
    assert err.startswith(f"lstmrec: {reason}") and len(err.splitlines()) == 1


def _transcribe(capsys, bundle, *extra):
    rc, out, err = run(capsys, "transcribe", bundle, WAV, *extra)
    assert rc == 0, err
    return out


def test_ctm_matches_the_json_times(capsys, bundle):
    ctm = _transcribe(capsys, bundle, "--format", "ctm", "--ctm-silence", "keep", "--beam", "10")
    ctm = ctm.splitlines()
    result = json.loads(_transcribe(capsys, bundle, "--format", "json", "--beam", "10"))
    assert len(ctm) == len(result["phones"]) > 0
    for line, p in zip(ctm, result["phones"], strict=True):
        file_id, channel, start, dur, phone = line.split()
        assert (file_id, channel, phone) == (result["id"], "1", p["phone"])
        assert file_id == "SX312.WAV"
        assert float(start) == pytest.approx(p["start"], abs=1e-3)
        assert float(dur) == pytest.approx(p["end"] - p["start"], abs=2e-3)


def test_json_nbest_is_sorted_and_distinct(capsys, bundle):
    result = json.loads(
        _transcribe(capsys, bundle, "--format", "json", "--beam", "8", "--nbest", "4")
    )
    nbest = result["nbest"]
    assert len(nbest) == 4
    assert nbest[0]["phones"] == [p["phone"] for p in result["phones"]]
    assert len({tuple(h["phones"]) for h in nbest}) == 4
    assert [h["score"] for h in nbest] == sorted((h["score"] for h in nbest), reverse=True)
    assert all(h["lm"] == 0 and h["score"] == pytest.approx(h["acoustic"]) for h in nbest)
    plain = json.loads(_transcribe(capsys, bundle, "--format", "json", "--beam", "8"))
    assert "nbest" not in plain
    # Asked for, the list is there however few hypotheses there are: greedy decoding has one.
    greedy = json.loads(
        _transcribe(capsys, bundle, "--format", "json", "--beam", "0", "--nbest", "3")
    )
    assert [h["phones"] for h in greedy["nbest"]] == [[p["phone"] for p in greedy["phones"]]]
    assert greedy["nbest"][0]["score"] < 0


def test_greedy_and_beam_with_lm(capsys, bundle, bigram):
    greedy = _transcribe(capsys, bundle, "--beam", "0").split()[1:]
    beam = _transcribe(capsys, bundle, "--beam", "10").split()[1:]
    fused = json.loads(
        _transcribe(
            capsys,
            bundle,
            "--format",
            "json",
            "--beam",
            "10",
            "--nbest",
            "2",
            "--lm",
            bigram,
            "--lm-weight",
            "2",
        )
    )
    assert greedy and beam
    assert all(h["lm"] < 0 for h in fused["nbest"])


def test_evaluate_with_beam_and_lm(capsys, bundle, bigram):
    rc, out, err = run(
        capsys,
        "evaluate",
        bundle,
        "--data",
        DEMO,
        "--split",
        "core-test",
        "--test-speakers",
        TEST_LIST,
        "--format",
        "json",
        "--beam",
        "4",
        "--lm",
        bigram,
        "--insertion-bonus",
        "0.5",
    )
    assert rc == 0, err
    assert json.loads(out)["reference_length"] > 500


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--lm", "missing.arpa"), "missing.arpa: language model file not found"),
        (("--lexicon", "words.txt"), "a lexicon needs a word language model"),
        (("--beam", "-1"), "--beam -1 must be 0 or more"),
        (("--lm-weight", "nan"), "--lm-weight nan must be a finite number"),
        (("--insertion-bonus", "inf"), "--insertion-bonus inf must be a finite number"),
    ],
)
def test_decoding_errors_are_one_line(capsys, bundle, extra, message):
    rc, out, err = run(capsys, "transcribe", bundle, WAV, *extra)
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err


def test_bad_decoding_settings_in_a_bundle_are_one_line(capsys, bundle, tmp_path):
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(bundle, copy)
    summary = json.loads((copy / "summary.json").read_text())
    summary["recipe"]["decoding"]["beam"] = "wide"
    (copy / "summary.json").write_text(json.dumps(summary))
    rc, _, err = run(capsys, "transcribe", copy, WAV)
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert str(copy) in err and "beam='wide'" in err


def test_lm_over_another_symbol_set_is_refused(capsys, bundle, tmp_path):
    (tmp_path / "t.txt").write_text("a b c\n")
    assert (
        main(
            [
                "lm",
                "--text",
                str(tmp_path / "t.txt"),
                "--unit",
                "words",
                "--out",
                str(tmp_path / "w.arpa"),
            ]
        )
        == 0
    )
    (tmp_path / "w.arpa").write_text(
        (tmp_path / "w.arpa").read_text().replace("<unk>", "<unknown>")
    )
    rc, _, err = run(capsys, "transcribe", bundle, WAV, "--lm", tmp_path / "w.arpa")
    assert rc == 2 and "symbols are not in the LM" in err


def test_decoding_defaults_come_from_the_recipe():
    assert DecoderOptions.from_summary({}) == DecoderOptions(beam=100, nbest=1)
    recipe = load_recipe(None, ["decoding.beam=7", 'decoding.lm="x.arpa"', "decoding.nbest=3"])
    assert recipe.decoding == DecodingConfig(beam=7, lm="x.arpa", nbest=3)
    summary = {"recipe": recipe.to_dict()}
    assert Recipe.from_dict(summary["recipe"]) == recipe
    options = DecoderOptions.from_summary(summary, beam=None, lm_weight=2.0, lexicon=None)
    assert (options.beam, options.lm, options.nbest, options.lm_weight) == (7, "x.arpa", 3, 2.0)
    assert options.lexicon is None and DecoderOptions.from_summary(summary, beam=0).greedy


def test_lm_for_a_model_is_of_the_unit_it_writes(capsys, tmp_path):
    """A phone LM for a model of characters (or a character LM for a phone model) could not be
    used by it: refused in one line naming the model, nothing written."""
    from lstmrec.shipped import resolve_model

    for model, unit, use in (
        ("en-ink", "phones", "characters: use --unit chars or words"),
        ("en-phones", "chars", "phones: use --unit phones"),
        ("en-phones", "words", "phones: use --unit phones"),
    ):
        argv = ("lm", "--model", model, "--data", DEMO, "--unit", unit, "--out", tmp_path / "x")
        rc, out, err = run(capsys, *argv)
        assert rc == 2 and out == ""
        assert err == f"lstmrec: {resolve_model(model)}: the model writes {use}\n"
    assert not (tmp_path / "x").exists()


def test_an_lm_given_for_a_greedy_decoding_is_refused(capsys, tmp_path):
    """The best path reads no LM: --lm (or --lexicon) with --beam 0 or 1 would go unused."""
    arpa = tmp_path / "phones.arpa"
    assert run(capsys, "lm", "--data", DEMO, "--out", arpa)[0] == 0
    for beam in ("0", "1"):
        rc, out, err = run(capsys, "transcribe", "en-phones", WAV, "--lm", arpa, "--beam", beam)
        assert rc == 2 and out == ""
        assert err == (
            f"lstmrec: --lm needs a beam search, and --beam {beam} decodes greedily: give "
            "--beam 2 or more\n"
        )
    rc, out, _ = run(capsys, "transcribe", "en-phones", WAV, "--lm", arpa, "--beam", "2")
    assert rc == 0 and out.startswith("SX312.WAV sil")


def test_an_insertion_bonus_given_for_a_greedy_decoding_is_refused(capsys):
    """The best path adds no bonus: --insertion-bonus 2 with --beam 0 was silently unused."""
    rc, out, err = run(
        capsys, "transcribe", "en-phones", WAV, "--insertion-bonus", "2", "--beam", "0"
    )
    assert rc == 2 and out == ""
    assert err == (
        "lstmrec: --insertion-bonus needs a beam search, and --beam 0 decodes greedily: give "
        "--beam 2 or more\n"
    )
    rc, greedy, _ = run(capsys, "transcribe", "en-phones", WAV, "--beam", "0")
    rc0, zero, _ = run(
        capsys, "transcribe", "en-phones", WAV, "--insertion-bonus", "0", "--beam", "0"
    )
    assert rc == rc0 == 0 and zero == greedy  # a bonus of 0 changes nothing: taken


def test_an_lm_weight_without_a_language_model_is_refused(capsys):
    """en-phones has no language model of its own: --lm-weight 2 without --lm (or with greedy
    decoding) weighed nothing and was silently unused."""
    rc, out, err = run(capsys, "transcribe", "en-phones", WAV, "--lm-weight", "2", "--beam", "4")
    assert rc == 2 and out == ""
    assert err == (
        "lstmrec: --lm-weight weighs a language model, and this decoding has none: give --lm, "
        "or drop --lm-weight\n"
    )
    rc, out, err = run(capsys, "transcribe", "en-phones", WAV, "--lm-weight", "2", "--beam", "0")
    assert rc == 2 and out == "" and err.startswith("lstmrec: --lm-weight needs a beam search")
    rc, _, _ = run(capsys, "transcribe", "en-phones", WAV, "--lm-weight", "0", "--beam", "4")
    assert rc == 0  # a weight of 0 changes nothing: taken


def test_nbest_needs_json_output(capsys):
    """Text and CTM show the best hypothesis only: an N-best list would go unused."""
    for fmt in ("text", "ctm"):
        rc, out, err = run(capsys, "transcribe", "en-phones", WAV, "--nbest", "3", "--format", fmt)
        assert (rc, out) == (2, "")
        assert err == "lstmrec: --nbest 3 lists hypotheses in JSON output: add --format json\n"
    rc, out, _ = run(capsys, "transcribe", "en-phones", WAV, "--nbest", "1")
    assert rc == 0 and out.startswith("SX312.WAV sil")


def test_a_negative_lm_weight_is_refused(capsys):
    """A negative weight rewards what the LM finds unlikely: no setting anyone means."""
    rc, out, err = run(capsys, "transcribe", "en-phones", WAV, "--lm-weight", "-1")
    assert (rc, out, err) == (2, "", "lstmrec: --lm-weight -1 must be 0 or more\n")
