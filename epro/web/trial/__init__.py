"""Running the trials from the clinic: screening, allocation, infusions, safety,
emergency unblinding and study summaries (``/clinic/trial``).

Views are thin: they find what the user may see (else 404, as everywhere in
epro), hand the form to :mod:`epro.services.trial`, commit, and say what happened.
Staff only; creating a study is for administrators.
"""
from __future__ import annotations

from datetime import date

from flask import Blueprint
from flask_babel import format_date, get_locale, gettext
from flask_login import current_user

from epro.base import i18n
from epro.core import protocols
from epro.services.trial import fields, infusions, masking, safety
from epro.web import guards

bp = Blueprint("trial", __name__, url_prefix="/clinic/trial")

guards.protect(bp, "staff")


def lang() -> str:
    return i18n.lang_code(str(get_locale() or i18n.DEFAULT))


def problems(exc: fields.Invalid) -> dict[str, str]:
    """{field: message in the reader's language} for a form."""
    out: dict[str, str] = {}
    for p in exc.problems:
        params = {k: format_date(v, "long") if isinstance(v, date) else v for k, v in p.params.items()}
        out.setdefault(p.field, gettext(p.message, **params))
    return out


def say(message: str, params: dict | None = None) -> str:
    """A conduct message id with its parameters, translated (dates in the locale's format)."""
    params = {k: format_date(v, "long") if isinstance(v, date) else v for k, v in (params or {}).items()}
    return gettext(message, **params)


def site_notices() -> dict:
    """What the patient list shows above the list: reports to review, SAE clocks, unblindings."""
    if not current_user.is_authenticated or not current_user.is_staff or current_user.site_id is None:
        return {}
    return {
        "reports": safety.pending_count(current_user.site_id),
        "sae_clocks": safety.open_sae_clocks(current_user.site_id),
        "unblindings": masking.recent_unblindings(current_user.site_id)
        if current_user.role == "investigator" else [],
    }


@bp.app_context_processor
def trial_helpers() -> dict:
    return {
        "ptext": lambda obj: protocols.text(obj, lang()),
        "site_notices": site_notices,
        "cells": infusions.scientific,
        "choices": lambda mapping: [(code, gettext(label)) for code, label in mapping.items()],
    }


from epro.web.trial import admin, allocation, care, reports, screening, summaries  # noqa: E402,F401
