"""Sites: where patients are followed, each with its names in both languages and its time zone.

Administrators create and rename sites (every change audited as ``create_site``
or ``update_site``); visit dates are calendar dates in the site's IANA zone,
so a zone must be one :mod:`zoneinfo` knows.
"""
from __future__ import annotations

import functools
import re
import zoneinfo

from sqlalchemy import select

from epro.base.orm import db
from epro.core.i18n_marker import N_
from epro.models import Site, User
from epro.services import audit
from epro.services.errors import FieldError, check

CODE = re.compile(r"^[A-Z0-9-]{1,16}$")
MAX_NAME = 120

CODE_SHAPE = N_("Capital letters, digits and dashes, 1 to 16 characters.")
CODE_TAKEN = N_("A site with this code exists already.")
NAME_EN_MISSING = N_("Please enter the English name.")
NAME_ZH_MISSING = N_("Please enter the Chinese name.")
NAME_TOO_LONG = N_("Too long (%(n)s characters at most).")
UNKNOWN_ZONE = N_("Unknown time zone. Use an IANA name such as Asia/Shanghai.")


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def known_zone(name: str) -> bool:
    """Whether *name* is an IANA time zone this machine knows (Asia/Shanghai, UTC…)."""
    if not name or name not in _zones():
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def zones() -> list[str]:
    """Every known zone, sorted (for a list to choose from)."""
    return sorted(_zones())


def all_sites() -> list[Site]:
    return list(db.session.scalars(select(Site).order_by(Site.code)))


def by_code(code: str | None) -> Site | None:
    if not code:
        return None
    return db.session.scalar(select(Site).where(Site.code == code))


def by_id(site_id: int) -> Site | None:
    return db.session.get(Site, site_id)


def _name_problems(name_en: str, name_zh: str, timezone: str) -> list[FieldError]:
    errors = []
    for field, value, missing in (("name_en", name_en, NAME_EN_MISSING), ("name_zh", name_zh, NAME_ZH_MISSING)):
        if not value:
            errors.append(FieldError(field, missing))
        elif len(value) > MAX_NAME:
            errors.append(FieldError(field, NAME_TOO_LONG, {"n": MAX_NAME}))
    return errors + zone_problems(timezone)


def zone_problems(timezone: str) -> list[FieldError]:
    return [] if known_zone(timezone) else [FieldError("timezone", UNKNOWN_ZONE)]


def code_problems(code: str) -> list[FieldError]:
    if not CODE.match(code or ""):
        return [FieldError("code", CODE_SHAPE)]
    if by_code(code) is not None:
        return [FieldError("code", CODE_TAKEN, code="taken")]
    return []


def create(code: str, name_en: str, name_zh: str, timezone: str, actor: User) -> Site:
    """A new site; :class:`~epro.services.errors.Invalid` names every wrong field (a taken code: ``taken``)."""
    code, name_en, name_zh, timezone = (code or "").strip(), (name_en or "").strip(), (name_zh or "").strip(), \
        (timezone or "").strip()
    check([*code_problems(code), *_name_problems(name_en, name_zh, timezone)])
    with audit.operation("create_site", actor=actor, names_inserts=True):
        site = Site(code=code, name=name_en, name_zh=name_zh, timezone=timezone)
        db.session.add(site)
        db.session.flush()
    return site


def update(site: Site, name_en: str, name_zh: str, timezone: str, actor: User) -> Site:
    """New names or time zone for a site (its code never changes: it is in subject codes and exports)."""
    name_en, name_zh, timezone = (name_en or "").strip(), (name_zh or "").strip(), (timezone or "").strip()
    check(_name_problems(name_en, name_zh, timezone))
    with audit.operation("update_site", actor=actor):
        site.name, site.name_zh, site.timezone = name_en, name_zh, timezone
        db.session.flush()
    return site
