"""``scripts/mnist_ink.py accuracy``: digit accuracy of one or several hypothesis files, their
majority vote and the share of digits some file reads right, on a hand-checked fixture; and
``combine``: the one-digit label probabilities of CTC (by hand, and against every path) added
over several models, on real digits, and over seeded distorted copies of each digit."""

import itertools
import os
import runpy

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest
from helpers import REPO, random_model, shared_data

from lstmrec import featurize
from lstmrec.features.inkfiles import read_ink_file
from lstmrec.manifest import Utterance, read_manifest, write_manifest

SCRIPT = runpy.run_path(str(REPO / "scripts" / "mnist_ink.py"))


@pytest.fixture
def data(tmp_path):
    digits = {"d1": "3", "d2": "4", "d3": "9", "d4": "7"}
    utts = [Utterance(k, f"ink/{k}.json", "mnist", text=v) for k, v in digits.items()]
    write_manifest(utts, tmp_path / "core-test.jsonl")
    return tmp_path


def _hyps(path, answers: str) -> str:
    """A hypothesis file in evaluate's form (symbols separated by spaces); "-" leaves a digit
    out."""
    lines = [f"d{i} {a}" for i, a in enumerate(answers, 1) if a != "-"]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_one_file_several_files_their_vote_and_what_some_file_reads(data, tmp_path, capsys):
    a = _hyps(tmp_path / "a.txt", "3497")  # all 4 right
    assert SCRIPT["main"](["accuracy", str(data), a]) == 0
    assert capsys.readouterr().out.startswith("digit accuracy 100.00 % (4 / 4)")
    b = _hyps(tmp_path / "b.txt", "3941")  # d1 right: 1 of 4
    c = _hyps(tmp_path / "c.txt", "84-1")  # d2 right, d3 missing (wrong): 1 of 4
    assert SCRIPT["main"](["accuracy", str(data), b, c, a]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(": digit accuracy ")[1].split(" (")[0] for line in out[:3]] == [
        "25.00 %",
        "25.00 %",
        "100.00 %",
    ]
    # Votes per digit: d1 3/8/3 -> 3 right; d2 9/4/4 -> 4 right; d3 4/-/9 -> a tie between
    # 4 and 9 (and the missing answer) goes to the first file's 4, wrong; d4 1/1/7 -> 1, wrong.
    assert out[3].startswith("majority vote: digit accuracy 50.00 % (2 / 4)")
    assert out[4].startswith("read right by at least one: digit accuracy 100.00 % (4 / 4)")


def test_a_hypothesis_file_of_another_split_is_refused_and_missing_answers_are_said(
    data, tmp_path, capsys
):
    """A file that answers none of the digits (another split's) read 0.00 % without a word."""
    other = tmp_path / "dev_hyp.txt"
    other.write_text("mnist-44000 3\nmnist-44001 4\n")
    assert SCRIPT["main"](["accuracy", str(data), str(other)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"mnist_ink: {other}: answers none of the 4 digits of {data / 'core-test.jsonl'}"
    assert SCRIPT["main"](["sheet", str(data), str(other), "--out", str(tmp_path / "s")]) == 2
    assert "answers none of the 4 digits" in capsys.readouterr().err
    part = _hyps(tmp_path / "part.txt", "3-9-")
    assert SCRIPT["main"](["accuracy", str(data), part]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("digit accuracy 50.00 % (2 / 4)")
    assert err.strip() == f"mnist_ink: {part}: no answer for 2 of the 4 digits (counted wrong)"


def test_a_sheet_whose_folder_is_a_file_is_one_line(data, tmp_path, capsys):
    hyp = _hyps(tmp_path / "h.txt", "3491")
    out = tmp_path / "out"
    out.write_text("mine")
    assert SCRIPT["main"](["sheet", str(data), hyp, "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"mnist_ink: {out / 'key.tsv'}: cannot write ({out} is a file, not a folder)"
    )


def test_a_missing_manifest_is_one_line_and_status_2(tmp_path, capsys):
    assert SCRIPT["main"](["accuracy", str(tmp_path), str(tmp_path / "h.txt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such manifest" in err


# ---------------------------------------------------------------------------------------------
# combine: the one-digit label probabilities of several models added


def test_one_label_probability_by_hand_and_against_every_path():
    digit_log_probs = SCRIPT["digit_log_probs"]
    # Two frames, classes (blank, a, b): "a" is read by the paths aa, a-, -a.
    p = np.array([[0.5, 0.3, 0.2], [0.1, 0.6, 0.3]])
    got = np.exp(digit_log_probs(np.log(p), [1, 2]))
    want_a = 0.3 * 0.6 + 0.3 * 0.1 + 0.5 * 0.6
    want_b = 0.2 * 0.3 + 0.2 * 0.1 + 0.5 * 0.3
    np.testing.assert_allclose(got, [want_a, want_b], rtol=1e-12)
    # Random logits over 4 frames: the sum over all 4 ** 4 paths that collapse to one label
    # (the softmax is taken inside, so logits need not be normalised).
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 4)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    brute = np.zeros(3)
    for path in itertools.product(range(4), repeat=4):
        collapsed = [c for i, c in enumerate(path) if c and (i == 0 or path[i - 1] != c)]
        if len(collapsed) == 1:
            brute[collapsed[0] - 1] += np.prod(probs[np.arange(4), path])
    np.testing.assert_allclose(np.exp(digit_log_probs(logits, [1, 2, 3])), brute, rtol=1e-9)
    assert np.isneginf(digit_log_probs(np.zeros((0, 3)), [1, 2])).all()


def _digit_bundle(path, seed: int) -> str:
    """A tiny digit model with random weights over the basic box-scaled ink features."""
    from lstmrec.bundle import Bundle, save_bundle
    from lstmrec.features.ink import InkFeatureConfig
    from lstmrec.phones import SymbolTable

    features = InkFeatureConfig(reference="box", deslant=False)
    model = random_model("lstm", input_dim=features.dim, num_classes=11, layers=1, seed=seed)
    ones = np.ones(features.dim, dtype=np.float32)
    symbols = SymbolTable(list("0123456789"))
    save_bundle(path, Bundle(model, features, symbols, 0 * ones, ones, {"recipe": {}}))
    return str(path)


def test_combine_reads_real_digits_with_each_model_and_adds_them(tmp_path, capsys):
    npz = shared_data("mnist-strokes") / "strokes.npz"
    data = tmp_path / "data"
    caps = ["--train", "2", "--dev", "2", "--test", "12"]
    assert SCRIPT["main"](["prepare", str(npz), str(data), *caps]) == 0
    a, b = _digit_bundle(tmp_path / "a", 1), _digit_bundle(tmp_path / "b", 2)
    hyp = tmp_path / "combined.txt"
    capsys.readouterr()
    assert SCRIPT["main"](["combine", str(data), a, b, "--hyp-out", str(hyp)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(": digit accuracy")[0] for line in out] == [a, b, "combined"]
    answers = dict(line.split() for line in hyp.read_text().splitlines())
    assert sorted(answers) == sorted(f"mnist-{i}" for i in range(45_000, 45_012))
    assert set(answers.values()) <= set("0123456789")
    # A model combined with itself answers as it does alone.
    assert SCRIPT["main"](["combine", str(data), a, a, "--hyp-out", str(hyp)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--hyp-out exists; pass --force" in err
    assert SCRIPT["main"](["combine", str(data), a, a, "--hyp-out", str(hyp), "--force"]) == 0
    alone, _, both = capsys.readouterr().out.splitlines()
    assert alone.split("digit accuracy")[1] == both.split("digit accuracy")[1]
    assert SCRIPT["main"](["combine", str(data), str(tmp_path / "none")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    # A damaged ink file: named once, skipped (counted wrong), the rest still read; status 2.
    (data / "ink" / "mnist-45003.json").write_text("{not json")
    assert SCRIPT["main"](["combine", str(data), a, "--hyp-out", str(hyp), "--force"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "skipped" in err and "mnist-45003.json" in err
    assert len(hyp.read_text().splitlines()) == 11 and "mnist-45003" not in hyp.read_text()


def counted(module, calls: list):
    """``module.checked_ink_features`` that also notes each call in ``calls``."""
    real = module.checked_ink_features

    def wrapper(*args, **kwargs):
        calls.append(args[-1])
        return real(*args, **kwargs)

    return wrapper


def test_distortions_add_each_models_readings_of_seeded_distorted_copies(
    tmp_path, capsys, monkeypatch
):
    npz = shared_data("mnist-strokes") / "strokes.npz"
    data = tmp_path / "data"
    assert SCRIPT["main"](["prepare", str(npz), str(data), "--train", "1", "--test", "6"]) == 0
    a = _digit_bundle(tmp_path / "a", 3)
    utts = read_manifest(data / "core-test.jsonl")
    inks = {u.id: read_ink_file(u.path)[0].strokes for u in utts}
    copies = []
    for k in (1, 2):
        rng = np.random.default_rng([SCRIPT["AUGMENT_SEED"], k])
        copies.append({uid: SCRIPT["AUGMENT"](s, rng) for uid, s in inks.items()})
    for copy in copies:  # each copy is a distortion of the digit, not the digit itself
        for u in inks:
            moved, ink = np.concatenate(copy[u])[:, :2], np.concatenate(inks[u])[:, :2]
            assert moved.shape != ink.shape or np.abs(moved - ink).max() > 1e-3

    def scores(views):
        return SCRIPT["_model_scores"](a, utts, views, None)

    plain = scores([inks])[0]
    expected = np.stack([plain, scores(copies[:1])[0], scores(copies[1:])[0]])
    assert np.abs(expected - plain).max() > 1e-6  # the copies are read differently
    np.testing.assert_allclose(scores([inks, *copies]), expected, rtol=1e-9)
    # Models of one feature configuration share each view's features: computed once.
    made = []
    monkeypatch.setattr(featurize, "checked_ink_features", counted(featurize, made))
    cache, views = {}, [inks, *copies]
    for _ in range(2):
        again = SCRIPT["_model_scores"](a, utts, views, None, cache)
        np.testing.assert_allclose(again, expected, rtol=1e-9)
    assert len(made) == len(utts) * len(views)
    hyp = tmp_path / "hyp.txt"
    capsys.readouterr()
    args = ["combine", str(data), a, "--hyp-out", str(hyp), "--distortions", "2"]
    assert SCRIPT["main"](args) == 0
    answers = dict(line.split() for line in hyp.read_text().splitlines())
    best = expected.sum(axis=0).argmax(axis=1)
    assert answers == {u.id: "0123456789"[k] for u, k in zip(utts, best, strict=True)}
    with pytest.raises(SystemExit) as stop:
        SCRIPT["main"](["combine", str(data), a, "--distortions", "-1"])
    assert stop.value.code == 2 and "--distortions" in capsys.readouterr().err


def test_probs_are_kept_as_the_image_classifiers_keep_theirs_and_combine_with_them(
    tmp_path, capsys
):
    npz = shared_data("mnist-strokes") / "strokes.npz"
    data = tmp_path / "data"
    caps = ["--train", "5", "--dev", "3", "--test", "4"]
    assert SCRIPT["main"](["prepare", str(npz), str(data), *caps]) == 0
    a, run = _digit_bundle(tmp_path / "a", 4), tmp_path / "run"
    capsys.readouterr()
    assert SCRIPT["main"](["probs", str(data), a, "--out", str(run), "--holdout", "2"]) == 0
    assert capsys.readouterr().out.count("digit accuracy") == 3  # dev, test, held out
    with np.load(run / "probs.npz") as saved:
        kept = {key: saved[key] for key in saved.files}
    roles = {"dev": "dev", "test": "core-test", "holdout": "train"}
    for role, name in roles.items():
        utts = read_manifest(data / f"{name}.jsonl")[-2 if role == "holdout" else 0 :]
        assert list(kept[f"{role}_ids"]) == [u.id for u in utts]
        views = [{u.id: read_ink_file(u.path)[0].strokes for u in utts}]
        for k in range(1, SCRIPT["PROBS_COPIES"] + 1):
            rng = np.random.default_rng([SCRIPT["AUGMENT_SEED"], k])
            views.append({uid: SCRIPT["AUGMENT"](s, rng) for uid, s in views[0].items()})
        scores = SCRIPT["_model_scores"](a, utts, views, None)
        # The same readings renormalised over the ten digits: rows of 1, ratios unchanged.
        probs = np.concatenate([kept[f"{role}_probs"][None], kept[f"{role}_copies"]])
        assert probs.shape == (len(views), len(utts), 10)
        np.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=1e-9)
        np.testing.assert_allclose(
            np.log(probs) - np.log(probs[..., :1]), scores - scores[..., :1], atol=1e-6
        )
    # The image classifiers' --combine reads it as one of their runs: alone it answers as
    # the model reads the test digits.
    peer = runpy.run_path(str(REPO / "scripts" / "mnist_cnn_peer.py"))
    assert peer["main"]([str(data), "--combine", str(run), "--copies", "8", "--out", str(run)]) == 0
    answers = dict(line.split() for line in (run / "test_hyp.txt").read_text().splitlines())
    best = (kept["test_probs"] * np.prod(kept["test_copies"], axis=0)).argmax(axis=1)
    assert answers == {u: "0123456789"[k] for u, k in zip(kept["test_ids"], best, strict=True)}
    # Nothing overwritten; a held-out part as large as the training manifest is refused.
    assert SCRIPT["main"](["probs", str(data), a, "--out", str(run)]) == 2
    assert "--force" in capsys.readouterr().err
    args = ["probs", str(data), a, "--out", str(tmp_path / "r2"), "--holdout", "5"]
    assert SCRIPT["main"](args) == 2
    assert "--holdout 5" in capsys.readouterr().err


def _tile_origin(number: int) -> tuple[int, int]:
    """The top-left pixel of tile ``number`` (from 1) on its page."""
    size = SCRIPT["GRID"] * SCRIPT["SHEET_SCALE"]
    j = (number - 1) % (SCRIPT["SHEET_COLUMNS"] * SCRIPT["SHEET_ROWS"])
    return (j % SCRIPT["SHEET_COLUMNS"]) * (size + 16) + 8, (j // SCRIPT["SHEET_COLUMNS"]) * (
        size + 28
    ) + 4


def test_a_sheet_draws_the_misread_digits_among_right_ones_and_scores_a_reading(tmp_path, capsys):
    from PIL import Image

    npz = shared_data("mnist-strokes") / "strokes.npz"
    data = tmp_path / "data"
    caps = ["--train", "2", "--dev", "2", "--test", "12"]
    assert SCRIPT["main"](["prepare", str(npz), str(data), *caps]) == 0
    labels = {u.id: u.text for u in read_manifest(data / "core-test.jsonl")}
    ids = list(labels)
    # 3 read as another digit, 1 without an answer: 4 wrong, 8 right.
    wrong = {
        ids[i]: str((int(labels[ids[i]]) + shift) % 10) for i, shift in ((1, 1), (5, 3), (6, 5))
    }
    wrong[ids[9]] = None
    hyp = tmp_path / "hyp.txt"
    hyp.write_text(
        "".join(f"{k} {wrong.get(k, v)}\n" for k, v in labels.items() if wrong.get(k, v))
    )
    out = tmp_path / "sheet"
    capsys.readouterr()
    assert SCRIPT["main"](["sheet", str(data), str(hyp), "--out", str(out)]) == 0
    key = [line.split("\t") for line in (out / "key.tsv").read_text().splitlines()[3:]]
    assert [k[0] for k in key] == [str(n) for n in range(1, 9)]
    assert {k[1] for k in key if k[2] != k[3]} == set(wrong)  # every misread digit, once
    assert {k[1]: k[3] for k in key if k[1] in wrong} == {u: a or "-" for u, a in wrong.items()}
    right = [k for k in key if k[1] not in wrong]
    assert len(right) == 4 and all(k[2] == k[3] == labels[k[1]] for k in right)
    assert sorted(p.name for p in out.iterdir()) == ["key.tsv", "sheet-1.png"]
    page = np.asarray(Image.open(out / "sheet-1.png"))
    size = SCRIPT["GRID"] * SCRIPT["SHEET_SCALE"]
    assert page.shape == (size + 28, 10 * (size + 16))
    for number, uid in ((int(k[0]), k[1]) for k in key):
        x0, y0 = _tile_origin(number)
        ink = read_ink_file(data / "ink" / f"{uid}.json")[0].strokes
        for x, y in np.concatenate([s[:, :2] for s in ink]).astype(int):  # grid pixel centres
            assert page[y0 + 4 * y + 2, x0 + 4 * x + 2] < 64
        inked = (page[y0 : y0 + size, x0 : x0 + size] < 128).sum()
        assert 4 * 4 * len(ink[0]) // 2 < inked < 4 * 4 * 4 * sum(len(s) for s in ink)
    x9, y9 = _tile_origin(9)
    assert (page[y9 : y9 + size, x9 : x9 + size] == 255).all()  # no tile 9
    # The same seed draws the same sheet; an existing one is kept unless --force.
    again = tmp_path / "again"
    assert SCRIPT["main"](["sheet", str(data), str(hyp), "--out", str(again)]) == 0
    assert (again / "key.tsv").read_text() == (out / "key.tsv").read_text()
    capsys.readouterr()
    assert SCRIPT["main"](["sheet", str(data), str(hyp), "--out", str(out), "--seed", "5"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists; pass --force" in err
    # A reading: of the 4 misread, 2 as their label, 1 as the answer, 1 "?"; of the 4 read
    # right, 3 as their label.
    misread = [int(k[0]) for k in key if k[1] in wrong]
    reading = [k[2] for k in key]
    reading[misread[0] - 1] = "?"
    answered = next(n for n in misread[1:] if key[n - 1][3] != "-")
    reading[answered - 1] = key[answered - 1][3]
    first_right = int(right[0][0])
    reading[first_right - 1] = str((int(right[0][2]) + 1) % 10)
    (tmp_path / "reading.txt").write_text(" ".join(reading) + "\n")
    assert SCRIPT["main"](["read", str(out), str(tmp_path / "reading.txt")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "the 4 digits read wrong: 2 read as their label, 1 as the hypotheses' answer, 1 otherwise"
    )
    assert lines[1] == "the 4 digits read right: 3 read as their label"
    assert lines[2].endswith(": 83.33 % of 12 digits")  # (12 - 4 + 2) / 12
    for bad, why in ((reading[:7], "7 readings for 8 digits"), (["x", *reading[1:]], "'x'")):
        (tmp_path / "bad.txt").write_text(" ".join(bad))
        assert SCRIPT["main"](["read", str(out), str(tmp_path / "bad.txt")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and why in err and "bad.txt" in err
    # A damaged ink file: named, left off the sheet, the rest drawn; status 2. --force
    # replaces an earlier sheet's pages (a third page of a longer one goes), nothing else.
    (data / "ink" / f"{ids[5]}.json").write_text("{not json")
    (out / "sheet-3.png").write_bytes(b"an earlier page")
    (out / "sheet-notes.png").write_bytes(b"the user's own")
    assert SCRIPT["main"](["sheet", str(data), str(hyp), "--out", str(out), "--force"]) == 2
    note, err = capsys.readouterr().err.splitlines()  # the digit without an answer, said
    assert note.endswith("hyp.txt: no answer for 1 of the 12 digits (counted wrong)")
    assert "skipped" in err and f"{ids[5]}.json" in err
    assert len((out / "key.tsv").read_text().splitlines()) == 3 + 7
    assert sorted(p.name for p in out.iterdir()) == ["key.tsv", "sheet-1.png", "sheet-notes.png"]
    # Hypotheses that read every digit right leave nothing to draw.
    hyp.write_text("".join(f"{k} {v}\n" for k, v in labels.items()))
    assert SCRIPT["main"](["sheet", str(data), str(hyp), "--out", str(out), "--force"]) == 2
    assert "nothing to draw" in capsys.readouterr().err


def test_prepare_keeps_the_manifests_of_an_earlier_run_without_force(tmp_path, capsys):
    npz = shared_data("mnist-strokes") / "strokes.npz"
    data = tmp_path / "data"
    caps = ["--train", "2", "--dev", "1", "--test", "1"]
    assert SCRIPT["main"](["prepare", str(npz), str(data), *caps]) == 0
    before = {p.name: p.read_text() for p in data.glob("*.jsonl")}
    capsys.readouterr()
    assert SCRIPT["main"](["prepare", str(npz), str(data), "--train", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"mnist_ink: {data / 'train.jsonl'}: output exists; pass --force to overwrite it"
    assert {p.name: p.read_text() for p in data.glob("*.jsonl")} == before
    assert SCRIPT["main"](["prepare", str(npz), str(data), "--train", "1", "--force"]) == 0
    assert len(read_manifest(data / "train.jsonl")) == 1
