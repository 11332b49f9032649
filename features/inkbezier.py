"""Ink as a sequence of cubic Bézier curves, one frame per curve (Carbune et al. 2020).

Carbune, Gonnet, Deselaers, Rowley, Daryin, Calvo, Wang, Keysers, Feuz & Gervais 2020 ("Fast
multi-language LSTM-based online handwriting recognition", IJDAR 23) feed their recogniser
cubic Bézier curves fitted to the ink instead of its points: far fewer frames, each describing
a piece of trace. ``feature_set = "bezier"`` of :class:`lstmrec.features.ink.InkFeatureConfig`
fits them to the cleaned, normalised (and deslanted) ink, before any resampling, in core
heights with y *up*.

Each stroke is cut into segments, each fitted with one cubic ``B(u) = (1-u)³ P0 + 3u(1-u)² P1 +
3u²(1-u) P2 + u³ P3``, ``u`` in [0, 1], by :func:`fit_cubic`: the end points are the segment's
first and last points, P1 and P2 solve the linear least-squares problem for the points'
parameters, which start at the normalised arc length and are refined by Newton steps that move
each parameter to the curve point nearest its point (Schneider, "An algorithm for
automatically fitting digitized curves", Graphics Gems, 1990). :func:`stroke_segments` cuts a
segment in two at its worst-fitted point while any point is farther than ``BEZIER_TOLERANCE``
from the curve, and at its point farthest from the start while its chord is shorter than
``LOOP_CHORD`` times its trace (a closed loop has no chord to measure the controls against).

=============  =================================================================================
column         value for the curve P0 P1 P2 P3 (chord ``c = P3 - P0``)
=============  =================================================================================
``dx, dy``     the chord: where the curve ends relative to where it starts, core heights
``d1, d2``     ``|P1 - P0| / |c|`` and ``|P2 - P3| / |c|``: how far the control points reach,
               relative to the chord (clipped to ``D_MAX``; 0 for a lone point)
``alpha1``     signed angle (radians) from ``c`` to ``P1 - P0``
``alpha2``     signed angle from ``-c`` to ``P2 - P3``
``t1..t3``     the time the curve took, as the cubic ``t(u) - t(P0) = t1 u + t2 u² + t3 u³``
               fitted by least squares at the points' parameters (``t1 + t2 + t3`` is its
               duration, seconds); all 0 for ink without time stamps
``pen_up``     1 for the move through the air from the last point of a stroke to the first
               point of the next: a straight "curve" (d1 = d2 = 1/3, angles 0, ``t1`` the
               time in the air)
=============  =================================================================================

A stroke of a single point (a dot) is one frame of zeros. The frames of a stroke follow its
segments in writing order, with a pen-up frame between strokes.

Where this may depart from the paper: the cut criterion (the largest distance of a point from
its curve, ``BEZIER_TOLERANCE``), the loop rule, the clipping of d1 and d2 and the parameter
refinement are this project's choices; the time of a curve is a cubic in the curve's own
parameter (the paper's "three time coefficients", whose parametrisation is not reproduced
here); the move between strokes is always a straight line. As in the paper, no column holds
an absolute position (such as the height above the baseline).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lstmrec.features.errors import DataError

BEZIER_FEATURE_NAMES = (
    "dx", "dy", "d1", "d2", "alpha1", "alpha2", "t1", "t2", "t3", "pen_up"
)  # fmt: skip

BEZIER_TOLERANCE = 0.05  # core heights: the farthest a point may lie from its fitted curve
LOOP_CHORD = 0.25  # a segment whose chord is shorter than this fraction of its trace is cut
GIVE_UP = 3.0  # a first fit this many tolerances off is cut without refining it (Schneider)
D_MAX = 10.0  # d1 and d2 are clipped here (a control point far beyond a short chord)
FIT_STEPS = 6  # most Gauss-Newton steps per fit (it stops sooner once the error settles)
_SETTLED = 1e-3  # relative decrease of the squared error that counts as settled


def bernstein(u: np.ndarray) -> np.ndarray:
    """The cubic Bernstein basis at ``u`` ``(N,)``: ``(N, 4)``."""
    out = np.empty((len(u), 4))
    v = 1.0 - u
    out[:, 0], out[:, 1], out[:, 2], out[:, 3] = v**3, 3 * u * v**2, 3 * u**2 * v, u**3
    return out


def _solve_controls(q: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Control points ``(4, 2)`` with the ends at ``q[0]``, ``q[-1]`` and P1, P2 the least-
    squares fit of the points ``q`` ``(N, 2)`` at parameters ``u`` ``(N,)`` (N >= 4)."""
    basis = bernstein(u)  # (N, 4)
    rhs = q - np.outer(basis[:, 0], q[0]) - np.outer(basis[:, 3], q[-1])  # (N, 2)
    inner, *_ = np.linalg.lstsq(basis[:, 1:3], rhs, rcond=None)  # (2, 2)
    return np.concatenate([q[:1], inner, q[-1:]])


def _gauss_newton_step(control, q, u, basis, damping):
    """One damped Gauss-Newton (Levenberg-Marquardt) step on P1, P2 and the inner parameters
    together: the proposed ``(control, u)``. ``basis`` is ``bernstein(u)``. A parameter enters
    only its own point's residual, so the normal equations reduce to a 4 x 4 system (the Schur
    complement of the parameters' diagonal block)."""
    p0, p1, p2, p3 = control
    v, w = (1.0 - u)[:, None], u[:, None]
    slope = 3 * v**2 * (p1 - p0) + 6 * v * w * (p2 - p1) + 3 * w**2 * (p3 - p2)  # (N, 2) B'(u)
    r = basis @ control - q  # (N, 2)
    b1, b2 = basis[:, 1:2], basis[:, 2:3]  # (N, 1): the weights of P1 and P2
    c = np.concatenate([b1 * slope, b2 * slope], axis=1)  # (N, 4): J_P^T J_u per parameter
    d = (slope * slope).sum(axis=1)  # (N,): J_u^T J_u
    d[[0, -1]] = np.inf  # the end parameters stay at 0 and 1
    bb = basis[:, 1:3].T @ basis[:, 1:3]  # (2, 2)
    a = np.zeros((4, 4))  # J_P^T J_P over (P1x, P1y, P2x, P2y): bb (x) I2
    a[0::2, 0::2] = a[1::2, 1::2] = bb
    a += damping * np.diag(np.diag(a))
    d = d * (1.0 + damping) + 1e-12
    g_p = np.concatenate([(b1 * r).sum(axis=0), (b2 * r).sum(axis=0)])  # (4,)
    g_u = (slope * r).sum(axis=1)  # (N,)
    schur = a - (c / d[:, None]).T @ c
    delta_p = np.linalg.solve(schur, (c * (g_u / d)[:, None]).sum(axis=0) - g_p)
    moved = control.copy()
    moved[1:3] += delta_p.reshape(2, 2)
    return moved, np.clip(u - (g_u + c @ delta_p) / d, 0.0, 1.0)


def _refine(q: np.ndarray, u: np.ndarray, control: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Control points and parameters that minimise the squared distances of the points ``q``
    from the curve, from the start ``(u, control)``: Levenberg-Marquardt on
    :func:`_gauss_newton_step`."""
    basis = bernstein(u)
    cost = ((basis @ control - q) ** 2).sum()
    damping = 1e-3
    for _ in range(FIT_STEPS):
        try:
            moved, new_u = _gauss_newton_step(control, q, u, basis, damping)
        except np.linalg.LinAlgError:  # degenerate parameters: keep the last good fit
            break
        new_basis = bernstein(new_u)
        new_cost = ((new_basis @ moved - q) ** 2).sum()
        if not new_cost < cost:  # worse (or NaN): a shorter, more gradient-like step
            damping *= 4.0
            if damping > 1e6:
                break
            continue
        settled = cost - new_cost <= _SETTLED * cost
        control, u, basis, cost = moved, new_u, new_basis, new_cost
        damping /= 3.0
        if settled:
            break
    return control, u


def fit_cubic(
    q: np.ndarray, *, give_up: float = np.inf
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares cubic Bézier through the first and last of the points ``q`` ``(N, 2)``.

    ``give_up``: when the first fit (at the normalised arc length) has a point farther than
    this from the curve, it is returned as it is, without the refinement.

    Returns:
        ``(control, u, error)``: control points float64 ``(4, 2)`` (P0 = ``q[0]``, P3 =
        ``q[-1]``), each point's parameter ``(N,)``, and its distance from the curve ``(N,)``.
        Fewer than 4 points give the straight line (controls at a third and two thirds).
    """
    q = np.asarray(q, dtype=np.float64)
    chord = q[-1] - q[0]
    if len(q) < 4:
        control = np.stack([q[0], q[0] + chord / 3, q[-1] - chord / 3, q[-1]])
        step = np.hypot(*np.diff(q, axis=0).T)
        u = np.concatenate([[0.0], np.cumsum(step)]) / max(step.sum(), 1e-300)
    else:
        step = np.hypot(*np.diff(q, axis=0).T)
        u = np.concatenate([[0.0], np.cumsum(step)]) / step.sum()  # normalised arc length
        control = _solve_controls(q, u)
        error = np.hypot(*(bernstein(u) @ control - q).T)
        if error.max() > give_up:  # hopeless: refining will not bring it under the tolerance
            return control, u, error
        control, u = _refine(q, u, control)
    error = np.hypot(*(bernstein(u) @ control - q).T)
    return control, u, error


def stroke_segments(q: np.ndarray, tolerance: float = BEZIER_TOLERANCE) -> list[tuple]:
    """Cut one stroke ``q`` ``(N, 2)`` into segments that each fit one cubic.

    Returns:
        In writing order, ``(first, last, control, u)`` per segment: the index of its first and
        last point in ``q`` (neighbouring segments share a point), the control points ``(4, 2)``
        and the points' parameters ``(last - first + 1,)``.
    """
    todo = [(0, len(q) - 1)]
    done = []
    while todo:
        first, last = todo.pop()
        piece = q[first : last + 1]
        trace = np.hypot(*np.diff(piece, axis=0).T).sum()
        if len(piece) > 2 and np.hypot(*(piece[-1] - piece[0])) < LOOP_CHORD * trace:
            cut = first + int(np.argmax(np.hypot(*(piece - piece[0]).T)))
        else:
            control, u, error = fit_cubic(piece, give_up=GIVE_UP * tolerance)
            if error.max() <= tolerance or len(piece) <= 2:
                done.append((first, last, control, u))
                continue
            cut = first + int(np.argmax(error[1:-1])) + 1
        cut = min(max(cut, first + 1), last - 1)
        todo += [(cut, last), (first, cut)]  # the first half is popped first
    return done


def curve_row(control: np.ndarray, t: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The first nine columns of ``BEZIER_FEATURE_NAMES`` of one curve: float64 ``(9,)``.

    ``control`` ``(4, 2)`` (y up), ``t`` ``(N,)`` the time stamps of its points (NaN: none),
    ``u`` ``(N,)`` their parameters.
    """
    p0, p1, p2, p3 = control
    c = p3 - p0
    length = float(np.hypot(*c))
    row = np.zeros(9)
    row[:2] = c
    if length > 0:
        for i, (a, b) in enumerate(((p1 - p0, c), (p2 - p3, -c))):
            row[2 + i] = min(float(np.hypot(*a)) / length, D_MAX)
            row[4 + i] = np.arctan2(b[0] * a[1] - b[1] * a[0], b @ a)
    if len(t) > 1 and np.isfinite(t).all():
        rel = t - t[0]
        if len(t) >= 4:
            coef, *_ = np.linalg.lstsq(np.stack([u, u**2, u**3], axis=1), rel, rcond=None)
            row[6:9] = coef
        else:
            row[6] = rel[-1]
    return row


def bezier_features(
    strokes: Sequence[np.ndarray], *, tolerance: float = BEZIER_TOLERANCE, max_points: int
) -> tuple[np.ndarray, np.ndarray]:
    """One frame per fitted curve and per move between strokes.

    Args:
        strokes: ``(N_i, 3)`` ``[x, y, t]`` strokes in core heights, y down, without repeated
            points (as :func:`lstmrec.features.ink.clean_strokes` leaves them).
        tolerance: the farthest a point may lie from its curve, core heights.
        max_points: refuse ink with more points than this (the fit's work grows with them).

    Returns:
        ``(features, first)``: float32 ``(F, 10)``, columns ``BEZIER_FEATURE_NAMES``, and int64
        ``(F, 2)``, the (stroke, point) index of the first point of each frame's segment (for
        a pen-up frame, the last point of the stroke it leaves).

    Raises:
        DataError: more than ``max_points`` points.
    """
    total = sum(len(s) for s in strokes)
    if total > max_points:
        raise DataError(f"the ink has {total} points, over the limit of {max_points}")
    rows, first = [], []
    for j, s in enumerate(strokes):
        if j > 0:
            prev = strokes[j - 1]
            gap = np.array([s[0, 0] - prev[-1, 0], prev[-1, 1] - s[0, 1]])
            dt = s[0, 2] - prev[-1, 2]
            rows.append([*gap, 1 / 3, 1 / 3, 0.0, 0.0, dt if np.isfinite(dt) else 0.0, 0, 0, 1])
            first.append((j - 1, len(prev) - 1))
        if len(s) == 1:
            rows.append(np.zeros(10))
            first.append((j, 0))
            continue
        q = np.stack([s[:, 0], -s[:, 1]], axis=1)  # (N, 2), y up
        for a, b, control, u in stroke_segments(q, tolerance):
            rows.append([*curve_row(control, s[a : b + 1, 2], u), 0.0])
            first.append((j, a))
    return np.asarray(rows, dtype=np.float32), np.asarray(first, dtype=np.int64)
