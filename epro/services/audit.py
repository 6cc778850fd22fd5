"""The audit trail writes itself, and nothing may change it.

Every insert, update and soft delete of an audited table (:data:`AUDITED`) is
written to ``audit_events`` by the session itself (an ``after_flush`` listener,
in the same transaction as the change), so the trail can never say less than the
data and no service has to remember a call.  Actor and reason come from the unit
of work (:mod:`epro.services.unit_of_work`): the request's user or the command's,
and the innermost :func:`operation` a service opened around its change::

    with audit.operation("sign"):
        ...change, then flush

Row shape: an insert is one row (``field`` empty, ``new_value`` the record's
columns as JSON); an update is one row per changed column (``field``, old and new
value); a change of the table's state column (``status``: removed, replaced, …) is
one row for the record (``field`` = the state column, old/new the changed columns).
Sensitive columns (password hash, session token, code hash) are never written.

Events that are not row changes (a failed login, a lock-out, an export) are
written with :func:`record`, or :func:`security_event` when they must survive the
request's rollback.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, event, insert, inspect
from sqlalchemy.orm import Session

from epro.base.orm import db
from epro.models import AuditEvent
from epro.services import unit_of_work

#: The trail's table, for Core inserts inside a flush (no ORM objects may be added there).
TRAIL: Table = AuditEvent.__table__  # type: ignore[assignment]


class AuditTrailIsAppendOnly(RuntimeError):
    pass


class UnauditedBulkChange(RuntimeError):
    """A bulk statement on an audited table skips the session's flush, so nothing would audit it."""


#: Execution option of a bulk statement whose caller writes one event that says what it did.
SUMMARIZED = "audit_summarized"


@dataclass(frozen=True)
class Rule:
    """How one table is audited."""

    #: Columns never written to the trail.
    exclude: frozenset[str] = frozenset()
    #: The column whose change is one event for the record (a soft delete, an assignment).
    state: str = "status"
    #: The action of an insert ("create" unless creating the row *is* the event).
    insert_action: str = "create"
    #: Extra keys for the new value of a state change (e.g. the arm of an allocation slot).
    summary: Callable[[Any], dict[str, Any]] | None = None


#: Every clinical and account table, by table name.  Tables not here are derived
#: (visit_progress, patient_flags) or the trail itself; tests/test_audit_by_session.py
#: fails when a new model is neither here nor in NOT_AUDITED.
AUDITED: dict[str, Rule] = {
    "responses": Rule(),
    "signatures": Rule(),
    # The arm is audited on the allocation list, never on the patient: a masked
    # user's export of the patient's trail must not carry it.
    "patients": Rule(exclude=frozenset({"arm_id"})),
    "caregiver_links": Rule(),
    "screenings": Rule(state="patient_id"),
    "allocation_slots": Rule(state="patient_id", insert_action="create",
                             summary=lambda slot: {"arm": slot.arm_code, "sequence": slot.sequence}),
    "unblindings": Rule(insert_action="unblind"),
    "infusions": Rule(),
    "symptom_reports": Rule(state="reviewed_at"),
    "adverse_events": Rule(),
    "safety_checks": Rule(),
    # The site's phone calls to a patient (the call list): who called, when, the outcome, the note.
    "contact_calls": Rule(),
    # Contact details stay out of the trail (it travels with exports).
    "users": Rule(exclude=frozenset({"password_hash", "session_token", "totp_secret", "totp_last_step",
                                     "email", "phone"})),
    # A person's reminder channels and "stop reminders" (their own choice, like a consent).
    "reminder_preferences": Rule(exclude=frozenset({"updated_at"})),
    "recovery_codes": Rule(exclude=frozenset({"code_hash"}), state="used_at"),
    "activation_codes": Rule(exclude=frozenset({"code_hash"}), state="used_at"),
    "studies": Rule(),
    "study_sites": Rule(),
    "arms": Rule(),
    "sites": Rule(),
    # Monitoring (epro.services.queries): a query's state changes are one event each; a verification's
    # clearing after a correction is one event.
    "data_queries": Rule(),
    "query_messages": Rule(),
    "source_verifications": Rule(state="cleared_at"),
}
#: ``exports`` is a log of its own (insert only); each export writes one ``export`` event (services.exports).
NOT_AUDITED = frozenset({"audit_events", "visit_progress", "patient_flags", "sign_in_locks", "rate_counters",
                         "exports",
                         # reminder_claims is a log of its own; push subscriptions are a browser's address.
                         "reminder_claims", "push_subscriptions",
                         # alert_claims, like reminder_claims, is a log of its own (staff alert e-mails).
                         "alert_claims"})


@dataclass
class Operation:
    action: str
    reason: str | None = None
    actor: Any = None
    #: Keys added to the new value of every row written inside the operation.
    detail: dict[str, Any] = field(default_factory=dict)
    #: Whether inserts inside are named by the operation (``invite``) instead of their table's insert action.
    names_inserts: bool = False


@contextmanager
def operation(action: str, *, reason: str | None = None, actor: Any = None,
              detail: dict[str, Any] | None = None, names_inserts: bool = False) -> Iterator[Operation]:
    """Name what the changes inside mean (``sign``, ``unlock``, ``assign``…) and why.

    The changes must be flushed inside the block (services flush anyway); the
    block flushes on exit so nothing leaves it unaudited under another name.
    """
    op = Operation(action, reason, actor, dict(detail or {}), names_inserts)
    db.session.flush()  # changes made before the block are not this operation's
    work = unit_of_work.current()
    stack = work.operations if work is not None else _loose_operations()
    stack.append(op)
    try:
        yield op
        db.session.flush()
    finally:
        stack.remove(op)


def _loose_operations() -> list[Operation]:
    """Operations outside any unit of work (tests, scripts): kept on the session."""
    return db.session.info.setdefault("epro.audit.operations", [])


def _operations(session: Session) -> list[Operation]:
    work = session.info.get("epro.unit_of_work")
    if work is not None:
        return work.operations
    return session.info.get("epro.audit.operations", [])


def _actor(session: Session) -> Any:
    for op in reversed(_operations(session)):
        if op.actor is not None:
            return op.actor
    work = session.info.get("epro.unit_of_work")
    return work.current_actor() if work is not None else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _row(action: str, table: str, record_id: Any, *, actor: Any = None, field: str | None = None,
         old: Any = None, new: Any = None, reason: str | None = None) -> dict[str, Any]:
    return {
        "at": datetime.now(UTC),
        "user_id": getattr(actor, "id", None),
        "role": getattr(actor, "role", None),
        "action": action,
        "table_name": table,
        "record_id": str(record_id),
        "field": field,
        "old_value": _text(old),
        "new_value": _text(new),
        "reason": reason,
    }


def record(action: str, table: str, record_id: Any, *, actor: Any = None, field: str | None = None,
           old: Any = None, new: Any = None, reason: str | None = None) -> AuditEvent:
    """An event that is not a row change (an export, a list generated), in the unit of work."""
    event_row = AuditEvent(**_row(action, table, record_id, actor=actor, field=field, old=old, new=new,
                                  reason=reason))
    db.session.add(event_row)
    return event_row


def security_event(action: str, table: str, record_id: Any, *, actor: Any = None, new: Any = None,
                   reason: str | None = None) -> None:
    """An event that must be kept even when the request fails (a wrong password, a lock-out).

    Queued on the unit of work and written by its boundary after the commit or
    the rollback; outside a unit of work it is simply added to the session.
    """
    row = _row(action, table, record_id, actor=actor, new=new, reason=reason)
    work = unit_of_work.current()
    if work is None:
        db.session.add(AuditEvent(**row))
    else:
        work.security_events.append(row)


# --- the session writes the trail -------------------------------------------------------------

def _record_id(obj: Any) -> str:
    key = inspect(obj).mapper.primary_key_from_instance(obj)
    return ":".join(map(str, key))


def _columns(obj: Any, rule: Rule) -> list[str]:
    return [a.key for a in inspect(obj).mapper.column_attrs if a.key not in rule.exclude]


def _insert_rows(obj: Any, table: str, rule: Rule, actor: Any, op: Operation | None) -> list[dict]:
    loaded = inspect(obj).dict  # what was written; never a load inside the flush
    values = {key: loaded[key] for key in _columns(obj, rule) if loaded.get(key) is not None}
    if op is not None:
        values.update(op.detail)
    action = op.action if op is not None and op.names_inserts else rule.insert_action
    return [_row(action, table, _record_id(obj), actor=actor, new=values, reason=op.reason if op else None)]


def _update_rows(obj: Any, table: str, rule: Rule, actor: Any, op: Operation | None) -> list[dict]:
    state = inspect(obj)
    changes: dict[str, tuple[Any, Any]] = {}
    for key in _columns(obj, rule):
        history = state.attrs[key].history
        if not history.has_changes():
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        if old != new:
            changes[key] = (old, new)
    if not changes:
        return []
    record_id = _record_id(obj)
    reason = op.reason if op else None
    if rule.state in changes:
        new_state = changes[rule.state][1]
        action = op.action if op else ("remove" if new_state in ("removed", "withdrawn") else "update")
        new_values = {k: n for k, (_o, n) in changes.items()}
        if rule.summary is not None:
            new_values.update(rule.summary(obj))
        if op is not None:
            new_values.update(op.detail)
        return [_row(action, table, record_id, actor=actor, field=rule.state,
                     old={k: o for k, (o, _n) in changes.items()}, new=new_values, reason=reason)]
    action = op.action if op else "update"
    return [_row(action, table, record_id, actor=actor, field=key, old=old, new=new, reason=reason)
            for key, (old, new) in changes.items()]


_PENDING = "epro.audit.pending_updates"


def _audited(session: Session, objects: Iterator[Any]) -> Iterator[tuple[Any, str, Rule, Operation | None, Any]]:
    """(object, table, rule, innermost operation, actor) for each audited object; context read once."""
    context: tuple[Operation | None, Any] | None = None
    for obj in objects:
        table: str = getattr(obj, "__tablename__", "")
        rule = AUDITED.get(table)
        if rule is None:
            continue
        if context is None:
            ops = _operations(session)
            context = (ops[-1] if ops else None), _actor(session)
        yield obj, table, rule, context[0], context[1]


@event.listens_for(Session, "before_flush")
def _note_the_changes(session: Session, _context, _instances) -> None:
    """Updates are read before the flush: it commits some columns (the version counter) as it goes."""
    rows: list[dict[str, Any]] = []
    session.info[_PENDING] = rows  # a new list each flush: a failed flush's rows are dropped
    changed = iter(list(session.dirty) + list(session.deleted))
    for obj, table, rule, op, actor in _audited(session, changed):
        if obj in session.deleted:
            rows.append(_row("delete", table, _record_id(obj), actor=actor, reason=op.reason if op else None))
        else:
            rows += _update_rows(obj, table, rule, actor, op)


@event.listens_for(Session, "after_flush")
def _write_the_trail(session: Session, _context) -> None:
    """Audit rows for what this flush wrote (new ids are known now), on the same connection."""
    rows: list[dict[str, Any]] = session.info.pop(_PENDING, [])
    for obj, table, rule, op, actor in _audited(session, iter(list(session.new))):
        rows += _insert_rows(obj, table, rule, actor, op)
    if rows:
        session.connection().execute(insert(TRAIL), rows)


@event.listens_for(Session, "after_soft_rollback")
def _forget_unwritten_changes(session: Session, _previous) -> None:
    session.info.pop(_PENDING, None)


# --- nobody changes the trail -----------------------------------------------------------------

@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_audit_changes(state) -> None:
    """Bulk statements skip flush events: refuse them on the trail, and unsummarized on audited tables."""
    if (state.is_update or state.is_delete) and any(
        getattr(m, "class_", None) is AuditEvent for m in state.all_mappers
    ):
        raise AuditTrailIsAppendOnly("audit events cannot be changed or deleted")
    if (state.is_insert or state.is_update or state.is_delete) and not state.execution_options.get(SUMMARIZED):
        tables = {getattr(m, "local_table", None) for m in state.all_mappers}
        audited = sorted(t.name for t in tables if t is not None and t.name in AUDITED)
        if audited:
            raise UnauditedBulkChange(f"bulk statement on {', '.join(audited)}: change objects and flush, "
                                      f"or pass execution_options({SUMMARIZED}=True) and record one event")


@event.listens_for(Session, "before_flush")
def _refuse_audit_changes(session: Session, _context, _instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEvent) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditTrailIsAppendOnly("audit events cannot be changed or deleted")
