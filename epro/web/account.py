"""A person's own account: change the password, the second factor, and reset codes that staff issue.

Any signed-in role may open ``/account``.  ``/login/verify`` is the second step of
a sign-in when the second factor is on.  Administrators and unblinded staff who
must have a second factor (``REQUIRE_SECOND_FACTOR``) reach nothing but its
setup (and signing out) until it is on.
"""
from __future__ import annotations

import time
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from epro.core import display as display_choice
from epro.models import ActivationCode, User
from epro.services import access, accounts, activation, credentials, sign_in_limits
from epro.services.errors import Refused
from epro.web import prg, shown_codes
from epro.web.account_forms import (
    ChangePasswordForm,
    DisableSecondFactorForm,
    IssueResetForm,
    ResetPasswordForm,
    SecondFactorCodeForm,
)
from epro.web.messages import refusal_message, say
from epro.web.second_step import PENDING, PENDING_SECONDS

bp = Blueprint("account", __name__)

#: Where someone who must set up a second factor may still go.
_ALLOWED_BEFORE_SETUP = {"account.second_factor", "account.home", "auth.logout", "auth.logout_page", "static",
                         "pwa.manifest", "pwa.service_worker", "pwa.offline", "pwa.session_state",
                         "main.keepalive"}
#: Wrong codes in one pending sign-in before the password must be typed again.
MAX_CODE_FAILURES = 5


@bp.before_request
def _signed_in() -> Any:
    if request.endpoint != "account.verify" and not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
    return None


@bp.before_app_request
def _second_factor_first() -> Any:
    """Staff who must use a second factor are sent to set it up before anything else."""
    if not current_user.is_authenticated or request.endpoint in _ALLOWED_BEFORE_SETUP:
        return None
    user = current_user._get_current_object()
    if credentials.must_have_second_factor(user) and not credentials.second_factor_on(user):
        if request.path.startswith("/api/"):
            abort(403)
        return redirect(url_for("account.second_factor"))
    return None


@bp.app_context_processor
def _reset_helpers() -> dict[str, Any]:
    return {"reset_targets": credentials.reset_targets}


def _user() -> User:
    return current_user._get_current_object()


def _done(action: Any, *args: Any) -> bool:
    action(*args)
    return True


@bp.get("/account")
def home():
    user = _user()
    return render_template(
        "account/home.html", user=user, second_factor_on=credentials.second_factor_on(user),
        required=credentials.must_have_second_factor(user),
        demo_notice=(not current_app.config.get("REQUIRE_SECOND_FACTOR", True)
                     and credentials.second_factor_expected(user)),
        recovery_left=credentials.recovery_codes_left(user) if credentials.second_factor_on(user) else 0)


@bp.route("/account/password", methods=["GET", "POST"])
def change_password():
    user = _user()
    form = ChangePasswordForm(related_words=(user.username, user.display_name))
    done = form.submit(lambda: _done(credentials.change_password, user, form.current_password.data or "",
                                     form.password.data or ""))
    if done:
        from epro.web.auth import start_session

        start_session(user)  # this session goes on with the new token; every other one has ended
        flash(_("Your password is changed. You were signed out everywhere else."), "success")
        return redirect(url_for("account.home"))
    return prg.answer(form, lambda: render_template("account/password.html", form=form))


@bp.route("/account/second-factor", methods=["GET", "POST"])
def second_factor():
    user = _user()
    if credentials.second_factor_on(user):
        return render_template("account/second_factor_on.html",
                               recovery_left=credentials.recovery_codes_left(user))
    form = SecondFactorCodeForm()
    codes = form.submit(lambda: credentials.enable_second_factor(user, form.code.data or ""))
    if codes:
        return render_template("account/recovery_codes.html", codes=codes)
    secret = credentials.pending_secret(user)
    uri = credentials.provisioning_uri(user, secret)
    return prg.answer(form, lambda: render_template(
        "account/second_factor_setup.html", form=form, qr=activation.qr_svg(uri),
        secret=credentials.grouped(secret), uri=uri,
        required=credentials.must_have_second_factor(user)))


@bp.route("/account/second-factor/disable", methods=["GET", "POST"])
def disable_second_factor():
    user = _user()
    if not credentials.second_factor_on(user):
        return redirect(url_for("account.second_factor"))
    form = DisableSecondFactorForm()
    done = form.submit(lambda: _done(credentials.disable_second_factor, user, form.password.data or "",
                                     form.code.data or ""))
    if done:
        flash(_("The second factor is off."), "info")
        return redirect(url_for("account.home"))
    return prg.answer(form, lambda: render_template(
        "account/second_factor_disable.html", form=form, required=credentials.must_have_second_factor(user)))


@bp.post("/account/display")
def display():
    """Text size and contrast (fields ``text_size``, ``contrast``, ``next``): the page's script asks
    for JSON and has already applied the choice; without the script the form posts and comes back."""
    wants_json = request.accept_mimetypes.best == "application/json"
    try:
        chosen = display_choice.parse(request.form.get("text_size"), request.form.get("contrast"))
    except ValueError as exc:
        message = say(str(exc))
        if wants_json:
            return jsonify(error=message), 400
        flash(message, "error")
        return redirect(_back(), 303)
    accounts.remember_display(_user(), chosen)
    if wants_json:
        return jsonify(text_size=chosen.text_size, contrast="more" if chosen.high_contrast else "normal")
    flash(_("Your text size is saved."), "success")
    return redirect(_back(), 303)


def _back() -> str:
    from epro.web.auth import safe_next

    return safe_next(request.form.get("next")) or url_for("main.home")


# --- the second step of a sign-in ------------------------------------------------------------

def _pending_user() -> User | None:
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or time.time() - float(pending.get("at", 0)) > PENDING_SECONDS:
        return None
    user = credentials.user_by_id(int(pending.get("uid", 0)))
    if user is None or not user.active or user.session_token != pending.get("tok"):
        return None
    return user if credentials.second_factor_on(user) else None


@bp.route("/login/verify", methods=["GET", "POST"])
def verify():
    """A wrong code counts like a wrong password (the same account lock-out, services/sign_in_limits)."""
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    user = _pending_user()
    if user is None:
        session.pop(PENDING, None)
        flash(_("Please sign in again."), "info")
        return redirect(url_for("auth.login"))
    form = SecondFactorCodeForm()
    if form.validate_on_submit():
        from epro.web.auth import LOGIN_FORM, locked_message

        locked = sign_in_limits.check(user.username)  # before the code is looked at
        if locked is not None:  # the password must be typed again, after the lock: said on the sign-in page
            session.pop(PENDING, None)
            return prg.keep(form, name=LOGIN_FORM, form_error=locked_message(locked), status=429,
                            to=url_for("auth.login"), values={"username": user.username})
        if credentials.check_second_factor(user, form.code.data or ""):
            from epro.web.auth import safe_next, start_session

            target = safe_next(session.get(PENDING, {}).get("next"))
            sign_in_limits.succeeded(user.username)
            start_session(user)
            return redirect(target or url_for("main.home"))
        sign_in_limits.failed(user.username)
        pending = dict(session[PENDING])
        pending["fails"] = int(pending.get("fails", 0)) + 1
        if pending["fails"] >= MAX_CODE_FAILURES:
            session.pop(PENDING, None)
            flash(_("Too many wrong codes. Please sign in again."), "error")
            return redirect(url_for("auth.login")), 303
        session[PENDING] = pending
        form.form_error = _("This code is not right. Please type the 6 digits your app shows now, or a recovery code.")
        form.refused_status = 401
    return prg.answer(form, lambda: render_template("account/verify.html", form=form, error=form.form_error))


# --- reset codes, issued by staff and administrators ------------------------------------------

def _issued(user: User, code: str, record: ActivationCode) -> dict[str, Any]:
    url = activation.link_for(code)
    return {"username": user.username, "code": activation.display(code), "url": url,
            "qr": activation.qr_svg(url), "expires_at": record.expires_at}


@bp.post("/admin/users/<username>/reset")
def issue_reset(username: str):
    """An administrator issues a reset code for any account (form fields: csrf_token, username, back)."""
    if _user().role != "admin":
        abort(404)
    if not IssueResetForm(data={"username": username}).validate_on_submit():
        abort(400)
    user = accounts.by_username(username)
    if user is None:
        abort(404)
    from epro.web.auth import safe_next

    return _issue(user, back=safe_next(request.form.get("back")) or url_for("main.home"))


@bp.post("/patients/<int:patient_id>/reset")
def issue_patient_reset(patient_id: int):
    """Site staff issue a reset code for the patient's or a caregiver's account, from the patient's page."""
    if not _user().can.enters_data:  # read-only staff issue no codes (epro.core.roles)
        abort(404)
    patient = access.patient_or_404(_user(), patient_id)
    form = IssueResetForm()
    if not form.validate_on_submit():
        abort(400)
    user = next((u for u in credentials.reset_targets(patient) if u.username == form.username.data), None)
    if user is None:
        abort(404)
    return _issue(user, back=url_for("clinic.codes", patient_id=patient.id))


def _issue(user: User, back: str):
    try:
        code, _record = credentials.issue_reset(user, _user())
    except Refused as exc:  # e.g. a deactivated account: say so where the button was
        flash(refusal_message(exc), "error")
        return redirect(back, 303)
    # Shown on the page after a redirect: a reload or the language switch shows it again, never a new one.
    return shown_codes.show(code, url_for("account.reset_code"), back=back)


@bp.get("/account/reset-code")
def reset_code():
    """The reset code this person has just issued, while its page stays open (epro.web.shown_codes)."""
    held = shown_codes.held()
    if held is None or held.record.purpose != "reset" or held.record.user is None:
        return redirect(url_for("main.home"))
    back = str(held.context.get("back") or url_for("main.home"))
    return render_template("account/reset_issued.html", issued=_issued(held.record.user, held.code, held.record),
                           back=back)


def redeem_reset(pending: ActivationCode):
    """``/activate`` with a reset code: the username is shown, a new password is chosen."""
    user = pending.user
    assert user is not None
    code = (request.values.get("code") or "").strip()
    form = ResetPasswordForm(data={"code": code}, related_words=(user.username, user.display_name)) \
        if request.method == "GET" else ResetPasswordForm(related_words=(user.username, user.display_name))
    if request.method == "POST" and "password" in request.form:
        done = form.submit(lambda: credentials.redeem_reset(pending, form.password.data or ""))
        if done is not None:
            flash(_("Your new password is set. You were signed out everywhere else."), "success")
            if credentials.second_factor_on(done):  # the code from the clinic is no second factor
                return redirect(url_for("auth.login"))
            from epro.web.auth import start_session

            start_session(done)
            return redirect(url_for("main.home"))
    return prg.answer(form, lambda: render_template("auth/activate_reset.html", form=form, user=user),
                      to=url_for("auth.activate", code=code))
