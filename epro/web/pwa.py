"""Installability: the web app manifest and the service worker, served from the root."""
from __future__ import annotations

from flask import Blueprint, jsonify, make_response, render_template, url_for
from flask_babel import gettext as _

from epro import __version__

bp = Blueprint("pwa", __name__)


@bp.get("/manifest.webmanifest")
def manifest():
    body = {
        "name": _("epro — stroke follow-up"),
        "short_name": "epro",
        "lang": "zh-Hans",
        "start_url": "/?source=pwa",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#0b5394",
        "icons": [
            {"src": url_for("static", filename="icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": url_for("static", filename="icons/icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {"src": url_for("static", filename="icons/maskable-512.png"), "sizes": "512x512",
             "type": "image/png", "purpose": "maskable"},
        ],
    }
    response = jsonify(body)
    response.mimetype = "application/manifest+json"
    return response


@bp.get("/sw.js")
def service_worker():
    response = make_response(render_template("sw.js", version=__version__))
    response.mimetype = "text/javascript"
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@bp.get("/offline")
def offline():
    return render_template("offline.html")
