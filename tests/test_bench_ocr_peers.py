"""The OCR peer benchmark (scripts/bench_ocr_peers.py): ink drawn as a line image where the
pen went, the scoring of every system alike, and a short run against Tesseract (Debian's
tesseract-ocr, which `make test` installs) and, when installed, RapidOCR."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import shutil
import sys

import numpy as np
import pytest
from helpers import REPO, load_script
from PIL import Image

from lstmrec.bundle import load_bundle
from lstmrec.corpora.splits import load_split
from lstmrec.corpora.synth_ink import CorpusSpec, write_corpus
from lstmrec.features import inkrender
from lstmrec.features.errors import DataError
from lstmrec.inference.evaluate import evaluate_text_bundle
from lstmrec.targets import symbols_text

INK = REPO / "tests" / "data" / "bundles-0.1" / "ink"
SPEECH = REPO / "tests" / "data" / "bundles-0.1" / "speech"
PANGRAM = "the quick brown fox jumps over seven lazy dogs"


@pytest.fixture(scope="module")
def bench():
    return load_script("bench_ocr_peers")


def tesseract_or_skip() -> None:
    if shutil.which("tesseract") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("tesseract is not installed (make test installs Debian's tesseract-ocr)")
        pytest.skip("tesseract is not installed")


def hershey_line(text: str) -> list[np.ndarray]:
    """``text`` in the Roman simplex Hershey font as pen strokes ``(N_i, 2)``, y down."""
    from HersheyFonts import HersheyFonts

    font = HersheyFonts()
    font.load_default_font("futural")
    font.normalize_rendering(100)  # y up in the font: flipped to the ink's y down
    return [
        np.array([(x, -y) for x, y in s], dtype=np.float64) for s in font.strokes_for_text(text)
    ]


# ---------------------------------------------------------------------------------------------
# The renderer


def test_a_horizontal_stroke_is_drawn_where_the_pen_went():
    # 10 core heights long at 32 px each: 320 px. Margin 32 px, pen 4 px (0.125 * 32): the
    # trajectory lies 32 + 2 = 34 px from the left and top edges.
    image = inkrender.render_ink([np.array([[5.0, 7.0], [15.0, 7.0]])], core_height=1.0)
    assert image.dtype == np.uint8
    assert image.shape == (32 + 4 + 32, 32 + 320 + 4 + 32)
    dark = image < 128
    assert dark[32:36, 40:350].all()  # the pen's 4 rows, along the stroke
    assert not dark[:32].any() and not dark[36:].any()
    cols = np.flatnonzero(dark.any(axis=0))
    assert 32 <= cols[0] <= 33 and 354 <= cols[-1] <= 355  # round ends, 2 px past each end
    assert (dark[:, 200].sum(), image[34, 200]) == (4, 0)  # one pen width, solid black


def test_ink_never_touches_the_margin():
    image = inkrender.render_ink(hershey_line("margins"), margin=1.0)
    m = int(inkrender.CORE_HEIGHT_PX)
    frame = np.ones(image.shape, dtype=bool)
    frame[m:-m, m:-m] = False
    assert (image[frame] == 255).all()
    inside = image[m:-m, m:-m]
    # The ink reaches each side of the inner box (give or take an anti-aliased pixel).
    dark = inside < 255
    assert dark[:2].any() and dark[-2:].any() and dark[:, :2].any() and dark[:, -2:].any()


def test_the_core_height_is_estimated_from_the_ink():
    # A zigzag between y = 0 and y = -2 ink units: the core height is 2 units, so the ink
    # spans 32 px vertically, plus the pen (4 px), inside 32 px margins.
    x = np.arange(0.0, 21.0)
    zigzag = np.stack([x, np.where(x % 2 == 0, 0.0, -2.0)], axis=1)
    image = inkrender.render_ink([zigzag])
    assert image.shape == (32 + 36 + 32, 32 + 320 + 4 + 32)  # 20 units wide at 16 px a unit
    rows = np.flatnonzero((image < 128).any(axis=1))
    assert (rows[0], rows[-1]) == (32, 67)


def test_settings_scale_the_image():
    line = hershey_line("scale")
    small = inkrender.render_ink(line, core_height_px=16.0, margin=0.0)
    large = inkrender.render_ink(line, core_height_px=32.0, margin=0.0)
    assert abs(large.shape[1] - 2 * small.shape[1]) <= 4  # width doubles (pens differ by 2 px)
    wide = inkrender.render_ink(line, pen_width=0.25, margin=0.0)
    assert (wide < 128).sum() > 1.5 * (large < 128).sum()


def test_bad_ink_and_settings_are_data_errors():
    with pytest.raises(DataError, match="no points"):
        inkrender.render_ink([np.zeros((0, 2))])
    with pytest.raises(DataError, match="pen_width must be positive"):
        inkrender.render_ink(hershey_line("a"), pen_width=0.0)
    with pytest.raises(DataError, match="pixel image"):  # 10,000 core heights long
        inkrender.render_ink([np.array([[0.0, 0.0], [1e4, 0.0]])], core_height=1.0)
    with pytest.raises(DataError, match="pixel image"):  # a core height of nothing
        inkrender.render_ink(hershey_line("a"), core_height=1e-300)


def test_png_keeps_pixels_and_resolution():
    image = inkrender.render_ink(hershey_line("png"))
    png = Image.open(io.BytesIO(inkrender.png_bytes(image, dpi=inkrender.scan_dpi())))
    assert np.array_equal(np.asarray(png), image)
    assert [round(d) for d in png.info["dpi"]] == [300, 300]
    assert inkrender.scan_dpi(64.0) == 600


def test_tesseract_reads_a_drawn_font_line(bench):
    """A clean Hershey-font line as the renderer draws it is plain print to Tesseract: a
    renderer that flipped, mirrored or mis-scaled the ink would not be read."""
    tesseract_or_skip()
    exe, _ = bench.find_tesseract()
    image = inkrender.render_ink(hershey_line(PANGRAM))
    dpi = inkrender.scan_dpi()
    png = inkrender.png_bytes(image, dpi=dpi)
    text = bench.tesseract_text(exe, png, psm=bench.TESSERACT_PSM, dpi=dpi, threads=1)
    # Every letter and word gap; its raw-line mode may add a stray mark at an end ("‘the").
    assert PANGRAM in " ".join(text.split())


# ---------------------------------------------------------------------------------------------
# Scoring


def test_every_text_is_normalised_alike(bench):
    refs = {"a": "the cat", "b": "on mat", "c": "A b"}
    hyps = {"a": " the  cat\n", "b": "an mat", "c": "a B"}
    writers = {"a": "w1", "b": "w1", "c": "w2"}
    report = bench.score_texts(refs, hyps, writers, ignore_case=False)
    # 7 + 6 + 3 characters (a word gap is one); o -> a, A -> a, b -> B
    assert (report.chars.total.errors, report.chars.total.reference_length) == (3, 16)
    assert (report.words.total.errors, report.words.total.reference_length) == (3, 6)
    folded = bench.score_texts(refs, hyps, writers, ignore_case=True)
    assert (folded.chars.total.errors, folded.words.total.errors) == (1, 1)


def test_systems_are_scored_on_the_lines_all_of_them_read(bench):
    refs = {"a": "ab", "b": "cd"}
    texts = {"lstmrec": {"a": "ab", "b": "cd"}, "tesseract": {"a": "xb", "b": "cd"}}
    seconds = {"lstmrec": 1.0, "tesseract": 3.0}
    options = bench.ReportOptions(replicates=50)
    rows, comparisons, ids = bench.score_systems(refs, texts, seconds, {}, options,
                                                 ignore_case=False, alpha=0.05)  # fmt: skip
    assert ids == ["a", "b"]
    assert [(r["system"], r["cer"], r["seconds_per_line"]) for r in rows] == [
        ("lstmrec", 0.0, 0.5), ("tesseract", 25.0, 1.5)
    ]  # fmt: skip
    chars = comparisons["tesseract"]["chars"]
    assert (chars["rate_a"], chars["rate_b"], chars["difference"]) == (0.0, 25.0, 25.0)
    assert comparisons["tesseract"]["words"]["difference"] == 50.0


# ---------------------------------------------------------------------------------------------
# The script


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Two held-out lines (one test writer) in the IAM-OnDB layout."""
    root = tmp_path_factory.mktemp("ocr") / "corpus"
    spec = CorpusSpec(writers=3, lines_per_writer=2, dev_writers=1, test_writers=1, seed=3,
                      max_words=3)  # fmt: skip
    write_corpus(root, spec)
    return root


def test_a_run_scores_the_bundle_as_evaluate_does(bench, corpus, tmp_path, capsys):
    tesseract_or_skip()
    peers = ["tesseract"] + (
        ["rapidocr"] if importlib.util.find_spec("rapidocr_onnxruntime") else []
    )
    out = tmp_path / "out.json"
    rc = bench.main([str(INK), "--data", str(corpus), "--peers", *peers, "--bootstrap", "50",
                     "--json", str(out), "--markdown", str(tmp_path / "out.md"),
                     "--images", str(tmp_path / "images"), "--quiet"])  # fmt: skip
    printed = capsys.readouterr().out
    assert rc == 0
    result = json.loads(out.read_text())
    utts = load_split(corpus, "core-test")
    assert [r["system"] for r in result["systems"]] == ["lstmrec", *peers]
    assert [line["id"] for line in result["lines"]] == sorted(u.id for u in utts)
    # The bundle recognizes each line as `lstmrec evaluate` does; its text is then normalised
    # like the engines' (this untrained bundle writes a word gap first, which goes).
    _, hyps = evaluate_text_bundle(load_bundle(INK, engine="numpy"), utts)
    expected = {u: " ".join(symbols_text(h).split()) for u, h in hyps.items()}
    assert {line["id"]: line["lstmrec"] for line in result["lines"]} == expected
    report = bench.score_texts({u.id: u.text for u in utts}, expected, {}, ignore_case=False)
    ours = result["systems"][0]
    assert ours["cer"] == pytest.approx(report.chars.total.error_rate)
    assert ours["wer"] == pytest.approx(report.words.total.error_rate)
    assert ours["cer_ci95"][0] <= ours["cer"] <= ours["cer_ci95"][1]
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == [
        f"{u.id}.png" for u in sorted(utts, key=lambda u: u.id)
    ]
    assert set(result["comparisons"]) == set(peers)
    for name in ["lstmrec", *peers]:
        assert any(line.startswith(name) for line in printed.splitlines())
    assert "| tesseract |" in (tmp_path / "out.md").read_text()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--limit", "0"], "--limit must be at least 1"),
        (["--pen-width", "0"], "--pen-width must be positive"),
        (["--threads", "0"], "--threads must be at least 1"),
        (["--psm", "14"], "--psm must be 0..13"),
        (["--bootstrap", "0"], "--bootstrap must be at least 1"),
    ],
)
def test_bad_numbers_are_one_line(bench, tmp_path, capsys, extra, message):
    assert bench.main([str(INK), "--data", str(tmp_path), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_missing_engine_is_one_line(bench, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract on it
    assert bench.main([str(INK), "--data", str(tmp_path), "--peers", "tesseract"]) == 2
    err = capsys.readouterr().err
    assert err == "bench_ocr_peers: tesseract: not found on PATH: apt-get install tesseract-ocr\n"
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)  # import fails
    assert bench.main([str(INK), "--data", str(tmp_path), "--peers", "rapidocr"]) == 2
    err = capsys.readouterr().err
    assert err == 'bench_ocr_peers: rapidocr: not installed: pip install -e ".[ocr-peer]"\n'


def test_a_speech_model_is_refused(bench, corpus, capsys):
    tesseract_or_skip()
    assert bench.main([str(SPEECH), "--data", str(corpus), "--peers", "tesseract"]) == 2
    assert "not a handwriting model" in capsys.readouterr().err


def test_outputs_are_never_overwritten(bench, corpus, tmp_path, capsys):
    mine = tmp_path / "out.json"
    mine.write_text("mine\n")
    assert bench.main([str(INK), "--data", str(corpus), "--json", str(mine)]) == 2
    assert "--json exists; pass --force" in capsys.readouterr().err
    assert mine.read_text() == "mine\n"


def test_two_outputs_of_one_name_are_refused(bench, corpus, tmp_path, capsys):
    same = tmp_path / "out"
    args = [str(INK), "--data", str(corpus), "--json", str(same), "--markdown", str(same)]
    assert bench.main(args) == 2
    err = capsys.readouterr().err
    assert "--json and --markdown name the same file" in err and err.count("\n") == 1
    assert not same.exists()
