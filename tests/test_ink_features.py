"""Properties of the ink feature chain on synthetic pen trajectories."""

from __future__ import annotations

import numpy as np
import pytest

from lstmrec.features.errors import DataError
from lstmrec.features.ink import (
    InkFeatureConfig,
    clean_strokes,
    deslant,
    estimate_slant,
    from_stroke3,
    ink_features,
    ink_features_with_index,
    ink_point_index,
    normalize_ink,
    reference_lines,
    resample_stroke,
    to_stroke3,
)


def _with_time(xy: np.ndarray, t0: float = 0.0) -> np.ndarray:
    """``(N, 2)`` -> ``(N, 3)`` with 100 points per second."""
    return np.concatenate([xy, (t0 + np.arange(len(xy)) / 100.0)[:, None]], axis=1)


def arcade(n_letters: int = 6, *, height: float = 100.0, points: int = 40) -> list[np.ndarray]:
    """Writing like "uuuuuu" + an "l" ascender, and a dot: baseline y = 0, core line y = -height.

    The letters are one cosine wave between the core line and the baseline, so every local
    y-extremum lies on one of the two lines, except the ascender's top at 2.5 core heights.
    """
    u = np.linspace(0, n_letters, n_letters * points + 1)
    wave = np.stack([height * u, -height / 2 - height / 2 * np.cos(2 * np.pi * u)], axis=1)
    x1 = n_letters * height
    up = np.linspace(0, 1, points)[1:]
    ascender_up = np.stack([x1 + 0.1 * height * up, -height - 1.5 * height * up], axis=1)
    ascender_down = np.stack(
        [np.full_like(up, x1 + 0.1 * height), -2.5 * height * (1 - up)], axis=1
    )
    main = np.concatenate([wave, ascender_up, ascender_down])
    dot = np.array([[x1 + height, -1.5 * height], [x1 + height + 3, -1.5 * height - 2]])
    return [_with_time(main), _with_time(dot, 10.0)]


def n_shapes(n_letters: int = 8, *, height: float = 50.0, points: int = 60) -> list[np.ndarray]:
    """A single stroke of vertical bars joined by half circles over the top and the bottom,
    alternately: its writing direction is symmetric about the vertical (no slant)."""
    xy = [np.array([[0.0, 0.0]])]
    for i in range(n_letters):
        x0 = i * height
        bar = np.linspace(0, 1, points)[1:]
        going_up = i % 2 == 0
        ys = -height * bar if going_up else -height * (1 - bar)
        xy.append(np.stack([np.full_like(bar, x0), ys], axis=1))
        a = np.linspace(np.pi, 0, points)[1:]
        top = -height - 0.5 * height * np.sin(a) if going_up else 0.5 * height * np.sin(a)
        xy.append(np.stack([x0 + 0.5 * height * (1 + np.cos(a)), top], axis=1))
    return [_with_time(np.concatenate(xy))]


def shear(strokes: list[np.ndarray], k: float) -> list[np.ndarray]:
    return [np.column_stack([s[:, 0] + k * s[:, 1], s[:, 1], s[:, 2]]) for s in strokes]


CONFIG = InkFeatureConfig()


def test_config_round_trip_defaults_and_validation():
    config = InkFeatureConfig(spacing=0.1, time=True, y_position=False)
    assert InkFeatureConfig.from_dict(config.to_dict()) == config
    assert InkFeatureConfig.from_dict({}) == InkFeatureConfig()
    assert config.to_dict()["kind"] == "ink"
    assert config.columns == (
        "dx",
        "dy",
        "pen_up",
        "sin_dir",
        "cos_dir",
        "sin_curv",
        "cos_curv",
        "dt",
    )
    assert (config.dim, InkFeatureConfig().dim) == (8, 8)
    with pytest.raises(ValueError, match="unknown keys \\['hop_ms'\\]"):
        InkFeatureConfig.from_dict({"hop_ms": 10})
    with pytest.raises(ValueError, match="spacing=-1"):
        InkFeatureConfig(spacing=-1)
    with pytest.raises(ValueError, match="spacing='0.2'"):
        InkFeatureConfig.from_dict({"spacing": "0.2"})
    with pytest.raises(ValueError, match="deslant='yes'"):
        InkFeatureConfig(deslant="yes")
    with pytest.raises(ValueError, match="reference='bbox'"):
        InkFeatureConfig(reference="bbox")
    with pytest.raises(ValueError, match="kind='fbank'"):
        InkFeatureConfig(kind="fbank")


def test_features_shape_dtype_and_finite():
    for config in (CONFIG, InkFeatureConfig(time=True, deslant=False)):
        feats = ink_features(arcade(), config)
        assert feats.dtype == np.float32 and feats.shape[1] == config.dim
        assert np.isfinite(feats).all()


@pytest.mark.parametrize("offset", [(1000.0, -250.0), (-3.5, 7e4)])
def test_translation_invariance(offset):
    ink = arcade()
    moved = [s + np.array([*offset, 0.0]) for s in ink]
    config = InkFeatureConfig(time=True)
    np.testing.assert_allclose(ink_features(moved, config), ink_features(ink, config), atol=1e-4)


@pytest.mark.parametrize("factor", [0.01, 3.7, 250.0])
def test_scale_invariance(factor):
    ink = arcade()
    scaled = [s * np.array([factor, factor, 1.0]) for s in ink]
    config = InkFeatureConfig(time=True)
    np.testing.assert_allclose(ink_features(scaled, config), ink_features(ink, config), atol=1e-4)


def test_pen_up_exactly_on_the_last_point_of_each_stroke():
    ink = arcade() + [np.array([[700.0, 0.0, 20.0], [720.0, -30.0, 20.1]])]
    feats, index = ink_features_with_index(ink, CONFIG)
    pen_up = feats[:, CONFIG.columns.index("pen_up")]
    ends = np.flatnonzero(pen_up)
    assert set(np.unique(pen_up)) == {0.0, 1.0}
    assert ends[-1] == len(feats) - 1
    assert index[ends].tolist() == [[k, len(s) - 1] for k, s in enumerate(ink)]
    # The frame after a pen-up is the first point of the next stroke, reached through the air.
    assert index[ends[:-1] + 1].tolist() == [[k, 0] for k in range(1, len(ink))]


def test_point_index_maps_frames_to_nearest_original_points():
    ink = arcade()
    index = ink_point_index(ink, CONFIG)
    assert index.dtype == np.int64 and index.shape[1] == 2
    assert index[0].tolist() == [0, 0]
    # Within a stroke the points are visited in order, none skipped far ahead.
    for k, s in enumerate(ink):
        points = index[index[:, 0] == k, 1]
        assert (np.diff(points) >= 0).all()
        assert points[0] == 0 and points[-1] == len(s) - 1


def test_stroke3_round_trip():
    rng = np.random.default_rng(0)
    ink = [
        np.column_stack([rng.integers(-500, 500, (n, 2)), np.full(n, np.nan)]) for n in (5, 1, 9)
    ]
    ink = [s.astype(np.float64) for s in ink]
    s3 = to_stroke3(ink)
    assert s3.shape == (15, 3)
    assert s3[:, 2].tolist() == [0, 0, 0, 0, 1, 1] + [0] * 8 + [1]
    np.testing.assert_array_equal(s3[0, :2], ink[0][0, :2])  # first offset from the origin
    back = from_stroke3(s3)
    assert [len(s) for s in back] == [5, 1, 9]
    for a, b in zip(back, ink, strict=True):
        np.testing.assert_array_equal(a[:, :2], b[:, :2])
        assert np.isnan(a[:, 2]).all()
    shifted = from_stroke3(s3, origin=(10.0, -2.0))
    np.testing.assert_array_equal(shifted[0][0, :2], ink[0][0, :2] + [10.0, -2.0])
    floats = [rng.normal(size=(7, 3)) * 100]
    np.testing.assert_allclose(
        from_stroke3(to_stroke3(floats))[0][:, :2], floats[0][:, :2], rtol=0, atol=1e-12
    )


def test_stroke3_rejects_bad_arrays():
    with pytest.raises(DataError, match="shape"):
        from_stroke3(np.zeros((4, 2)))
    with pytest.raises(DataError, match="NaN"):
        from_stroke3(np.array([[0.0, np.nan, 1.0]]))


def test_resampled_spacing_is_equal():
    # A straight stroke sampled unevenly, then a circle: steps along the trace are all equal.
    x = np.cumsum(np.random.default_rng(1).uniform(0.01, 3.0, 50))
    line = np.column_stack([x, 0.5 * x, np.arange(50.0)])
    points, nearest = resample_stroke(line, 2.0)
    steps = np.hypot(*np.diff(points[:, :2], axis=0).T)
    length = np.hypot(x[-1] - x[0], 0.5 * (x[-1] - x[0]))
    np.testing.assert_allclose(steps, length / round(length / 2.0), rtol=1e-9)
    np.testing.assert_array_equal(points[[0, -1]], line[[0, -1]])
    assert nearest[0] == 0 and nearest[-1] == 49
    a = np.linspace(0, 2 * np.pi, 17)
    circle = np.column_stack([np.cos(a), np.sin(a), np.full(17, np.nan)])
    points, _ = resample_stroke(circle, 0.1)
    steps = np.hypot(*np.diff(points[:, :2], axis=0).T)
    assert steps.max() / steps.min() < 1.05  # chords of equal arcs of a 16-gon
    assert np.isnan(points[:, 2]).all()


def test_feature_steps_follow_the_spacing():
    config = InkFeatureConfig(deslant=False, spacing=0.25)
    feats = ink_features(n_shapes(), config)
    step = np.hypot(feats[1:, 0], feats[1:, 1])
    # length / round(length / spacing) per stroke: within half a step over the stroke's length.
    assert 0.2 < np.median(step) < 0.26
    assert step.max() < 0.25 * 1.01


@pytest.mark.parametrize("k", [-0.4, -0.15, 0.0, 0.25])
def test_slant_estimate_recovers_a_synthetic_shear(k):
    ink = shear(n_shapes(), k)
    even = [resample_stroke(s, 1.0)[0] for s in ink]
    estimate = estimate_slant(even)
    assert abs(np.degrees(np.arctan(estimate)) - np.degrees(np.arctan(k))) < 2.0
    upright = deslant(even, estimate)
    assert abs(estimate_slant(upright)) < 0.02


def test_deslanted_features_do_not_depend_on_the_shear():
    config = InkFeatureConfig(spacing=0.3)
    a = ink_features(n_shapes(), config)
    b = ink_features(shear(n_shapes(), -0.3), config)
    assert a.shape[0] == pytest.approx(b.shape[0], rel=0.05)
    cos_dir = config.columns.index("cos_dir")
    # Upright bars: the share of near-vertical moves is the same after the shear is undone.
    vertical = lambda f: np.mean(np.abs(f[:, cos_dir]) < 0.1)  # noqa: E731
    assert vertical(b) == pytest.approx(vertical(a), abs=0.05)


def test_reference_lines_find_baseline_and_core_height():
    ref = reference_lines(arcade(height=80.0))
    assert ref.x0 == 0.0 and abs(ref.y_base) < 4.0 and abs(ref.slope) < 0.01
    assert ref.height == pytest.approx(80.0, rel=0.1)
    # One digit-like shape has no credible core: the bounding box stands in.
    square = [np.array([[0, 0, 0], [10, 0, 0], [10, 30, 0], [0, 30, 0]], dtype=float)]
    ref = reference_lines(square)
    assert (ref.x0, ref.y_base, ref.height, ref.slope) == (0.0, 30.0, 30.0, 0.0)


def test_core_line_is_the_envelope_of_the_tops_not_their_middle():
    # Letters reach from 0.45 to 1.0 of the core ("e", "s" and joins stop short): the core line
    # belongs with the taller letters, above the tops' middle (0.725 of the core).
    reach = np.random.default_rng(2).permutation(np.linspace(1.0, 0.45, 12))
    u = np.linspace(0, 12, 12 * 40 + 1)
    letter = np.minimum(np.floor(u + 0.5), 11).astype(int)
    y = -50.0 * reach[letter] * (0.5 + 0.5 * np.cos(2 * np.pi * u))
    ref = reference_lines([_with_time(np.column_stack([50.0 * u, y]))])
    assert 0.82 * 50 < ref.height < 50.0
    assert abs(ref.y_base) < 1.0


def test_box_reference_scales_by_the_bounding_box():
    ink = arcade(height=40.0)
    y = InkFeatureConfig().columns.index("y")
    core = ink_features(ink, InkFeatureConfig(deslant=False))
    box = ink_features(ink, InkFeatureConfig(deslant=False, reference="box"))
    # Heights above the baseline: the ascender reaches 2.5 core heights, or the box's top.
    assert core[:, y].max() == pytest.approx(2.5, abs=0.1)
    assert box[:, y].min() == pytest.approx(0.0, abs=1e-6)
    assert box[:, y].max() == pytest.approx(1.0, abs=0.02)  # the peak may fall between steps
    assert len(box) == pytest.approx(len(core) / 2.5, rel=0.1)  # steps of 0.2 box heights


def test_reference_lines_follow_a_tilted_line():
    # A long line written uphill (y falls 0.08 per unit of x): its y range is many core heights.
    ink = [s.copy() for s in arcade(n_letters=30, height=50.0)]
    for s in ink:
        s[:, 1] -= 0.08 * s[:, 0]
    ref = reference_lines(ink)
    assert ref.slope == pytest.approx(-0.08, abs=0.005)
    assert ref.height == pytest.approx(50.0, rel=0.1)
    flat = normalize_ink(ink)
    wave = flat[0][: 30 * 40]  # the letters' part: between the baseline and the core line
    assert wave[:, 1].max() == pytest.approx(0.0, abs=0.1)
    assert wave[:, 1].min() == pytest.approx(-1.0, abs=0.1)


def test_reference_lines_ignore_tablet_jitter():
    ink = arcade(height=60.0, points=120)
    rng = np.random.default_rng(5)
    noisy = [np.column_stack([s[:, 0], s[:, 1] + rng.normal(0, 1.5, len(s)), s[:, 2]]) for s in ink]
    ref = reference_lines(noisy)
    assert abs(ref.y_base) < 6.0 and ref.height == pytest.approx(60.0, rel=0.1)


def test_turning_points_hand_computed():
    from lstmrec.features.inklines import _turning_points

    y = np.array([0, 1, 5, 9, 8.5, 9.2, 3, 1, 1.4, 0.5, 4, 10])
    # Rises to 9.2 (the 8.5 dip is under the threshold), falls to 0.5, rises to the end.
    assert _turning_points(y, 2.0) == [(0, False), (5, True), (9, False), (11, True)]
    assert _turning_points(np.array([3.0, 3.5, 3.2]), 2.0) == []


def test_duplicate_points_are_removed():
    stroke = np.array(
        [[0, 0, 0], [0, 0, 0.01], [1, 2, 0.02], [1, 2, 0.03], [1, 2, 0.04], [3, 1, 0.05]]
    )
    cleaned, kept = clean_strokes([stroke, np.zeros((0, 3)), stroke[:2]])
    assert [len(c) for c in cleaned] == [3, 1]
    assert kept[0].tolist() == [[0, 0], [0, 2], [0, 5]]
    assert kept[1].tolist() == [[2, 0]]
    np.testing.assert_array_equal(cleaned[0][:, 2], [0, 0.02, 0.05])  # the first time is kept


def test_stray_points_are_removed():
    ink = arcade()
    stray = ink[0].copy()
    stray[10, :2] = [1e6, -1e6]
    cleaned, kept = clean_strokes([stray, ink[1]])
    assert len(cleaned[0]) == len(ink[0]) - 1 and 10 not in kept[0][:, 1]


def test_a_lone_character_keeps_the_strokes_the_pen_drew_off_its_stem():
    # A "7" as the MNIST pen-stroke set writes it: a bar of 5 points, then an upright stem of
    # 16. x's interquartile range is 0 (floored at 0.16), so the bar's first four points lie
    # beyond 10 of them from the median x of 15: the limit alone drops them (a "1" is left).
    seven = np.array([[x, 9] for x in range(10, 15)] + [[15, y] for y in range(10, 26)], float)
    seven = np.c_[seven, np.zeros(len(seven))]
    (cleaned,), _ = clean_strokes([seven])
    np.testing.assert_array_equal(cleaned, seven)
    # A stray sample in the stem (a jump of 25 points away and back) and a stray stroke far to
    # the right are still dropped: the pen did not reach them in short steps.
    glitch = np.insert(seven, 12, [40.0, 17.0, 0.0], axis=0)
    speck = np.array([[40.0, 12.0, 0.0], [41.0, 12.0, 0.0]])
    cleaned, kept = clean_strokes([glitch, speck])
    assert len(cleaned) == 1 and kept[0][:, 1].tolist() == [*range(12), *range(13, len(glitch))]


def test_a_mark_put_down_beside_the_ink_is_kept():
    # MNIST pen-stroke digit 17795, a "7": bar and stem in one stroke (x's interquartile range
    # 0), then a tick of 3 points 4 pixels right of the stem, lifted, not reached, so the limit
    # drops it, but it came down within 4 median steps of the ink.
    seven = [[x, 9] for x in range(9, 15)] + [[15, y] for y in range(10, 26)]
    tick = [[19, 11], [19, 10], [19, 9]]
    cleaned, _ = clean_strokes([np.array(seven, float), np.array(tick, float)])
    assert [len(c) for c in cleaned] == [22, 3]
    # 12 pixels away (as the mark of digit 21409) it is still a speck, and dropped.
    far = np.array(tick, float) + [8, 0]
    cleaned, _ = clean_strokes([np.array(seven, float), far])
    assert [len(c) for c in cleaned] == [22]


@pytest.mark.parametrize(
    ("ink", "message"),
    [
        ([], "no points"),
        ([np.zeros((0, 3))], "no points"),
        ([np.array([[1.0, 2.0, 0.0]])], "single point"),
        ([np.array([[1.0, 2.0, 0.0], [1.0, 2.0, 0.1]])], "single point"),
        ([np.array([[1.0, 2.0, 0.0]]), np.array([[1.0, 2.0, 0.5]])], "single point"),
        ([np.array([[0.0, 0.0, 0.0], [np.nan, 1.0, 0.1]])], "NaN or infinite"),
        ([np.array([[0.0, 0.0, 0.0], [1.0, np.inf, 0.1]])], "NaN or infinite"),
        ([np.zeros((3, 4))], "shape"),
    ],
)
def test_bad_ink_raises_data_error(ink, message):
    with pytest.raises(DataError, match=message) as info:
        ink_features(ink, CONFIG)
    assert info.value.path is None
