"""Infusions: dose from weight, volume warning, the second one's window, day 0 = first infusion."""
import json
from datetime import timedelta

from sqlalchemy import select

from epro.core.schedule import add_months


def _infuse(s, pid, day, **extra):
    data = {"given_on": day.isoformat(), "given_time": "09:30", "weight_kg": "65", "volume_ml": "80",
            "lot": "LOT-1", "given_by": extra.pop("given_by"), **extra}
    return s.post(f"/clinic/trial/patients/{pid}/infusions?lang=en", data=data)


def test_two_infusions_dose_volume_window_and_day0(login, trial, text):
    from epro.models import AuditEvent, Infusion, Patient, User, VisitProgress

    today = trial.today()
    pid = trial.add_patient("BMSC", "B", "B-900", "bmsc", day0=today - timedelta(days=20))
    clinician = trial.scalar(select(User.id).where(User.username == "clinician.b"))
    s = login("clinician.b")
    page = s.get(f"/clinic/trial/patients/{pid}/infusions?lang=en").get_data(as_text=True)
    assert "Record infusion 1" in page and "1 × 10⁶ cells per kg" in text(page)

    first_day = today - timedelta(days=14)
    r = _infuse(s, pid, first_day, volume_ml="86", given_by=str(clinician))
    assert r.status_code == 302
    flashed = text(s.get(r.headers["Location"] + "?lang=en").get_data(as_text=True))
    assert "Infusion volume 86 ml is outside 75-85 ml" in flashed
    assert "Day 0 moved from" in flashed
    first = trial.scalar(select(Infusion).where(Infusion.patient_id == pid, Infusion.number == 1))
    assert first.cells == 65_000_000 and first.flags == ["volume_outside"] and first.given_by_id == clinician
    assert "the dose for 65 kg is 6.5 × 10⁷ cells" in flashed
    patient = trial.scalar(select(Patient).where(Patient.id == pid))
    assert patient.day0 == first_day
    moved = trial.scalar(select(AuditEvent).where(AuditEvent.table_name == "patients", AuditEvent.field == "day0",
                                                  AuditEvent.record_id == str(pid)))
    assert json.loads(moved.new_value) == first_day.isoformat() and moved.reason == "first infusion"
    m1 = trial.scalar(select(VisitProgress).where(VisitProgress.patient_id == pid, VisitProgress.visit_code == "M1"))
    assert m1.window_start == add_months(first_day, 1) - timedelta(days=7)  # the visits moved with day 0

    r = _infuse(s, pid, first_day + timedelta(days=10), given_by=str(clinician))  # window: day 6 to day 8
    assert r.status_code == 302
    second = trial.scalar(select(Infusion).where(Infusion.patient_id == pid, Infusion.number == 2))
    assert second.flags == ["outside_window"]
    page = s.get(f"/clinic/trial/patients/{pid}/infusions?lang=en").get_data(as_text=True)
    assert 'data-flag="outside_window"' in page and 'data-flag="volume_outside"' in page
    assert "Record infusion" not in page

    third = s.follow(_infuse(s, pid, today, given_by=str(clinician)))
    assert third.status_code == 409 and "Every planned infusion is recorded." in third.get_data(as_text=True)


def test_infusion_form_checks_weight_and_cells(login, trial):
    from epro.models import Infusion, User

    pid = trial.add_patient("BMSC", "B", "B-901", "bmsc", day0=trial.today())
    clinician = trial.scalar(select(User.id).where(User.username == "clinician.b"))
    s = login("clinician.b")
    r = s.follow(_infuse(s, pid, trial.today(), weight_kg="65000", lot="", given_by=str(clinician)))
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "body weight in kilograms" in html and "Please fill this in." in html
    assert trial.all(select(Infusion).where(Infusion.patient_id == pid)) == []


def test_no_intervention_arm_keeps_randomization_day0(login, trial):
    pid = trial.patient_id("B-002")  # demo: routine treatment
    s = login("clinician.b")
    page = s.get(f"/clinic/trial/patients/{pid}/infusions?lang=en").get_data(as_text=True)
    assert "No infusions are planned" in page
    r = s.post(f"/clinic/trial/patients/{pid}/infusions?lang=en", data={"given_on": trial.today().isoformat()})
    r = s.follow(r)
    assert r.status_code == 409


def test_masked_staff_see_the_schedule_but_no_cells(login, trial):
    from epro.models import User

    pid = trial.patient_id("A-001")
    masked = login("clinician.a")
    page = masked.get(f"/clinic/trial/patients/{pid}/infusions?lang=en").get_data(as_text=True)
    assert 'data-infusion="1"' in page and "data-cells" not in page and "Record infusion" not in page
    refused = masked.post(f"/clinic/trial/patients/{pid}/infusions?lang=en", data={})
    refused = masked.follow(refused)
    assert refused.status_code == 409 and "recorded by unblinded staff" in refused.get_data(as_text=True)
    # the unblinded investigator records it; the protocol sets no dose per kg, so cells are required
    inv = login("investigator.a")
    inv_id = trial.scalar(select(User.id).where(User.username == "investigator.a"))
    r = _infuse(inv, pid, trial.today(), given_by=str(inv_id))
    r = inv.follow(r)
    assert r.status_code == 422 and "Please enter the number of cells given." in r.get_data(as_text=True)
    assert _infuse(inv, pid, trial.today(), cells="50000000", given_by=str(inv_id)).status_code == 302
    after = masked.get(f"/clinic/trial/patients/{pid}/infusions?lang=en").get_data(as_text=True)
    assert "50000000" not in after and "5 × 10⁷" not in after and "LOT-1" not in after
