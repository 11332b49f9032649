"""Pen trajectories from the outlines of a handwriting font: render, thin, trace, order.

A TrueType or OpenType font stores each glyph as filled outlines, not as the path of a pen.
This module recovers a plausible path the way a person would copy the letter:

1. render the glyph with FreeType (Pillow) at about ``X_HEIGHT_PX`` pixels per x-height;
2. thin the black shape to a one-pixel skeleton (scikit-image's ``skeletonize``, Zhang-Suen);
3. cut the skeleton into a graph: *nodes* are pixels with other than two skeleton neighbours
   (line ends and junctions; touching junction pixels form one node), *edges* are the chains
   of two-neighbour pixels between them; a closed ring with no node (an ``o``) is one loop;
4. drop *spurs*, short edges from a junction to a line end that thinning leaves at corners;
5. cover the edges with as few pen-down traces as a greedy walk finds: start at the leftmost,
   highest odd-degree node (a graph needs at least half its odd-degree nodes as trace ends),
   at each junction continue along the unused edge that turns least, and start a new trace
   where the walk is stuck. A ``t`` becomes its stem, then its bar; an ``o`` one ring drawn
   anticlockwise from the top;
6. order the pieces as a pen would: left to right, and small marks (dots, accents) just after
   the shape they sit over.

Coordinates come out in x-heights: x from the glyph's pen position, y down with the baseline
at 0, so a glyph fits the line layout of :mod:`lstmrec.corpora.synth_ink` like a Hershey glyph.

Why our own graph walk instead of a skeleton-graph library: the libraries that build such
graphs (``skan``, ``sknw``) need Numba, and the walk that orders strokes like a writer is the
part they do not do; tracing the chains is a few dozen lines of NumPy and SciPy.
"""

from __future__ import annotations

import dataclasses
import functools
import os

import numpy as np
from scipy import ndimage

X_HEIGHT_PX = 32  # rendered pixels per x-height: enough for the skeleton to keep loops open
SPUR_FRACTION = 0.18  # edges from a junction to a line end shorter than this (x-heights) go
SMALL_MARK = 0.45  # a piece whose bounding box is under this (x-heights) is a dot or accent
SMOOTH = 2  # half-width of the moving average that removes the pixel staircase
STEP_PX = 2  # keep every STEP_PX-th pixel of a trace (the generator re-densifies it)
_EIGHT = np.ones((3, 3), dtype=bool)


@dataclasses.dataclass(frozen=True)
class Glyph:
    """One character of a hand: pen-down traces and the advance to the next character."""

    strokes: tuple[np.ndarray, ...]  # each (K, 2) float64 [x, y], x-heights, baseline y = 0
    advance: float  # x-heights to the next character's pen position


def _render(font, ch: str) -> tuple[np.ndarray, float, float]:
    """The glyph as a boolean image and the pixel position of its pen origin (x, baseline)."""
    from PIL import Image, ImageDraw

    left, top, right, bottom = font.getbbox(ch, anchor="ls")
    pad = 4
    image = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 0)
    ImageDraw.Draw(image).text((pad - left, pad - top), ch, font=font, fill=255, anchor="ls")
    return np.asarray(image) > 127, float(pad - left), float(pad - top)


def _chain(pixels: set, start: tuple, closed: bool) -> list[tuple]:
    """The pixels of one chain in order from ``start`` (a ring returns to its start)."""
    order, seen, cur = [start], {start}, start
    while True:
        nxt = [
            (cur[0] + dr, cur[1] + dc)
            for dr in (-1, 0, 1)
            for dc in (-1, 0, 1)
            if (dr or dc) and (cur[0] + dr, cur[1] + dc) in pixels
        ]
        nxt = [p for p in nxt if p not in seen]
        if not nxt:
            break
        # Orthogonal steps first: a staircase has both an orthogonal and a diagonal neighbour.
        cur = min(nxt, key=lambda p: abs(p[0] - cur[0]) + abs(p[1] - cur[1]))
        order.append(cur)
        seen.add(cur)
    if closed:
        order.append(start)
    return order


def skeleton_graph(skeleton: np.ndarray) -> tuple[list[np.ndarray], list[tuple]]:
    """Nodes (``(r, c)`` centroids) and edges ``(u, v, (K, 2) row-col path)`` of a skeleton.

    ``u``/``v`` index the nodes; a ring with no node gets a node of its own at its top pixel,
    with ``u == v``. Edge paths start at ``u``'s centroid and end at ``v``'s.
    """
    sk = skeleton.astype(bool)
    count = ndimage.convolve(sk.astype(np.int32), np.ones((3, 3), np.int32), mode="constant") - 1
    node_mask = sk & (count != 2)
    node_labels, n_nodes = ndimage.label(node_mask, structure=_EIGHT)
    nodes = [
        np.asarray(c) for c in ndimage.center_of_mass(node_mask, node_labels, range(1, n_nodes + 1))
    ]
    chain_labels, n_chains = ndimage.label(sk & ~node_mask, structure=_EIGHT)
    grown = ndimage.grey_dilation(node_labels, footprint=_EIGHT)  # > 0: next to a node
    edges = []
    for obj, label in zip(ndimage.find_objects(chain_labels), range(1, n_chains + 1), strict=True):
        rows, cols = np.nonzero(chain_labels[obj] == label)
        pixels = {(r + obj[0].start, c + obj[1].start) for r, c in zip(rows, cols, strict=True)}
        ends = [p for p in pixels if grown[p] > 0]
        if not ends:  # a ring: a node at its top pixel, walked anticlockwise (leftwards first)
            top = min(pixels)
            nodes.append(np.asarray(top, dtype=np.float64))
            u = len(nodes) - 1
            left = sorted(
                pixels - {top}, key=lambda p: (abs(p[0] - top[0]) + abs(p[1] - top[1]), p[1])
            )
            path = [top, *_chain(pixels - {top}, left[0], False), top] if len(pixels) > 2 else [top]
            edges.append((u, u, np.asarray(path, dtype=np.float64)))
            continue
        ends.sort(
            key=lambda p: (
                sum(1 for q in pixels if max(abs(q[0] - p[0]), abs(q[1] - p[1])) == 1),
                p,
            )
        )
        path = _chain(pixels, ends[0], False)
        first, last = _touching(node_labels, path[0]), _touching(node_labels, path[-1])
        u = first[0]
        v = next((n for n in last if n != u), last[0])
        coords = np.asarray([nodes[u], *path, nodes[v]], dtype=np.float64)
        edges.append((u, v, coords))
    return nodes, edges


def _touching(node_labels: np.ndarray, p: tuple) -> list[int]:
    """The nodes (0-based) among the eight neighbours of pixel ``p``."""
    r, c = p
    window = node_labels[max(r - 1, 0) : r + 2, max(c - 1, 0) : c + 2]
    return sorted(int(n) - 1 for n in np.unique(window) if n > 0)


def _prune_spurs(nodes: list, edges: list[tuple], min_len: float) -> list[tuple]:
    """Drop short edges between a line end and a junction of three or more edges."""
    degree = np.zeros(len(nodes), dtype=int)
    for u, v, _ in edges:
        degree[u] += 1
        degree[v] += 1
    keep = []
    for u, v, path in edges:
        length = float(np.hypot(*np.diff(path, axis=0).T).sum())
        ends = sorted((degree[u], degree[v]))
        if u != v and ends[0] == 1 and ends[1] >= 3 and length < min_len:
            degree[u] -= 1
            degree[v] -= 1
            continue
        keep.append((u, v, path))
    return keep


def _direction(path: np.ndarray, span: int = 6) -> np.ndarray:
    """Unit direction of the first ``span`` pixels of a path."""
    d = path[min(span, len(path) - 1)] - path[0]
    n = float(np.hypot(*d))
    return d / n if n > 0 else np.zeros(2)


def _trails(nodes: list, edges: list[tuple]) -> list[np.ndarray]:
    """Pen-down traces covering every edge once (greedy walk, least turning at junctions)."""
    incident: dict[int, list[int]] = {}
    for i, (u, v, _) in enumerate(edges):
        incident.setdefault(u, []).append(i)
        if v != u:
            incident.setdefault(v, []).append(i)
    used = [False] * len(edges)
    odd = {
        n
        for n, ids in incident.items()
        if sum(2 if edges[i][0] == edges[i][1] else 1 for i in ids) % 2
    }

    def start_key(n: int) -> tuple:
        r, c = nodes[n]
        return (n not in odd, c + 0.5 * r)

    trails = []
    while not all(used):
        free = [n for n, ids in incident.items() if any(not used[i] for i in ids)]
        node = min(free, key=start_key)
        pieces, heading = [], None
        while True:
            options = []
            for i in incident[node]:
                if used[i]:
                    continue
                u, v, path = edges[i]
                oriented = path if u == node else path[::-1]
                turn = 0.0 if heading is None else -float(_direction(oriented) @ heading)
                options.append((turn, i, oriented))
            if not options:
                break
            _, i, oriented = min(options, key=lambda o: o[0])
            used[i] = True
            pieces.append(oriented if not pieces else oriented[1:])
            heading = -_direction(oriented[::-1])
            u, v, _ = edges[i]
            node = v if u == node else u
        trails.append(np.concatenate(pieces))
    return trails


def _smooth(path: np.ndarray) -> np.ndarray:
    """Moving average along the trace (ends kept), every ``STEP_PX``-th point."""
    if len(path) > 2 * SMOOTH + 1:
        kernel = np.ones(2 * SMOOTH + 1) / (2 * SMOOTH + 1)
        padded = np.concatenate(
            [np.repeat(path[:1], SMOOTH, 0), path, np.repeat(path[-1:], SMOOTH, 0)]
        )
        path = np.stack([np.convolve(padded[:, k], kernel, mode="valid") for k in range(2)], axis=1)
    keep = np.unique(np.r_[np.arange(0, len(path), STEP_PX), len(path) - 1])
    return path[keep]


def _pen_order(strokes: list[np.ndarray]) -> list[np.ndarray]:
    """Left to right; a small mark right after the last larger piece that starts left of it."""

    def size(s: np.ndarray) -> float:
        return float(np.ptp(s, axis=0).max()) if len(s) > 1 else 0.0

    large = sorted(
        (s for s in strokes if size(s) >= SMALL_MARK), key=lambda s: float(s[:, 0].min())
    )
    starts = [float(s[:, 0].min()) for s in large]
    keyed = [((x0, 0, 0.0), s) for x0, s in zip(starts, large, strict=True)]
    for s in strokes:
        if size(s) < SMALL_MARK:
            cx = float(s[:, 0].mean())
            owner = max((x0 for x0 in starts if x0 <= cx), default=cx)
            keyed.append(((owner, 1, cx), s))
    return [s for _, s in sorted(keyed, key=lambda k: k[0])]


def trace_bitmap(
    image: np.ndarray, origin: tuple[float, float], x_height_px: float
) -> list[np.ndarray]:
    """Pen-down traces of a black-on-white shape (``True`` = ink), in x-heights.

    ``origin`` is the pen position (x, baseline y) in pixels; y grows down.
    """
    from skimage.morphology import skeletonize

    skeleton = skeletonize(image)
    nodes, edges = skeleton_graph(skeleton)
    # A node that no edge touches is a dot that thinned to a point or a tiny blob.
    touched = {n for u, v, _ in edges for n in (u, v)}
    dots = [np.asarray([nodes[n], nodes[n]]) for n in range(len(nodes)) if n not in touched]
    edges = _prune_spurs(nodes, edges, SPUR_FRACTION * x_height_px)
    strokes = [_smooth(t) for t in _trails(nodes, edges)] + dots
    out = []
    for s in strokes:
        xy = np.stack([s[:, 1] - origin[0], s[:, 0] - origin[1]], axis=1) / x_height_px
        out.append(xy)
    return _pen_order(out)


class FontHand:
    """The glyphs of one font file as pen traces (each traced once, on first use)."""

    def __init__(self, path: str | os.PathLike) -> None:
        from fontTools.ttLib import TTFont
        from PIL import ImageFont

        self.path = os.fspath(path)
        with TTFont(self.path, lazy=True) as tt:
            self.cmap = frozenset(chr(c) for c in tt.getBestCmap())
        probe = ImageFont.truetype(self.path, size=100)
        x_height = -probe.getbbox("x", anchor="ls")[1]
        if x_height <= 0:
            raise ValueError(f"{self.path}: the font has no visible 'x' to measure")
        self.size = max(8, round(100 * X_HEIGHT_PX / x_height))
        self.font = ImageFont.truetype(self.path, size=self.size)
        self.x_height_px = float(-self.font.getbbox("x", anchor="ls")[1])

    def has(self, ch: str) -> bool:
        return ch == " " or ch in self.cmap

    @functools.cache  # noqa: B019 - a hand lives as long as the process; its glyphs too
    def glyph(self, ch: str) -> Glyph:
        """The traces of ``ch`` (``KeyError`` when the font lacks it)."""
        if not self.has(ch):
            raise KeyError(ch)
        advance = float(self.font.getlength(ch)) / self.x_height_px
        if ch.isspace():
            return Glyph((), advance)
        image, x0, y0 = _render(self.font, ch)
        strokes = trace_bitmap(image, (x0, y0), self.x_height_px)
        return Glyph(tuple(strokes), advance)
