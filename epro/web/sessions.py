"""Flask's cookie session, minus ``Vary: Cookie`` on static files.

Flask-Login reads the session after every request, which marks it accessed
and makes Flask add ``Vary: Cookie`` even to CSS and JS.  Static files are the
same for everyone, so they must stay cacheable across sign-in and sign-out.
"""
from __future__ import annotations

from flask import request
from flask.sessions import SecureCookieSessionInterface


class StaticAwareSessionInterface(SecureCookieSessionInterface):
    def save_session(self, app, session, response) -> None:
        if request.endpoint == "static" and not session.modified:
            return
        super().save_session(app, session, response)
