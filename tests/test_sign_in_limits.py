"""The account lock-out counter and the database:// rate-limit storage (issue 9), on SQLite and PostgreSQL.

The live two-worker checks are in tests/reliability/test_sign_in_limits_live.py.
"""
from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from support.web import follow_refusal

from epro.base.orm import db
from epro.models import AuditEvent, RateCounter
from epro.services import rate_storage, sign_in_limits, unit_of_work

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def fail(name: str, at: datetime, times: int = 1) -> None:
    for i in range(times):
        sign_in_limits.failed(name, now=at + timedelta(seconds=i))
    db.session.commit()


def test_five_failures_lock_the_name_for_fifteen_minutes(app):
    with app.app_context():
        fail("patient.a2", T0, times=4)
        assert sign_in_limits.check("patient.a2", now=T0 + timedelta(seconds=10)) is None
        fail("patient.a2", T0 + timedelta(seconds=4))
        locked = sign_in_limits.check("patient.a2", now=T0 + timedelta(seconds=10))
        assert locked is not None
        assert locked.until == T0 + timedelta(seconds=4, minutes=15)
        assert locked.retry_after == 15 * 60 - 6 and locked.minutes == 15
        assert sign_in_limits.state("patient.a2") == (5, locked.until)
        # The right password is no different: check() comes before any password; then the lock ends.
        assert sign_in_limits.check("patient.a2", now=locked.until - timedelta(seconds=1)) is not None
        assert sign_in_limits.check("patient.a2", now=locked.until) is None


def test_failures_count_in_a_window_of_fifteen_minutes(app):
    with app.app_context():
        fail("clinician.a", T0, times=4)
        fail("clinician.a", T0 + timedelta(minutes=15, seconds=1))  # the first window is over
        assert sign_in_limits.state("clinician.a") == (1, None)
        fail("clinician.a", T0 + timedelta(minutes=16), times=3)
        assert sign_in_limits.check("clinician.a", now=T0 + timedelta(minutes=17)) is None
        fail("clinician.a", T0 + timedelta(minutes=17))
        assert sign_in_limits.check("clinician.a", now=T0 + timedelta(minutes=17, seconds=1)) is not None


def test_a_successful_sign_in_clears_the_count(app):
    with app.app_context():
        fail("patient.a1", T0, times=4)
        sign_in_limits.succeeded("Patient.A1")
        db.session.commit()
        assert sign_in_limits.state("patient.a1") is None
        fail("patient.a1", T0 + timedelta(minutes=1), times=4)
        assert sign_in_limits.check("patient.a1", now=T0 + timedelta(minutes=2)) is None
        assert sign_in_limits.state("patient.a1") == (4, None)


def test_unknown_names_are_locked_the_same_way_and_names_are_case_blind(app):
    with app.app_context():
        fail("  Nobody.Here ", T0, times=5)
        assert sign_in_limits.state("nobody.here") == (5, T0 + timedelta(seconds=4, minutes=15))
        assert sign_in_limits.check("NOBODY.HERE", now=T0 + timedelta(minutes=1)) is not None
        assert sign_in_limits.check("patient.b1", now=T0 + timedelta(minutes=1)) is None
        db.session.commit()
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "login_locked")).one()
        assert event.record_id == "-" and '"username_known": false' in event.new_value


def test_the_limits_are_configurable(app):
    app.config.update(LOGIN_LIMIT_ACCOUNT="3 per 1 minute", LOGIN_LOCK_MINUTES=2)
    with app.app_context():
        fail("patient.b1", T0, times=3)
        locked = sign_in_limits.check("patient.b1", now=T0 + timedelta(seconds=2))
        assert locked is not None and locked.until == T0 + timedelta(seconds=2, minutes=2)


def test_a_failure_is_kept_when_the_request_rolls_back(app, db_backend):
    with app.app_context():
        work = unit_of_work.begin()
        assert sign_in_limits.check("patient.a2", now=T0) is None
        sign_in_limits.failed("patient.a2", now=T0)
        if db_backend == "sqlite":  # kept for after the rollback (the request holds SQLite's write lock)
            assert work.kept and sign_in_limits.state("patient.a2") is None
        else:  # counted at once on a connection of its own
            assert not work.kept
        unit_of_work.finish(success=False)
        assert sign_in_limits.state("patient.a2") == (1, None)


@pytest.mark.postgresql_only  # SQLite serializes requests by its write lock; the instant after a rollback stays open
def test_parallel_guesses_of_one_name_verify_exactly_five_on_postgresql(app, db_backend):
    """Eight attempts at once, each slow to verify: the advisory lock lets exactly five be verified."""
    import time

    outcomes: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def attempt() -> None:
        try:
            with app.app_context():
                start.wait()
                unit_of_work.begin()
                if sign_in_limits.check("patient.b1") is not None:
                    outcomes.append("locked")
                else:
                    time.sleep(0.2)  # the password hash takes a while
                    sign_in_limits.failed("patient.b1")
                    outcomes.append("verified")
                unit_of_work.finish(success=False)
                db.session.remove()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sorted(outcomes) == ["locked"] * 3 + ["verified"] * 5
    with app.app_context():
        assert sign_in_limits.state("patient.b1")[0] == 5


def test_concurrent_failures_all_count(app):
    """Eight threads, each its own session and transaction, fail five times each: exactly 40 counted."""
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with app.app_context():
                for _ in range(5):
                    unit_of_work.begin()
                    sign_in_limits.failed("caregiver.a1")
                    unit_of_work.finish(success=False)
                db.session.remove()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with app.app_context():
        failures, locked_until = sign_in_limits.state("caregiver.a1")
        assert failures == 40 and locked_until is not None


# ---- the database:// storage of Flask-Limiter ------------------------------------------------

def test_the_limiter_uses_the_database_storage_by_default(app):
    from epro.base.extensions import limiter

    assert app.config["RATELIMIT_STORAGE_URI"] == "database://"
    assert isinstance(limiter.storage, rate_storage.DatabaseStorage)
    with app.app_context():
        assert limiter.storage.check() is True


def test_storage_counts_in_fixed_windows(app, monkeypatch):
    storage = rate_storage.DatabaseStorage("database://")
    clock = [1_800_000_000.0]
    monkeypatch.setattr(rate_storage.time, "time", lambda: clock[0])
    with app.app_context():
        assert storage.get("k") == 0 and storage.get_expiry("k") == clock[0]
        assert [storage.incr("k", 60) for _ in range(3)] == [1, 2, 3]
        assert storage.incr("k", 60, amount=2) == 5
        assert storage.get("k") == 5 and storage.get_expiry("k") == clock[0] + 60
        clock[0] += 30
        assert storage.incr("k", 60) == 6 and storage.get_expiry("k") == clock[0] + 30  # same window
        clock[0] += 30
        assert storage.get("k") == 0  # the window is over
        assert storage.incr("k", 60) == 1 and storage.get_expiry("k") == clock[0] + 60
        storage.incr("other", 60)
        storage.clear("k")
        assert storage.get("k") == 0 and storage.get("other") == 1
        assert storage.reset() == 1 and storage.get("other") == 0


def test_storage_concurrent_hits_all_count(app):
    storage = rate_storage.DatabaseStorage("database://")
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with app.app_context():
                for _ in range(10):
                    storage.incr("burst", 3600)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with app.app_context():
        assert storage.get("burst") == 80


# ---- through the web ----------------------------------------------------------------------------

def _attempt(client, username: str, password: str, lang: str = "en"):
    page = client.get(f"/login?lang={lang}").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    return follow_refusal(client, client.post("/login", data={"username": username, "password": password,
                                                              "csrf_token": token}))


@pytest.mark.parametrize("lang, text", [("en", "please wait 15 minutes"), ("zh", "请等待 15 分钟后再试")])
def test_a_locked_name_answers_429_with_retry_after_in_the_readers_language(app, client, lang, text):
    for _ in range(5):
        assert _attempt(client, "patient.a2", "wrong", lang).status_code == 401
    locked = _attempt(client, "patient.a2", "epro-demo-2026", lang)
    assert locked.status_code == 429
    assert text in locked.get_data(as_text=True)
    assert 895 <= int(locked.headers["Retry-After"]) <= 900
    # Another name from the same address is not locked by this one.
    assert _attempt(app.test_client(), "patient.b1", "epro-demo-2026").status_code == 302


def test_a_successful_sign_in_forgets_earlier_failures(app, client):
    for _ in range(4):
        assert _attempt(client, "patient.a1", "wrong").status_code == 401
    assert _attempt(client, "patient.a1", "epro-demo-2026").status_code == 302
    with app.app_context():
        assert sign_in_limits.state("patient.a1") is None
    for _ in range(4):
        assert _attempt(app.test_client(), "patient.a1", "wrong").status_code == 401
    assert _attempt(app.test_client(), "patient.a1", "epro-demo-2026").status_code == 302


def test_the_twenty_first_bad_activation_code_is_refused_and_counted_in_the_database(app, client):
    codes = [client.get(f"/activate?code=BAD{i:04d}&lang=en").status_code for i in range(21)]
    assert codes == [400] * 20 + [429]
    with app.app_context():
        (count,) = db.session.execute(select(func.max(RateCounter.count))).one()
        assert count == 20


def test_the_address_limit_counts_failures_only_and_is_audited(app, client):
    app.config["LOGIN_LIMIT_ADDRESS"] = "3 per 15 minutes"
    assert _attempt(client, "patient.a1", "epro-demo-2026").status_code == 302  # a success is not counted
    client = app.test_client()
    assert [_attempt(client, f"stranger{i}", "guess").status_code for i in range(4)] == [401, 401, 401, 429]
    assert _attempt(client, "patient.b1", "epro-demo-2026").status_code == 429  # this address, any name
    with app.app_context():
        actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.action == "rate_limited")).all()
        assert len(actions) == 2


def test_a_read_after_the_boundary_does_not_make_the_limiter_wait_for_its_own_lock(app, client):
    """A hook that reads between the commit and the limiter's deduction opens a stray SQLite
    transaction (BEGIN IMMEDIATE takes the write lock); the storage ends it instead of waiting on it."""
    def stray_read(response):
        with db.engine.connect() as connection:  # a read on a pooled connection of its own
            connection.exec_driver_sql("SELECT 1")
        return response

    funcs = app.after_request_funcs.setdefault(None, [])
    funcs.insert(funcs.index(next(f for f in funcs if "inject_headers" in repr(f))) + 1, stray_read)
    codes = [client.get(f"/activate?code=BAD{i:04d}&lang=en").status_code for i in range(21)]
    assert codes == [400] * 20 + [429]
