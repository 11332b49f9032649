"""scripts/package_model.py: bad input is one line and exit status 2, and leaves nothing in the
models folder; a good run becomes a model folder that ``lstmrec models`` lists."""

from __future__ import annotations

import json

from helpers import load_script

from lstmrec.shipped import read_card

package_model = load_script("package_model")

CARD = 'modality = "speech"\nunit = "phones"\ntraining_data = [{corpus = "TIMIT sample"}]\n'


def test_bad_input_is_one_line_and_leaves_nothing(capsys, speech_model, tmp_path):
    into = tmp_path / "models"
    (tmp_path / "card.toml").write_text(CARD)
    (tmp_path / "bad.toml").write_text("x = \n")
    (tmp_path / "odd.toml").write_text('modality = "smell"\nunit = "phones"\n')
    run = speech_model["out"]
    for argv, line in (
        (["--run", tmp_path / "nope", "--card", tmp_path / "card.toml"], "No such file"),
        (["--run", run, "--card", tmp_path / "nope.toml"], "nope.toml: No such file"),
        (["--run", run, "--card", tmp_path / "bad.toml"], "bad.toml: not TOML (Invalid value"),
        (["--run", run, "--card", tmp_path / "odd.toml"], "card.json"),  # after the copy
        (["--run", run, "--card", tmp_path / "card.toml", "--lm", tmp_path / "no.arpa"], "no.arpa"),
    ):
        rc = package_model.main([*map(str, argv), "--name", "tiny", "--into", str(into)])
        err = capsys.readouterr().err
        assert rc == 2 and err.count("\n") == 1 and err.startswith("package_model: "), err
        assert line in err
        assert not into.exists() or not list(into.iterdir())  # no model, no temporary folder


def test_a_run_becomes_a_listed_model(capsys, speech_model, tmp_path):
    (tmp_path / "card.toml").write_text(CARD)
    argv = ["--run", speech_model["out"], "--card", tmp_path / "card.toml", "--name", "tiny"]
    assert package_model.main([*map(str, argv), "--into", str(tmp_path / "models")]) == 0
    card = read_card(tmp_path / "models" / "tiny")
    assert (card.name, card.modality, card.error_rates) == ("tiny", "speech", ())
    assert [p.name for p in tmp_path.joinpath("models").iterdir()] == ["tiny"]
    summary = json.loads((card.path / "summary.json").read_text())
    assert summary["split_hash"] == speech_model["summary"]["split_hash"]
    assert summary["recipe"]["data"]["test_speakers"] == "test_spk.list"  # shipped beside it
    assert (card.path / "test_spk.list").is_file()
