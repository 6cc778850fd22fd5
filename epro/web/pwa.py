"""The installable, offline-first app: manifest, service worker, offline page,
and the response headers the service worker relies on.

The service worker (templates/sw.js) caches a patient's or caregiver's own
pages so the app opens without a signal.  It must never show one person's
pages to another on a shared phone, so every HTML response says who it was
made for (``X-Epro-User``) and whether it may be kept offline
(``X-Epro-Cache``); the worker keeps one person's pages at a time and drops
them as soon as a page for anybody else (or nobody) arrives.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, current_app, jsonify, make_response, render_template, request, url_for
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from epro import __version__
from epro.base import i18n

bp = Blueprint("pwa", __name__)

#: Pages that may be kept on the phone: only the patient-side app, only for its own users.
OFFLINE_BLUEPRINTS = {"patient"}
OFFLINE_ROLES = {"patient", "caregiver"}


@lru_cache(maxsize=256)
def _file_digest(path: str, mtime_ns: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def asset_version(filename: str) -> str:
    """A content hash for a static file, so its URL changes whenever the file does
    (the file is then cached for a year, immutable)."""
    path = Path(current_app.static_folder or "") / filename
    try:
        return _file_digest(str(path), path.stat().st_mtime_ns)
    except OSError:
        return __version__


def app_version() -> str:
    """The service worker's version: the release plus a hash of everything it precaches,
    so any change to the app shell makes browsers install a new worker (and offer a reload)."""
    root = Path(current_app.static_folder or "")
    templates = Path(current_app.template_folder or "")
    parts = [__version__]
    for path in sorted([*root.rglob("*"), templates / "sw.js", templates / "offline.html", templates / "base.html"]):
        if path.is_file():
            parts.append(_file_digest(str(path), path.stat().st_mtime_ns))
    return __version__ + "-" + hashlib.sha256("".join(parts).encode()).hexdigest()[:10]


#: The app shell the service worker keeps: every patient page needs these.
#: (The large icons are for installing; the browser fetches them itself when it needs them.)
SHELL_FILES = ("css/app.css", "js/display.js", "js/app.js", "js/outbox.js", "js/questionnaire.js",
               "js/readaloud.js", "icons/icon-192.png")


@bp.get("/manifest.webmanifest")
def manifest():
    """The web app manifest in the page's language (base.html links it with ?lang=)."""
    lang = request.args.get("lang", "")
    locale = i18n.LANGS.get(lang, i18n.DEFAULT)
    with force_locale(locale):
        body = {
            "id": "/",
            "name": _("epro — stroke follow-up"),
            "short_name": "epro",
            "description": _("Answer your stroke follow-up questionnaires, also without a signal."),
            "lang": i18n.HTML_LANG.get(locale, "zh-Hans"),
            "dir": "ltr",
            "start_url": "/?source=pwa",
            "scope": "/",
            "display": "standalone",
            "orientation": "portrait",
            "background_color": "#ffffff",
            "theme_color": "#0b5394",
            "icons": [
                {"src": _static("icons/icon-192.png"), "sizes": "192x192", "type": "image/png", "purpose": "any"},
                {"src": _static("icons/icon-512.png"), "sizes": "512x512", "type": "image/png", "purpose": "any"},
                {"src": _static("icons/maskable-512.png"), "sizes": "512x512", "type": "image/png",
                 "purpose": "maskable"},
            ],
        }
    response = jsonify(body)
    response.mimetype = "application/manifest+json"
    response.headers["Cache-Control"] = "no-cache"
    return response


def _static(filename: str) -> str:
    return url_for("static", filename=filename, v=asset_version(filename))


@bp.get("/sw.js")
def service_worker():
    body = render_template("sw.js", version=app_version(),
                           shell=[_static(f) for f in SHELL_FILES],
                           outbox_js=_static("js/outbox.js"))
    response = make_response(body)
    response.mimetype = "text/javascript"
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@bp.get("/offline")
def offline():
    return render_template("offline.html")


@bp.get("/pwa/session")
def session_state():
    """Who is signed in, and a fresh CSRF token: the outbox asks right before sending,
    because a page kept offline may carry a token from an earlier session, and on a
    shared phone it must only send the answers of the person signed in now."""
    if not current_user.is_authenticated:
        response = jsonify(user=None)
        response.status_code = 401
    else:
        response = jsonify(user=str(current_user.id), csrf_token=generate_csrf())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.after_app_request
def offline_headers(response):
    """Tell the service worker whose page this is; give versioned static files a long life."""
    if request.endpoint == "static":
        if request.args.get("v") and response.status_code == 200:
            response.headers["Cache-Control"] = f"public, max-age={current_app.config['STATIC_MAX_AGE']}, immutable"
        return response
    if response.mimetype != "text/html":
        return response
    signed_in = current_user.is_authenticated
    response.headers.setdefault("Content-Language", i18n.HTML_LANG.get(str(get_locale() or i18n.DEFAULT), "zh-Hans"))
    response.headers["X-Epro-User"] = str(current_user.id) if signed_in else "-"
    if (signed_in and current_user.role in OFFLINE_ROLES and request.method == "GET"
            and request.blueprint in OFFLINE_BLUEPRINTS and response.status_code == 200):
        response.headers["X-Epro-Cache"] = str(current_user.id)
    return response
