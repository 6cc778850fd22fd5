"""Flask-Login wiring: sessions carry the user's id and current session token.

Logging out rotates the token, so any copy of an old cookie stops working
(server-side logout without a session table).
"""
from __future__ import annotations

from flask import request
from flask_babel import lazy_gettext as _l

from epro.base.extensions import login_manager
from epro.models import User
from epro.services import accounts

login_manager.login_view = "auth.login"
login_manager.login_message = _l("Please sign in to continue.")
login_manager.login_message_category = "info"
login_manager.session_protection = "basic"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return accounts.by_session_id(user_id)


@login_manager.unauthorized_handler
def unauthorized():
    from flask import redirect, url_for

    from epro.web.api.problems import problem

    if request.path.startswith("/api/"):
        return problem(401, _l("Sign-in required"), _l("Please sign in to continue."))
    return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))

