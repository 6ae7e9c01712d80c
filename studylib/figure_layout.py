"""Layout helpers shared by the static figures in ``studylib.plots``.

Why: a figure is read at a glance only when its legend does not cover data, its labels do not
collide, and its reference lines say what they stand for. ``plots`` draws the data; these
helpers place the words:

* :func:`figure_legend`: one legend for the whole figure, below the panels (the panels' own
  legends are removed; each label appears once);
* :func:`label_line`: the value of a horizontal or vertical reference line, written on it;
* :func:`label_points`: labels for chosen points, queued and placed by :func:`finish` once the
  layout is final, each at the candidate offset that overlaps the fewest other labels, points
  and line vertices;
* :func:`finish`: ``tight_layout`` then the queued labels.
"""

from __future__ import annotations

import numpy as np

OFFSETS = [
    (5, 5),
    (5, -5),
    (-5, 5),
    (-5, -5),
    (8, 14),
    (8, -14),
    (-8, 14),
    (-8, -14),
    (0, 22),
    (0, -22),
    (14, 26),
    (-14, -26),
]


def figure_legend(fig, axes=None, ncol: int | None = None, fontsize: float = 9, title: str | None = None):
    """One legend for ``fig`` below its panels, each label once, and no legend inside any panel."""
    handles = {}
    for ax in axes if axes is not None else fig.axes:
        for h, label in zip(*ax.get_legend_handles_labels()):
            if not label.startswith("_"):
                handles.setdefault(label, h)
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    if not handles:
        return None
    ncol = ncol or min(len(handles), 4)
    return fig.legend(
        list(handles.values()),
        list(handles),
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=ncol,
        frameon=False,
        fontsize=fontsize,
        title=title,
        title_fontsize=fontsize,
    )


def label_line(ax, value: float, text: str, axis: str = "y", color: str = "dimgrey", fontsize: float = 8):
    """Write ``text`` on a horizontal (``axis='y'``) or vertical reference line at ``value``."""
    if axis == "y":
        return ax.annotate(
            text,
            xy=(0.99, value),
            xycoords=("axes fraction", "data"),
            xytext=(0, 2),
            textcoords="offset points",
            ha="right",
            va="bottom",
            fontsize=fontsize,
            color=color,
        )
    return ax.annotate(
        text,
        xy=(value, 0.99),
        xycoords=("data", "axes fraction"),
        xytext=(2, 0),
        textcoords="offset points",
        ha="left",
        va="top",
        fontsize=fontsize,
        color=color,
        rotation=90,
    )


def label_points(ax, xs, ys, texts, color: str = "black", fontsize: float = 7):
    """Queue labels for points (data coordinates) of ``ax``; :func:`finish` places them."""
    queue = ax.__dict__.setdefault("_studylib_labels", [])
    queue += [(float(x), float(y), str(t), color, fontsize) for x, y, t in zip(xs, ys, texts)]


def _obstacles(ax) -> np.ndarray:
    """Display coordinates of the points and line vertices drawn on ``ax`` (lines sampled densely)."""
    pts = []
    for line in ax.get_lines():
        xy = ax.transData.transform(np.asarray(line.get_xydata(), float))
        xy = xy[np.isfinite(xy).all(axis=1)]
        for a, b in zip(xy[:-1], xy[1:]):
            if line.get_linestyle() not in ("None", "", " "):
                pts.append(a + np.linspace(0, 1, 12)[:, None] * (b - a))
        pts.append(xy)
    for coll in ax.collections:
        off = np.asarray(coll.get_offsets(), float)
        if off.size and off.ndim == 2:
            xy = coll.get_offset_transform().transform(off)
            pts.append(xy[np.isfinite(xy).all(axis=1)])
    return np.concatenate(pts) if pts else np.empty((0, 2))


def _cost(bbox, placed, obstacles, frame) -> float:
    inside = (
        (
            (obstacles[:, 0] >= bbox.x0)
            & (obstacles[:, 0] <= bbox.x1)
            & (obstacles[:, 1] >= bbox.y0)
            & (obstacles[:, 1] <= bbox.y1)
        ).sum()
        if len(obstacles)
        else 0
    )
    overlaps = sum(bbox.overlaps(p) for p in placed)
    outside = not (
        frame.x0 <= bbox.x0 and bbox.x1 <= frame.x1 and frame.y0 <= bbox.y0 and bbox.y1 <= frame.y1
    )
    return 20 * overlaps + inside + 10 * outside


def _place(ax, renderer) -> None:
    queue = ax.__dict__.pop("_studylib_labels", [])
    if not queue:
        return
    obstacles, frame = _obstacles(ax), ax.get_window_extent(renderer)
    placed = [t.get_window_extent(renderer) for t in ax.texts if t.get_visible()]
    for x, y, text, color, size in queue:
        best = None
        for dx, dy in OFFSETS:
            note = ax.annotate(
                text,
                (x, y),
                xytext=(dx, dy),
                textcoords="offset points",
                fontsize=size,
                color=color,
                ha="left" if dx > 0 else "right" if dx < 0 else "center",
                va="bottom" if dy > 0 else "top",
                arrowprops=dict(arrowstyle="-", color=color, lw=0.5, alpha=0.6) if abs(dy) > 10 else None,
            )
            cost = _cost(note.get_window_extent(renderer).expanded(1.04, 1.15), placed, obstacles, frame)
            if best is None or cost < best[0]:
                if best is not None:
                    best[1].remove()
                best = (cost, note)
            else:
                note.remove()
            if cost == 0:
                break
        placed.append(best[1].get_window_extent(renderer))


def finish(fig, rect=None):
    """``tight_layout`` (within ``rect``), then place every queued point label; returns ``fig``."""
    fig.tight_layout(rect=rect)
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        _place(ax, renderer)
    return fig
