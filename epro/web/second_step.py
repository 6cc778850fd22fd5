"""The password was right and a second factor is on: remember who is half signed in."""
from __future__ import annotations

import time

from flask import redirect, session, url_for
from werkzeug.wrappers import Response

from epro.models import User

#: The session key of a sign-in waiting for its code.
PENDING = "pending_sign_in"
#: How long the code may take after the password.
PENDING_SECONDS = 300


def begin(user: User, next_url: str | None) -> Response:
    """Not signed in yet: the next page asks for the code (see epro.web.account.verify)."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    session[PENDING] = {"uid": user.id, "name": user.username.lower(), "tok": user.session_token,
                        "at": time.time(), "next": next_url, "fails": 0}
    return redirect(url_for("account.verify"))
