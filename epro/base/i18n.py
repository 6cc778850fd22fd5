"""Locale choice and formatting, after SecureDrop's i18n.py.

The chain: ``?lang=`` on any page (remembered) → the user's saved choice →
the browser's Accept-Language → Chinese.  Browsers send ``zh-CN``/``zh``; the
catalog is ``zh_Hans``.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

from babel.support import NullTranslations
from flask import Flask, g, request, session
from flask_babel import Babel, get_translations
from flask_login import current_user

LANGS = {"zh": "zh_Hans", "en": "en"}  # URL code → catalog locale
HTML_LANG = {"zh_Hans": "zh-Hans", "en": "en"}
DEFAULT = "zh_Hans"
TRANSLATIONS = Path(__file__).resolve().parents[2] / "translations"


def lang_code(locale: str) -> str:
    """The short code used in URLs and saved preferences ("zh" or "en")."""
    return "en" if str(locale).startswith("en") else "zh"


def select_locale() -> str:
    if "locale" in g:
        return g.locale
    chosen = request.args.get("lang") if request else None
    if chosen in LANGS:
        g.locale = LANGS[chosen]
        return g.locale
    user_choice = getattr(current_user, "locale", None) if current_user else None
    if user_choice in LANGS:
        g.locale = LANGS[user_choice]
        return g.locale
    if session.get("lang") in LANGS:
        g.locale = LANGS[session["lang"]]
        return g.locale
    best = request.accept_languages.best_match(["zh", "zh-CN", "zh-Hans", "en"])
    g.locale = LANGS["en"] if best and best.startswith("en") else DEFAULT
    return g.locale


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    compile_catalogs()
    Babel(app, locale_selector=select_locale, timezone_selector=lambda: app.config["SITE_TIMEZONE"])
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]  # added by jinja2.ext.i18n
        gettext=lambda s: _catalog().ugettext(s),
        ngettext=lambda s, p, n: _catalog().ungettext(s, p, n),
        pgettext=lambda c, s: _catalog().upgettext(c, s),
        npgettext=lambda c, s, p, n: _catalog().unpgettext(c, s, p, n),
        newstyle=True,
    )


def _catalog() -> NullTranslations:
    """The request's translations for templates, looked up once per locale.

    Flask-Babel finds them again on every call (about 40 µs: the context, the
    locale, its name); a site list page makes hundreds of calls.  The memo is
    keyed on the locale object Flask-Babel holds for the request, which
    ``force_locale`` replaces, so a card printed in another language still is.
    """
    if not g:
        return get_translations()
    memo = g.get("_epro_catalog")
    held = getattr(g.get("_flask_babel"), "babel_locale", None)
    if memo is not None and held is not None and memo[0] is held:
        return memo[1]
    translations = get_translations()
    g._epro_catalog = (getattr(g.get("_flask_babel"), "babel_locale", None), translations)
    return translations


def compile_catalogs() -> None:
    """Compile .po to .mo when a .mo is missing or older than its .po.

    .mo files are build output and not committed; compiling here means a fresh
    clone shows Chinese without a separate build step.
    """
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            from babel.messages.mofile import write_mo
            from babel.messages.pofile import read_po

            with po.open("rb") as f:
                catalog = read_po(f, locale=po.parent.parent.name)
            # A name of this process's own: several workers (gunicorn, xdist) may compile at once,
            # and each then replaces the .mo atomically with a whole file of its own.
            tmp = mo.with_suffix(f".mo.{os.getpid()}.{threading.get_ident()}.tmp")
            with tmp.open("wb") as f:
                write_mo(f, catalog)
            tmp.replace(mo)
