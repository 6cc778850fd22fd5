"""The Administration API (/api/v1): sites, studies and staff accounts, for administrators only.

Everything here is also on the administration pages.  Anyone else who is
signed in gets 404 (as the pages answer: whether the endpoint exists is not
their business); a body is checked by its pydantic model and then by the
service, and every bad field is named (422); a taken code or username is 409.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import jsonify
from flask_babel import gettext as _
from flask_login import current_user, login_required
from pydantic import BaseModel, ValidationError

from epro.models import Site, Study, User
from epro.services import activation, sites, staff
from epro.services.errors import FieldError, Invalid, Refused
from epro.services.trial import studies
from epro.web.api import schemas
from epro.web.api.openapi import documented
from epro.web.api.problems import problem
from epro.web.api.views import _json_body, bp
from epro.web.messages import field_message, refusal_message

#: The service's field names, as the JSON body spells them.
FIELDS = {"name_en": "name.en", "name_zh": "name.zh", "display_name_en": "display_name.en",
          "display_name_zh": "display_name.zh"}


def admins_only(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def check(*args: Any, **kwargs: Any) -> Any:
        if current_user.role != "admin":
            return problem(404, _("Not found"), _("We could not find this page."))
        return view(*args, **kwargs)

    return check


def _invalid(errors: list[FieldError]):
    listed = [{"field": FIELDS.get(e.field, e.field), "message": field_message(e)} for e in errors]
    if errors and all(e.code == "taken" for e in errors):
        return problem(409, _("Conflict"), listed[0]["message"], errors=listed)
    return problem(422, _("Invalid input"), _("Some fields are not valid."), errors=listed)


def _body(model: type[BaseModel], *, optional: bool = False):
    """(parsed body, None) or (None, the problem answer)."""
    body = _json_body()
    if body is None and optional:
        body = {}
    if not isinstance(body, dict):
        return None, problem(400, _("Bad request"), _("Send a JSON object."))
    try:
        return model.model_validate(body), None
    except ValidationError as exc:
        return None, _invalid(model.field_errors(exc))  # type: ignore[attr-defined]


def _run(action: Callable[[], Any]):
    """(result, None) or (None, the problem answer for what the service refused)."""
    try:
        return action(), None
    except Invalid as exc:
        return None, _invalid(exc.errors)
    except Refused as exc:
        return None, problem(409, _("Conflict"), refusal_message(exc))


def site_json(site: Site, study_codes: list[str] | None = None) -> dict[str, Any]:
    """The site; *study_codes* when the caller has them already (the list of sites: one query for all)."""
    if study_codes is None:
        study_codes = [s.code for s in studies.studies_at(site.id)]
    return {"code": site.code, "name": {"zh": site.name_zh, "en": site.name}, "timezone": site.timezone,
            "studies": study_codes}


def study_json(study: Study) -> dict[str, Any]:
    return {"code": study.code, "name": {"zh": study.name_zh, "en": study.name}, "protocol": study.protocol,
            "masked": study.masked, "sites": [s.code for s in studies.sites_of(study)],
            "arms": [a.code for a in study.arms]}


def user_json(user: User) -> dict[str, Any]:
    return {"username": user.username, "role": user.role, "site": user.site.code if user.site else None,
            "display_name": {"zh": user.display_name_zh, "en": user.display_name}, "status": staff.status(user),
            "two_factor": user.totp_enabled_at is not None}


def invitation_json(user: User, code: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"username": user.username, "role": user.role,
                            "site": user.site.code if user.site else None, "status": staff.status(user)}
    if code is not None:
        record = staff.pending_code(user)
        body.update(activation_code=activation.display(code), activation_url=activation.link_for(code),
                    expires_at=record.expires_at.isoformat() if record else None)
    return body


ADMIN_PROBLEMS = (404,)


@bp.get("/sites")
@login_required
@admins_only
@documented("Every site (administrators)", {200: (schemas.SiteList, "OK")}, problems=ADMIN_PROBLEMS)
def list_sites():
    by_site = studies.study_codes_by_site()
    return jsonify(sites=[site_json(s, by_site.get(s.id, [])) for s in sites.all_sites()])


@bp.post("/sites")
@login_required
@admins_only
@documented("Create a site (administrators)", {201: (schemas.SiteOut, "Created")},
            problems=(400, 404, 409, 422), body=schemas.NewSite, headers=("X-CSRFToken",))
def create_site():
    new, failed = _body(schemas.NewSite)
    if failed is not None:
        return failed
    site, failed = _run(lambda: sites.create(new.code, new.name.en, new.name.zh, new.timezone, current_user))
    if failed is not None:
        return failed
    return jsonify(site_json(site)), 201


@bp.post("/studies")
@login_required
@admins_only
@documented("Create a study from a protocol at these sites (administrators)",
            {201: (schemas.StudyOut, "Created")}, problems=(400, 404, 409, 422), body=schemas.NewStudy,
            headers=("X-CSRFToken",))
def create_study():
    new, failed = _body(schemas.NewStudy)
    if failed is not None:
        return failed
    study, failed = _run(lambda: studies.create_by_codes(
        new.protocol, new.sites, current_user, code=new.code, name=new.name.en if new.name else None,
        name_zh=new.name.zh if new.name else None))
    if failed is not None:
        return failed
    return jsonify(study_json(study)), 201


@bp.get("/users")
@login_required
@admins_only
@documented("Every staff and administrator account (administrators)", {200: (schemas.UserList, "OK")},
            problems=ADMIN_PROBLEMS)
def list_users():
    return jsonify(users=[user_json(u) for u in staff.accounts_list()])


@bp.post("/users")
@login_required
@admins_only
@documented("Invite a member of staff: a waiting account and its one-time activation code (administrators)",
            {201: (schemas.Invitation, "Created")}, problems=(400, 404, 409, 422), body=schemas.NewUser,
            headers=("X-CSRFToken",))
def create_user():
    new, failed = _body(schemas.NewUser)
    if failed is not None:
        return failed
    made, failed = _run(lambda: staff.invite(new.username, new.role, new.site, new.display_name.en,
                                             new.display_name.zh, current_user))
    if failed is not None:
        return failed
    user, code = made
    return jsonify(invitation_json(user, code)), 201


def _account_or_404(username: str) -> User | None:
    return staff.by_username(username)


@bp.post("/users/<username>/deactivate")
@login_required
@admins_only
@documented("Deactivate an account: no sign-in, open sessions end at once (administrators)",
            {200: (schemas.Invitation, "Deactivated")}, problems=(400, 404, 409, 422), body=schemas.Deactivation,
            headers=("X-CSRFToken",))
def deactivate_user(username: str):
    user = _account_or_404(username)
    if user is None:
        return problem(404, _("Not found"), _("There is no such account."))
    reason, failed = _body(schemas.Deactivation, optional=True)
    if failed is not None:
        return failed
    done, failed = _run(lambda: staff.deactivate(user, current_user, reason.reason))
    if failed is not None:
        return failed
    return jsonify(invitation_json(done, None)), 200


@bp.post("/users/<username>/reactivate")
@login_required
@admins_only
@documented("Reactivate an account: its old password is cleared and it gets a new activation code "
            "(administrators)", {200: (schemas.Invitation, "Reactivated")}, problems=(400, 404, 409, 422),
            headers=("X-CSRFToken",))
def reactivate_user(username: str):
    user = _account_or_404(username)
    if user is None:
        return problem(404, _("Not found"), _("There is no such account."))
    done, failed = _run(lambda: staff.reactivate(user, current_user))
    if failed is not None:
        return failed
    account, code = done
    return jsonify(invitation_json(account, code)), 200
