"""Changing a stored record the way an auditor expects (21 CFR 11, ICH E6(R3)).

Nothing is overwritten or deleted: a wrong response is *removed* (a status,
with a reason) and, if needed, replaced by a new entry; a signed response is
locked until someone unlocks it with a reason, which voids the signature.
Every step is audited by the session (:mod:`epro.services.audit`) in the
request's transaction, and a change based on an outdated view of the record is
refused (optimistic locking; a race lost at commit is a 409 from the boundary).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy.orm.exc import StaleDataError

from epro.base.orm import db
from epro.core.i18n_marker import N_
from epro.models import Response, Signature, User
from epro.services import audit, followup, verification
from epro.services.errors import Refused
from epro.services.passwords import verify_password

MEANINGS = {"performed": N_("Performed by"), "reviewed": N_("Reviewed by")}
MAX_REASON = 500


class RecordError(Refused):
    """A change that cannot be made; ``message`` is an English msgid."""

    status = 422


class Outdated(RecordError):
    status = 409


class NotYours(RecordError):
    """A role that reads records but does not sign or change them (data manager, monitor)."""

    status = 403


READ_ONLY = N_("Your role may read this record but not sign or change it.")


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise RecordError(N_("Please give a reason for this change."))
    if len(text) > MAX_REASON:
        raise RecordError(N_("The reason is too long (500 characters at most)."))
    return text


def _check_version(response: Response, seen_version: int | str | None) -> None:
    try:
        seen = int(seen_version) if seen_version is not None else None
    except (TypeError, ValueError):
        seen = None
    if seen != response.version:
        raise Outdated(N_("Someone else changed this record after you opened it. Please look at it again.")) from None


@contextmanager
def _changing(action: str, actor: User, reason: str | None = None) -> Iterator[None]:
    """An audited change, flushed now: a concurrent edit shows up here as :class:`Outdated`."""
    try:
        with audit.operation(action, reason=reason, actor=actor):
            yield
    except StaleDataError:
        raise Outdated(N_("Someone else changed this record after you opened it. Please look at it again.")) from None


def _may_sign(actor: User) -> None:
    """Only roles that sign may sign, unlock or remove (epro.core.roles); the pages refuse first."""
    if not actor.can.signs:
        raise NotYours(READ_ONLY)


def sign(response: Response, signer: User, password: str, meaning: str, seen_version) -> Signature:
    _may_sign(signer)
    if meaning not in MEANINGS:
        raise RecordError(N_("Choose what the signature means."))
    if response.status != "active":
        raise RecordError(N_("A removed record cannot be signed."))
    _check_version(response, seen_version)
    if not verify_password(signer.password_hash, password or ""):
        audit.security_event("signature_failed", "responses", response.id, actor=signer)
        raise RecordError(N_("The password is not right. The record was not signed."))
    with _changing("sign", signer):
        signature = Signature(response_id=response.id, signer_id=signer.id, meaning=meaning,
                              printed_name=signer.display_name or signer.username)
        db.session.add(signature)
        response.version += 1  # a signature changes what the record is
    followup.refresh_progress([response.patient_id], visit_code=response.visit_code)  # a signed assessment counts first
    return signature


def unlock(response: Response, actor: User, reason: str | None, seen_version) -> None:
    _may_sign(actor)
    text = _reason(reason)
    _check_version(response, seen_version)
    if not response.locked:
        raise RecordError(N_("This record is not signed, so it is not locked."))
    now = datetime.now(UTC)
    with _changing("unlock", actor, text):
        for signature in response.active_signatures:
            signature.voided_at = now
            signature.voided_by_id = actor.id
            signature.void_reason = text
        response.version += 1
    followup.refresh_progress([response.patient_id], visit_code=response.visit_code)


def remove(response: Response, actor: User, reason: str | None, seen_version) -> None:
    """Take a response out of the record (it stays stored, with the reason)."""
    _may_sign(actor)
    text = _reason(reason)
    _check_version(response, seen_version)
    if response.locked:
        raise RecordError(N_("This record is signed. Unlock it with a reason first."))
    if response.status != "active":
        raise RecordError(N_("This record was already removed."))
    with _changing("remove", actor, text):
        response.status = "removed"
        response.removed_at = datetime.now(UTC)
        response.removed_by_id = actor.id
        response.removed_reason = text
    verification.clear(response, "removed")
    followup.refresh_progress([response.patient_id], visit_code=response.visit_code)
