"""The administration log: the audit trail of accounts, sites, studies and activation codes.

Read-only, newest first; who is named by their account, what by the record's
code or username where it has one (the web page words the action).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from epro.base.orm import db
from epro.core.audit_view import stored_value
from epro.models import AuditEvent, Site, Study, User

TABLES = ("users", "sites", "studies", "study_sites", "activation_codes")
PAGE = 200


@dataclass(frozen=True)
class Entry:
    id: int
    at: datetime
    actor: User | None
    role: str | None
    action: str
    table: str
    record_id: str
    #: The record's username or code, when it has one.
    subject: str
    field: str | None
    old: Any
    new: Any
    reason: str | None


def _names(table: str, model: Any, column: Any, ids: set[int]) -> dict[tuple[str, str], str]:
    if not ids:
        return {}
    return {(table, str(i)): str(name) for i, name in db.session.execute(
        select(model.id, column).where(model.id.in_(ids)))}


def entries(limit: int = PAGE, before: int | None = None) -> list[Entry]:
    """The newest *limit* administrative audit rows (older than the row id *before*, to page back)."""
    query = select(AuditEvent).where(AuditEvent.table_name.in_(TABLES))
    if before is not None:
        query = query.where(AuditEvent.id < before)
    rows = list(db.session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit)))
    wanted: dict[str, set[int]] = {t: set() for t in ("users", "sites", "studies")}
    for row in rows:
        if row.table_name in wanted and row.record_id.isdigit():
            wanted[row.table_name].add(int(row.record_id))
        if row.user_id is not None:
            wanted["users"].add(row.user_id)
    names = {**_names("users", User, User.username, wanted["users"]),
             **_names("sites", Site, Site.code, wanted["sites"]),
             **_names("studies", Study, Study.code, wanted["studies"])}
    actors = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(
        {r.user_id for r in rows if r.user_id is not None})))} if rows else {}
    return [Entry(id=r.id, at=r.at, actor=actors.get(r.user_id) if r.user_id else None, role=r.role,
                  action=r.action, table=r.table_name, record_id=r.record_id,
                  subject=names.get((r.table_name, r.record_id), ""), field=r.field, old=stored_value(r.old_value),
                  new=stored_value(r.new_value), reason=r.reason) for r in rows]
