"""Running the trials from the clinic: screening, allocation, infusions, safety,
emergency unblinding and study summaries (``/clinic/trial``).

Views are thin: they find what the user may see (else 404, as everywhere in
epro), read the page's form (:mod:`epro.web.trial.forms`), hand its typed
values to :mod:`epro.services.trial`, commit, and say what happened.  A
service's field errors go back next to their fields (422); a step the rules
refuse is said at the top of the form (409).
Staff only; creating a study is for administrators.
"""
from __future__ import annotations

from flask import Blueprint
from flask_babel import get_locale, gettext
from flask_login import current_user

from epro.base import i18n
from epro.core import protocols
from epro.services.trial import infusions, safety, unblinding
from epro.web import guards

bp = Blueprint("trial", __name__, url_prefix="/clinic/trial")

# Reading is for all staff; changing clinical data for those who enter it (epro.core.roles).
guards.protect(bp, "staff", writes="data_entry")


def lang() -> str:
    return i18n.lang_code(str(get_locale() or i18n.DEFAULT))


def site_notices() -> dict:
    """What the patient list shows above the list: reports to review, SAE clocks, unblindings."""
    if not current_user.is_authenticated or not current_user.is_staff or current_user.site_id is None:
        return {}
    return {
        "reports": safety.pending_count(current_user.site_id),
        "sae_clocks": safety.open_sae_clocks(current_user.site_id),
        "unblindings": unblinding.recent_unblindings(current_user.site_id)
        if current_user.can.told_of_unblindings else [],
    }


@bp.app_context_processor
def trial_helpers() -> dict:
    return {
        "ptext": lambda obj: protocols.text(obj, lang()),
        "site_notices": site_notices,
        "cells": infusions.scientific,
        "choices": lambda mapping: [(code, gettext(label)) for code, label in mapping.items()],
    }


from epro.web.trial import admin, allocation, care, course, reports, screening, summaries  # noqa: E402,F401
