"""The reminders page: patients and caregivers choose their channels or stop reminders.

``/reminders`` works without JavaScript (a plain form); with it, the "Remind me on
this phone" button asks the browser for permission to show notifications (only
after that tap, never on first load) and stores the subscription through
``POST /api/v1/push-subscriptions`` (static/js/reminders.js).
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import BooleanField

from epro.services import reminders
from epro.web import guards, prg
from epro.web.fields import Form, TextField

bp = Blueprint("reminders", __name__)
guards.protect(bp, "patient_side")


class ReminderForm(Form):
    push = BooleanField(_l("A notification on this phone"))
    email = BooleanField(_l("An e-mail"))
    sms = BooleanField(_l("A text message (SMS)"))
    email_address = TextField(_l("E-mail address"), required=False, max_len=254)
    phone_number = TextField(_l("Mobile phone number"), required=False, max_len=32)


@bp.route("/reminders", methods=["GET", "POST"])
def page():
    user = current_user._get_current_object()
    prefs = reminders.preferences(user)
    form = ReminderForm(data={"push": prefs.push, "email": prefs.email, "sms": prefs.sms,
                              "email_address": user.email or "", "phone_number": user.phone or ""})
    action = request.form.get("action")
    if request.method == "POST" and action == "save":
        saved = form.submit(lambda: _save(user, form))
        if saved:
            flash(_("Your choice is saved."), "ok")
            return redirect(url_for("reminders.page"))
    elif request.method == "POST" and action in ("stop", "start") and form.validate_on_submit():
        # "stop"/"start" come from their own small form (the CSRF token only): the channels stay as they were.
        reminders.save_preferences(user, push=prefs.push, email=prefs.email, sms=prefs.sms, stopped=action == "stop")
        flash(_("Reminders are stopped. You can start them again here at any time.") if action == "stop"
              else _("Reminders are on again."), "ok")
        return redirect(url_for("reminders.page"))
    return prg.answer(form, lambda: render_template(
        "patient/reminders.html", form=form, prefs=prefs, subscribed=bool(reminders.subscriptions_of(user)),
        caregiver=user.role == "caregiver"))


def _save(user, form: ReminderForm) -> bool:
    reminders.save_contact(user, email=form.email_address.data, phone=form.phone_number.data)
    reminders.save_preferences(user, push=form.push.data, email=form.email.data, sms=form.sms.data, stopped=False)
    return True
