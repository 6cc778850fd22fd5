"""Writing the audit trail, and refusing any change to it.

Every create, change or removal of clinical or account data calls
``record(...)`` in the same transaction as the change, so the trail can never
say less than the data.
"""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from epro.base.extensions import db
from epro.models import AuditEvent


class AuditTrailIsAppendOnly(RuntimeError):
    pass


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def record(
    action: str,
    table: str,
    record_id: Any,
    *,
    actor=None,
    field: str | None = None,
    old: Any = None,
    new: Any = None,
    reason: str | None = None,
) -> AuditEvent:
    event_row = AuditEvent(
        user_id=getattr(actor, "id", None),
        role=getattr(actor, "role", None),
        action=action,
        table_name=table,
        record_id=str(record_id),
        field=field,
        old_value=_text(old),
        new_value=_text(new),
        reason=reason,
    )
    db.session.add(event_row)
    return event_row


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_audit_changes(state) -> None:
    """Bulk UPDATE/DELETE statements skip flush events; refuse them here too."""
    if (state.is_update or state.is_delete) and any(
        getattr(m, "class_", None) is AuditEvent for m in state.all_mappers
    ):
        raise AuditTrailIsAppendOnly("audit events cannot be changed or deleted")


@event.listens_for(Session, "before_flush")
def _refuse_audit_changes(session: Session, _context, _instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEvent) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditTrailIsAppendOnly("audit events cannot be changed or deleted")
