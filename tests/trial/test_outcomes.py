"""Change-from-baseline statistics on hand-computed data, mRS counts, and the stacked-bar SVG."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest

from epro.core.trial.outcomes import (
    FILLS,
    MIN_LABEL_WIDTH,
    POOLED,
    Stats,
    change_summary,
    changes_from_baseline,
    contrast,
    describe,
    mrs_distribution,
    stacked_bar_svg,
    study_summary,
    text_colour_on,
)

NS = {"s": "http://www.w3.org/2000/svg"}
VISITS = ("BL", "M1", "M3")
MRS_LABELS = [str(i) for i in range(7)]


def test_describe_four_values() -> None:
    s = describe([4, 1, 3, 2])
    assert s.n == 4
    assert s.mean == 2.5
    assert s.sd == pytest.approx(math.sqrt(5 / 3))  # squared deviations 2.25+0.25+0.25+2.25 = 5, / 3
    assert s.median == 2.5
    assert (s.q1, s.q3, s.iqr) == (1.75, 3.25, 1.5)  # inclusive (type 7): positions 0.75 and 2.25


def test_describe_five_values_with_negatives() -> None:
    s = describe([10, -3, 2, 0, 1])
    assert (s.n, s.mean, s.median, s.q1, s.q3) == (5, 2.0, 1.0, 0.0, 2.0)
    assert s.sd == pytest.approx(math.sqrt(94 / 4))  # 25+4+1+0+64 = 94


def test_describe_small_samples() -> None:
    assert describe([]) == Stats(0, None, None, None, None, None)
    assert describe([]).iqr is None
    assert describe([5]) == Stats(1, 5.0, None, 5.0, 5.0, 5.0)


def test_changes_from_baseline() -> None:
    assert changes_from_baseline({"BL": 10, "M1": 12, "M3": None, "M6": 7}) == {"M1": 2, "M6": -3}
    assert changes_from_baseline({"BL": None, "M1": 12}) == {}
    assert changes_from_baseline({"M1": 12}) == {}


TOTALS = {
    "p1": {"BL": 10, "M1": 12, "M3": 15},
    "p2": {"BL": 20, "M1": 19, "M3": None},
    "p3": {"BL": None, "M1": 5},  # no baseline: contributes nothing
    "p4": {"BL": 8},  # nothing after baseline
}
ARM_OF = {"p1": "a", "p2": "b", "p3": "a", "p4": "b"}


def test_pooled_change_summary() -> None:
    summary = change_summary(TOTALS, VISITS)
    assert list(summary) == [POOLED] and list(summary[POOLED]) == ["M1", "M3"]
    m1 = summary[POOLED]["M1"]  # changes 2 and -1
    assert (m1.n, m1.mean, m1.median, m1.q1, m1.q3) == (2, 0.5, 0.5, -0.25, 1.25)
    assert m1.sd == pytest.approx(math.sqrt(4.5))
    assert summary[POOLED]["M3"] == Stats(1, 5.0, None, 5.0, 5.0, 5.0)


def test_per_arm_change_summary() -> None:
    summary = change_summary(TOTALS, VISITS, ARM_OF, masked=False)
    assert list(summary) == ["a", "b"]
    assert summary["a"]["M1"] == Stats(1, 2.0, None, 2.0, 2.0, 2.0)
    assert summary["b"]["M1"] == Stats(1, -1.0, None, -1.0, -1.0, -1.0)
    assert summary["b"]["M3"].n == 0


def test_masked_summary_never_splits_by_arm() -> None:
    assert list(change_summary(TOTALS, VISITS, ARM_OF, masked=True)) == [POOLED]


def test_summary_errors() -> None:
    with pytest.raises(ValueError, match="arm_of"):
        change_summary(TOTALS, VISITS, masked=False)
    with pytest.raises(ValueError, match="p4"):
        change_summary(TOTALS, VISITS, {"p1": "a", "p2": "b", "p3": "a"}, masked=False)


def test_study_summary_per_instrument() -> None:
    out = study_summary({"bi": TOTALS, "nihss": {"p1": {"BL": 12, "M1": 9}}}, VISITS)
    assert out["bi"][POOLED]["M1"].n == 2
    assert out["nihss"][POOLED]["M1"] == Stats(1, -3.0, None, -3.0, -3.0, -3.0)
    assert out["nihss"][POOLED]["M3"].n == 0


def test_mrs_distribution() -> None:
    dist = mrs_distribution({"BL": [3, 4, 4, None, 6], "M1": []})
    assert dist == {"BL": (0, 0, 0, 1, 2, 0, 1), "M1": (0, 0, 0, 0, 0, 0, 0)}


@pytest.mark.parametrize("bad", [7, -1, True, 2.0, "3"])
def test_mrs_distribution_rejects_non_scores(bad) -> None:
    with pytest.raises(ValueError, match="BL"):
        mrs_distribution({"BL": [1, bad]})


# --- SVG ---------------------------------------------------------------------


def svg(dist=None, **kw) -> ET.Element:
    args = dict(title="mRS by visit", description="Distribution of mRS", id_prefix="mrs", labels=MRS_LABELS)
    args.update(kw)
    return ET.fromstring(stacked_bar_svg(dist if dist is not None else DIST, **args))


DIST = {"BL": (0, 0, 0, 1, 2, 0, 1), "M3": (1, 0, 0, 0, 0, 0, 39), "M6": (0,) * 7}


def _texts(root: ET.Element) -> list[str]:
    return [t.text for t in root.iter(f"{{{NS['s']}}}text")]


def _segments(root: ET.Element, visit: str) -> list[ET.Element]:
    group = next(g for g in root.iterfind("s:g", NS) if g.get("data-visit") == visit)
    return [r for r in group.iterfind("s:rect", NS) if r.get("data-category") is not None]


def test_svg_is_well_formed_and_accessible() -> None:
    root = svg()
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "mrs-title mrs-desc"
    assert root.find("s:title", NS).text == "mRS by visit"
    assert root.find("s:desc", NS).text == "Distribution of mRS"
    out = stacked_bar_svg(DIST, "t", "d", "x", MRS_LABELS)
    assert "<script" not in out and "href" not in out and "style" not in out and "var(" not in out


def test_segments_are_proportional_with_labels() -> None:
    root = svg()
    bl = _segments(root, "BL")
    assert [(r.get("data-category"), r.get("data-count")) for r in bl] == [("3", "1"), ("4", "2"), ("6", "1")]
    widths = [float(r.get("width")) for r in bl]
    assert widths[1] == pytest.approx(2 * widths[0], abs=0.1) and widths[0] == pytest.approx(widths[2], abs=0.1)
    assert [r.find("s:title", NS).text for r in bl] == ["3: 1 (25%)", "4: 2 (50%)", "6: 1 (25%)"]
    texts = _texts(root)
    assert texts.count("25%") == 2 and "50%" in texts
    assert {"BL", "M3", "M6", "n = 4", "n = 40", "n = 0"} <= set(texts)


def test_narrow_segments_carry_no_text() -> None:
    root = svg()
    m3 = _segments(root, "M3")
    narrow, wide = m3
    assert float(narrow.get("width")) < MIN_LABEL_WIDTH <= float(wide.get("width"))
    texts = _texts(root)
    assert "98%" in texts and "3%" not in texts
    assert narrow.find("s:title", NS).text == "0: 1 (2%)"  # still in the tooltip


def test_count_mode() -> None:
    texts = _texts(svg(show="count"))
    assert "2" in texts and "39" in texts and "50%" not in texts


def test_empty_visit_has_a_dashed_outline() -> None:
    group = next(g for g in svg().iterfind("s:g", NS) if g.get("data-visit") == "M6")
    assert group.get("data-n") == "0"
    assert [r.get("stroke-dasharray") for r in group.iterfind("s:rect", NS)] == ["3 2"]


def test_segment_text_contrast_and_fills() -> None:
    assert len(set(FILLS)) == 7
    for fill in FILLS:
        assert contrast(fill, text_colour_on(fill)) >= 4.5  # WCAG 1.4.3
    assert contrast("#ffffff", "#000000") == pytest.approx(21)
    checked = 0
    for group in svg().iterfind("s:g", NS):
        fill = None
        for child in group:
            if child.tag.endswith("rect") and child.get("data-category") is not None:
                fill = child.get("fill")
            elif child.tag.endswith("text"):
                assert fill is not None and contrast(fill, child.get("fill")) >= 4.5
                checked += 1
    assert checked == 4  # 25 %, 50 %, 25 % at BL and 98 % at M3


def test_legend_lists_every_category() -> None:
    root = svg()
    swatches = [r for r in root.iterfind("s:rect", NS) if r.get("data-legend") is not None]
    assert [r.get("data-legend") for r in swatches] == MRS_LABELS
    assert [r.get("fill") for r in swatches] == list(FILLS)


def test_long_chinese_labels_wrap_the_legend() -> None:
    labels = ["无症状", "无明显残疾", "轻度残疾", "中度残疾", "中重度残疾", "重度残疾", "死亡"]
    short, long = svg(), svg(labels=labels)
    assert float(long.get("height")) > float(short.get("height"))
    legend_ys = {r.get("y") for r in long.iterfind("s:rect", NS) if r.get("data-legend") is not None}
    assert len(legend_ys) >= 2
    texts = _texts(long)
    assert set(labels) <= set(texts)


def test_text_is_escaped() -> None:
    evil = '<script>alert("x")</script> & "q"'
    out = stacked_bar_svg({'<M1 "x">': (1, 1)}, evil, evil, "e", ["<0>", "a&b"])
    assert "<script>" not in out
    root = ET.fromstring(out)
    assert root.find("s:title", NS).text == evil and root.find("s:desc", NS).text == evil
    texts = _texts(root)
    assert '<M1 "x">' in texts and "<0>" in texts and "a&b" in texts
    assert root.find("s:g", NS).get("data-visit") == '<M1 "x">'


def test_rows_keep_their_order_and_accept_pairs() -> None:
    root = svg([("M12", (0, 1, 0, 0, 0, 0, 0)), ("BL", (1, 0, 0, 0, 0, 0, 0))])
    assert [g.get("data-visit") for g in root.iterfind("s:g", NS)] == ["M12", "BL"]


@pytest.mark.parametrize(("kw", "message"), [
    (dict(id_prefix="1x"), "id_prefix"),
    (dict(id_prefix="a b"), "id_prefix"),
    (dict(labels=["0", "1"]), "labels"),
    (dict(labels=[str(i) for i in range(8)]), "categories"),
    (dict(show="both"), "show"),
    (dict(dist={"BL": (1, -1, 0, 0, 0, 0, 0)}), "counts"),
    (dict(dist={"BL": (1, 0.5, 0, 0, 0, 0, 0)}), "counts"),
])
def test_invalid_arguments(kw: dict, message: str) -> None:
    dist = kw.pop("dist", DIST)
    with pytest.raises(ValueError, match=message):
        svg(dist, **kw)


def test_ids_are_prefixed() -> None:
    out = stacked_bar_svg(DIST, "t", "d", "chart-7", MRS_LABELS)
    assert set(re.findall(r'\bid="([^"]+)"', out)) == {"chart-7-title", "chart-7-desc"}
