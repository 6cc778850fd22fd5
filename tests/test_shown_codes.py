"""A one-time code is issued by a POST and shown on the page after a redirect (epro.web.shown_codes):
a reload or the language switch shows the same code and issues none; any other page forgets it."""
import re

from sqlalchemy import func, select

from epro.base.orm import db
from epro.models import ActivationCode
from epro.services import activation

CODE = re.compile(r"data-(?:activation|reset)-code>([A-Z0-9-]+)<")


def count_codes(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(ActivationCode))


def code_in(response) -> str | None:
    match = CODE.search(response.get_data(as_text=True))
    return match.group(1) if match else None


def test_a_reload_of_the_clinic_code_page_shows_the_same_code_and_issues_none(app, login, ids):
    s = login("clinician.a")
    url = f"/clinic/patients/{ids['A-002']}/codes"
    posted = s.post(url + "?lang=en", data={"role": "caregiver"})
    assert posted.status_code == 303 and posted.headers["Location"].endswith(url + "?lang=en")
    # The cookie session carries the code only encrypted: the plain code is nowhere in it.
    cookies = " ".join(posted.headers.getlist("Set-Cookie"))
    first = code_in(s.client.get(posted.headers["Location"]))
    assert first and activation.normalize(first) not in cookies.replace("-", "") and first not in cookies
    before = count_codes(app)
    again = s.get(url + "?lang=en")
    assert code_in(again) == first and "Code for a caregiver" in again.get_data(as_text=True)
    chinese = s.get(url + "?lang=zh")
    assert code_in(chinese) == first and "照护者" in chinese.get_data(as_text=True)
    assert count_codes(app) == before  # a reload issued nothing
    # Another page forgets it: coming back shows the page without a code (a new one is a button away).
    assert s.get("/clinic/?lang=en").status_code == 200
    assert code_in(s.get(url)) is None
    # The code itself still works: forgetting it on the page voids nothing.
    assert app.test_client().get(f"/activate?code={first}").status_code == 200


def test_a_used_code_is_not_shown_again(app, login, ids):
    s = login("clinician.a")
    url = f"/clinic/patients/{ids['A-002']}/codes"
    code = code_in(s.follow(s.post(url, data={"role": "caregiver"})))
    with app.app_context():
        record = activation.find_usable(code)
        record.expires_at = record.created_at  # expired (or used, or replaced): the page says nothing more
        db.session.commit()
    assert code_in(s.get(url)) is None


def test_the_code_is_for_its_own_session_and_patient(app, login, ids):
    s = login("clinician.a")
    code = code_in(s.follow(s.post(f"/clinic/patients/{ids['A-002']}/codes", data={"role": "caregiver"})))
    assert code
    other = login("clinician.a")  # the same person in another browser
    assert code_in(other.get(f"/clinic/patients/{ids['A-002']}/codes")) is None
    assert code_in(s.get(f"/clinic/patients/{ids['A-001']}/codes")) is None


def test_a_reload_of_an_admin_code_or_a_reset_code_issues_none(app, login):
    admin = login("admin")
    invited = admin.post("/admin/users?lang=en", data={"username": "monitor.z", "display_name_zh": "监查员Z",
                                                       "display_name_en": "Monitor Z", "role": "monitor",
                                                       "site": "A"})
    assert invited.status_code == 303
    page = admin.client.get(invited.headers["Location"])
    first = code_in(page)
    assert first and "Account monitor.z invited" in page.get_data(as_text=True)
    before = count_codes(app)
    reloaded = admin.get(invited.headers["Location"])
    assert code_in(reloaded) == first and "Account monitor.z invited" in reloaded.get_data(as_text=True)
    assert count_codes(app) == before
    reset = admin.post("/admin/users/clinician.a/reset?lang=en", data={"username": "clinician.a"})
    assert reset.status_code == 303
    code = code_in(admin.client.get(reset.headers["Location"]))
    assert code and code_in(admin.get(reset.headers["Location"])) == code and count_codes(app) == before + 1
    # Without a code held, the code pages lead back (the account's page, home).
    fresh = login("admin")
    assert fresh.get(invited.headers["Location"]).status_code == 302
    assert fresh.get("/account/reset-code").status_code == 302
