"""The ink feature sets beside the basic one: Graves et al. 2009, Bézier curves and the ink
drawn as an image.

Hand-computed fixtures for each feature (a straight stroke, a circle, a delayed stroke, a
known cubic), the sets through the whole chain, and a tiny model trained on each set whose
bundle recognizes through the NumPy engine.
"""

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # before anything imports TensorFlow

import json
import math
import shutil

import numpy as np
import pytest
from helpers import INK_RECIPE, load_script, one_line, run

from lstmrec.bundle import load_bundle
from lstmrec.features.errors import DataError
from lstmrec.features.ink import (
    FEATURE_NAMES,
    InkFeatureConfig,
    ink_features,
    ink_features_with_index,
    ink_point_index,
)
from lstmrec.features.inkbezier import (
    BEZIER_FEATURE_NAMES,
    D_MAX,
    bernstein,
    bezier_features,
    fit_cubic,
    stroke_segments,
)
from lstmrec.features.inkfiles import read_ink_file
from lstmrec.features.inkimage import image_features
from lstmrec.features.inkrich import (
    GRAVES_FEATURE_NAMES,
    TYPICAL_SPEED,
    delayed_strokes,
    graves_features,
)

G = {name: i for i, name in enumerate(GRAVES_FEATURE_NAMES)}
B = {name: i for i, name in enumerate(BEZIER_FEATURE_NAMES)}


def stroke(x, y_up, t=None) -> np.ndarray:
    """``(N, 3)`` ``[x, y, t]`` in the chain's convention (y down) from heights ``y_up``."""
    x = np.asarray(x, dtype=np.float64)
    t = np.full(len(x), np.nan) if t is None else np.asarray(t, dtype=np.float64)
    return np.stack([x, -np.asarray(y_up, dtype=np.float64), t], axis=1)


# ---------------------------------------------------------------------------------------------
# Configuration


def test_feature_set_option_defaults_to_basic_and_fixes_the_columns():
    assert InkFeatureConfig().feature_set == "basic"
    # features.json of a bundle from before the option: no key, the basic set
    old = {"kind": "ink", "reference": "core", "spacing": 0.2, "deslant": True,
           "y_position": True, "time": False, "outlier": 10.0}  # fmt: skip
    assert InkFeatureConfig.from_dict(old) == InkFeatureConfig()
    assert InkFeatureConfig.from_dict(old).untimed_speed == TYPICAL_SPEED  # a recipe's default
    assert InkFeatureConfig().columns == FEATURE_NAMES[:-1]
    for name, dim in (("basic", 8), ("graves2009", 25), ("bezier", 10)):
        config = InkFeatureConfig(feature_set=name)
        assert config.dim == dim == len(config.columns)
        assert InkFeatureConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ValueError, match="feature_set='nope' must be one of basic, graves2009"):
        InkFeatureConfig(feature_set="nope")
    for fixed in ({"time": True}, {"y_position": False}):
        with pytest.raises(ValueError, match="fixed columns"):
            InkFeatureConfig(feature_set="bezier", **fixed)
    # "image": a row per pixel of the band, 1.4 box heights or 4 core heights
    image = InkFeatureConfig(feature_set="image", reference="box", spacing=0.05)
    assert image.dim == 28 and image.columns[0] == "row_0" and image.columns[-1] == "row_27"
    assert InkFeatureConfig(feature_set="image", spacing=0.1).dim == 40
    assert InkFeatureConfig.from_dict(json.loads(json.dumps(image.to_dict()))) == image


def test_conv_front_end_in_the_recipe_needs_image_columns():
    from lstmrec.config import load_recipe

    image = ['features.kind="ink"', 'features.feature_set="image"', 'features.reference="box"',
             "features.spacing=0.05"]  # fmt: skip
    recipe = load_recipe(None, [*image, "model.conv=[16, 32]"])
    assert recipe.model.conv == (16, 32) and recipe.features.dim == 28
    assert load_recipe(None).model.conv == ()
    for overrides, message in (
        (["model.conv=[8]"], "conv reads image columns"),  # speech features
        (['features.kind="ink"', "model.conv=[8]"], "conv reads image columns"),  # basic ink
        ([*image, "model.conv=[8, 8, 8, 8, 8]"], "at most 4 channel counts"),
        ([*image, "model.conv=[0]"], "at most 4 channel counts"),
        ([*image, 'model.conv="wide"'], "at most 4 channel counts"),
        ([*image, "model.conv=[8]", 'model.direction="forward"'], "conv needs kind='ctc'"),
        ([*image, "model.conv=[8]", 'model.kind="transducer"'], "conv needs kind='ctc'"),
        ([*image, "features.spacing=0.5", "model.conv=[8, 8]"], "halve the image's 3 rows"),
    ):
        with pytest.raises(DataError, match=message):
            load_recipe(None, overrides)


# ---------------------------------------------------------------------------------------------
# Graves et al. 2009


def test_straight_stroke_direction_curvature_vicinity_and_speed():
    # Left to right at height 0.5, a point every 0.2 core heights and every 10 ms.
    x = np.arange(21) * 0.2
    feats = graves_features([stroke(x, np.full(21, 0.5), np.arange(21) * 0.01)], spacing=0.2)
    assert feats.shape == (21, 25) and feats.dtype == np.float32
    col = {name: feats[:, i] for name, i in G.items()}
    np.testing.assert_allclose(col["cos_dir"], 1.0)
    np.testing.assert_allclose(col["sin_dir"], 0.0)
    np.testing.assert_allclose(col["cos_curv"], 1.0)
    np.testing.assert_allclose(col["sin_curv"], 0.0)
    np.testing.assert_allclose(col["linearity"], 0.0, atol=1e-12)
    np.testing.assert_allclose(col["aspect"], -1.0)  # flat: no height at all
    np.testing.assert_allclose(col["cos_slope"], 1.0)
    np.testing.assert_allclose(col["curliness"], 1.0, rtol=1e-6)  # trace = its own width
    np.testing.assert_allclose(col["speed"], 20.0, rtol=1e-5)  # 0.2 per 0.01 s
    np.testing.assert_allclose(col["y"], 0.5)
    assert col["pen_up"].tolist() == [0.0] * 20 + [1.0]
    # High-pass x: on a straight line the moving average is the point itself, away from the ends
    # (±2 core heights of trace = 10 points at this spacing).
    np.testing.assert_allclose(col["x"][10:11], 0.0, atol=1e-6)
    assert col["x"][0] < 0 < col["x"][-1]
    assert not col["hat"].any() and not col["ascenders"].any() and not col["descenders"].any()


def test_ink_without_time_stamps_is_read_at_a_steady_speed():
    x = np.arange(21) * 0.2
    untimed = stroke(x, np.full(21, 0.5))  # t NaN, as a stroke-3 or x-y InkML file gives it
    speed = graves_features([untimed], spacing=0.2)[:, G["speed"]]
    np.testing.assert_allclose(speed, TYPICAL_SPEED)
    assert TYPICAL_SPEED == 18.0  # en-ink's mean training speed, rounded (its cmvn.npz: 18.18)
    for chosen in (7.5, 0.0):
        speed = graves_features([untimed], spacing=0.2, untimed_speed=chosen)[:, G["speed"]]
        np.testing.assert_allclose(speed, chosen)
    # A timed stroke keeps its measured speed beside an untimed one; a lone point has no step
    # to measure, timed or not (0, the first point of a one-point stroke).
    timed = stroke(x, np.full(21, 0.5), np.arange(21) * 0.01)
    dot = stroke([5.0], [1.2])
    speed = graves_features([timed, untimed, dot], spacing=0.2, untimed_speed=7.5)[:, G["speed"]]
    np.testing.assert_allclose(speed[:21], 20.0, rtol=1e-5)
    np.testing.assert_allclose(speed[21:42], 7.5)
    assert speed[42] == 0.0
    # Through the chain, from the configuration; the other 24 columns do not depend on time.
    ink = handwriting()
    bare = [s[:, :2] for s in ink]
    config = InkFeatureConfig(feature_set="graves2009", untimed_speed=7.5)
    feats, timed_feats = ink_features(bare, config), ink_features(ink, config)
    np.testing.assert_allclose(feats[:, G["speed"]], 7.5)
    others = [i for i in range(25) if i != G["speed"]]
    np.testing.assert_array_equal(feats[:, others], timed_feats[:, others])
    assert not np.allclose(timed_feats[:, G["speed"]], 7.5)
    for bad in (-1.0, float("nan"), float("inf"), True, "fast"):
        with pytest.raises(ValueError, match="untimed_speed=.* must be a number of core heights"):
            InkFeatureConfig(feature_set="graves2009", untimed_speed=bad)


def test_circle_at_constant_speed_has_constant_curvature():
    # Counter-clockwise (y up), 72 points 5 degrees apart, radius 1: each turn is 5 degrees left.
    a = np.radians(np.arange(72) * 5.0)
    feats = graves_features([stroke(np.cos(a), 1 + np.sin(a), np.arange(72) * 0.02)], spacing=0.1)
    inner = feats[1:-1]
    np.testing.assert_allclose(inner[:, G["cos_curv"]], math.cos(math.radians(5)), atol=1e-6)
    np.testing.assert_allclose(inner[:, G["sin_curv"]], math.sin(math.radians(5)), atol=1e-6)
    step = 2 * math.sin(math.radians(2.5))  # chord between neighbours
    np.testing.assert_allclose(feats[:, G["speed"]], step / 0.02, rtol=1e-5)
    # Direction at the start: straight up (tangent of a counter-clockwise circle at angle 0).
    assert feats[0, G["sin_dir"]] == pytest.approx(math.cos(math.radians(2.5)), abs=1e-6)
    # The vicinity at spacing 0.1 is 5 points either side: a 50-degree arc. Its linearity (mean
    # squared distance from the chord, which is at cos 25 degrees from the centre) is the same
    # everywhere; its curliness, at the top of the circle, is the trace over the arc's width.
    phi = np.radians(np.arange(-25, 30, 5))
    linearity = np.mean((np.cos(phi) - math.cos(math.radians(25))) ** 2)
    np.testing.assert_allclose(feats[5:-5, G["linearity"]], linearity, rtol=1e-4)
    top = 18  # 90 degrees
    width = 2 * math.sin(math.radians(25))
    assert feats[top, G["curliness"]] == pytest.approx(10 * step / width, rel=1e-5)
    assert feats[top, G["aspect"]] == pytest.approx(
        (1 - math.cos(math.radians(25)) - width) / (1 - math.cos(math.radians(25)) + width)
    )
    assert (feats[top, G["cos_slope"]], feats[top, G["sin_slope"]]) == pytest.approx((-1, 0))


def test_delayed_stroke_over_earlier_writing_sets_hat():
    word = stroke(np.arange(16) * 0.2, np.full(16, 0.5))  # x 0 .. 3 at half the core height
    bar = stroke([0.9, 1.2, 1.5], [1.6, 1.6, 1.6])  # later, back to the left, above it
    hat = graves_features([word, bar], spacing=0.2)[:, G["hat"]]
    assert delayed_strokes([word, bar]).tolist() == [False, True]
    under = (word[:, 0] > 0.9) & (word[:, 0] < 1.5)  # x = 1.0, 1.2, 1.4
    assert under.sum() == 3
    assert hat.tolist() == [*under.astype(float), 1.0, 1.0, 1.0]
    # Written first, the bar is no delayed stroke; nor is a short stroke beneath earlier ink
    # or one that starts a new word to the right.
    assert not delayed_strokes([bar, word]).any()
    below = stroke([0.9, 1.2, 1.5], [-0.6, -0.6, -0.6])
    right = stroke([3.4, 3.6, 3.8], [1.6, 1.6, 1.6])
    assert delayed_strokes([word, below, right]).tolist() == [False, False, False]


def test_ascenders_descenders_and_context_map():
    # An "l": a vertical stroke from the baseline to 2.4 core heights, points 0.2 apart.
    ell = stroke(np.zeros(13), np.arange(13) * 0.2)
    feats = graves_features([ell], spacing=0.2)
    # Above 1.5: 1.6, 1.8, 2.0, 2.2, 2.4 -> 5 points of 0.2 core heights each.
    np.testing.assert_allclose(feats[:, G["ascenders"]], 1.0, rtol=1e-6)
    np.testing.assert_allclose(feats[:, G["descenders"]], 0.0)
    # A horizontal line and one point 0.5 above its middle: that point is in the top middle
    # cell of the middle point's map, and the line fills the middle row only.
    line = stroke(np.arange(41) * 0.1, np.zeros(41))
    dot = stroke([2.0], [0.5])
    ctx = graves_features([line, dot], spacing=0.1)[20, G["ctx_0"] :].reshape(3, 3)
    assert ctx[0].tolist() == pytest.approx([0.0, 0.1, 0.0])  # the dot, 1 point x 0.1
    assert ctx[2].tolist() == [0.0, 0.0, 0.0]
    # Each middle cell is 0.5 wide: about 5 points of the line (pixel edges may move one).
    assert all(0.4 - 1e-6 <= v <= 0.6 + 1e-6 for v in ctx[1])
    assert ctx[1].sum() == pytest.approx(1.5, abs=0.15)


# ---------------------------------------------------------------------------------------------
# Bézier curves


def known_cubic():
    control = np.array([[0.0, 0.0], [0.4, 0.9], [1.5, 1.1], [2.0, 0.3]])  # y up
    u = np.linspace(0, 1, 40) ** 1.3  # the pen slows down at the end: not arc-length spaced
    return control, u, bernstein(u) @ control


def angle(a, b) -> float:
    """Signed angle from b to a."""
    return math.atan2(b[0] * a[1] - b[1] * a[0], b @ a)


def test_fit_recovers_the_control_points_of_a_cubic():
    control, u, q = known_cubic()
    fitted, params, error = fit_cubic(q)
    np.testing.assert_allclose(fitted, control, atol=1e-6)
    np.testing.assert_allclose(params, u, atol=1e-6)
    assert error.max() < 1e-6
    # Through the features: one curve, its 10 columns computed by hand from the controls.
    t = 0.5 * u + 0.2 * u**2  # seconds, a known cubic in the curve's parameter
    feats, first = bezier_features([stroke(q[:, 0], q[:, 1], t)], max_points=1000)
    assert feats.shape == (1, 10) and first.tolist() == [[0, 0]]
    p0, p1, p2, p3 = control
    chord = p3 - p0
    length = np.hypot(*chord)
    expect = {
        "dx": chord[0], "dy": chord[1],
        "d1": np.hypot(*(p1 - p0)) / length, "d2": np.hypot(*(p2 - p3)) / length,
        "alpha1": angle(p1 - p0, chord), "alpha2": angle(p2 - p3, -chord),
        "t1": 0.5, "t2": 0.2, "t3": 0.0, "pen_up": 0.0,
    }  # fmt: skip
    for name, value in expect.items():
        assert feats[0, B[name]] == pytest.approx(value, abs=1e-3), name


def test_straight_line_is_one_segment_and_a_pen_up_gives_its_own_frame():
    line = stroke(np.linspace(0, 3, 50), np.full(50, 0.5), np.linspace(0, 1, 50))
    dot = stroke([3.5], [1.5], [1.4])
    next_line = stroke(np.linspace(4, 5, 20), np.zeros(20), np.linspace(2, 2.5, 20))
    feats, first = bezier_features([line, dot, next_line], max_points=1000)
    # line, up, dot, up, next line
    assert feats[:, B["pen_up"]].tolist() == [0, 1, 0, 1, 0]
    assert first.tolist() == [[0, 0], [0, 49], [1, 0], [1, 0], [2, 0]]
    row = dict(zip(BEZIER_FEATURE_NAMES, feats[0], strict=True))
    assert (row["dx"], row["dy"]) == pytest.approx((3.0, 0.0), abs=1e-6)
    assert (row["d1"], row["d2"]) == pytest.approx((1 / 3, 1 / 3), abs=1e-6)
    assert (row["alpha1"], row["alpha2"]) == pytest.approx((0.0, 0.0), abs=1e-6)
    assert row["t1"] + row["t2"] + row["t3"] == pytest.approx(1.0, abs=1e-6)
    up = dict(zip(BEZIER_FEATURE_NAMES, feats[1], strict=True))
    assert (up["dx"], up["dy"], up["t1"]) == pytest.approx((0.5, 1.0, 0.4), abs=1e-6)
    assert (up["d1"], up["d2"]) == pytest.approx((1 / 3, 1 / 3))
    assert not feats[2].any()  # the dot
    # Without time stamps the time columns are 0.
    no_time = [s.copy() for s in (line, next_line)]
    for s in no_time:
        s[:, 2] = np.nan
    feats, _ = bezier_features(no_time, max_points=1000)
    assert not feats[:, B["t1"] : B["t3"] + 1].any()


def test_loops_and_corners_are_cut_and_the_point_limit_holds():
    a = np.linspace(0, 2 * np.pi, 80)
    circle = np.stack([np.cos(a), np.sin(a)], axis=1)  # closed: no chord at all
    segments = stroke_segments(circle)
    assert len(segments) >= 2
    assert [(s[0], s[1]) for s in segments][0][0] == 0 and segments[-1][1] == 79
    for (_, last, *_), (nxt, *_) in zip(segments, segments[1:], strict=False):
        assert last == nxt  # neighbours share their point
    vee = np.array([[0, 1], [0.5, 0.5], [1, 0], [1.5, 0.5], [2, 1]], dtype=float)
    assert [(s[0], s[1]) for s in stroke_segments(vee)] == [(0, 2), (2, 4)]
    feats, _ = bezier_features([stroke(circle[:, 0], circle[:, 1])], max_points=1000)
    assert np.isfinite(feats).all() and feats[:, B["d1"]].max() <= D_MAX
    with pytest.raises(DataError, match="80 points, over the limit of 79"):
        bezier_features([stroke(circle[:, 0], circle[:, 1])], max_points=79)


# ---------------------------------------------------------------------------------------------
# The ink as an image


def test_horizontal_stroke_covers_two_rows_across_its_columns():
    # A box-normalised stroke from x = 0 to 1 at y = -0.5 (halfway up the box), pixels 0.1 box
    # heights: 14 rows from y = -1.2, the stroke on the edge between rows 6 and 7; columns from
    # x = -0.2 to 1.2 (14), the stroke from column 2's left edge to column 11's right edge.
    ink = [stroke(np.linspace(0, 1, 11), np.full(11, 0.5))]
    feats, index = image_features(ink, spacing=0.1, reference="box", max_frames=1000)
    assert feats.shape == (14, 14) and feats.dtype == np.float32
    assert 0 <= feats.min() and feats.max() <= 1
    # The pen, 0.11 box heights = 1.1 pixels, over the two rows; nothing else is ink.
    np.testing.assert_allclose(feats[2:12, 6] + feats[2:12, 7], 1.1, atol=0.12)
    assert (feats[2:12, 6] > 0.3).all() and (feats[2:12, 7] > 0.3).all()
    assert not feats[:, :6].any() and not feats[:, 8:].any()
    assert not feats[0].any() and not feats[13].any()  # the white margins
    assert 0 < feats[1, 6] < feats[5, 6] and 0 < feats[12, 6] < feats[5, 6]  # the round ends
    # Each column's point is one nearest its centre, x = 0.1 k - 0.15 (ties either way).
    assert index[:, 0].tolist() == [0] * 14
    centres = 0.1 * np.arange(14) - 0.15
    assert (np.abs(ink[0][index[:, 1], 0] - np.clip(centres, 0, 1)) <= 0.05 + 1e-9).all()


def test_image_rows_run_from_top_to_bottom_and_the_band_cuts_off():
    # Core reference: the band is y in [-2.5, 1.5]; a vertical stroke from the baseline up to
    # 2 core heights (an ascender) covers rows 5-24 at 0.1 (its round ends reach into rows 4
    # and 25), and one reaching 3 core heights below the baseline is cut off at the bottom
    # row. (A lone vertical stroke lies on the edge between two columns, in both: the rows'
    # sums over the columns say where.)
    up = [stroke([0.0, 0.0], [0.0, 2.0])]
    feats, _ = image_features(up, spacing=0.1, reference="core", max_frames=1000)
    assert feats.shape == (4, 40)
    rows = feats.sum(axis=0)
    assert (rows[5:25] > 0.9).all() and 0 < rows[4] < 0.9 and 0 < rows[25] < 0.9
    assert not rows[:4].any() and not rows[26:].any()
    down = [stroke([0.0, 0.0], [0.0, -3.0])]
    feats, _ = image_features(down, spacing=0.1, reference="core", max_frames=1000)
    rows = feats.sum(axis=0)
    assert (rows[25:] > 0.9).all() and not rows[:24].any()


def test_image_of_ink_too_wide_is_refused():
    ink = [stroke([0.0, 5000.0], [0.5, 0.5])]
    with pytest.raises(DataError, match="pixel columns wide"):
        image_features(ink, spacing=0.05, reference="box", max_frames=100_000)
    with pytest.raises(DataError, match="spans too much"):  # through the chain: box height 1
        ink_features([np.array([[0.0, 0, 0], [1e6, 1, 0]])], InkFeatureConfig(
            feature_set="image", reference="box", spacing=0.05, deslant=False))  # fmt: skip


# ---------------------------------------------------------------------------------------------
# The chain


def handwriting():
    """Two words with a later t-bar, in tablet units (y down), 100 points per second."""
    x = np.linspace(0, 300, 120)
    word = np.stack([x, 500 - 40 * np.abs(np.sin(x / 15)), np.arange(120) / 100], axis=1)
    x2 = np.linspace(360, 560, 80)
    word2 = np.stack([x2, 500 - 40 * np.abs(np.sin(x2 / 15)), 1.5 + np.arange(80) / 100], axis=1)
    bar = np.array([[100.0, 455, 2.5], [130, 455, 2.55], [160, 455, 2.6]])
    return [word, word2, bar]


@pytest.mark.parametrize("name", ["graves2009", "bezier", "image"])
def test_sets_through_the_chain_map_frames_to_pen_points(name):
    ink = handwriting()
    config = InkFeatureConfig(feature_set=name)
    feats, index = ink_features_with_index(ink, config)
    assert feats.shape[1] == config.dim and np.isfinite(feats).all()
    assert np.array_equal(index, ink_point_index(ink, config))
    assert np.array_equal(feats, ink_features(ink, config))
    for s, p in index:
        assert 0 <= p < len(ink[s])
    if name == "image":  # columns left to right: the points' x never goes back
        x = np.array([ink[s][p, 0] for s, p in index])
        assert (np.diff(x) >= 0).all() and 2 in index[:, 0]  # the t-bar is some column's point
        assert feats.max() > 0.5 and (feats.max(axis=1) == 0).sum() >= 2  # ink, and the margins
        return
    assert all(tuple(a) <= tuple(b) for a, b in zip(index, index[1:], strict=False))
    basic = ink_features(ink, InkFeatureConfig())
    if name == "graves2009":  # the same points as the basic set, and the bar's hat
        assert len(feats) == len(basic)
        assert feats[index[:, 0] == 2, G["hat"]].all()
    else:  # far fewer frames; the pen-up frames sit on the last point of a stroke
        assert len(feats) < len(basic) / 3
        ups = index[feats[:, B["pen_up"]] == 1]
        assert ups.tolist() == [[0, 119], [1, 79]]


# ---------------------------------------------------------------------------------------------
# Training and recognition


@pytest.mark.parametrize(
    ("name", "model"), [("graves2009", []), ("bezier", []), ("image", ["model.conv=[4, 4]"])]
)
def test_tiny_model_trains_saves_and_recognizes_with_each_set(
    name, model, ink_run, tmp_path, capsys
):
    corpus, _ = ink_run  # the session's synthetic IAM-OnDB tree
    (tmp_path / "tiny.toml").write_text(INK_RECIPE)
    sets = [a for m in model for a in ("--set", m)]
    rc, _, err = run(capsys, "train", "--config", tmp_path / "tiny.toml", "--data", corpus,
                     "--out", tmp_path / "run", "--set", f'features.feature_set="{name}"',
                     "--set", "training.max_epochs=1", *sets)  # fmt: skip
    assert rc == 0, err
    model = tmp_path / "run" / "model"
    assert json.loads((model / "features.json").read_text())["feature_set"] == name
    bundle = load_bundle(model)  # the NumPy engine
    assert bundle.features == InkFeatureConfig(feature_set=name)
    if name == "graves2009":
        # A bundle saved before untimed_speed existed reads untimed ink as it was trained to:
        # at speed 0. One that has the key reads it at the saved speed.
        saved = json.loads((model / "features.json").read_text())
        assert saved["untimed_speed"] == TYPICAL_SPEED
        old = tmp_path / "old"
        shutil.copytree(model, old)
        del saved["untimed_speed"]
        (old / "features.json").write_text(json.dumps(saved))
        assert load_bundle(old).features.untimed_speed == 0.0
        (old / "features.json").write_text(json.dumps({**saved, "untimed_speed": 7.5}))
        assert load_bundle(old).features.untimed_speed == 7.5
    front = load_bundle(model, engine="numpy").model.front
    assert (front is not None) == (name == "image")
    assert bundle.mean.shape == (bundle.features.dim,)
    line = sorted((corpus / "lineStrokes").rglob("*.xml"))[0]
    rc, out, err = run(capsys, "recognize", model, line, "--format", "json")
    assert rc == 0, err
    rec = json.loads(out)
    strokes = read_ink_file(line)[0].strokes
    for c in rec["chars"]:
        for s, p in (c["start"], c["end"]):
            assert 0 <= s < len(strokes) and 0 <= p < len(strokes[s])
    rc, keras_out, err = run(capsys, "recognize", model, line, "--format", "json",
                             "--engine", "keras")  # fmt: skip
    assert rc == 0, err
    assert json.loads(keras_out)["text"] == rec["text"]


# ---------------------------------------------------------------------------------------------
# scripts/compare_ink_features.py


def test_compare_script_refuses_bad_arguments_and_a_missing_corpus(tmp_path, capsys):
    script = load_script("compare_ink_features")
    for bad in (["--sets", "basic,nope"], ["--variant", "lonely"], ["--sets", "basic,basic"]):
        with pytest.raises(SystemExit) as e:
            script.parse_args([str(tmp_path), *bad])
        assert e.value.code == 2
    capsys.readouterr()
    rc = script.main([str(tmp_path / "missing"), "--out", str(tmp_path / "out")])
    assert rc == 2
    assert one_line(capsys.readouterr().err).startswith("error: ")


def test_compare_script_trains_each_system_and_pairs_it_with_basic(ink_run, tmp_path, capsys):
    corpus, _ = ink_run
    (tmp_path / "tiny.toml").write_text(INK_RECIPE)
    out = tmp_path / "out"
    rc = load_script("compare_ink_features").main([
        str(corpus), "--recipe", str(tmp_path / "tiny.toml"), "--epochs", "1", "--sets", "basic",
        "--variant", "nodeslant", "features.deslant=false", "--set", "model.units=4",
        "--out", str(out), "--format", "json",
    ])  # fmt: skip
    assert rc == 0
    results = json.loads(capsys.readouterr().out)
    assert results == json.loads((out / "results.json").read_text())
    assert results["reference"] == "basic" and list(results["systems"]) == ["basic", "nodeslant"]
    basic, other = results["systems"]["basic"], results["systems"]["nodeslant"]
    for row in (basic, other):
        assert row["epochs"] == 1 and row["dim"] == 8 and row["test_lines"] == 4
        lo, hi = row["cer_ci95"]
        assert lo <= row["cer"] <= hi and row["frames_per_line"] > 0
    assert other["overrides"] == ["features.deslant=false"]
    assert "vs_reference" not in basic
    diff = other["vs_reference"]["cer"]
    assert diff["difference"] == pytest.approx(other["cer"] - basic["cer"])
    assert diff["difference_ci"][0] <= diff["difference"] <= diff["difference_ci"][1]
    table = (out / "results.md").read_text().splitlines()
    assert len(table) == 4 and table[2].startswith("| basic | basic | 8 |")
    assert "(reference)" in table[2] and f"{diff['difference']:+.1f}" in table[3]
