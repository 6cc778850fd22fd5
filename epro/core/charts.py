"""Small line charts of scores over visits, as inline SVG rendered on the server.

Why server-side SVG: the charts must work without JavaScript, print on paper,
and load nothing from elsewhere (the CSP allows no inline script).  They are
accessible images (WAI-ARIA ``role="img"`` named by ``<title>`` and ``<desc>``)
and all colours are set as attributes, not CSS variables, so printing keeps
them.  Text colours reach at least 4.5:1 on white (WCAG 2.2, 1.4.3).

Every text argument is XML-escaped: titles can carry user-influenced text.
The caller passes already-translated text; this module writes no words itself.
Standard library only.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from xml.sax.saxutils import escape

TEXT_COLOUR = "#1a1a1a"  # 17.4:1 on white
AXIS_COLOUR = "#595959"  # 7.0:1 on white
GRID_COLOUR = "#d9d9d9"  # decoration only
LINE_COLOUR = "#1f4e99"  # 8.0:1 on white; also used for the value labels
FONT = "sans-serif"

_ids = itertools.count(1)
_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")

# Margins around the plot area: y tick labels on the left, visit codes below.
_LEFT, _RIGHT, _TOP, _BOTTOM = 34, 14, 16, 22


def svg_start(width: int, height: int, id_prefix: str, title: str, description: str,
              extra: str = "") -> list[str]:
    """The opening of an accessible chart: ``role="img"`` named by its ``<title>`` and
    ``<desc>`` (ids from *id_prefix*), on a white ground; *extra* attributes go on ``<svg>``."""
    title_id, desc_id = f"{id_prefix}-title", f"{id_prefix}-desc"
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" aria-labelledby="{title_id} {desc_id}"{extra}>',
        f'<title id="{title_id}">{escape(title)}</title>',
        f'<desc id="{desc_id}">{escape(description)}</desc>',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
    ]


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def line_chart_svg(
    points: Sequence[tuple[str, int | None]],
    *,
    y_min: int,
    y_max: int,
    title: str,
    description: str,
    higher_is_better: bool,
    width: int = 320,
    height: int = 140,
    id_prefix: str | None = None,
) -> str:
    """An ``<svg>`` line chart of (visit code, value or None) points.

    The line breaks where a value is None.  *id_prefix* makes the ``<title>``
    and ``<desc>`` ids unique on the page; without it a fresh one is made.
    *higher_is_better* is recorded as ``data-better`` for styling and tests;
    the caller explains the direction in words.
    """
    if y_max <= y_min:
        raise ValueError("y_max must be greater than y_min")
    prefix = id_prefix if id_prefix is not None else f"chart-{next(_ids)}"
    if not _ID.match(prefix):
        raise ValueError("id_prefix must start with a letter and hold only letters, digits, - and _")

    plot_w = width - _LEFT - _RIGHT
    plot_h = height - _TOP - _BOTTOM
    bottom = _TOP + plot_h

    def x_of(i: int) -> float:
        if len(points) == 1:
            return _LEFT + plot_w / 2
        return _LEFT + i * plot_w / (len(points) - 1)

    def y_of(v: int) -> float:
        clamped = min(max(v, y_min), y_max)  # an out-of-range value sits on the edge
        return _TOP + (y_max - clamped) * plot_h / (y_max - y_min)

    text = f'font-family="{FONT}" font-size="10" fill="{TEXT_COLOUR}"'
    out = svg_start(width, height, prefix, title, description,
                    f' data-better="{"higher" if higher_is_better else "lower"}"')
    # y axis: min and max ticks with a light grid line at each.
    for tick in (y_max, y_min):
        tick_y = _num(y_of(tick))
        out.append(
            f'<line x1="{_LEFT}" y1="{tick_y}" x2="{_LEFT + plot_w}" y2="{tick_y}"'
            f' stroke="{GRID_COLOUR}" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{_LEFT - 4}" y="{tick_y}" text-anchor="end" dominant-baseline="middle" {text}>'
            f"{escape(str(tick))}</text>"
        )
    out.append(
        f'<line x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{bottom}" stroke="{AXIS_COLOUR}" stroke-width="1"/>'
    )
    out.append(
        f'<line x1="{_LEFT}" y1="{bottom}" x2="{_LEFT + plot_w}" y2="{bottom}"'
        f' stroke="{AXIS_COLOUR}" stroke-width="1"/>'
    )
    # x axis: one label per visit code.
    for i, (code, _) in enumerate(points):
        out.append(
            f'<text x="{_num(x_of(i))}" y="{height - 6}" text-anchor="middle" {text}>{escape(code)}</text>'
        )
    # The line, broken into runs of consecutive known values.
    run: list[str] = []
    runs: list[list[str]] = []
    for i, (_, value) in enumerate(points):
        if value is None:
            run = []
            continue
        if not run:
            runs.append(run)
        run.append(f"{_num(x_of(i))},{_num(y_of(value))}")
    for r in runs:
        if len(r) > 1:
            out.append(
                f'<polyline points="{" ".join(r)}" fill="none" stroke="{LINE_COLOUR}"'
                ' stroke-width="2" stroke-linejoin="round"/>'
            )
    # A dot and the value at each known point; the label goes below near the top.
    for i, (_, value) in enumerate(points):
        if value is None:
            continue
        x, y = x_of(i), y_of(value)
        label_y = y + 13 if y - _TOP < 12 else y - 6
        out.append(f'<circle cx="{_num(x)}" cy="{_num(y)}" r="3" fill="{LINE_COLOUR}"/>')
        out.append(
            f'<text x="{_num(x)}" y="{_num(label_y)}" text-anchor="middle" font-family="{FONT}"'
            f' font-size="10" font-weight="bold" fill="{LINE_COLOUR}">{escape(str(value))}</text>'
        )
    out.append("</svg>")
    return "".join(out)


#: Fills of a stacked bar's parts, each with a text colour reaching 4.5:1 on it; the parts also carry
#: their number and the legend its words, so colour is never the only cue (WCAG 2.2, 1.4.1).
BAR_FILLS = (("#1f4e99", "#ffffff"), ("#a35c00", "#ffffff"), ("#8b1a1a", "#ffffff"), ("#d9d9d9", TEXT_COLOUR))


def stacked_bar_svg(
    rows: Sequence[tuple[str, Sequence[int]]],
    *,
    series: Sequence[str],
    title: str,
    description: str,
    width: int = 320,
    bar_height: int = 18,
    id_prefix: str | None = None,
) -> str:
    """An ``<svg>`` of horizontal stacked bars: one bar per (label, values), one part per *series*,
    each part as wide as its share of the row and labelled with its number when there is room.

    The caller gives a table with the same numbers next to it (the chart is ``role="img"``).
    """
    if len(series) > len(BAR_FILLS):
        raise ValueError(f"at most {len(BAR_FILLS)} series")
    prefix = id_prefix if id_prefix is not None else f"chart-{next(_ids)}"
    if not _ID.match(prefix):
        raise ValueError("id_prefix must start with a letter and hold only letters, digits, - and _")
    left, gap, legend_h = 46, 8, 20
    plot_w = width - left - _RIGHT
    height = _TOP + legend_h + len(rows) * (bar_height + gap) + 4
    text = f'font-family="{FONT}" font-size="10" fill="{TEXT_COLOUR}"'
    out = svg_start(width, height, prefix, title, description)
    # The legend: a swatch and the series' words, in one line.
    x = 4
    for i, name in enumerate(series):
        fill = BAR_FILLS[i][0]
        out.append(f'<rect x="{x}" y="{_TOP - 9}" width="10" height="10" fill="{fill}" stroke="{AXIS_COLOUR}"/>')
        out.append(f'<text x="{x + 14}" y="{_TOP}" {text}>{escape(name)}</text>')
        x += 14 + _text_width(name) + 12
    y = _TOP + legend_h
    for label, values in rows:
        if len(values) != len(series):
            raise ValueError("one value per series")
        total = sum(values)
        out.append(f'<text x="{left - 4}" y="{_num(y + bar_height / 2)}" text-anchor="end"'
                   f' dominant-baseline="middle" {text}>{escape(label)}</text>')
        out.append(f'<rect x="{left}" y="{y}" width="{plot_w}" height="{bar_height}" fill="none"'
                   f' stroke="{AXIS_COLOUR}" stroke-width="1"/>')
        start = float(left)
        for i, value in enumerate(values):
            if not total or not value:
                continue
            part = plot_w * value / total
            fill, ink = BAR_FILLS[i]
            out.append(f'<rect x="{_num(start)}" y="{y}" width="{_num(part)}" height="{bar_height}" fill="{fill}"'
                       f' data-series="{i}" data-value="{value}"/>')
            if part >= 7 * len(str(value)) + 4:
                out.append(f'<text x="{_num(start + part / 2)}" y="{_num(y + bar_height / 2)}" text-anchor="middle"'
                           f' dominant-baseline="middle" font-family="{FONT}" font-size="10" font-weight="bold"'
                           f' fill="{ink}">{value}</text>')
            start += part
        y += bar_height + gap
    out.append("</svg>")
    return "".join(out)


def _text_width(words: str) -> int:
    """About how wide *words* are at font size 10 (CJK characters are square)."""
    return sum(10 if ord(c) >= 0x2E80 else 6 for c in words)
