"""The printable activation card: the code, its QR code and the first steps, in the patient's language.

The plain code exists only in the response that issues it (only its hash is
stored), so the card is rendered into that same page, laid out for print.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import render_template, url_for
from flask_babel import force_locale
from markupsafe import Markup

from epro.base import i18n
from epro.models import Patient


def activation_card(patient: Patient, role: str, code: str, url: str, qr: str, expires_at: datetime) -> Markup:
    """The card's HTML for a patient or caregiver code; text and dates in ``patient.language``."""
    short = patient.language if patient.language in i18n.LANGS else i18n.lang_code(i18n.DEFAULT)
    locale = i18n.LANGS[short]
    on_site_clock = expires_at.astimezone(ZoneInfo(patient.site.timezone)).replace(tzinfo=None)
    with force_locale(locale):
        return Markup(render_template(
            "clinic/_activation_card.html", role=role, code=code, url=url, qr=qr, expires=on_site_clock,
            card_lang=i18n.HTML_LANG[locale], start_url=url_for("auth.activate", _external=True),
            clinic=patient.site.name_in(short),
        ))
