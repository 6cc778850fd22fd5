"""What a reminder says: short, warm, in the person's language, with a link, and no health data.

A lock screen is public, so a message names no score, diagnosis, instrument,
study arm or illness: only that questionnaires are waiting, until when, and the
link that opens the first one (EPRO_BASE_URL).  The texts are catalog entries
(``N_``), read with Babel directly so ``epro remind`` needs no request.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date

from babel import support
from babel.dates import format_date

from epro.base.i18n import TRANSLATIONS, compile_catalogs
from epro.core import labels
from epro.core.i18n_marker import N_
from epro.core.reminders import CLOSING, LAST_DAY, OPENED

TITLE = N_("epro reminder")
#: By kind, for the patient ("you") and for a caregiver (the person they help).
BODIES = {
    ("patient", OPENED): N_("Hello! Your %(visit)s questionnaires are ready. They take about ten minutes. "
                            "Please answer by %(date)s. Thank you!"),
    ("patient", CLOSING): N_("Your %(visit)s questionnaires are still waiting for you. Please answer by %(date)s. "
                             "Thank you!"),
    ("patient", LAST_DAY): N_("Today is the last day for your %(visit)s questionnaires. A few minutes help a lot. "
                              "Thank you!"),
    ("caregiver", OPENED): N_("Hello! The %(visit)s questionnaires of the person you help are ready. "
                              "Please answer by %(date)s. Thank you!"),
    ("caregiver", CLOSING): N_("The %(visit)s questionnaires of the person you help are still waiting. "
                               "Please answer by %(date)s. Thank you!"),
    ("caregiver", LAST_DAY): N_("Today is the last day for the %(visit)s questionnaires of the person you help. "
                                "Thank you!"),
}
OPEN_LINK = N_("Open the questionnaire: %(link)s")
STOP_HINT = N_("To change or stop these reminders, open “Reminders” in the app: %(link)s")

#: Babel locale per language code.
LOCALES = {"zh": "zh_Hans", "en": "en"}


@dataclass(frozen=True)
class Message:
    lang: str
    title: str
    body: str
    link: str
    settings_link: str

    @property
    def text(self) -> str:
        """The plain text of an e-mail or SMS: the body, the link, how to stop."""
        return "\n\n".join([self.body, self._t(OPEN_LINK) % {"link": self.link},
                            self._t(STOP_HINT) % {"link": self.settings_link}])

    @property
    def short_text(self) -> str:
        """An SMS: the body and the link only."""
        return f"{self.body} {self.link}"

    def _t(self, msgid: str) -> str:
        return gettext_for(self.lang)(msgid)


@functools.cache
def _zh() -> support.NullTranslations:
    compile_catalogs()
    return support.Translations.load(str(TRANSLATIONS), ["zh_Hans"])


def gettext_for(lang: str):
    """The catalog's gettext for "zh" or "en" (English message ids are the English text)."""
    return _zh().gettext if lang == "zh" else (lambda msgid: msgid)


def compose(*, lang: str, role: str, kind: str, visit: str, months: int, window_end: date,
            link: str, settings_link: str) -> Message:
    """The reminder for a person of *role* ("patient" or "caregiver") in *lang* ("zh" or "en")."""
    t = gettext_for(lang)
    msgid, params = labels.visit_label(visit, months)
    visit_name = t(msgid) % params if params else t(msgid)
    when = format_date(window_end, "long", locale=LOCALES[lang])
    who = "caregiver" if role == "caregiver" else "patient"
    body = t(BODIES[(who, kind)]) % {"visit": visit_name, "date": when}
    return Message(lang=lang, title=t(TITLE), body=body, link=link, settings_link=settings_link)
