"""The printable activation card: the code, its QR code, steps in the patient's language, the expiry."""
import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from sqlalchemy import select

from epro.base.orm import db
from epro.models import ActivationCode, Patient


def set_language(app, pid, language):
    with app.app_context():
        db.session.get(Patient, pid).language = language
        db.session.commit()


def card_of(html):
    return re.search(r'<section class="activation-card".*?</section>', html, re.S).group(0)


def latest_code(app, pid):
    with app.app_context():
        record = db.session.scalar(select(ActivationCode).where(ActivationCode.patient_id == pid)
                                   .order_by(ActivationCode.id.desc()))
        zone = ZoneInfo(db.session.get(Patient, pid).site.timezone)
        return record, zone


def test_card_in_chinese_for_a_chinese_patient_on_an_english_page(app, login, ids):
    pid = ids["A-002"]
    set_language(app, pid, "zh")
    s = login("clinician.a")
    html = s.follow(s.post(f"/clinic/patients/{pid}/codes?lang=en", data={"role": "caregiver"})).get_data(as_text=True)
    assert '<html lang="en">' in html and "Print card" in html  # the page is the clinician's language
    card = card_of(html)
    assert 'lang="zh-Hans"' in card
    assert "epro 照护者激活卡" in card and "打开手机相机，对准方形二维码" in card
    assert "已经是 epro 的照护者？请先登录" in card  # caregiver-only step
    assert "Open the camera" not in card
    code = re.search(r"data-activation-code>([A-Z0-9]{4}-[A-Z0-9]{4})<", card).group(1)
    assert "<svg" in card and 'role="img"' in card
    assert f"/activate?code={code}" in card
    record, zone = latest_code(app, pid)
    local = record.expires_at.astimezone(zone).replace(tzinfo=None)
    assert format_datetime(local, "medium", locale="zh_Hans") in card
    assert "此激活码只能使用一次，有效期至" in card
    # The plain code is not stored: only its hash.
    with app.app_context():
        stored = db.session.scalars(select(ActivationCode.code_hash)).all()
    assert all(code.replace("-", "") not in h for h in stored)


def test_card_in_english_for_an_english_patient_on_a_chinese_page(app, login, ids):
    pid = ids["A-002"]
    set_language(app, pid, "en")
    with app.app_context():
        db.session.get(Patient, pid).user_id = None
        db.session.commit()
    s = login("clinician.a")
    html = s.follow(s.post(f"/clinic/patients/{pid}/codes?lang=zh", data={"role": "patient"})).get_data(as_text=True)
    assert '<html lang="zh-Hans">' in html and "打印激活卡" in html
    card = card_of(html)
    assert 'lang="en"' in card and "Your epro activation card" in card
    assert "Open the camera of your phone and point it at the square code." in card
    assert "Already a caregiver" not in card and "打开手机相机" not in card
    record, zone = latest_code(app, pid)
    when = format_datetime(record.expires_at.astimezone(zone).replace(tzinfo=None), "medium", locale="en")
    assert f"The code works once, until {when}." in card
    assert record.expires_at > datetime.now(UTC)


def test_card_only_in_the_issuing_response_and_print_layout(app, login, ids):
    s = login("clinician.a")
    page = s.get(f"/clinic/patients/{ids['A-002']}/codes?lang=en").get_data(as_text=True)
    assert "activation-card" not in page  # no code, no card
    issued = s.follow(s.post(f"/clinic/patients/{ids['A-002']}/codes?lang=en", data={"role": "caregiver"}))
    assert issued.status_code == 200 and 'data-print hidden' in issued.get_data(as_text=True)
    assert "print.js" in issued.get_data(as_text=True)
    css = (Path(__file__).resolve().parent.parent / "static" / "css" / "app.css").read_text()
    assert "@page card { size: A6 portrait" in css and ".activation-card { page: card;" in css
