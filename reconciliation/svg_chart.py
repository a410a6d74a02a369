"""A line chart as inline SVG, written by hand: the finance report is one self-contained HTML file
that opens offline, so no chart library and nothing fetched from the network.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from html import escape

__all__ = ["line_chart"]

# Distinguishable on screen and in grey print.
PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


def _nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten at or above value (axis top)."""
    if value <= 0:
        return 1
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= value:
                return m * step
        step *= 10


def line_chart(
    title: str,
    x_labels: Sequence[str],
    series: Mapping[str, Sequence[int]],
    format_value: Callable[[int], str],
    *,
    labels: Mapping[str, str] | None = None,
    width: int = 920,
    height: int = 340,
) -> str:
    """One polyline per series over the x labels; y from 0 to a rounded maximum. ``labels``
    names the series in the legend (a vendor's name for its clientID); the key stays in
    ``data-series``."""
    left, right, top, bottom = 90, 180, 40, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_ceiling(max((max(v, default=0) for v in series.values()), default=0))
    n = max(len(x_labels), 1)

    def x(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(value: int) -> float:
        return top + plot_h - plot_h * value / top_value

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text x="{left}" y="22" font-size="15" font-weight="bold">{escape(title)}</text>',
    ]
    for k in range(5):  # horizontal grid lines with their values
        value = top_value * k // 4
        parts.append(
            f'<line x1="{left}" y1="{y(value):.1f}" x2="{left + plot_w}" '
            f'y2="{y(value):.1f}" stroke="#ddd"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{y(value) + 4:.1f}" font-size="11" '
            f'text-anchor="end">{escape(format_value(value))}</text>'
        )
    every = max(1, n // 15)
    for i, label in enumerate(x_labels):
        if i % every == 0 or i == n - 1:
            parts.append(
                f'<text x="{x(i):.1f}" y="{top + plot_h + 16}" font-size="11" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" '
        f'y2="{top + plot_h}" stroke="#333"/>'
    )
    for k, (name, values) in enumerate(series.items()):
        colour = PALETTE[k % len(PALETTE)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(
            f'<polyline class="series" data-series="{escape(name)}" fill="none" '
            f'stroke="{colour}" stroke-width="2" points="{points}"/>'
        )
        ly = top + 14 + 18 * k
        parts.append(
            f'<rect x="{left + plot_w + 16}" y="{ly - 9}" width="12" height="12" fill="{colour}"/>'
        )
        legend = (labels or {}).get(name, name)
        if len(legend) > 24:  # the legend's column is 180 px wide
            legend = legend[:23] + "\u2026"
        parts.append(
            f'<text x="{left + plot_w + 34}" y="{ly + 1}" font-size="12">{escape(legend)}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)
