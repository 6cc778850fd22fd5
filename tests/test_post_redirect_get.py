"""Post–redirect–get after a failed staff form: 303 to the page, the message and what was typed once
(never a password), and a reload that posts nothing; the record page's audit trail in words."""
import re

from sqlalchemy import func, select
from test_records import enter_mrs, version_of

from epro.base.orm import db
from epro.core import audit_view
from epro.models import AuditEvent


def _signature_failures(app, rid) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.record_id == rid, AuditEvent.action == "signature_failed"))


def test_wrong_signing_password_redirects_to_the_record_with_the_message(app, login, ids):
    s = login("clinician.a")
    rid = enter_mrs(s, ids["A-001"])
    page = f"/clinic/responses/{rid}"
    wrong = s.post(f"{page}/sign?lang=en", data={"password": "nope", "meaning": "reviewed",
                                                 "version": version_of(app, rid)})
    assert wrong.status_code == 303 and wrong.headers["Location"].endswith(page)
    assert _signature_failures(app, rid) == 1
    shown = s.get(wrong.headers["Location"])
    html = shown.get_data(as_text=True)
    assert shown.status_code == 422 and "password is not right" in html and 'id="record-error"' in html
    assert re.search(r'value="reviewed"[^>]* checked', html), "the chosen meaning was not kept"
    assert "nope" not in html
    # A reload of that page is a GET: nothing is posted, nothing is tried again, the message is gone.
    again = s.get(page + "?lang=en")
    assert again.status_code == 200 and "password is not right" not in again.get_data(as_text=True)
    assert _signature_failures(app, rid) == 1


def test_kept_form_is_not_shown_on_another_page_later(app, login, ids):
    s = login("clinician.a")
    rid = enter_mrs(s, ids["A-001"])
    wrong = s.post(f"/clinic/responses/{rid}/remove?lang=en", data={"reason": " ", "version": version_of(app, rid)})
    assert wrong.status_code == 303
    s.get("/clinic/")  # the person went elsewhere
    html = s.get(f"/clinic/responses/{rid}").get_data(as_text=True)
    assert "Please give a reason" not in html


def test_failed_assessment_keeps_the_answers_through_the_redirect(app, login, ids):
    s = login("clinician.a")
    url = f"/clinic/patients/{ids['A-001']}/visits/M3/nihss"
    rid = re.search(r'name="response_id" value="([^"]+)"', s.get(url).get_data(as_text=True)).group(1)
    r = s.post(url + "?lang=en", data={"nihss_1a": "1", "response_id": rid})
    assert r.status_code == 303 and r.headers["Location"].endswith(url + "?lang=en")
    shown = s.follow(r)
    html = shown.get_data(as_text=True)
    assert shown.status_code == 422 and "Please choose an answer." in html
    assert re.search(r'name="nihss_1a" value="1"[^>]* checked', html), "the typed answer was not kept"
    assert f'value="{rid}"' in html  # the same entry: a second try is not a second record


def test_failed_trial_form_redirects_and_keeps_values(app, login, ids):
    s = login("clinician.a")
    url = f"/clinic/trial/patients/{ids['A-001']}/visits/M1/safety?lang=en"
    r = s.post(url, data={"lab": "abnormal_cs", "neuro": "normal", "imaging": "none"})
    assert r.status_code == 303
    page = s.follow(r)
    html = page.get_data(as_text=True)
    assert page.status_code == 422 and "Please describe what was found." in html
    assert re.search(r'value="abnormal_cs"[^>]* checked', html)


def test_audit_changes_in_words_never_json():
    created = audit_view.changes(None, None, '{"answers": {"MRS0101": 2}, "id": "x", "total": 2}')
    assert [(c.field, c.old, c.new) for c in created] == [("answers.MRS0101", None, 2), ("total", None, 2)]
    removed = audit_view.changes("status", '{"status": "active"}', '{"status": "removed", "removed_reason": "typo"}')
    assert [(c.field, c.old, c.new) for c in removed] == [("status", "active", "removed"),
                                                          ("removed_reason", None, "typo")]
    assert audit_view.changes("version", "1", "2") == [audit_view.Change("version", 1, 2)]
    assert audit_view.changes(None, None, None) == []
    assert audit_view.ACTIONS["create"] == "created"


def test_record_page_audit_table_is_translated_and_zoned(app, login, ids):
    s = login("clinician.a")
    rid = enter_mrs(s, ids["A-001"])
    for lang, words in (("en", ("created", "China Standard Time", "Total")), ("zh", ("创建", "中国标准时间", "总分"))):
        html = s.get(f"/clinic/responses/{rid}?lang={lang}").get_data(as_text=True)
        trail = html[html.index("data-audit-trail"):]
        trail = trail[:trail.index("</table>")]
        assert "{" not in trail and "&#34;" not in trail and "&quot;" not in trail, trail[:400]
        for word in words:
            assert word in trail, (lang, word)
        assert ">create<" not in trail
