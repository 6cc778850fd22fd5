"""Every trial page in Chinese: no English message left untranslated."""
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

CATALOG = Path(__file__).resolve().parents[2] / "translations" / "zh_Hans" / "LC_MESSAGES" / "messages.po"


def english_ids():
    with CATALOG.open("rb") as f:
        catalog = read_po(f, locale="zh_Hans")
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}
    return sorted({i for i in ids if " " in i and "%(" not in i and len(i) > 12}, key=len, reverse=True)


@pytest.mark.sqlite_only  # rendering does not depend on the database; checked on SQLite
def test_trial_pages_render_in_chinese(login, trial, text, db_backend):
    leftovers_ids = english_ids()
    a, b = trial.study_id("IT-HMSC"), trial.study_id("BMSC")
    pages = {
        "clinician.b": ["/clinic/trial/", f"/clinic/trial/studies/{b}/screenings/new",
                        f"/clinic/trial/screenings/{trial.screening_id('S-B-001')}",
                        f"/clinic/trial/screenings/{trial.screening_id('S-B-002')}",
                        f"/clinic/trial/screenings/{trial.screening_id('S-B-003')}/edit",
                        f"/clinic/trial/studies/{b}/safety", f"/clinic/trial/studies/{b}/outcomes",
                        f"/clinic/trial/patients/{trial.patient_id('B-001')}/infusions"],
        "investigator.a": ["/clinic/", f"/clinic/trial/studies/{a}/allocation", f"/clinic/trial/studies/{a}/safety",
                           f"/clinic/trial/studies/{a}/outcomes",
                           f"/clinic/trial/patients/{trial.patient_id('A-002')}/adverse-events"],
        "clinician.a": ["/clinic/", f"/clinic/trial/studies/{a}/outcomes"],
    }
    for user, urls in pages.items():
        s = login(user)
        for url in urls:
            r = s.get(url + "?lang=zh")
            assert r.status_code == 200, url
            body = text(re.sub(r"<svg\b.*?</svg>", " ", r.get_data(as_text=True), flags=re.S))
            assert [m for m in leftovers_ids if m in body] == [], url
            assert re.search(r"[\u4e00-\u9fff]", body)
