"""What a printout says about itself: whose record, printed when (with the time zone) and by whom.

A paper copy leaves the system; without these a page found on a ward desk cannot be
dated or traced (ICH E6(R3) 4.2: source documents attributable and contemporaneous).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask_babel import get_locale

from epro.models import User


@dataclass(frozen=True)
class Stamp:
    subject: str
    when: str
    who: str


def zoned(moment: datetime, timezone: str) -> str:
    """A moment on a site's clock, in the reader's language, with the zone's name ("… China Standard Time")."""
    zone = ZoneInfo(timezone)
    locale = get_locale()
    return " ".join((format_datetime(moment, "medium", tzinfo=zone, locale=locale),
                     format_datetime(moment, "zzzz", tzinfo=zone, locale=locale)))


def stamp(subject: str, timezone: str, user: User, lang: str) -> Stamp:
    """The line at the top of a printout: now on the site's clock, the reader's name and username."""
    name = user.display_name_in(lang)
    who = name if name == user.username else f"{name} ({user.username})"
    return Stamp(subject=subject, when=zoned(datetime.now(UTC), timezone), who=who)
