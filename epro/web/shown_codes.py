"""A one-time code issued by a button, shown on a page a reload does not re-issue.

Issuing an activation or reset code is a POST; answering it with the code's page left
the browser on the POST's address, so a reload (or the language switch) issued another
code and silently voided the one just printed.  Instead the POST redirects (303) to its
page, and the plain code travels there in this person's session.

The database holds only the code's hash (:mod:`epro.services.activation`), and the
session is a signed, readable cookie: the code is kept there encrypted (Fernet, a key
derived from ``SECRET_KEY``) and only while the page that shows it stays open, at most
:data:`MAX_AGE_SECONDS`, and while the code still works (not used, expired or replaced).
Opening any other page drops it; the page then shows no code, and a new one is a button away.
"""
from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from flask import Flask, current_app, redirect, request, session
from werkzeug.wrappers import Response

from epro.models import ActivationCode
from epro.services import activation
from epro.web import prg
from epro.web.sessions import is_background_request

KEY = "shown_code"
#: How long a reload (or the language switch) still shows the code: time to print it or read it out.
MAX_AGE_SECONDS = 900


@dataclass(frozen=True)
class Held:
    """The plain code for the page showing it, its record, and what the page needs besides."""

    code: str
    record: ActivationCode
    context: dict[str, Any]


def _fernet() -> Fernet:
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"epro shown code\0" + secret).digest()))


def show(code: str, to: str | None = None, **context: Any) -> Response:
    """Keep ``code`` for the page at ``to`` (default: this address) and answer 303 there; the page
    calls :func:`held`.  The reader's ``?lang=`` choice goes along."""
    to = prg.with_language(to) if to else prg.this_address()
    session[KEY] = {"path": to.split("?", 1)[0], "at": time.time(), "context": context,
                    "code": _fernet().encrypt(code.encode()).decode()}
    return redirect(to, 303)


def held() -> Held | None:
    """The code kept for this page, while it still works; None once it is used, expired, replaced or old."""
    state = session.get(KEY)
    if not state or state.get("path") != prg.here():
        return None
    try:
        code = _fernet().decrypt(str(state["code"]).encode(), ttl=MAX_AGE_SECONDS).decode()
    except (InvalidToken, KeyError, TypeError):
        session.pop(KEY, None)
        return None
    record = activation.find_usable(code)
    if record is None or time.time() - float(state.get("at", 0)) > MAX_AGE_SECONDS:
        session.pop(KEY, None)
        return None
    return Held(code=code, record=record, context=dict(state.get("context") or {}))


def register(app: Flask) -> None:
    @app.after_request
    def drop_elsewhere(response):
        """The code is for its own page: opening any other page forgets it."""
        if (request.method == "GET" and KEY in session and not is_background_request()
                and session[KEY].get("path") != prg.here() and response.mimetype == "text/html"):
            session.pop(KEY, None)
        return response
