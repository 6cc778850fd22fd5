"""Per-request glue: remembering the language, template globals, security headers.

The CSP allows no inline script or style at all: every script is a file in static/."""
from __future__ import annotations

from flask import Flask, request, session, url_for
from flask_babel import format_date, format_datetime, get_locale
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from epro import i18n, labels
from epro.extensions import db


def static_url(filename: str) -> str:
    """A versioned static URL, so files can be cached for a year."""
    from epro import __version__

    return url_for("static", filename=filename, v=__version__)


def switch_lang_url(code: str) -> str:
    args = request.args.to_dict()
    args["lang"] = code
    if request.endpoint and request.url_rule is not None and "GET" in request.url_rule.methods:
        return url_for(request.endpoint, **(request.view_args or {}), **args)
    return url_for("main.home", lang=code)


def instrument_name(code: str) -> str:
    from flask_babel import gettext

    from epro import instruments

    return gettext(instruments.get(code).name)


def register(app: Flask) -> None:
    @app.before_request
    def remember_language() -> None:
        chosen = request.args.get("lang")
        if chosen in i18n.LANGS:
            session["lang"] = chosen
            if current_user.is_authenticated and current_user.locale != chosen:
                current_user.locale = chosen
                db.session.commit()

    @app.context_processor
    def template_globals() -> dict:
        locale = str(get_locale() or i18n.DEFAULT)
        return {
            "html_lang": i18n.HTML_LANG.get(locale, "zh-Hans"),
            "lang": i18n.lang_code(locale),
            "csrf_token_value": generate_csrf,
            "format_date": format_date,
            "format_datetime": format_datetime,
            "static_url": static_url,
            "switch_lang_url": switch_lang_url,
            "instrument_name": instrument_name,
            "visit_label": labels.visit_label,
            "labels": labels,
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
        if current_user.is_authenticated and response.mimetype == "text/html":
            response.headers.setdefault("Cache-Control", "no-store")
        response.vary.add("Cookie")
        return response
