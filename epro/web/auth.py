"""Sign in, sign out and first-time activation with a one-time code."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required, login_user, logout_user

from epro.base.extensions import limiter
from epro.models import User
from epro.services import accounts, activation, credentials, sign_in_limits
from epro.services.passwords import verify_password
from epro.web import prg, second_step
from epro.web.forms import ActivationCodeForm, EmptyForm, LoginForm, SetPasswordForm

bp = Blueprint("auth", __name__)

#: The views with a per-address limit (the decorators below).  Every other request skips the
#: limiter's look-up, which would otherwise cost each request a third of a bare view's time;
#: tests/test_request_path.py checks that no limited view is missing here.
THROTTLED_ENDPOINTS = frozenset({"auth.login", "auth.activate"})


@limiter.request_filter
def _not_throttled() -> bool:
    return request.endpoint not in THROTTLED_ENDPOINTS


def safe_next(target: str | None) -> str | None:
    """Only same-site relative paths; never //evil.example or a scheme."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def start_session(user: User) -> None:
    lang = session.get("lang")
    session.clear()  # a fresh session at login (no fixation)
    if lang:
        session["lang"] = lang
        accounts.remember_locale(user, lang)  # a language chosen on the sign-in page is the person's choice
    login_user(user, remember=user.role in ("patient", "caregiver"))
    session.permanent = True


def _failed(response) -> bool:
    """A refused sign-in counts against the address: the POST answers 303 either way (post–redirect–get),
    so the view says so in ``g`` rather than by its status."""
    return bool(g.get("sign_in_refused"))


#: The kept state of a failed sign-in (epro.web.prg); the second step keeps its lock-out here too.
LOGIN_FORM = "login"


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_ADDRESS"], methods=["POST"], deduct_when=_failed,
               scope="login-address")
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    if form.validate_on_submit():
        locked = sign_in_limits.check(form.username.data)  # before any password is looked at
        if locked is not None:
            return _refused(form, locked_message(locked), 429)
        user = accounts.by_username((form.username.data or "").strip())
        if user is not None and user.active and verify_password(user.password_hash, form.password.data or ""):
            if credentials.second_factor_on(user):  # password right: now the code (epro.web.account.verify)
                return second_step.begin(user, safe_next(request.args.get("next")))
            sign_in_limits.succeeded(form.username.data)
            start_session(user)
            return redirect(safe_next(request.args.get("next")) or url_for("main.home"))
        if user is None:
            verify_password(None, form.password.data or "")  # same time for unknown users
        accounts.login_failed(user)
        sign_in_limits.failed(form.username.data)
        return _refused(form, _("The username or password is not right. Please try again."), 401)
    if request.method == "POST":  # a field left empty: say which, on the page
        return prg.keep(form, name=LOGIN_FORM) or _login_page(form, None, 422)
    return _login_page(form, prg.take(LOGIN_FORM))


def _refused(form: LoginForm, message: str, status: int):
    """Counted against the address, kept for the page, and 303 back to it (a reload asks nothing again)."""
    g.sign_in_refused = status == 401
    return prg.keep(form, name=LOGIN_FORM, form_error=message, status=status) or _login_page(
        form, None, status, message)


def _login_page(form: LoginForm, kept: prg.Kept | None, status: int = 200, error: str | None = None):
    """The sign-in page; after a refusal, with its message and status (429 with Retry-After while locked)."""
    headers: dict[str, str] = {}
    if kept is not None:
        prg.restore(form, kept)
        error, status = kept.form_error, kept.status
        if status == 429:  # the lock's time left is read now, not when the refusal was kept
            locked = sign_in_limits.check(kept.values.get("username"))
            if locked is None:
                error, status = None, 200
            else:
                error, headers = locked_message(locked), {"Retry-After": str(locked.retry_after)}
    elif status == 429:
        locked = sign_in_limits.check(form.username.data)
        headers = {"Retry-After": str(locked.retry_after)} if locked else {}
    page = render_template("auth/login.html", form=form, error=error, first_start=not accounts.has_admin())
    return page, status, headers


def locked_message(locked: sign_in_limits.Locked) -> str:
    return ngettext("Too many failed sign-ins with this username. For your safety, please wait %(num)d minute "
                    "and try again; until then even the right password is refused.",
                    "Too many failed sign-ins with this username. For your safety, please wait %(num)d minutes "
                    "and try again; until then even the right password is refused.", locked.minutes)


@bp.post("/logout")
@login_required
def logout():
    form = EmptyForm()
    if form.validate_on_submit():
        accounts.end_all_sessions(current_user)
        lang = session.get("lang")
        logout_user()
        session.clear()
        if lang:
            session["lang"] = lang
        flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/activate", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["ACTIVATION_LIMIT_ADDRESS"],
               deduct_when=lambda r: bool(g.get("code_refused")), scope="activation")
def activate():
    """Step 1 asks for the code (or takes it from the QR link); step 2 sets the password.

    Step 1 is a GET form, so a wrong code is answered in place (400) with nothing to post again."""
    code = (request.values.get("code") or "").strip()
    if not code:
        kept = prg.take(CODE_FORM)  # a code that stopped working between the two steps
        form = prg.restore(ActivationCodeForm(formdata=None), kept)
        return render_template("auth/activate_code.html", form=form, error=kept.form_error if kept else None), (
            kept.status if kept else 200)
    pending = activation.find_usable(code)
    if pending is None:
        activation.refused(code)
        g.code_refused = True
        form = ActivationCodeForm(data={"code": code})
        error = _("This code does not work. It may be used up or expired; please ask your clinic for a new one.")
        if request.method == "POST":
            back = prg.keep(form, name=CODE_FORM, form_error=error, status=400, to=url_for("auth.activate"),
                            values={"code": code})
            if back is not None:
                return back
        return render_template("auth/activate_code.html", form=form, error=error), 400
    if current_user.is_authenticated and activation.links_existing(pending, current_user):
        return _link_caregiver(pending, code)
    if pending.purpose == "reset":  # a new password for an existing account (epro.web.account)
        from epro.web.account import redeem_reset

        return redeem_reset(pending)
    # A staff code activates a waiting account: its username is fixed, the person only chooses a password.
    fixed = pending.user.username if pending.purpose == "staff" and pending.user is not None else None
    form = SetPasswordForm(data={"code": code, **({"username": fixed} if fixed else {})}) \
        if request.method == "GET" else SetPasswordForm()
    if request.method == "POST" and "password" in request.form and form.validate_on_submit():
        user, problem = activation.redeem(pending, (form.username.data or "").strip(), form.password.data or "")
        if user is not None:
            start_session(user)
            flash(_("Welcome! Your account is ready."), "success")
            return redirect(url_for("main.home"))
        form.username.errors = [*form.username.errors, problem]

    def page() -> str:
        if fixed:
            form.username.data = fixed
        return render_template("auth/activate_password.html", form=form, pending=pending, fixed_username=fixed)

    # A failed step comes back to the code's own address (the QR link's), never to the POST.
    return prg.answer(form, page, to=url_for("auth.activate", code=code))


def _link_caregiver(pending, code: str):
    """A caregiver who is signed in links this account to the code's patient (no second account)."""
    form = ActivationCodeForm(data={"code": code})
    if request.method == "POST" and form.validate_on_submit():
        error = activation.redeem_for_caregiver(pending, current_user)
        if not error:
            flash(_("You are now linked to a further patient."), "success")
            return redirect(url_for("main.home"))
        return prg.keep(form, name=LINK_FORM, form_error=error, status=409,
                        to=url_for("auth.activate", code=code)) or _link_page(form, pending, error, 409)
    kept = prg.take(LINK_FORM)
    return _link_page(form, pending, kept.form_error if kept else None, kept.status if kept else 200)


#: The kept states of a link that failed and of a code that stopped working (epro.web.prg).
LINK_FORM = "activation_link"
CODE_FORM = "activation_code"


def _link_page(form: ActivationCodeForm, pending, error: str | None, status: int):
    return render_template("auth/activate_link.html", form=form, pending=pending, error=error), status


@bp.get("/logout")
def logout_page():
    """A GET to /logout shows a button (logging out changes state, so it is a POST)."""
    return render_template("auth/logout.html", form=EmptyForm())
