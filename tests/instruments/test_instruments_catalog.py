"""Every text of the instruments is marked for translation and has Chinese."""

import ast
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from epro.core.instruments import all_instruments
from epro.core.instruments.base import _MESSAGES, _NOT_A_MAPPING
from epro.core.instruments.mmse import EDUCATION_LEVELS, education_bands

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "epro" / "core" / "instruments"
ZH_PO = REPO / "translations" / "zh_Hans" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\([a-z_]+\)s")


def marked_strings():
    """The literal argument of every N_() call in the package."""
    found = set()
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "N_":
                (argument,) = node.args
                assert isinstance(argument, ast.Constant) and isinstance(argument.value, str), (
                    f"{path.name}:{node.lineno}: N_ needs a plain string literal"
                )
                found.add(argument.value)
    return found


def shown_strings():
    """Every text the definitions show to people (bare numbers excepted)."""
    texts = set(_MESSAGES.values()) | {_NOT_A_MAPPING}
    for inst in all_instruments():
        texts |= {inst.name, inst.instructions}
        texts |= {inst.proxy_instructions} - {""}
        texts |= {band.label for band in inst.bands}
        for item in inst.items:
            texts.add(item.text)
            texts |= {item.ask, item.proxy} - {""}
            if item.help:
                texts.add(item.help)
            texts |= {choice.label for choice in item.choices if not choice.label.isdigit()}
    texts |= {label for _, label in EDUCATION_LEVELS}
    texts |= {band.label for band in education_bands("primary")}
    return texts


@pytest.fixture(scope="module")
def zh_catalog():
    with ZH_PO.open("rb") as handle:
        return read_po(handle)


def test_everything_shown_is_marked():
    assert shown_strings() <= marked_strings()


def test_every_marked_string_has_a_chinese_translation(zh_catalog):
    problems = []
    for msgid in sorted(marked_strings()):
        message = zh_catalog.get(msgid)
        if message is None or not message.string:
            problems.append(f"untranslated: {msgid!r}")
        elif message.fuzzy:
            problems.append(f"fuzzy: {msgid!r}")
        elif sorted(PLACEHOLDER.findall(msgid)) != sorted(PLACEHOLDER.findall(message.string)):
            problems.append(f"placeholders differ: {msgid!r}")
    assert not problems, "\n".join(problems)


def test_standard_chinese_names(zh_catalog):
    def zh(msgid):
        return zh_catalog.get(msgid).string

    assert zh("Barthel Index") == "Barthel指数"
    assert zh("Geriatric Depression Scale (GDS-15)") == "老年抑郁量表(GDS-15)"
    assert zh("NIH Stroke Scale") == "美国国立卫生研究院卒中量表(NIHSS)"
    assert zh("Modified Rankin Scale") == "改良Rankin量表(mRS)"
    assert zh("Mini-Mental State Examination") == "简易精神状态检查(MMSE)"
    assert zh("Are you basically satisfied with your life?") == "您对生活基本上满意吗？"
    bi = [item.text for item in all_instruments()[0].items]
    assert [zh(text) for text in bi] == [
        "进食", "洗澡", "修饰", "穿衣", "控制大便", "控制小便", "如厕", "床椅转移", "平地行走（约45米）", "上下楼梯",
    ]
