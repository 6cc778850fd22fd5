"""The audit trail read by a person: one line per value that changed, in words, never JSON.

The trail stores each event's values as text, a record's columns as a JSON object
(epro.services.audit); people reading it on a record page want "Total: 15 → 16",
not ``{"total": 16, …}``.  This turns an event's stored text back into values, one
:class:`Change` per column (per answer for an instrument's ``answers``), for the web
layer to name and format in the reader's language.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from epro.core.i18n_marker import N_

#: What an event did, in words (msgids); an unknown action is shown as stored.
ACTIONS = {
    "create": N_("created"), "update": N_("changed"), "remove": N_("removed"), "delete": N_("deleted"),
    "sign": N_("signed"), "unlock": N_("unlocked, signature void"), "replace": N_("replaced by a correction"),
    "correct": N_("corrected"), "query_correct": N_("corrected for a data query"),
    "signature_failed": N_("signing refused: wrong password"), "verify": N_("source-verified"),
    "verification_cleared": N_("verification cleared"),
}
#: The columns of a stored response, in words (msgids).
FIELDS = {
    "visit_code": N_("Visit"), "instrument": N_("Questionnaire"), "answers": N_("Answers"), "total": N_("Total"),
    "flags": N_("Flags"), "respondent": N_("Answered by"), "entered_by_id": N_("Entered by"),
    "rater_id": N_("Assessed by"), "completed_at": N_("Completed"), "received_at": N_("Received"),
    "status": N_("Status"), "removed_at": N_("Removed on"), "removed_by_id": N_("Removed by"),
    "removed_reason": N_("Reason for removal"), "version": N_("Version"), "replaces_id": N_("Replaces"),
    "payload_digest": N_("Fingerprint of what was sent"),
}
#: Columns the record page says already (whose record it is).
NOT_SHOWN = frozenset({"id", "patient_id"})


@dataclass(frozen=True)
class Change:
    """One value of an event: ``field`` is a column, or ``answers.<item key>`` for one answer."""

    field: str
    old: Any
    new: Any


def stored_value(text: str | None) -> Any:
    """An audit column's value as it was: JSON where it was stored as JSON, else the text itself."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text  # plain text (a reason, a status word) is stored as it is


def _flatten(field: str, old: Any, new: Any) -> list[Change]:
    if field == "answers" and (isinstance(old, dict) or isinstance(new, dict)):
        olds, news = old if isinstance(old, dict) else {}, new if isinstance(new, dict) else {}
        keys = [*olds, *(k for k in news if k not in olds)]
        return [Change(f"answers.{k}", olds.get(k), news.get(k)) for k in keys if olds.get(k) != news.get(k)]
    return [Change(field, old, new)]


def changes(field: str | None, old_text: str | None, new_text: str | None) -> list[Change]:
    """The values one trail row holds, in the record's column order."""
    old, new = stored_value(old_text), stored_value(new_text)
    if field == "answers":
        return _flatten(field, old, new)
    if isinstance(old, dict) or isinstance(new, dict):  # a record's columns: an insert or a state change
        olds = old if isinstance(old, dict) else {}
        news = new if isinstance(new, dict) else {}
        out: list[Change] = []
        for key in [*news, *(k for k in olds if k not in news)]:
            if key not in NOT_SHOWN:
                out += _flatten(key, olds.get(key), news.get(key))
        return out
    if field is None:
        return [] if old is None and new is None else [Change("", old, new)]
    return [Change(field, old, new)]
