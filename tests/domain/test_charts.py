"""Line-chart SVG: well-formed, accessible, escaped, and honest about gaps."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from epro.core.charts import AXIS_COLOUR, LINE_COLOUR, TEXT_COLOUR, line_chart_svg

NS = {"s": "http://www.w3.org/2000/svg"}
CODES = ("BL", "M1", "M3", "M6", "M9", "M12")


def chart(points, **kw) -> ET.Element:
    args = dict(y_min=0, y_max=100, title="Barthel Index", description="BI over 12 months",
                higher_is_better=True, id_prefix="bi")
    args.update(kw)
    return ET.fromstring(line_chart_svg(points, **args))


def test_well_formed_and_accessible() -> None:
    svg = chart(list(zip(CODES, (40, 55, 60, 70, 80, 85), strict=True)))
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "bi-title bi-desc"
    assert svg.find("s:title", NS).get("id") == "bi-title"
    assert svg.find("s:title", NS).text == "Barthel Index"
    assert svg.find("s:desc", NS).get("id") == "bi-desc"
    assert svg.get("data-better") == "higher"
    texts = [t.text for t in svg.iterfind("s:text", NS)]
    for code in CODES:
        assert code in texts
    assert "0" in texts and "100" in texts  # y ticks
    assert len(svg.findall("s:polyline", NS)) == 1
    assert len(svg.findall("s:polyline", NS)[0].get("points").split()) == 6
    assert len(svg.findall("s:circle", NS)) == 6
    for value in ("40", "85"):
        assert value in texts


def test_no_script_no_external_references_no_css_variables() -> None:
    out = line_chart_svg(list(zip(CODES, (1, 2, 3, 4, 5, 6), strict=True)), y_min=0, y_max=6, title="t",
                         description="d", higher_is_better=False, id_prefix="x")
    assert "<script" not in out and "href" not in out and "var(" not in out and "style" not in out
    assert 'data-better="lower"' in out


def test_escapes_text_arguments() -> None:
    evil = '<script>alert("x")</script> & "q"'
    out = line_chart_svg([("<M1>", 3)], y_min=0, y_max=6, title=evil, description=evil,
                         higher_is_better=True, id_prefix="e")
    assert "<script>" not in out
    svg = ET.fromstring(out)
    assert svg.find("s:title", NS).text == evil
    assert svg.find("s:desc", NS).text == evil
    assert "<M1>" in [t.text for t in svg.iterfind("s:text", NS)]


def test_line_breaks_at_none() -> None:
    svg = chart(list(zip(CODES, (40, 50, None, 60, 65, None), strict=True)))
    lines = svg.findall("s:polyline", NS)
    assert [len(p.get("points").split()) for p in lines] == [2, 2]
    assert len(svg.findall("s:circle", NS)) == 4


def test_isolated_point_gets_a_dot_but_no_line() -> None:
    svg = chart(list(zip(CODES, (40, None, 60, None, None, None), strict=True)))
    assert svg.findall("s:polyline", NS) == []
    assert len(svg.findall("s:circle", NS)) == 2


def test_all_none() -> None:
    svg = chart([(c, None) for c in CODES])
    assert svg.findall("s:polyline", NS) == [] and svg.findall("s:circle", NS) == []
    assert [t.text for t in svg.iterfind("s:text", NS)][-6:] == list(CODES)


def test_single_point() -> None:
    svg = chart([("BL", 42)], width=200)
    (dot,) = svg.findall("s:circle", NS)
    assert 0 < float(dot.get("cx")) < 200
    assert "42" in [t.text for t in svg.iterfind("s:text", NS)]


def test_empty_series() -> None:
    svg = chart([])
    assert svg.findall("s:circle", NS) == []


def test_values_map_inside_the_plot_and_higher_values_sit_higher() -> None:
    svg = chart([("BL", 0), ("M1", 100), ("M3", 150)], height=140)
    ys = [float(c.get("cy")) for c in svg.findall("s:circle", NS)]
    assert ys[0] > ys[1] and ys[2] == ys[1]  # out-of-range value is drawn on the edge
    assert all(0 <= y <= 140 for y in ys)
    assert "150" in [t.text for t in svg.iterfind("s:text", NS)]


def test_ids_unique_without_prefix() -> None:
    a = line_chart_svg([("BL", 1)], y_min=0, y_max=2, title="a", description="a", higher_is_better=True)
    b = line_chart_svg([("BL", 1)], y_min=0, y_max=2, title="a", description="a", higher_is_better=True)
    ida = ET.fromstring(a).find("s:title", NS).get("id")
    idb = ET.fromstring(b).find("s:title", NS).get("id")
    assert ida != idb


@pytest.mark.parametrize("prefix", ['x" onload="alert(1)', "1abc", ""])
def test_rejects_unsafe_id_prefix(prefix: str) -> None:
    with pytest.raises(ValueError):
        line_chart_svg([], y_min=0, y_max=1, title="", description="", higher_is_better=True, id_prefix=prefix)


def test_rejects_empty_range() -> None:
    with pytest.raises(ValueError):
        line_chart_svg([], y_min=5, y_max=5, title="", description="", higher_is_better=True, id_prefix="r")


def _contrast(hex_colour: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(int(hex_colour[i:i + 2], 16) / 255) for i in (1, 3, 5))
    return 1.05 / (0.2126 * r + 0.7152 * g + 0.0722 * b + 0.05)


def test_text_colours_contrast_at_least_4_5_on_white() -> None:
    svg = chart(list(zip(CODES, (40, 55, 60, 70, 80, 85), strict=True)))
    fills = {t.get("fill") for t in svg.iterfind("s:text", NS)}
    assert fills <= {TEXT_COLOUR, LINE_COLOUR}
    for colour in (TEXT_COLOUR, LINE_COLOUR, AXIS_COLOUR):
        assert _contrast(colour) >= 4.5
