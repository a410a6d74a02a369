"""Charts drawn on the server as SVG (pygal), embedded in the page: no script, no CDN.

The SVG is rendered without pygal's JavaScript tooltips (`disable_xml_declaration`, `js=[]`),
so the console's Content-Security-Policy (script-src 'self') holds, and labels are passed in the
user's language by the caller.
"""

from __future__ import annotations

from collections.abc import Sequence

import pygal
from markupsafe import Markup
from pygal.style import Style

_STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#222",
    foreground_strong="#111",
    foreground_subtle="#777",
    colors=("#1f6fb2", "#c0392b", "#27ae60", "#8e44ad", "#d35400", "#16a085"),
    font_family="sans-serif",
)


def _config(title: str, rtl: bool) -> dict[str, object]:
    return {
        "title": title,
        "style": _STYLE,
        "js": [],
        "disable_xml_declaration": True,
        "show_legend": False,
        "height": 300,
        "width": 800,
        "explicit_size": False,
        "print_values": False,
        "margin": 16,
        "inverse_y_axis": False,
        "x_label_rotation": 0,
    }


def bar_chart(
    title: str, labels: Sequence[str], values: Sequence[int], *, rtl: bool = False
) -> Markup:
    chart = pygal.Bar(**_config(title, rtl))
    chart.x_labels = list(labels)
    top = max(values, default=0)
    if top <= 10:  # counts: whole numbers on the axis, never 0.1 of a vend
        chart.y_labels = list(range(0, max(top, 1) + 1))
    chart.add(title, list(values))
    svg = chart.render(is_unicode=True)
    # pygal's own output, built from numbers and our escaped labels: safe to embed.
    return Markup(svg)  # noqa: S704
