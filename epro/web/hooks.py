"""Per-request glue: remembering the language, template globals, security headers.

The CSP allows no inline script or style at all: every script is a file in static/."""
from __future__ import annotations

import time
from typing import Any

from flask import Flask, flash, g, redirect, request, session, url_for
from flask_babel import format_date, format_datetime, format_number, get_locale, gettext
from flask_login import current_user, logout_user
from flask_wtf.csrf import generate_csrf

from epro.base import i18n
from epro.core import display, labels
from epro.services import accounts
from epro.services.masking import Presenter
from epro.web.sessions import is_background_request

#: Every JSON and CSV answer is ``no-store``, whoever asks (CONTRACT.md, "JSON API").
NO_STORE_TYPES = frozenset({"application/json", "application/problem+json", "text/csv"})


def presenter() -> Presenter:
    """The request's one masking presenter: pages show arms and doses only through it."""
    if "presenter" not in g:
        g.presenter = Presenter(current_user if current_user.is_authenticated else None)
    return g.presenter


def static_url(filename: str) -> str:
    """A versioned static URL (a hash of the file's content), so files can be cached for a year."""
    from epro.web.pwa import asset_version

    return url_for("static", filename=filename, v=asset_version(filename))


def switch_lang_url(code: str) -> str:
    args: dict[str, Any] = request.args.to_dict()
    args["lang"] = code
    if request.endpoint and request.url_rule is not None and "GET" in (request.url_rule.methods or ()):
        return url_for(request.endpoint, **(request.view_args or {}), **args)
    return url_for("main.home", lang=code)


def instrument_name(code: str) -> str:
    from flask_babel import gettext

    from epro.core import instruments

    return gettext(instruments.get(code).name)


def instrument_hint(code: str, caregiver: bool = False) -> str:
    """The instrument's line on the patient's (or, about the patient, the caregiver's) to-do list,
    translated ("" if it has none)."""
    from flask_babel import gettext

    from epro.core import instruments

    definition = instruments.get(code)
    hint = (caregiver and definition.caregiver_task_hint) or definition.task_hint
    return gettext(hint) if hint else ""


def visit_label(visit) -> str:
    """A visit (planned visit or code) named in the reader's language; "M2" → "Month 2" / "第2个月"."""
    from flask_babel import gettext

    code = getattr(visit, "code", visit)
    msgid, params = labels.visit_label(code, getattr(visit, "months", None))
    return gettext(msgid, **params) if params else gettext(msgid)


def instrument_short(code: str) -> str:
    from flask_babel import gettext

    from epro.core import instruments

    return gettext(instruments.get(code).short_name)


#: Seconds of precision of the idle sign-out (the last request's time is kept this coarsely).
SEEN_GRANULARITY = 30


def register(app: Flask) -> None:
    @app.before_request
    def refuse_nul_characters():
        """NUL cannot be stored in PostgreSQL text; no person types it. 400, never 500."""
        from flask import abort

        if any("\x00" in v for v in request.args.values()) or (
            request.form and any("\x00" in v for v in request.form.values())
        ):
            abort(400)
        return None

    @app.before_request
    def sign_out_idle_staff():
        """Staff sessions end after STAFF_IDLE_MINUTES without a request (21 CFR 11.300(d) spirit)."""
        if is_background_request():
            return None  # static files, the worker script, the manifest: the browser's, not the person's
        if not current_user.is_authenticated or not (current_user.is_staff or current_user.can.exports):
            return None
        now = time.time()
        limit = int(app.config["STAFF_IDLE_MINUTES"]) * 60
        seen = session.get("seen")
        if seen is not None and now - float(seen) > limit:
            lang = session.get("lang")
            logout_user()
            session.clear()
            if lang:
                session["lang"] = lang
            if request.path.startswith("/api/"):
                from epro.web.api.problems import problem

                return problem(
                    401, gettext("Sign-in required"), gettext("You were signed out after a time without activity.")
                )
            flash(gettext("You were signed out after %(n)d minutes without activity.", n=limit // 60), "info")
            return redirect(url_for("auth.login", next=request.path))
        if seen is None or now - float(seen) >= SEEN_GRANULARITY:
            # Rewritten at most twice a minute: an unchanged session is not re-signed and sent back.
            session["seen"] = now
        return None

    @app.before_request
    def remember_language() -> None:
        chosen = request.args.get("lang")
        # The manifest's ?lang= is the page's language, not a choice (and is fetched in the background).
        if chosen in i18n.LANGS and not is_background_request():
            session["lang"] = chosen
            if current_user.is_authenticated:
                accounts.remember_locale(current_user._get_current_object(), chosen)

    @app.context_processor
    def template_globals() -> dict:
        locale = str(get_locale() or i18n.DEFAULT)
        return {
            "html_lang": i18n.HTML_LANG.get(locale, "zh-Hans"),
            "lang": i18n.lang_code(locale),
            "csrf_token_value": generate_csrf,
            "format_date": format_date,
            "format_datetime": format_datetime,
            "format_number": format_number,
            "static_url": static_url,
            "switch_lang_url": switch_lang_url,
            "instrument_name": instrument_name,
            "instrument_short": instrument_short,
            "visit_label": visit_label,
            "instrument_hint": instrument_hint,
            "labels": labels,
            "text_sizes": display.TEXT_SIZES,
            "presenter": presenter,
            "idle_seconds": int(app.config["STAFF_IDLE_MINUTES"]) * 60,
        }

    @app.after_request
    def security_headers(response):
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; "
            "manifest-src 'self'; worker-src 'self'; connect-src 'self'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if response.mimetype in NO_STORE_TYPES:
            # Data answers are about a person: no browser or proxy cache may keep them.
            response.headers["Cache-Control"] = "no-store"
        elif response.mimetype == "text/html" and current_user.is_authenticated:
            response.headers.setdefault("Cache-Control", "no-store")
        if request.endpoint != "static":
            response.vary.add("Cookie")
        return response
