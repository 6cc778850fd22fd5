"""Web push for reminders: the VAPID public key and each browser's subscription.

For patients and caregivers (who get reminders); anyone else signed in gets
404.  The page that asks the browser for permission is /reminders (the person
taps "remind me" first, never on first load: static/js/reminders.js).
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import jsonify
from flask_babel import gettext as _
from flask_login import current_user, login_required

from epro.services import reminders
from epro.services.errors import Invalid
from epro.web.api import schemas
from epro.web.api.admin import _body, _invalid
from epro.web.api.openapi import documented
from epro.web.api.problems import problem
from epro.web.api.views import bp


def reminded_only(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def check(*args: Any, **kwargs: Any) -> Any:
        if not current_user.can.answers_patient_reported:
            return problem(404, _("Not found"), _("We could not find this page."))
        return view(*args, **kwargs)

    return check


@bp.get("/push/public-key")
@login_required
@reminded_only
@documented("The VAPID public key for PushManager.subscribe (patients and caregivers)",
            {200: (schemas.PushPublicKey, "OK")}, problems=(404, 503))
def push_public_key():
    key = reminders.vapid_public_key()
    if key is None:
        return problem(503, _("Not available"), _("Reminders by notification are not set up on this server."))
    return jsonify(key=key)


@bp.post("/push-subscriptions")
@login_required
@reminded_only
@documented("Store this browser's push subscription for the signed-in person",
            {201: (schemas.PushSubscriptionOut, "Stored")}, problems=(400, 404, 422),
            body=schemas.NewPushSubscription, headers=("X-CSRFToken",))
def create_push_subscription():
    body, failed = _body(schemas.NewPushSubscription)
    if failed is not None:
        return failed
    try:
        row = reminders.subscribe(current_user, body.endpoint, body.keys.p256dh, body.keys.auth)
    except Invalid as exc:
        return _invalid(exc.errors)
    return jsonify(endpoint=row.endpoint), 201


@bp.delete("/push-subscriptions")
@login_required
@reminded_only
@documented("Forget this browser's push subscription", {204: (None, "Removed (or there was none)")},
            problems=(400, 404, 422), body=schemas.PushUnsubscribe, headers=("X-CSRFToken",))
def delete_push_subscription():
    body, failed = _body(schemas.PushUnsubscribe)
    if failed is not None:
        return failed
    reminders.unsubscribe(current_user, body.endpoint)
    return "", 204
