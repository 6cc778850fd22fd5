"""A record's audit trail as a table people read: when (with the time zone), who, what, old → new, why.

The words come from epro.core.audit_view (actions, columns) and the instrument (an
answer's question and label); dates are on the reader's site clock.  Nothing here
reads the database: the users a row names are looked up once, by the caller's service.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext

from epro.core import audit_view, labels
from epro.core.i18n_marker import N_
from epro.core.instruments.base import Instrument
from epro.models import AuditEvent, User
from epro.web.admin_forms import ROLE_LABELS
from epro.web.hooks import instrument_name, visit_label
from epro.web.printing import zoned

#: The state of a stored response, in words.
STATES = {"active": N_("in the record"), "removed": N_("removed")}
ROLES = {**ROLE_LABELS, "patient": N_("patient"), "caregiver": N_("caregiver")}
USER_COLUMNS = frozenset({"entered_by_id", "rater_id", "removed_by_id"})


@dataclass(frozen=True)
class Line:
    field: str
    old: str
    new: str


@dataclass(frozen=True)
class Row:
    action: str  #: the stored code, for tests and styling
    when: str
    who: str
    what: str
    lines: list[Line]
    reason: str


def _person(user: User | None, lang: str) -> str:
    if user is None:
        return "—"
    name = user.display_name_in(lang)
    return name if name == user.username else f"{name} ({user.username})"


def _moment(value: str, timezone: str) -> str:
    try:
        return zoned(datetime.fromisoformat(value), timezone)
    except ValueError:
        return value


class _Words:
    def __init__(self, definition: Instrument, users: dict[int, User], timezone: str, lang: str):
        self.items = {i.key: i for i in definition.items}
        self.users, self.timezone, self.lang = users, timezone, lang

    def field(self, name: str) -> str:
        if name.startswith("answers."):
            item = self.items.get(name.removeprefix("answers."))
            return gettext(item.text) if item else name.removeprefix("answers.")
        return gettext(audit_view.FIELDS[name]) if name in audit_view.FIELDS else name

    def value(self, name: str, value: Any) -> str:
        if value is None or value == "" or value == []:
            return "—"
        if name.startswith("answers."):
            item = self.items.get(name.removeprefix("answers."))
            for c in item.choices if item else ():
                if str(c.value) == str(value):
                    return f"{c.value} · {gettext(c.label)}" if c.label != str(c.value) else str(c.value)
            return str(value)
        if isinstance(value, bool):
            return gettext("Yes") if value else gettext("No")
        if name in USER_COLUMNS and isinstance(value, int):
            return _person(self.users.get(value), self.lang)
        if name.endswith("_at") and isinstance(value, str):
            return _moment(value, self.timezone)
        if name == "respondent":
            return gettext(labels.RESPONDENTS.get(value, value))
        if name == "status":
            return gettext(STATES[value]) if value in STATES else str(value)
        if name == "instrument":
            return instrument_name(str(value))
        if name == "visit_code":
            return visit_label(str(value))
        if name == "flags" and isinstance(value, list):
            return ", ".join(gettext(labels.FLAGS.get(f, f)) for f in value)
        if name == "answers" and isinstance(value, dict):
            return "; ".join(f"{self.field('answers.' + k)}: {self.value('answers.' + k, v)}" for k, v in value.items())
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        if isinstance(value, dict):
            return "; ".join(f"{k}: {v}" for k, v in value.items())
        return str(value)


def user_ids(events: Iterable[AuditEvent]) -> set[int]:
    """Everyone the rows name: the actors and the people in user columns."""
    ids: set[int] = set()
    for e in events:
        if e.user_id is not None:
            ids.add(e.user_id)
        for change in audit_view.changes(e.field, e.old_value, e.new_value):
            for v in (change.old, change.new):
                if change.field in USER_COLUMNS and isinstance(v, int):
                    ids.add(v)
    return ids


def rows(events: Sequence[AuditEvent], definition: Instrument, find_users: Callable[[Iterable[int]], dict[int, User]],
         timezone: str, lang: str) -> list[Row]:
    users = find_users(user_ids(events))
    words = _Words(definition, users, timezone, lang)
    out = []
    for e in events:
        who = _person(users.get(e.user_id), lang) if e.user_id is not None else "—"
        if e.role:
            who = f"{who}, {gettext(ROLES[e.role]) if e.role in ROLES else e.role}"
        lines = [Line(words.field(c.field) if c.field else "", words.value(c.field, c.old), words.value(c.field, c.new))
                 for c in audit_view.changes(e.field, e.old_value, e.new_value)]
        lines = [line for line in lines if not line.old == line.new == "—"]  # an empty column says nothing
        out.append(Row(action=e.action, when=zoned(e.at, timezone), who=who,
                       what=gettext(audit_view.ACTIONS[e.action]) if e.action in audit_view.ACTIONS else e.action,
                       lines=lines, reason=e.reason or ""))
    return out
