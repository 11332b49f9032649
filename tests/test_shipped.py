"""Shipped models found by name: ``lstmrec models``, ``--model NAME`` and the default model of
``transcribe`` and ``recognize``, names in ``evaluate`` and ``lm``, ``lstmrec.load(NAME)``, and a
wheel that carries the models.

The "shipped" models here are the session's tiny speech model (``speech_model``) and the ink
bundle of ``tests/data/bundles-0.1``, copied with hand-written cards into a folder that
``LSTMREC_MODELS_DIR`` names (searched before the package's own models).
"""

from __future__ import annotations

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # before anything imports TensorFlow

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpers import REPO, TEST_FILE, one_line, run

import lstmrec
from lstmrec.cli.models import format_cards
from lstmrec.features.errors import DataError
from lstmrec.shipped import ENV_VAR, Card, resolve_model, shipped_models

BUNDLES = REPO / "tests" / "data" / "bundles-0.1"
INK_BUNDLE, LINE = BUNDLES / "ink", BUNDLES / "line.xml"

PHONES_CARD = {
    "name": "en-phones",
    "modality": "speech",
    "unit": "phones",
    "symbols": "TIMIT 39 phones",
    "training_data": [
        {
            "corpus": "TIMIT sample",
            "speakers": 2,
            "utterances": 20,
            "hours": 0.02,
            "licence": "LDC-TIMIT",
            "attribution": "Garofolo et al. 1993",
        },
    ],
    "licence": "LDC-TIMIT",
    "decoding": "beam 16",
    "error_rates": [
        {
            "set": "core-test",
            "metric": "PER",
            "value": 87.5,
            "interval95": [80.1, 94.9],
            "errors": 350,
            "total": 400,
            "command": "lstmrec evaluate en-phones --data TIMIT",
        },
    ],
    "rebuild": "lstmrec train --config configs/demo.toml --data TIMIT --out runs/en-phones",
    "date": "2025-06-01",
}  # no size_bytes: the folder's size is reported
INK_CARD = {"name": "en-ink", "modality": "ink", "unit": "chars", "size_bytes": 1234}

# `lstmrec models` with both cards, 80 columns wide (computed by hand; {folder}, {size}: filled in).
BLOCKS = """\
en-ink
  modality     ink
  symbols      chars
  data         -
  licence      -
  decoding     -
  error rates  -
  size         1.2 kB
  rebuild      -
  folder       {folder}/en-ink

en-phones
  modality     speech
  symbols      TIMIT 39 phones
  data         TIMIT sample (2 speakers, 20 utterances, 0.02 h)
  licence      LDC-TIMIT
  decoding     beam 16
  error rates  core-test: PER 87.5 % [80.1, 94.9]
  size         {size}
  rebuild      lstmrec train --config configs/demo.toml --data TIMIT --out
                 runs/en-phones
  folder       {folder}/en-phones
"""

# A card whose fields outgrow 60 columns, and its block (computed by hand): the two rates of a
# set on one line, a rate never split across lines.
LONG_CARD = Card(
    name="x",
    modality="ink",
    unit="chars",
    symbols="a-z",
    training_data=(
        {"corpus": "synthetic ink of many hands written by many writers", "utterances": 8640},
    ),
    licence="CC0",
    decoding="beam 16 with the 5-gram lm.arpa of the training texts, weight 0.5",
    error_rates=(
        {"set": "held-out hands", "metric": "CER", "value": 35.64, "interval95": [33.54, 37.48]},
        {"set": "held-out hands", "metric": "WER", "value": 68.71, "interval95": [66.12, 71.42]},
        {"set": "dev", "metric": "CER", "value": 19.0},
    ),
    rebuild="make x",
    size_bytes=13_900_000,
    path=Path("/m/x"),
)
LONG_BLOCK = """\
x
  modality     ink
  symbols      a-z
  data         synthetic ink of many hands written by many
                 writers (8640 utterances)
  licence      CC0
  decoding     beam 16 with the 5-gram lm.arpa of the
                 training texts, weight 0.5
  error rates  held-out hands: CER 35.6 % [33.5, 37.5],
                 WER 68.7 % [66.1, 71.4]
               dev: CER 19.0 %
  size         13.9 MB
  rebuild      make x
  folder       /m/x"""


def add_model(root: Path, bundle: Path, card: dict) -> Path:
    """Copy ``bundle`` to ``root/<card name>`` with ``card`` as its card.json."""
    folder = root / card["name"]
    shutil.copytree(bundle, folder)
    (folder / "card.json").write_text(json.dumps(card))
    return folder


def folder_size(folder: Path) -> int:
    return sum(os.path.getsize(folder / name) for name in os.listdir(folder))


@pytest.fixture
def models_dir(tmp_path, monkeypatch, speech_model):
    """A folder of models named by LSTMREC_MODELS_DIR, holding ``en-phones`` (no ``en-ink``),
    in an installation whose own models folder is empty."""
    assert speech_model["rc"] == 0
    root = tmp_path / "my-models"
    root.mkdir()
    (tmp_path / "package-models").mkdir()
    monkeypatch.setattr("lstmrec.shipped.MODELS_DIR", tmp_path / "package-models")
    add_model(root, speech_model["bundle"], PHONES_CARD)
    monkeypatch.setenv(ENV_VAR, str(root))
    return root


@pytest.fixture
def wav(speech_corpus):
    return speech_corpus["test_dir"] / f"{TEST_FILE}.WAV"


# ---------------------------------------------------------------------------------------------
# lstmrec models


def test_models_prints_a_block_per_card(capsys, monkeypatch, models_dir):
    add_model(models_dir, INK_BUNDLE, INK_CARD)
    monkeypatch.setenv("COLUMNS", "80")
    rc, out, err = run(capsys, "models")
    size = folder_size(models_dir / "en-phones")
    assert size < 1e6  # the tiny test model: its size in kB
    assert (rc, out, err) == (0, BLOCKS.format(folder=models_dir, size=f"{size / 1e3:.1f} kB"), "")


def test_model_blocks_wrap_under_their_labels():
    assert format_cards([LONG_CARD], width=60) == LONG_BLOCK
    assert format_cards([LONG_CARD], width=20) == LONG_BLOCK  # never narrower than 60
    assert max(map(len, format_cards([LONG_CARD], width=200).splitlines())) > 60


def test_models_json_gives_the_cards_with_their_folders(capsys, models_dir):
    add_model(models_dir, INK_BUNDLE, INK_CARD)
    rc, out, err = run(capsys, "models", "--format", "json")
    assert rc == 0 and err == ""
    phones, ink = models_dir / "en-phones", models_dir / "en-ink"
    defaults = {"symbols": "", "training_data": [], "licence": "", "decoding": "",
                "error_rates": [], "rebuild": "", "date": ""}  # fmt: skip
    assert json.loads(out) == [
        {**defaults, **INK_CARD, "path": str(ink)},
        {**PHONES_CARD, "size_bytes": folder_size(phones), "path": str(phones)},
    ]


BAD_CARDS = {
    # name: (card.json text, a word the message holds)
    "no-modality": (json.dumps({"name": "no-modality", "unit": "phones"}), "'modality'"),
    "not-json": ("{name", "bad model card"),
    "wrong-name": (json.dumps({**PHONES_CARD, "name": "en-phones"}), "'en-phones'"),
    "bad-unit": (json.dumps({**PHONES_CARD, "name": "bad-unit", "unit": "words"}), "'words'"),
    "rate-text": (
        json.dumps(
            {
                **PHONES_CARD,
                "name": "rate-text",
                "error_rates": [{"set": "x", "metric": "PER", "value": "low"}],
            }
        ),
        "'error_rates'",
    ),
}


@pytest.mark.parametrize("bad", sorted(BAD_CARDS))
def test_a_bad_card_is_named_and_the_other_models_listed(capsys, models_dir, bad):
    text, word = BAD_CARDS[bad]
    (models_dir / bad).mkdir()
    (models_dir / bad / "card.json").write_text(text)
    rc, out, err = run(capsys, "models")
    names = [line for line in out.splitlines() if line and not line.startswith(" ")]
    assert rc == 2 and names == ["en-phones"]
    skipped = err.splitlines()[0]
    assert skipped.startswith(f"lstmrec: skipping {models_dir / bad / 'card.json'}: ")
    assert word in skipped and "Traceback" not in err
    assert err.splitlines()[1:] == ["lstmrec: 1 model card failed (named above)"]  # no "input"


def test_a_models_dir_that_does_not_exist_is_one_line(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "nowhere"))
    rc, out, err = run(capsys, "models")
    assert rc == 2 and out == ""
    reason = f"{ENV_VAR} names a folder that does not exist"
    assert one_line(err) == f"lstmrec: {tmp_path / 'nowhere'}: {reason}"


def test_the_first_folder_wins_and_an_existing_path_wins_over_a_name(
    models_dir, tmp_path, monkeypatch, speech_model
):
    later = tmp_path / "later"
    later.mkdir()
    add_model(later, speech_model["bundle"], {**PHONES_CARD, "licence": "hidden"})
    add_model(later, INK_BUNDLE, INK_CARD)
    monkeypatch.setenv(ENV_VAR, os.pathsep.join([str(models_dir), str(later)]))
    cards = shipped_models()
    assert [(c.name, c.path) for c in cards] == [
        ("en-phones", models_dir / "en-phones"),
        ("en-ink", later / "en-ink"),
    ]
    assert cards[0].licence == "LDC-TIMIT"
    assert resolve_model("en-phones") == models_dir / "en-phones"
    assert resolve_model("en-ink") == later / "en-ink"
    (tmp_path / "cwd" / "en-phones").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "cwd")
    assert resolve_model("en-phones") == Path("en-phones")  # the folder here, not the name


# ---------------------------------------------------------------------------------------------
# transcribe and recognize


def test_transcribe_by_name_by_default_and_in_the_old_form_agree(
    capsys, models_dir, speech_model, wav
):
    rc, expected, err = run(capsys, "transcribe", speech_model["bundle"], wav)  # the old form
    assert rc == 0 and err == "" and expected.split()[0] == f"{TEST_FILE}.WAV"
    for args in (
        ["--model", "en-phones", wav],
        [wav],  # the default, en-phones
        ["en-phones", wav],  # a name in the old form's place
        ["--model", speech_model["bundle"], wav],
        [wav, "--model", models_dir / "en-phones"],
    ):
        assert run(capsys, "transcribe", *args) == (0, expected, ""), args


def test_an_unknown_name_is_one_line(capsys, models_dir, wav, speech_corpus, tmp_path):
    line = "lstmrec: no model folder or shipped model named en-phonez (shipped: en-phones)"
    for args in (
        ["transcribe", "--model", "en-phonez", wav],
        ["transcribe", "en-phonez", wav],
        ["recognize", "--model", "en-phonez", LINE],
        ["evaluate", "en-phonez", "--data", speech_corpus["root"]],
        ["lm", "--model", "en-phonez", "--data", speech_corpus["root"], "--out", tmp_path / "x"],
    ):
        rc, out, err = run(capsys, *args)
        assert (rc, out, one_line(err)) == (2, "", line), args


def test_a_missing_audio_file_first_is_an_input_not_a_model(capsys, models_dir, wav, tmp_path):
    rc, out, err = run(capsys, "transcribe", tmp_path / "missing.wav", wav)
    (line,) = out.splitlines()  # ids relative to the inputs' common folder
    assert rc == 2 and line.split()[0].endswith(f"FAEM0/{TEST_FILE}.WAV")
    assert f"skipping {tmp_path / 'missing.wav'}:" in err.splitlines()[0]


def test_recognize_needs_a_shipped_ink_model_or_a_model_flag(capsys, models_dir):
    rc, out, err = run(capsys, "recognize", LINE)
    assert (rc, out) == (2, "")
    assert one_line(err) == (
        "lstmrec: no shipped model named en-ink, give --model (a bundle folder or name)"
    )
    rc, expected, _ = run(capsys, "recognize", INK_BUNDLE, LINE)
    assert rc == 0 and expected.strip()
    add_model(models_dir, INK_BUNDLE, INK_CARD)
    assert run(capsys, "recognize", LINE) == (0, expected, "")
    assert run(capsys, "recognize", "--model", "en-ink", LINE) == (0, expected, "")


# ---------------------------------------------------------------------------------------------
# evaluate, lm and the Python API


def test_evaluate_and_lm_take_a_name(capsys, models_dir, speech_model, speech_corpus, tmp_path):
    data = ["--data", speech_corpus["root"], "--format", "json"]
    rc, by_path, _ = run(capsys, "evaluate", speech_model["bundle"], *data)
    rc2, by_name, _ = run(capsys, "evaluate", "en-phones", *data)
    assert rc == rc2 == 0
    by_path, by_name = json.loads(by_path), json.loads(by_name)
    assert by_name["model"] == str(models_dir / "en-phones")
    assert by_name["split_speakers"] == by_path["split_speakers"] == ["faem0"]
    assert by_name["error_rate"] == by_path["error_rate"]
    rc, out, _ = run(capsys, "lm", "--model", "en-phones", "--data", speech_corpus["root"],
                     "--out", tmp_path / "p.arpa")  # fmt: skip
    assert rc == 0 and "(split by the model's recipe)" in out


def test_load_by_name(models_dir, speech_model, wav):
    model = lstmrec.load("en-phones")
    assert model.path == str(models_dir / "en-phones") and model.kind == "speech"
    expected = lstmrec.load(speech_model["bundle"]).transcribe(wav).to_dict()
    assert model.transcribe(wav).to_dict() == expected
    with pytest.raises(DataError, match="no model folder or shipped model named en-ink"):
        lstmrec.load("en-ink")


# ---------------------------------------------------------------------------------------------
# The wheel


def test_the_wheel_carries_the_shipped_models(capsys, tmp_path, speech_model, wav):
    """A wheel built with a model in pipeline/resources/models holds every file of it, and,
    installed, finds it by name: ``lstmrec models`` lists it, ``transcribe FILE`` uses it."""
    src = tmp_path / "src"
    for name in ("pipeline", "features", "models"):
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shipped = src / "pipeline" / "resources" / "models"
    for real in ("en-phones", "en-ink"):  # the real ones: the test ships its own en-phones
        shutil.rmtree(shipped / real, ignore_errors=True)
    folder = add_model(shipped, speech_model["bundle"], PHONES_CARD)
    (folder / "extra").mkdir()  # a subfolder travels too
    (folder / "extra" / "notes.txt").write_text("evaluation notes\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
         "--wheel-dir", str(tmp_path / "dist"), str(src)],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("lstmrec-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    files = sorted(p.relative_to(shipped).as_posix() for p in folder.rglob("*") if p.is_file())
    assert len(files) == 7  # the bundle's five files, card.json, extra/notes.txt
    assert [f"lstmrec/resources/models/{f}" in names for f in files] == [True] * 7
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR} | {"PYTHONPATH": str(site)}

    def lstmrec_cli(*args) -> str:
        proc = subprocess.run([sys.executable, "-m", "lstmrec", *map(str, args)], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    (card,) = json.loads(lstmrec_cli("models", "--format", "json"))
    assert card["path"] == str(site.resolve() / "lstmrec" / "resources" / "models" / "en-phones")
    rc, expected, _ = run(capsys, "transcribe", speech_model["bundle"], wav)
    assert rc == 0 and lstmrec_cli("transcribe", wav) == expected


def test_the_registry_imports_no_keras():
    code = "import sys, lstmrec.shipped; print(sorted({'keras', 'tensorflow'} & set(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"
