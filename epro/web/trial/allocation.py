"""The concealed allocation list: generated and read by unblinded staff only."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from epro.core.trial import randomization
from epro.services.trial import allocation, studies
from epro.web import prg
from epro.web.hooks import presenter
from epro.web.trial import bp
from epro.web.trial.forms import AllocationListForm


@bp.route("/studies/<int:study_id>/allocation", methods=["GET", "POST"])
def allocation_list(study_id: int):
    study = studies.visible_study(current_user, study_id)
    # Masked staff may not even learn that the page exists (concealment, ICH E9 2.3.1).
    if study is None or not presenter().sees_allocation_list(study):
        abort(404)
    protocol = studies.protocol_of(study)
    form = AllocationListForm(data={"length": protocol.enrollment_target or 60})
    count = form.submit(lambda: allocation.generate(study, form.seed.data, form.length.data, current_user),
                        first=lambda: allocation.ensure_can_generate(study))
    if count is not None:
        flash(_("Allocation list generated: %(n)s places.", n=count), "success")
        return redirect(url_for("trial.allocation_list", study_id=study.id))
    recorded = allocation.recorded_digest(study)
    lists = allocation.stored_lists(study)
    return prg.answer(form, lambda: render_template(
        "trial/allocation.html", study=study, protocol=protocol, form=form,
        # Site staff read their own site's places only (epro.core.roles: an investigator is unblinded for
        # their own site).
        slots=allocation.slots(study, current_user.site_id if current_user.can.sees_own_site else None),
        recorded_digest=recorded,
        unchanged=bool(lists) and randomization.list_digest(lists) == recorded,
    ))
