"""Flask's cookie session, never rewritten by requests the browser makes on its own.

Static files: Flask-Login reads the session after every request, which marks it
accessed and makes Flask add ``Vary: Cookie`` even to CSS and JS.  Static files
are the same for everyone, so they must stay cacheable across sign-in and sign-out.

The service worker script and the manifest: the browser fetches them in the
background (an update check after every navigation), carrying the cookie it had
when the request started.  A cookie session is rewritten by every answer
(``session.permanent`` refreshes it, and the staff idle clock writes ``seen``),
so such an answer arriving after a form's POST put the cookie back to its state
before the POST, and the POST's flash ("… saved for M3: total 16") was lost.
These requests are not a person's activity either: they neither count for the
staff idle time-out nor write the session.
"""
from __future__ import annotations

from flask import Flask, Response, request
from flask.sessions import SecureCookieSessionInterface, SessionMixin

#: Endpoints the browser requests by itself; they leave the session cookie alone.
BACKGROUND_ENDPOINTS = frozenset({"static", "pwa.service_worker", "pwa.manifest"})


def is_background_request() -> bool:
    return request.endpoint in BACKGROUND_ENDPOINTS


class StaticAwareSessionInterface(SecureCookieSessionInterface):
    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if is_background_request() and not session.modified:
            return
        super().save_session(app, session, response)
