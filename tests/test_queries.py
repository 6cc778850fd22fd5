"""Data queries and source-data verification through the web pages, on SQLite and PostgreSQL.

A monitor raises a query on a clinician's value, the clinician answers with a
correction (the one correction path, with a reason), the monitor closes it; a
query on the patient's own answer takes notes only and never changes it; a
verified form that is corrected must be verified again; everything is audited
and no thread is deleted.
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from epro.base.orm import db
from epro.models import AuditEvent, DataQuery, Patient, QueryMessage, Response, SourceVerification, User
from epro.services import queries, unit_of_work, verification
from epro.services.errors import Invalid


def response_id(app, subject: str, visit: str, instrument: str) -> str:
    with app.app_context():
        return db.session.scalar(select(Response.id).join(Patient, Patient.id == Response.patient_id).where(
            Patient.subject_code == subject, Response.visit_code == visit, Response.instrument == instrument,
            Response.status == "active").order_by(Response.received_at))


def raise_query(s, rid: str, text: str, item: str = "") -> int:
    r = s.post(f"/queries/new/{rid}", data={"item": item, "text": text})
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    return int(re.search(r"/queries/(\d+)$", r.headers["Location"]).group(1))


def query(app, qid: int) -> tuple[str, str | None, int]:
    with app.app_context():
        q = db.session.get(DataQuery, qid)
        return q.status, q.correction_id, q.version


def version(app, qid: int) -> int:
    return query(app, qid)[2]


def test_monitor_raises_clinician_corrects_monitor_closes(app, login, ids, db_backend):
    pid = ids["A-001"]
    rid = response_id(app, "A-001", "M1", "mrs")
    monitor, clinician = login("monitor.a"), login("clinician.a")
    form = monitor.get(f"/queries/new/{rid}?lang=en").get_data(as_text=True)
    assert 'name="item"' in form and "Raise the query" in form
    blank = monitor.post(f"/queries/new/{rid}?lang=en", data={"item": "MRS0101", "text": "  "})
    blank = monitor.follow(blank)
    assert blank.status_code == 422 and "Please write a message." in blank.get_data(as_text=True)
    qid = raise_query(monitor, rid, "The source says mRS 3 at M1.", "MRS0101")
    assert query(app, qid)[0] == "open"

    # The clinician sees it on the site list, the timeline and the record.
    listing = clinician.get("/clinic/?lang=en").get_data(as_text=True)
    row = re.search(r'<tr data-subject="A-001"[^>]*>.*?</tr>', listing, re.S).group(0)
    assert 'data-open-queries="1"' in row and "Open queries: 1" in row
    timeline = clinician.get(f"/clinic/patients/{pid}?lang=en").get_data(as_text=True)
    assert f'data-timeline-query="{qid}"' in timeline and f"query {qid} open" in timeline
    page = clinician.get(f"/queries/{qid}?lang=en").get_data(as_text=True)
    assert "The source says mRS 3 at M1." in page and 'data-step="answer"' in page and "data-correct" in page
    assert 'data-step="close"' not in page  # only monitors and data managers close

    # A clinician may not close; a monitor may not answer.
    assert clinician.follow(clinician.post(f"/queries/{qid}/close", data={"text": "", "version": version(app, qid)})
                            ).status_code == 403
    assert monitor.follow(monitor.post(f"/queries/{qid}/answer", data={"text": "x", "version": version(app, qid)})
                          ).status_code == 403
    assert query(app, qid)[0] == "open"

    # The correction goes through the assessment form, with a reason.
    url = f"/clinic/patients/{pid}/visits/M1/mrs?replaces={rid}&query={qid}"
    html = clinician.get(url + "&lang=en").get_data(as_text=True)
    assert f'data-answering-query="{qid}"' in html
    new_id = re.search(r'name="response_id" value="([^"]+)"', html).group(1)
    seen = re.search(r'name="version" value="(\d+)"', html).group(1)
    fields = {"MRS0101": "3", "response_id": new_id, "version": seen, "assessed_on": re.search(
        r'name="assessed_on" value="([^"]+)"', html).group(1), "assessed_at": re.search(
        r'name="assessed_at" value="([^"]+)"', html).group(1)}
    no_reason = clinician.follow(clinician.post(url, data={**fields, "reason": ""}))
    assert no_reason.status_code == 422 and query(app, qid)[0] == "open"
    saved = clinician.post(url, data={**fields, "reason": "Copied from the wrong line of the CRF"})
    assert saved.status_code == 302 and saved.headers["Location"].endswith(f"/queries/{qid}")
    status, correction, _v = query(app, qid)
    assert (status, correction) == ("answered", new_id)
    with app.app_context():
        old, new = db.session.get(Response, rid), db.session.get(Response, new_id)
        assert old.status == "removed" and old.removed_reason == "Copied from the wrong line of the CRF"
        assert new.answers["MRS0101"] == 3 and new.status == "active"
    page = monitor.get(f"/queries/{qid}?lang=en").get_data(as_text=True)
    assert "answered with a correction" in page and 'data-corrected' in page and 'data-step="close"' in page

    # The monitor closes it; nothing more can happen to it, and the thread stays.
    closed = monitor.post(f"/queries/{qid}/close", data={"text": "", "version": version(app, qid)})
    assert closed.status_code == 302
    assert query(app, qid)[0] == "closed"
    again = monitor.follow(monitor.post(f"/queries/{qid}/reopen", data={"text": "again", "version": version(app, qid)}))
    assert again.status_code == 409
    with app.app_context():
        actions = list(db.session.scalars(select(QueryMessage.action).where(QueryMessage.query_id == qid)
                                          .order_by(QueryMessage.id)))
        assert actions == ["raise", "correct", "close"]
        mine = [str(qid)] + [str(m) for m in db.session.scalars(select(QueryMessage.id).where(
            QueryMessage.query_id == qid))]
        trail = list(db.session.execute(select(AuditEvent.action, AuditEvent.table_name, AuditEvent.user_id).where(
            AuditEvent.table_name.in_(("data_queries", "query_messages")), AuditEvent.record_id.in_(mine))
            .order_by(AuditEvent.id)))
        users = dict(db.session.execute(select(User.username, User.id)).all())
    assert ("query_raise", "data_queries", users["monitor.a"]) in trail
    assert ("query_correct", "data_queries", users["clinician.a"]) in trail
    assert ("query_close", "data_queries", users["monitor.a"]) in trail
    assert [a for a, t, _u in trail if t == "query_messages"] == ["query_raise", "query_correct", "query_close"]
    csv = monitor.get(f"/clinic/patients/{pid}/audit.csv").get_data(as_text=True)  # the patient's whole trail
    assert "query_raise,data_queries" in csv and "query_close,query_messages" in csv
    listing = clinician.get("/clinic/?lang=en").get_data(as_text=True)
    row = re.search(r'<tr data-subject="A-001"[^>]*>.*?</tr>', listing, re.S).group(0)
    assert "data-open-queries" not in row and "data-answered-queries" not in row


def test_a_query_on_the_patients_own_answer_takes_a_note_and_never_changes_it(app, login, ids, db_backend):
    rid = response_id(app, "A-001", "M1", "bi")
    with app.app_context():
        before = dict(db.session.get(Response, rid).answers)
    dm, clinician = login("datamanager"), login("clinician.a")
    form = dm.get(f"/queries/new/{rid}?lang=en").get_data(as_text=True)
    assert "data-own-source" in form
    qid = raise_query(dm, rid, "Bathing 0 at M1 but 5 at baseline: please check with the patient.", "bathing")
    page = clinician.get(f"/queries/{qid}?lang=en").get_data(as_text=True)
    assert "Answer with a note" in page and "data-correct" not in page
    # The correction form refuses the patient's own answer, with or without the query.
    pid = ids["A-001"]
    for url in (f"/clinic/patients/{pid}/visits/M1/bi?replaces={rid}&query={qid}",
                f"/clinic/patients/{pid}/visits/M1/bi?replaces={rid}"):
        html = clinician.get(url + "&lang=en").get_data(as_text=True)
        data = dict.fromkeys(before, "5") | {"reason": "asked the patient", "response_id": re.search(
            r'name="response_id" value="([^"]+)"', html).group(1), "version": "1"}
        r = clinician.post(url + "&lang=en", data=data)
        r = clinician.follow(r)
        assert r.status_code in (409, 422, 403), r.status_code
        assert "its own source" in r.get_data(as_text=True)
    # And the service refuses too, whatever a page would send.
    with app.app_context():
        q = db.session.get(DataQuery, qid)
        user = db.session.scalar(select(User).where(User.username == "clinician.a"))
        with pytest.raises(queries.QueryError) as refused:
            queries.check_correctable(user, q, q.response)
        assert refused.value.status == 422
        from epro.services import responses
        with pytest.raises(Invalid) as invalid:
            responses.submit(user, q.patient, visit="M1", instrument="bi", answers=dict.fromkeys(before, 5),
                             respondent="clinician", replaces=q.response, reason="x", seen_version=q.response.version)
        assert any(e.field == "replaces" for e in invalid.value.errors)
        db.session.rollback()
    note = clinician.post(f"/queries/{qid}/answer", data={"text": "The patient confirms: the bath is too high.",
                                                         "version": version(app, qid)})
    assert note.status_code == 302
    assert query(app, qid)[:2] == ("answered", None)
    with app.app_context():
        stored = db.session.get(Response, rid)
        assert stored.status == "active" and stored.answers == before
    assert dm.post(f"/queries/{qid}/close", data={"text": "Thank you.", "version": version(app, qid)}
                   ).status_code == 302
    assert query(app, qid)[0] == "closed"


def test_send_back_and_cancel(app, login, db_backend):
    rid = response_id(app, "A-001", "M1", "nihss")
    monitor, clinician = login("monitor.a"), login("clinician.a")
    qid = raise_query(monitor, rid, "Item 1a?")
    assert clinician.post(f"/queries/{qid}/answer", data={"text": "Checked.", "version": version(app, qid)}
                          ).status_code == 302
    assert monitor.follow(monitor.post(f"/queries/{qid}/reopen",
                                       data={"text": "", "version": version(app, qid)})).status_code == 422
    assert monitor.post(f"/queries/{qid}/reopen", data={"text": "Please look at the paper form.",
                                                       "version": version(app, qid)}).status_code == 302
    assert query(app, qid)[0] == "open"
    stale = monitor.post(f"/queries/{qid}/cancel", data={"text": "Raised by mistake.", "version": "1"})
    stale = monitor.follow(stale)
    assert stale.status_code == 409 and query(app, qid)[0] == "open"  # someone moved it since
    assert monitor.post(f"/queries/{qid}/cancel", data={"text": "Raised by mistake.", "version": version(app, qid)}
                        ).status_code == 302
    assert query(app, qid)[0] == "cancelled"
    assert clinician.follow(clinician.post(f"/queries/{qid}/answer", data={"text": "late",
                                                                           "version": version(app, qid)})
                            ).status_code == 409
    with app.app_context():
        assert [m.action for m in db.session.scalars(select(QueryMessage).where(QueryMessage.query_id == qid)
                                                     .order_by(QueryMessage.id))] == [
            "raise", "answer", "reopen", "cancel"]


def test_source_verification_is_cleared_by_a_correction(app, login, ids, db_backend):
    pid = ids["A-001"]
    rid = response_id(app, "A-001", "M1", "mmse")
    monitor, clinician, dm = login("monitor.a"), login("clinician.a"), login("datamanager")
    record = monitor.get(f"/clinic/responses/{rid}?lang=en").get_data(as_text=True)
    assert 'data-verification="open"' in record and 'id="verify-form"' in record
    assert 'id="verify-form"' not in clinician.get(f"/clinic/responses/{rid}").get_data(as_text=True)
    assert dm.post(f"/queries/records/{rid}/verify", data={}).status_code == 404  # monitors only
    assert clinician.post(f"/queries/records/{rid}/verify", data={}).status_code == 404
    assert monitor.post(f"/queries/records/{rid}/verify", data={}).status_code == 302
    record = monitor.get(f"/clinic/responses/{rid}?lang=en").get_data(as_text=True)
    assert 'data-verification="verified"' in record and 'id="verify-form"' not in record
    # twice is refused (and nothing is added)
    monitor.post(f"/queries/records/{rid}/verify", data={})
    with app.app_context():
        assert len(db.session.scalars(select(SourceVerification).where(
            SourceVerification.response_id == rid)).all()) == 1
    timeline = clinician.get(f"/clinic/patients/{pid}?lang=en").get_data(as_text=True)
    assert 'data-sdv="verified"' in timeline
    # A patient's own answer is never verified.
    bi = response_id(app, "A-001", "M1", "bi")
    assert 'id="verify-form"' not in monitor.get(f"/clinic/responses/{bi}").get_data(as_text=True)
    monitor.post(f"/queries/records/{bi}/verify", data={})
    with app.app_context():
        assert db.session.scalar(select(SourceVerification).where(SourceVerification.response_id == bi)) is None
    # The clinician corrects the verified form (the record page's own correction, no query).
    url = f"/clinic/patients/{pid}/visits/M1/mmse?replaces={rid}"
    html = clinician.get(url).get_data(as_text=True)
    values = dict(re.findall(r'<input type="radio" name="(\w+)" value="(\d+)"\s+checked', html))
    fields = {**values, "response_id": re.search(r'name="response_id" value="([^"]+)"', html).group(1),
              "version": re.search(r'name="version" value="(\d+)"', html).group(1), "reason": "recount",
              "assessed_on": re.search(r'name="assessed_on" value="([^"]+)"', html).group(1),
              "assessed_at": re.search(r'name="assessed_at" value="([^"]+)"', html).group(1)}
    assert clinician.post(url, data=fields).status_code == 302, values
    new_id = fields["response_id"]
    with app.app_context():
        row = db.session.scalar(select(SourceVerification).where(SourceVerification.response_id == rid))
        assert row.cleared_at is not None and (row.cleared_reason, row.replaced_by_id) == ("corrected", new_id)
        trail = db.session.scalar(select(AuditEvent).where(AuditEvent.table_name == "source_verifications",
                                                           AuditEvent.action == "verification_cleared"))
        assert trail is not None and trail.reason == "corrected"
    record = monitor.get(f"/clinic/responses/{new_id}?lang=en").get_data(as_text=True)
    assert 'data-verification="again"' in record and 'id="verify-form"' in record
    timeline = clinician.get(f"/clinic/patients/{pid}?lang=en").get_data(as_text=True)
    assert 'data-sdv="again"' in timeline
    assert monitor.post(f"/queries/records/{new_id}/verify", data={}).status_code == 302
    with app.app_context():
        assert verification.state_of(db.session.get(Response, new_id)) == "verified"


def test_removing_a_verified_form_clears_its_verification(app, login, db_backend):
    rid = response_id(app, "A-002", "BL", "nihss")
    monitor, clinician = login("monitor.a"), login("clinician.a")
    assert monitor.post(f"/queries/records/{rid}/verify", data={}).status_code == 302
    with app.app_context():
        v = db.session.get(Response, rid).version
    assert clinician.post(f"/clinic/responses/{rid}/remove", data={"reason": "wrong patient", "version": v}
                          ).status_code == 302
    with app.app_context():
        row = db.session.scalar(select(SourceVerification).where(SourceVerification.response_id == rid))
        assert row.cleared_reason == "removed" and row.replaced_by_id is None


def test_the_overview_by_site_and_age(app, login, db_backend):
    a, b = response_id(app, "A-001", "M1", "nihss"), response_id(app, "B-001", "BL", "nihss")
    monitor, dm = login("monitor.a"), login("datamanager")
    qa = raise_query(monitor, a, "Site A question")
    qb = raise_query(dm, b, "Site B question")
    with app.app_context(), unit_of_work.unit_of_work():  # the site-A query was raised 40 days ago
        from datetime import timedelta
        q = db.session.get(DataQuery, qa)
        q.raised_at = q.raised_at - timedelta(days=40)
    html = monitor.get("/queries/?lang=en").get_data(as_text=True)
    assert f'data-query="{qa}"' in html and f'data-query="{qb}"' not in html  # a monitor: their site
    assert 'id="site-filter"' not in html
    row = re.search(r'<tr data-site="A">.*?</tr>', html, re.S).group(0)
    # with the demo's own query (A-004, twelve days open)
    assert re.search(r'data-open>2<', row) and re.search(r'data-band="1">1<', row) and re.search(
        r'data-band="2">1<', row) and re.search(r"data-oldest>40<", row)
    html = dm.get("/queries/?lang=en").get_data(as_text=True)
    assert f'data-query="{qa}"' in html and f'data-query="{qb}"' in html and 'id="site-filter"' in html
    html = dm.get("/queries/?site=B&lang=en").get_data(as_text=True)
    assert f'data-query="{qa}"' not in html and f'data-query="{qb}"' in html
    other = login("clinician.b")  # site staff see their own site's queries (to answer them)
    html = other.get("/queries/?lang=en").get_data(as_text=True)
    assert f'data-query="{qb}"' in html and f'data-query="{qa}"' not in html
    assert other.get(f"/queries/{qa}").status_code == 404
    assert other.post(f"/queries/{qa}/answer", data={"text": "x", "version": "1"}).status_code == 404


@pytest.mark.parametrize("user", ["patient.a1", "caregiver.a1", "statistician", "admin"])
def test_no_query_page_for_patients_caregivers_statisticians_or_admins(app, login, user, db_backend):
    rid = response_id(app, "A-001", "M1", "nihss")
    qid = raise_query(login("monitor.a"), rid, "A question")
    s = login(user)
    for url in ("/queries/", f"/queries/{qid}", f"/queries/new/{rid}"):
        assert s.get(url).status_code == 404, url
    for url in (f"/queries/{qid}/answer", f"/queries/{qid}/close", f"/queries/new/{rid}",
                f"/queries/records/{rid}/verify"):
        assert s.post(url, data={"text": "x", "version": "1"}).status_code == 404, url
    assert query(app, qid)[0] == "open"


def _english_left(html: str) -> list[str]:
    """English message ids of several words still visible on a Chinese page (none should be)."""
    from pathlib import Path

    from babel.messages.pofile import read_po

    catalog = Path(__file__).resolve().parent.parent / "translations" / "zh_Hans" / "LC_MESSAGES" / "messages.po"
    with catalog.open("rb") as f:
        ids = {m.id for m in read_po(f, locale="zh_Hans") if isinstance(m.id, str) and " " in m.id
               and "%(" not in m.id and len(m.id) > 12}
    text = re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style|svg)\b.*?</\1>", " ", html, flags=re.S))
    text = re.sub(r"\s+", " ", text)
    return [m for m in ids if m in text]


def test_the_query_pages_in_chinese(app, login, ids, db_backend):
    rid = response_id(app, "A-001", "M1", "mrs")
    bi = response_id(app, "A-001", "M1", "bi")
    monitor, clinician = login("monitor.a"), login("clinician.a")
    qid = raise_query(monitor, rid, "请核对", "MRS0101")
    raise_query(monitor, bi, "请核对洗澡这一项", "bathing")
    pages = [(monitor, u) for u in ("/queries/", f"/queries/{qid}", f"/queries/new/{rid}", f"/queries/new/{bi}",
                                    f"/clinic/responses/{rid}")]
    pages += [(clinician, u) for u in (f"/queries/{qid}", f"/clinic/patients/{ids['A-001']}", "/clinic/",
                                       f"/clinic/patients/{ids['A-001']}/visits/M1/mrs?replaces={rid}&query={qid}")]
    for s, url in pages:
        sep = "&" if "?" in url else "?"
        html = s.get(f"{url}{sep}lang=zh").get_data(as_text=True)
        assert '<html lang="zh-Hans">' in html
        assert "质疑" in html, url
        assert _english_left(html) == [], url
    english = monitor.get(f"/queries/{qid}?lang=en").get_data(as_text=True)
    assert "awaiting the site" in english and "质疑" not in english.replace("请核对", "")


def test_the_response_list_api_carries_query_status_for_staff(app, login, ids, db_backend):
    rid = response_id(app, "A-001", "M1", "mrs")
    bi = response_id(app, "A-001", "M1", "bi")
    monitor = login("monitor.a")
    raise_query(monitor, rid, "Please check.")
    assert monitor.post(f"/queries/records/{rid}/verify", data={}).status_code == 302
    rows = {r["id"]: r for r in monitor.get(f"/api/v1/patients/{ids['A-001']}/responses").get_json()["responses"]}
    assert rows[rid]["queries"] == {"open": 1, "answered": 0} and rows[rid]["source_verified"] is True
    assert rows[bi]["queries"] == {"open": 0, "answered": 0} and rows[bi]["source_verified"] is None
    mine = login("patient.a1").get(f"/api/v1/patients/{ids['A-001']}/responses").get_json()["responses"]
    assert all("queries" not in r and "source_verified" not in r for r in mine)  # staff only


def test_the_demo_has_one_open_query_twelve_days_old(app, login, ids, db_backend):
    html = login("monitor.a").get("/queries/?lang=en").get_data(as_text=True)
    row = re.search(r'<tr data-query="\d+" data-subject="A-004">.*?</tr>', html, re.S).group(0)
    assert re.search(r"data-days-open>12<", row) and 'data-query-status="open"' in row
    timeline = login("clinician.a").get(f"/clinic/patients/{ids['A-004']}").get_data(as_text=True)
    assert re.search(r'<tr id="visit-M3".*?data-timeline-query=', timeline, re.S)
    assert "data-query=" not in login("clinician.b").get("/queries/").get_data(as_text=True)


def test_threads_and_verifications_are_never_deleted(app, login, db_backend):
    rid = response_id(app, "A-001", "M1", "nihss")
    monitor = login("monitor.a")
    qid = raise_query(monitor, rid, "A question")
    assert monitor.post(f"/queries/records/{rid}/verify", data={}).status_code == 302
    with app.app_context():
        for row in (db.session.get(DataQuery, qid),
                    db.session.scalar(select(QueryMessage).where(QueryMessage.query_id == qid)),
                    db.session.scalar(select(SourceVerification).where(SourceVerification.response_id == rid))):
            db.session.delete(row)
            with pytest.raises(queries.ThreadsAreKept):
                db.session.flush()
            db.session.rollback()
        from sqlalchemy import delete

        from epro.services.audit import UnauditedBulkChange
        with pytest.raises(UnauditedBulkChange):  # nor in bulk
            db.session.execute(delete(QueryMessage).where(QueryMessage.query_id == qid))
        db.session.rollback()
        assert db.session.get(DataQuery, qid) is not None
