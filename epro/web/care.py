"""The patient's caregivers, seen from the clinic: who is linked, since when; ending a link."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from epro.services import access, caregivers
from epro.web import guards, prg
from epro.web.fields import Form, TextField
from epro.web.forms import ActivationRequestForm

bp = Blueprint("care", __name__, url_prefix="/clinic")

guards.protect(bp, "staff", writes="data_entry")  # unlinking changes clinical data


class UnlinkForm(Form):
    """End a caregiver's link: the reason goes to the audit trail."""

    reason = TextField(_l("Reason"), max_len=caregivers.MAX_REASON,
                       message=_l("Please give a reason for this change."))


def _page(patient, form: UnlinkForm, failed: int | None = None, status: int = 200):
    return render_template(
        "clinic/caregivers.html", patient=patient, linked=caregivers.current(patient),
        ended=caregivers.ended(patient), form=form, failed=failed, code_form=ActivationRequestForm(),
    ), status


@bp.get("/patients/<int:patient_id>/caregivers")
def caregivers_page(patient_id: int):
    patient = access.patient_or_404(current_user, patient_id)
    kept = prg.take(UnlinkForm.__name__)  # an unlink that failed a moment ago: its reason and message
    if kept is not None and (kept.failed or "").isdigit():
        return _page(patient, prg.restore(UnlinkForm(formdata=None), kept), failed=int(kept.failed or 0),
                     status=kept.status)
    return _page(patient, UnlinkForm(formdata=None))


@bp.post("/patients/<int:patient_id>/caregivers/<int:link_id>/unlink")
def unlink(patient_id: int, link_id: int):
    patient = access.patient_or_404(current_user, patient_id)
    link = caregivers.link_of(patient, link_id)
    if link is None:
        abort(404)
    form = UnlinkForm()
    def end_link() -> bool:
        caregivers.unlink(link, current_user, form.reason.data)
        return True

    if not form.submit(end_link):
        back = url_for("care.caregivers_page", patient_id=patient.id)
        return prg.keep(form, failed=str(link_id), status=form.status, to=back) or (
            _page(patient, form, failed=link_id, status=form.status))
    flash(_("The caregiver is unlinked and can no longer see this patient."), "success")
    return redirect(url_for("care.caregivers_page", patient_id=patient.id))
