"""Both languages for real: complete catalogs, a current template, pages in Chinese."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from support.page_list import pages_for

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "translations" / "zh_Hans" / "LC_MESSAGES" / "messages.po"


def read(path: Path, locale: str):
    with path.open("rb") as f:
        return read_po(f, locale=locale)


def ids(catalog) -> set:
    return {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}


def test_every_chinese_message_is_translated_and_not_fuzzy():
    catalog = read(CATALOG, "zh_Hans")
    bad = [m.id for m in catalog if m.id and (
        m.fuzzy or not m.string or (isinstance(m.string, tuple) and not all(m.string)))]
    assert bad == []


def test_placeholders_survive_translation():
    catalog = read(CATALOG, "zh_Hans")
    problems = [(m.id, str(e)) for m in catalog if m.id for e in m.check(catalog)]
    assert problems == []
    for m in catalog:
        if isinstance(m.id, str) and m.id:
            assert set(re.findall(r"\{\w+\}", m.id)) == set(re.findall(r"\{\w+\}", m.string)), m.id


def test_template_is_current(tmp_path):
    """Re-extract: a message in the code but not in messages.pot means a stale template."""
    out = tmp_path / "fresh.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
                    "-k", "N_", "-k", "_l", "-k", "lazy_gettext", "--no-location", "--omit-header",
                    "-o", str(out), "."], cwd=ROOT, check=True, capture_output=True)
    fresh = ids(read(out, "en"))
    committed = ids(read(ROOT / "translations" / "messages.pot", "en"))
    assert fresh - committed == set(), "run `epro translate update` and translate the new messages"
    assert committed - fresh == set(), "run `epro translate update` to drop removed messages"
    assert ids(read(CATALOG, "zh_Hans")) == committed


def visible_text(html: str) -> str:
    html = re.sub(r"<(script|style|svg)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r"<[^>]+>", " ", html)
    return re.sub(r"\s+", " ", html)


@pytest.fixture(scope="module")
def english_ids():
    """English message ids of at least two words: if one shows on a Chinese page, it was not translated."""
    catalog = read(CATALOG, "zh_Hans")
    return sorted({i for i in ids(catalog) if " " in i and "%(" not in i and len(i) > 12}, key=len, reverse=True)


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.sqlite_only  # rendering does not depend on the database; checked on SQLite
def test_every_page_renders_in_both_languages(login, ids, english_ids, lang, client, db_backend):
    checked = 0
    for username, urls in pages_for(ids).items():
        s = login(username)
        for url in urls:
            sep = "&" if "?" in url else "?"
            r = s.get(f"{url}{sep}lang={lang}")
            assert r.status_code == 200, url
            html = r.get_data(as_text=True)
            assert f'<html lang="{"zh-Hans" if lang == "zh" else "en"}">' in html
            if lang == "zh":
                text = visible_text(html)
                leftovers = [m for m in english_ids if m in text]
                assert leftovers == [], (url, leftovers[:3])
                assert re.search(r"[\u4e00-\u9fff]", text), url
            checked += 1
    for url in ("/login", "/activate", "/nope"):
        html = client.get(f"{url}?lang={lang}").get_data(as_text=True)
        if lang == "zh":
            assert [m for m in english_ids if m in visible_text(html)] == [], url
    assert checked >= 15


def test_dates_are_formatted_for_the_locale(login, ids, db_backend):
    zh = login("patient.a1").get("/me?lang=zh").get_data(as_text=True)
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日", zh)
    en = login("patient.a1").get("/me?lang=en").get_data(as_text=True)
    assert re.search(r"(January|February|March|April|May|June|July|August|September|October|November|December)"
                     r" \d{1,2}, \d{4}", en)
