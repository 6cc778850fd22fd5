"""Outcome summaries per study and visit: change from baseline, and mRS distributions.

Why: both protocols' secondary outcomes are the change from baseline of NIHSS,
BI, mRS, MMSE and GDS at months 1, 3, 6, 9 and 12.  Stroke scales are ordinal
and often skewed, so the summary gives the median and interquartile range next
to the mean and SD (ICH E9, 5.7: descriptive statistics; CONSORT item 17a:
each group's estimate), and n, because follow-up is incomplete.

* Change = visit total - baseline (BL) total of the same patient; a patient
  without a baseline total contributes to no visit.
* SD is the sample SD (n - 1).  Quartiles use ``statistics.quantiles(...,
  method="inclusive")``: linear interpolation between order statistics, the
  same as R's type 7 and NumPy's default, so exports can be checked with either.
* In a masked study everything is pooled; splitting by arm would unmask.

The mRS is also shown as a distribution per visit (the "Grotta bar" of stroke
trials): :func:`stacked_bar_svg` draws it as an accessible, server-rendered
SVG.  It follows :mod:`epro.core.charts`: ``role="img"`` named by ``<title>`` and
``<desc>``, every text argument escaped, colours as attributes, text contrast
of at least 4.5:1 (WCAG 2.2, 1.4.3) and a legend so colour is not the only cue
(WCAG 1.4.1).  The caller passes translated text; this module writes no words.

Standard library only: this module must import neither Flask nor SQLAlchemy.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar
from xml.sax.saxutils import escape, quoteattr

from epro.core import charts

BASELINE = "BL"
POOLED = "all"
MRS_LEVELS = tuple(range(7))  # 0 no symptoms … 6 dead

#: Whatever identifies a patient (the services pass database ids).
PatientId = TypeVar("PatientId", bound=Hashable)
Totals = Mapping[str, int | None]  # visit code → total (None: not scored)


@dataclass(frozen=True)
class Stats:
    """Descriptive statistics of one set of changes; ``None`` where undefined."""

    n: int
    mean: float | None
    sd: float | None  # sample SD; needs n ≥ 2
    median: float | None
    q1: float | None
    q3: float | None

    @property
    def iqr(self) -> float | None:
        return None if self.q1 is None or self.q3 is None else self.q3 - self.q1


def describe(values: Iterable[float]) -> Stats:
    """n, mean, sample SD, median and quartiles (inclusive method) of *values*."""
    data = sorted(float(v) for v in values)
    n = len(data)
    if n == 0:
        return Stats(0, None, None, None, None, None)
    mean, median = statistics.fmean(data), statistics.median(data)
    if n == 1:
        return Stats(1, mean, None, median, data[0], data[0])
    q1, _, q3 = statistics.quantiles(data, n=4, method="inclusive")
    return Stats(n, mean, statistics.stdev(data), median, q1, q3)


def changes_from_baseline(totals: Totals, baseline: str = BASELINE) -> dict[str, int]:
    """Visit → total minus baseline total, for scored visits after a scored baseline."""
    base = totals.get(baseline)
    if base is None:
        return {}
    return {v: t - base for v, t in totals.items() if v != baseline and t is not None}


def _groups(
    patients: Iterable[PatientId], arm_of: Mapping[PatientId, str] | None, masked: bool
) -> dict[str, list[PatientId]]:
    if masked:
        return {POOLED: list(patients)}
    if arm_of is None:
        raise ValueError("arm_of is needed for a summary by arm")
    groups: dict[str, list[PatientId]] = {}
    for p in patients:
        if p not in arm_of:
            raise ValueError(f"patient {p!r} has no arm")
        groups.setdefault(arm_of[p], []).append(p)
    return groups


def change_summary(
    totals_by_patient: Mapping[PatientId, Totals],
    visits: Sequence[str],
    arm_of: Mapping[PatientId, str] | None = None,
    masked: bool = True,
    baseline: str = BASELINE,
) -> dict[str, dict[str, Stats]]:
    """Group (POOLED or arm code) → visit → :class:`Stats` of the change from baseline."""
    changes = {p: changes_from_baseline(t, baseline) for p, t in totals_by_patient.items()}
    out: dict[str, dict[str, Stats]] = {}
    for group, members in _groups(totals_by_patient, arm_of, masked).items():
        out[group] = {
            v: describe(changes[p][v] for p in members if v in changes[p]) for v in visits if v != baseline
        }
    return out


def study_summary(
    totals: Mapping[str, Mapping[PatientId, Totals]],
    visits: Sequence[str],
    arm_of: Mapping[PatientId, str] | None = None,
    masked: bool = True,
) -> dict[str, dict[str, dict[str, Stats]]]:
    """Instrument → group → visit → :class:`Stats`, for every instrument in *totals*."""
    return {code: change_summary(by_patient, visits, arm_of, masked) for code, by_patient in totals.items()}


def mrs_distribution(scores_by_visit: Mapping[str, Iterable[int | None]]) -> dict[str, tuple[int, ...]]:
    """Visit → counts of mRS 0..6 (seven numbers); unscored (None) values are skipped."""
    out = {}
    for visit, scores in scores_by_visit.items():
        counts = [0] * len(MRS_LEVELS)
        for s in scores:
            if s is None:
                continue
            if isinstance(s, bool) or not isinstance(s, int) or s not in MRS_LEVELS:
                raise ValueError(f"{visit}: {s!r} is not an mRS score (0-6)")
            counts[s] += 1
        out[visit] = tuple(counts)
    return out


# --- stacked bar SVG -----------------------------------------------------------

#: Seven viridis steps, light to dark: ordered like the mRS, distinguishable
#: with the common colour-vision deficiencies, and printable.
FILLS = ("#fde725", "#90d743", "#35b779", "#21918c", "#31688e", "#443983", "#440154")
TEXT_COLOUR = "#1a1a1a"
FONT = "sans-serif"
MIN_LABEL_WIDTH = 28  # px; narrower segments carry their numbers in the tooltip only

_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")
_LEFT, _RIGHT, _TOP, _BAR, _GAP = 40, 52, 8, 22, 10
_LEGEND_ROW, _SWATCH = 18, 12


def _luminance(colour: str) -> float:
    """WCAG 2.2 relative luminance of a #rrggbb colour."""
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two #rrggbb colours (1 to 21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_colour_on(fill: str) -> str:
    """Black or white, whichever contrasts more with *fill*."""
    return "#000000" if contrast(fill, "#000000") >= contrast(fill, "#ffffff") else "#ffffff"


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _text_width(s: str) -> float:
    """Rough rendered width at 10 px: CJK characters are about twice as wide."""
    return sum(10.0 if ord(ch) > 0x2E80 else 6.0 for ch in s)


def stacked_bar_svg(
    distribution_by_visit: Mapping[str, Sequence[int]] | Sequence[tuple[str, Sequence[int]]],
    title: str,
    description: str,
    id_prefix: str,
    labels: Sequence[str],
    *,
    show: str = "percent",
    width: int = 480,
    fills: Sequence[str] = FILLS,
) -> str:
    """A 100 % horizontal stacked bar per visit, with a legend.

    *labels* name the categories in order (e.g. "0" … "6", or translated mRS
    levels) and must match the length of every count tuple.  Each segment wide
    enough shows its percentage (``show="percent"``) or count (``"count"``);
    every segment has a tooltip with label, count and percentage, and each bar
    ends with its n.
    """
    rows = (
        list(distribution_by_visit.items())
        if isinstance(distribution_by_visit, Mapping)
        else list(distribution_by_visit)
    )
    if not _ID.match(id_prefix):
        raise ValueError("id_prefix must start with a letter and hold only letters, digits, - and _")
    if show not in ("percent", "count"):
        raise ValueError('show must be "percent" or "count"')
    if not labels or len(labels) > len(fills):
        raise ValueError(f"between 1 and {len(fills)} categories are supported")
    for visit, counts in rows:
        if len(counts) != len(labels):
            raise ValueError(f"{visit}: {len(counts)} counts for {len(labels)} labels")
        if any(isinstance(c, bool) or not isinstance(c, int) or c < 0 for c in counts):
            raise ValueError(f"{visit}: counts must be whole numbers ≥ 0")

    plot_w = width - _LEFT - _RIGHT
    legend = _legend_layout(labels, width)
    bars_h = _TOP + len(rows) * (_BAR + _GAP)
    height = bars_h + len(legend) * _LEGEND_ROW + 6
    font = f'font-family="{FONT}" font-size="10"'
    out = charts.svg_start(width, height, id_prefix, title, description)
    for r, (visit, counts) in enumerate(rows):
        y = _TOP + r * (_BAR + _GAP)
        mid = _num(y + _BAR / 2)
        total = sum(counts)
        out.append(
            f'<text x="{_LEFT - 6}" y="{mid}" text-anchor="end" dominant-baseline="middle"'
            f' {font} fill="{TEXT_COLOUR}">{escape(str(visit))}</text>'
        )
        out.append(f'<g data-visit={quoteattr(str(visit))} data-n="{total}">')
        if total == 0:
            out.append(
                f'<rect x="{_LEFT}" y="{y}" width="{plot_w}" height="{_BAR}" fill="#ffffff"'
                f' stroke="#595959" stroke-width="1" stroke-dasharray="3 2"/>'
            )
        x = float(_LEFT)
        for k, count in enumerate(counts):
            if count == 0:
                continue
            w = plot_w * count / total
            pct = 100 * count / total
            tip = f"{labels[k]}: {count} ({pct:.0f}%)"
            out.append(
                f'<rect x="{_num(x)}" y="{y}" width="{_num(w)}" height="{_BAR}" fill="{fills[k]}"'
                f' stroke="#ffffff" stroke-width="1" data-category="{k}" data-count="{count}">'
                f"<title>{escape(tip)}</title></rect>"
            )
            if w >= MIN_LABEL_WIDTH:
                shown = f"{pct:.0f}%" if show == "percent" else str(count)
                out.append(
                    f'<text x="{_num(x + w / 2)}" y="{mid}" text-anchor="middle" dominant-baseline="middle"'
                    f' {font} font-weight="bold" fill="{text_colour_on(fills[k])}">{escape(shown)}</text>'
                )
            x += w
        if total:  # outline: keeps the light segments visible on white (WCAG 1.4.11)
            out.append(
                f'<rect x="{_LEFT}" y="{y}" width="{plot_w}" height="{_BAR}" fill="none"'
                f' stroke="#595959" stroke-width="1"/>'
            )
        out.append("</g>")
        out.append(
            f'<text x="{_LEFT + plot_w + 6}" y="{mid}" dominant-baseline="middle" {font}'
            f' fill="{TEXT_COLOUR}">n = {total}</text>'
        )
    for row, items in enumerate(legend):
        y = bars_h + row * _LEGEND_ROW
        for k, x in items:
            out.append(
                f'<rect x="{_num(x)}" y="{y}" width="{_SWATCH}" height="{_SWATCH}" fill="{fills[k]}"'
                f' stroke="#595959" stroke-width="0.5" data-legend="{k}"/>'
            )
            out.append(
                f'<text x="{_num(x + _SWATCH + 4)}" y="{_num(y + _SWATCH / 2)}" dominant-baseline="middle"'
                f' {font} fill="{TEXT_COLOUR}">{escape(labels[k])}</text>'
            )
    out.append("</svg>")
    return "".join(out)


def _legend_layout(labels: Sequence[str], width: int) -> list[list[tuple[int, float]]]:
    """Legend items packed into rows: [[(category, x), …], …]."""
    rows: list[list[tuple[int, float]]] = [[]]
    x = float(_LEFT)
    for k, label in enumerate(labels):
        item_w = _SWATCH + 4 + math.ceil(_text_width(label)) + 14
        if rows[-1] and x + item_w > width - 4:
            rows.append([])
            x = float(_LEFT)
        rows[-1].append((k, x))
        x += item_w
    return rows
