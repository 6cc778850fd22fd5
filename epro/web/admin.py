"""The administration pages: sites, studies and their sites, staff accounts, the administration log.

Administrators only (everyone else gets 404).  Views are thin: each form hands
its fields to one service (:mod:`epro.services.sites`, :mod:`epro.services.staff`,
:mod:`epro.services.trial.studies`), which audits the change.
"""
from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_datetime, get_locale
from flask_babel import gettext as _
from flask_login import current_user

from epro.base import i18n
from epro.core.i18n_marker import N_
from epro.models import User
from epro.services import activation, admin_log, sites, staff
from epro.services.trial import studies
from epro.web import guards, prg, shown_codes
from epro.web.admin_forms import (
    ROLE_LABELS,
    AddStudySiteForm,
    ButtonForm,
    DeactivateForm,
    InviteForm,
    NewSiteForm,
    SiteNamesForm,
)

bp = Blueprint("admin", __name__, url_prefix="/admin")
guards.protect(bp, "admin")

#: How the log words each action (anything else: the action's own name).
ACTIONS = {
    "create_site": N_("Site created"), "update_site": N_("Site changed"), "create_study": N_("Study created"),
    "add_study_site": N_("Site added to a study"), "invite": N_("Account invited"),
    "deactivate": N_("Account deactivated"), "reactivate": N_("Account reactivated"),
    "activate": N_("Account activated"), "create": N_("Created"), "update": N_("Changed"),
    "login_failed": N_("Failed sign-in"), "activation_failed": N_("Wrong activation code"),
}
TABLES = {"users": N_("Account"), "sites": N_("Site"), "studies": N_("Study"), "study_sites": N_("Study site"),
          "activation_codes": N_("Activation code")}
STATUS = {"active": N_("Active"), "waiting": N_("Waiting for activation"), "deactivated": N_("Deactivated")}


def reader_lang() -> str:
    return i18n.lang_code(str(get_locale() or i18n.DEFAULT))


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {"role_label": lambda role: _(ROLE_LABELS[role]) if role in ROLE_LABELS else role,
            "status_label": lambda user: _(STATUS[staff.status(user)]), "account_status": staff.status}


# --- sites ----------------------------------------------------------------------------------------


@bp.route("/sites", methods=["GET", "POST"])
def sites_page():
    form = NewSiteForm()
    site = form.submit(lambda: sites.create(form.code.data, form.name_en.data, form.name_zh.data,
                                            form.timezone.data, current_user))
    if site is not None:
        flash(_("Site %(code)s created.", code=site.code), "success")
        return redirect(url_for("admin.sites_page"))
    return prg.answer(form, lambda: render_template(
        "admin/sites.html", form=form, sites=sites.all_sites(), zones=sites.zones()))


@bp.route("/sites/<int:site_id>", methods=["GET", "POST"])
def edit_site(site_id: int):
    site = sites.by_id(site_id) or abort(404)
    form = SiteNamesForm(data={"name_en": site.name, "name_zh": site.name_zh, "timezone": site.timezone}) \
        if request.method == "GET" else SiteNamesForm()
    if form.submit(lambda: sites.update(site, form.name_en.data, form.name_zh.data, form.timezone.data,
                                        current_user)) is not None:
        flash(_("Site %(code)s changed.", code=site.code), "success")
        return redirect(url_for("admin.sites_page"))
    return prg.answer(form, lambda: render_template("admin/site_edit.html", form=form, site=site, zones=sites.zones()))


# --- studies --------------------------------------------------------------------------------------


def _studies_page(failed: tuple[int, AddStudySiteForm] | None = None, status: int = 200):
    every_site = sites.all_sites()
    rows = []
    for study in studies.all_studies():
        taking_part = studies.sites_of(study)
        others = [s for s in every_site if s.id not in {t.id for t in taking_part}]
        form = failed[1] if failed and failed[0] == study.id else AddStudySiteForm(sites=others, formdata=None)
        rows.append((study, taking_part, others, form))
    return render_template("admin/studies.html", rows=rows), status


@bp.get("/studies")
def studies_page():
    kept = prg.take(AddStudySiteForm.__name__)  # a site that could not be added a moment ago
    if kept is None or not (kept.failed or "").isdigit():
        return _studies_page()
    form = prg.restore(AddStudySiteForm(sites=sites.all_sites(), formdata=None), kept)
    return _studies_page((int(kept.failed or 0), form), kept.status)


@bp.post("/studies/<int:study_id>/sites")
def add_study_site(study_id: int):
    study = studies.by_id(study_id) or abort(404)
    form = AddStudySiteForm(sites=sites.all_sites())
    added = form.submit(lambda: studies.add_site(study, sites.by_code(form.site.data) or abort(404), current_user))
    if added is not None:
        flash(_("Site %(site)s now takes part in %(study)s.", site=form.site.data, study=study.code), "success")
        return redirect(url_for("admin.studies_page"))
    return prg.keep(form, failed=str(study.id), status=form.status, to=url_for("admin.studies_page")) or (
        _studies_page((study.id, form), form.status))


# --- accounts -------------------------------------------------------------------------------------


#: The heading of the page that shows a new account code, by what issued it.
CODE_HEADINGS = {"invited": N_("Account %(username)s invited"),
                 "reactivated": N_("Account %(username)s reactivated"),
                 "new": N_("New activation code for %(username)s")}


def _show_code(user: User, code: str, issued_by: str):
    """The code's page after a redirect (epro.web.shown_codes): a reload shows the same code again."""
    return shown_codes.show(code, url_for("admin.user_code", user_id=user.id), heading=issued_by)


@bp.route("/users", methods=["GET", "POST"])
def users_page():
    every_site = sites.all_sites()
    form = InviteForm(sites=every_site)
    invited = form.submit(lambda: staff.invite(form.username.data, form.role.data, form.site.data,
                                               form.display_name_en.data, form.display_name_zh.data, current_user))
    if invited is not None:
        user, code = invited
        return _show_code(user, code, "invited")
    return prg.answer(form, lambda: render_template(
        "admin/users.html", form=form, accounts=staff.accounts_list(),
        site_choices=[(s.code, f"{s.code} · {s.name_in(reader_lang())}") for s in every_site],
        role_choices=[(r, _(ROLE_LABELS[r])) for r in staff.ROLES]))


def _account_page(user: User, deactivate_form: DeactivateForm | None = None, button: ButtonForm | None = None,
                  status: int = 200):
    return render_template("admin/user.html", account=user, pending=staff.pending_code(user),
                           deactivate_form=deactivate_form or DeactivateForm(formdata=None),
                           button=button or ButtonForm(formdata=None),
                           is_self=user.id == current_user.id), status


@bp.get("/users/<int:user_id>")
def user_page(user_id: int):
    user = staff.by_id(user_id) or abort(404)
    kept = prg.take()  # a step on this account that failed a moment ago (post–redirect–get)
    if kept is not None and kept.form == DeactivateForm.__name__:
        return _account_page(user, deactivate_form=prg.restore(DeactivateForm(formdata=None), kept), status=kept.status)
    if kept is not None and kept.form == ButtonForm.__name__:
        return _account_page(user, button=prg.restore(ButtonForm(formdata=None), kept), status=kept.status)
    return _account_page(user)


def _failed(user: User, form: DeactivateForm | ButtonForm, **page: Any):
    """Back to the account's page with the message (303), or the page itself if it cannot be kept."""
    return prg.keep(form, status=form.status, to=url_for("admin.user_page", user_id=user.id)) or (
        _account_page(user, **page, status=form.status))


@bp.post("/users/<int:user_id>/deactivate")
def deactivate_user(user_id: int):
    user = staff.by_id(user_id) or abort(404)
    form = DeactivateForm()
    if form.submit(lambda: staff.deactivate(user, current_user, form.reason.data)) is not None:
        flash(_("Account %(username)s deactivated; its sessions have ended.", username=user.username), "success")
        return redirect(url_for("admin.user_page", user_id=user.id))
    return _failed(user, form, deactivate_form=form)


@bp.post("/users/<int:user_id>/reactivate")
def reactivate_user(user_id: int):
    user = staff.by_id(user_id) or abort(404)
    form = ButtonForm()
    done = form.submit(lambda: staff.reactivate(user, current_user))
    if done is not None:
        return _show_code(user, done[1], "reactivated")
    return _failed(user, form, button=form)


@bp.get("/users/<int:user_id>/code")
def user_code(user_id: int):
    """The one-time code just issued for this account, while its page stays open; else the account."""
    user = staff.by_id(user_id) or abort(404)
    held = shown_codes.held()
    if held is None or held.record.user_id != user.id:
        return redirect(url_for("admin.user_page", user_id=user.id))
    url = activation.link_for(held.code)
    heading = CODE_HEADINGS.get(str(held.context.get("heading")), CODE_HEADINGS["new"])
    return render_template("admin/code.html", account=user, heading=_(heading, username=user.username),
                           code=activation.display(held.code), url=url, qr=activation.qr_svg(url),
                           expires_at=held.record.expires_at)


@bp.post("/users/<int:user_id>/code")
def new_user_code(user_id: int):
    user = staff.by_id(user_id) or abort(404)
    form = ButtonForm()
    code = form.submit(lambda: staff.new_code(user, current_user))
    if code is not None:
        return _show_code(user, code, "new")
    return _failed(user, form, button=form)


# --- the log --------------------------------------------------------------------------------------


def _describe(entry: admin_log.Entry) -> str:
    """What changed, briefly: the field and its new value, or the new record's main values."""
    if entry.field and entry.field != "used_at" and not isinstance(entry.new, dict):
        return f"{entry.field}: {_short(entry.old)} → {_short(entry.new)}"
    values = entry.new if isinstance(entry.new, dict) else {}
    keys = ("code", "name", "name_zh", "timezone", "username", "role", "display_name", "display_name_zh",
            "purpose", "active", "study", "site", "expires_at")
    return ", ".join(f"{k}: {_short(values[k])}" for k in keys if values.get(k) not in (None, ""))


def _short(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] in "T ":
        with contextlib.suppress(ValueError):
            value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return format_datetime(value, "short")
    text = str(value)
    return text if len(text) <= 60 else text[:59] + "…"


@bp.get("/log")
def log_page():
    before = request.args.get("before", type=int)
    entries = admin_log.entries(before=before if before and 0 < before < 2**31 else None)
    lang = reader_lang()
    rows = [{
        "entry": e,
        "who": (e.actor.display_name_in(lang) + f" ({e.actor.username})") if e.actor else _("the system"),
        "what": _(ACTIONS[e.action]) if e.action in ACTIONS else e.action,
        "table": _(TABLES.get(e.table, e.table)),
        "detail": _describe(e),
    } for e in entries]
    older = entries[-1].id if len(entries) == admin_log.PAGE else None
    return render_template("admin/log.html", rows=rows, older=older)
