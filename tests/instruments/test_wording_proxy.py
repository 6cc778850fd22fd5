"""A caregiver answering *for* the patient reads every question about the patient (issue 10 §1).

The catalogs are read as shipped (translations/*/LC_MESSAGES/messages.po): the
Chinese proxy wording speaks of 他/她, the English of "he or she"; the patient's
own wording (also when a caregiver only helps) speaks to 您 / "you".  Keys and
scoring are the same in both voices.
"""
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from epro.core import instruments
from epro.core.instruments.base import PROXY_VOICE, SELF_VOICE, voice_for

TRANSLATIONS = Path(__file__).resolve().parents[2] / "translations"
SELF_REPORTS = ("gds15", "gds30")
YOU = re.compile(r"\b(you|your|yourself)\b", re.I)
HE_OR_SHE = re.compile(r"\b(he or she|him or her|his or her)\b")


def _catalog(locale):
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle)


@pytest.fixture(scope="module")
def zh():
    catalog = _catalog("zh_Hans")
    return lambda msgid: catalog.get(msgid).string


@pytest.fixture(scope="module")
def en_ids():
    return {m.id for m in _catalog("en") if m.id}


def test_the_respondent_picks_the_voice():
    assert voice_for("caregiver-proxy") == PROXY_VOICE
    for respondent in ("patient", "caregiver-assisted", "clinician", None):
        assert voice_for(respondent) == SELF_VOICE, respondent


@pytest.mark.parametrize("code", SELF_REPORTS)
def test_every_gds_item_asks_about_the_patient_for_a_proxy(code, zh, en_ids):
    definition = instruments.get(code)
    assert definition.has_proxy_wording
    for item in definition.items:
        own, proxy = item.wording(SELF_VOICE), item.wording(PROXY_VOICE)
        assert own == item.text and proxy == item.proxy and proxy != own, item.key
        assert YOU.search(own) and not YOU.search(proxy), (item.key, proxy)
        assert HE_OR_SHE.search(proxy), (item.key, proxy)
        assert "您" in zh(own), item.key
        assert "他/她" in zh(proxy) and "您" not in zh(proxy), (item.key, zh(proxy))
        assert {own, proxy} <= en_ids, item.key


def test_gds_item_1_in_both_voices(zh):
    item = instruments.get("gds15").item("GDS0201")
    assert item.wording(PROXY_VOICE) == "Is he or she basically satisfied with his or her life?"
    assert zh(item.wording(PROXY_VOICE)) == "他/她对自己的生活基本满意吗？"
    assert zh(item.wording(SELF_VOICE)) == "您对生活基本上满意吗？"


def test_gds_items_12_and_15_keep_the_mainland_version_in_the_third_person(zh):
    gds = instruments.get("gds15")
    assert "活着毫无意义" in zh(gds.item("GDS0212").wording(PROXY_VOICE))
    assert zh(gds.item("GDS0215").wording(PROXY_VOICE)).endswith("比他/她强？")


@pytest.mark.parametrize("code", SELF_REPORTS)
def test_gds_instructions_speak_of_the_patient_for_a_proxy(code, zh):
    definition = instruments.get(code)
    own, proxy = definition.instructions_in(SELF_VOICE), definition.instructions_in(PROXY_VOICE)
    assert own == definition.instructions and proxy != own
    assert "you have felt" in own and "he or she has felt" in proxy and "for the patient" in proxy
    assert "您过去一周" in zh(own)
    assert "替患者回答" in zh(proxy) and "他/她过去一周" in zh(proxy)


def test_barthel_speaks_to_the_patient_and_about_the_patient_for_a_proxy(zh, en_ids):
    bi = instruments.get("bi")
    assert bi.has_proxy_wording
    for item in bi.items:
        own, proxy = item.wording(SELF_VOICE), item.wording(PROXY_VOICE)
        assert own == item.ask and proxy == item.proxy and own != item.text, item.key
        assert YOU.search(own) and not YOU.search(proxy), (item.key, own, proxy)
        assert "he or she" in proxy, item.key
        assert "您" in zh(own) and "他/她" not in zh(own), (item.key, zh(own))
        assert "他/她" in zh(proxy) and "您" not in zh(proxy), (item.key, zh(proxy))
        assert {own, proxy} <= en_ids, item.key


def test_barthel_instructions_in_both_voices(zh):
    bi = instruments.get("bi")
    own, proxy = bi.instructions_in(SELF_VOICE), bi.instructions_in(PROXY_VOICE)
    assert "what you actually do now" in own and "the patient" not in own
    assert "what the patient actually does now" in proxy and "he or she might" in proxy
    assert "选择您现在实际的情况" in zh(own) and "患者" not in zh(own)
    assert "选择患者现在实际的情况" in zh(proxy) and "他/她可能做到" in zh(proxy)


@pytest.mark.parametrize("code", ["nihss", "mrs", "mmse"])
def test_clinician_instruments_have_one_wording(code):
    definition = instruments.get(code)
    assert not definition.has_proxy_wording
    assert definition.instructions_in(PROXY_VOICE) == definition.instructions
    for item in definition.items:
        assert item.wording(PROXY_VOICE) == item.wording(SELF_VOICE) == item.text, item.key


def test_barthel_keeps_its_short_item_names_for_clinicians():
    # Clinician pages (record, assessment) show item.text: the names of the Chinese form.
    bi = instruments.get("bi")
    assert bi.item("grooming").text == "Grooming"
    assert bi.item("transfers").text == "Moving from bed to chair and back"


@pytest.mark.parametrize("code", ["bi", "gds15", "gds30"])
def test_wording_does_not_change_keys_or_scoring(code):
    definition = instruments.get(code)
    answers = {item.key: item.choices[-1].value for item in definition.items}
    own = definition.score(answers, respondent="caregiver-assisted")
    proxy = definition.score(answers, respondent="caregiver-proxy")
    assert proxy.total == own.total and proxy.answers == own.answers
    assert ("proxy" in proxy.flags) is definition.self_report_only
    assert "proxy" not in own.flags


def test_the_caregivers_to_do_line_is_about_the_patient(zh):
    gds = instruments.get("gds15")
    assert gds.task_hint == "Your mood — 15 questions" and zh(gds.task_hint).startswith("您的心情")
    assert gds.caregiver_task_hint == "The patient's mood — 15 questions"
    assert zh(gds.caregiver_task_hint) == "患者的心情 — 15个问题"
