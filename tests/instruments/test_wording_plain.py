"""Plain words for patients, one word for the hospital, NINDS rater rules (issue 10 §1).

Reads the shipped catalogs (translations/*/LC_MESSAGES/messages.po and the template).
"""
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from epro.core import instruments
from epro.core.instruments.base import PROXY_VOICE, SELF_VOICE

TRANSLATIONS = Path(__file__).resolve().parents[2] / "translations"
PATHS = {
    "zh": TRANSLATIONS / "zh_Hans" / "LC_MESSAGES" / "messages.po",
    "en": TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po",
    "pot": TRANSLATIONS / "messages.pot",
}
REMOVED = (
    "How are you answering?",
    "I am helping the patient: the patient gives the answers",
    "I am answering for the patient",
    "Please choose how you are answering.",
    "Aphasic or stuporous patients who do not understand the questions score 2.",
    "Mild-to-moderate aphasia; some obvious loss of fluency or comprehension",
)


def _read(kind):
    with PATHS[kind].open("rb") as handle:
        return read_po(handle)


@pytest.fixture(scope="module")
def catalogs():
    return {kind: _read(kind) for kind in PATHS}


@pytest.fixture(scope="module")
def zh(catalogs):
    return lambda msgid: catalogs["zh"].get(msgid).string


def _strings(message):
    return message.string if isinstance(message.string, tuple) else (message.string,)


def test_no_zhensuo_anywhere_in_the_chinese_catalog(catalogs):
    found = [m.id for m in catalogs["zh"] if m.id and any("诊所" in s for s in _strings(m))]
    assert found == []


def test_the_clinic_is_the_hospital_in_chinese(zh):
    assert "医院" in zh("Send to my clinic")
    assert "您就诊的医院" in zh("Forgot your password? Ask your clinic or administrator for a reset code.")
    assert "此表由您就诊的医院在工作日查看" in zh(
        "In an emergency, call 120 or go to the hospital now. This form is read by your clinic on working days.")
    assert zh("Thank you. Your clinic has your report and will look at it. If it is an emergency, call 120 or go "
              "to the hospital now.").startswith("谢谢。您就诊的医院已收到您的报告")


def test_grooming_is_explained_as_personal_hygiene_on_the_patient_screen(zh):
    item = instruments.get("bi").item("grooming")
    assert zh(item.text) == "修饰"  # the clinician's name of the item stays
    for voice in (SELF_VOICE, PROXY_VOICE):
        assert zh(item.wording(voice)).startswith("个人卫生（洗脸、梳头、刷牙、剃须）"), voice
        assert "修饰" not in zh(item.wording(voice))
    assert item.wording(SELF_VOICE).startswith(
        "Personal hygiene (washing your face, combing your hair, brushing your teeth, shaving)")
    assert item.wording(PROXY_VOICE).startswith("Personal hygiene (washing the face")


def test_transfers_are_moving_from_bed_to_chair_and_back(zh):
    item = instruments.get("bi").item("transfers")
    assert zh(item.text) == "床椅转移"
    for voice in (SELF_VOICE, PROXY_VOICE):
        assert zh(item.wording(voice)).startswith("从床上移到椅子上再回到床上"), voice
        assert "转移" not in zh(item.wording(voice))
        assert "bed to a chair and back" in item.wording(voice)


def test_no_jargon_in_the_barthel_questions_patients_read(zh):
    jargon_zh = ("修饰", "转移", "如厕")
    jargon_en = ("Grooming", "Transfers", "Feeding", "Toilet use")
    for item in instruments.get("bi").items:
        for voice in (SELF_VOICE, PROXY_VOICE):
            text = item.wording(voice)
            assert not any(word in zh(text) for word in jargon_zh), (item.key, zh(text))
            assert not any(word in text for word in jargon_en), (item.key, text)


def test_who_is_answering(zh):
    assert zh("Who is answering these questions?") == "现在是谁在回答这些问题？"
    assert zh("The patient answers, with my help") == "患者本人回答，我在旁帮忙"
    assert zh("I answer for the patient") == "我替患者回答"
    assert zh("Please choose who is answering.") == "请选择是谁在回答。"


@pytest.mark.parametrize("kind", list(PATHS))
def test_replaced_wording_is_gone_from_every_catalog(catalogs, kind):
    ids = {m.id for m in catalogs[kind] if m.id}
    assert [msgid for msgid in REMOVED if msgid in ids] == []
    assert "Who is answering these questions?" in ids


def test_english_catalog_has_exactly_the_template_msgids(catalogs):
    def ids(kind):
        return {m.id if isinstance(m.id, str) else m.id[0] for m in catalogs[kind] if m.id}

    assert ids("en") == ids("pot") == ids("zh")
    # English shows the msgid itself: no English msgstr says something else.
    different = [m.id for m in catalogs["en"] if m.id and isinstance(m.string, str) and m.string not in ("", m.id)]
    assert different == []


# ---- NIHSS rater rules (NINDS instructions) ---------------------------------------------------------------------

NIHSS = instruments.get("nihss")


def test_1b_help_scores_1_for_a_patient_who_cannot_speak(zh):
    help_ = NIHSS.item("nihss_1b").help
    for word in ("intubation", "orotracheal trauma", "severe dysarthria", "language barrier", "scores 1"):
        assert word in help_, word
    assert "Aphasic or stuporous" in help_ and "score 2" in help_
    for word in ("气管插管", "严重构音障碍", "语言障碍", "评1分", "失语或昏睡", "评2分"):
        assert word in zh(help_), word


def test_1c_help_uses_the_non_paretic_hand_also_for_the_pantomime(zh):
    help_ = NIHSS.item("nihss_1c").help
    assert "non-paretic hand" in help_ and "pantomime" in help_
    assert "非瘫痪侧的手" in zh(help_) and "示范" in zh(help_)


def test_9_level_1_keeps_without_significant_limitation_on_ideas_expressed(zh):
    label = NIHSS.item("nihss_9").choice(1).label
    assert "some obvious loss of fluency or comprehension" in label
    assert "without significant limitation on ideas expressed" in label
    assert "表达的意思" in zh(label) and "没有明显受限" in zh(label)


def test_coma_and_ataxia_rules_are_shown_as_help(zh):
    coma = NIHSS.item("nihss_1a").help
    assert "1a = 3" in coma and "item 8) as 2" in coma and "item 9) as 3" in coma and "item 7) as 0" in coma
    assert "昏迷" in zh(coma) and "第8项）评2分" in zh(coma) and "第9项）评3分" in zh(coma)
    assert "第7项）评0分" in zh(coma)
    ataxia = NIHSS.item("nihss_7").help
    assert "cannot understand" in ataxia and "paralysed" in ataxia and "评0分" in zh(ataxia)
    assert "scores 2" in NIHSS.item("nihss_8").help and "scores 3" in NIHSS.item("nihss_9").help
