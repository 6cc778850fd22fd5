"""Administrators create a study from one of the protocols (shipped or in ``PROTOCOL_DIRS``)."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from epro.base import i18n
from epro.services import patients
from epro.services import protocols as app_protocols
from epro.services.trial import studies
from epro.web import guards, prg
from epro.web.trial import bp
from epro.web.trial.forms import NewStudyForm


@bp.route("/admin/studies/new", methods=["GET", "POST"])
@guards.audience("admin")
def new_study():
    sites = patients.all_sites()
    form = NewStudyForm(sites=sites)
    study = form.submit(lambda: studies.create_from_protocol(
        form.code.data, form.name.data or None, form.protocol.data, form.chosen_sites(), current_user,
        name_zh=form.name_zh.data or None))
    if study is not None:
        flash(_("Study %(code)s created from protocol %(protocol)s.", code=study.code, protocol=study.protocol),
              "success")
        return redirect(url_for("trial.new_study"))
    existing = patients.all_studies()
    return prg.answer(form, lambda: render_template(
        "trial/new_study.html", sites=sites, protocols=app_protocols.all_protocols(), form=form,
        site_choices=[(s.id, f"{s.code} · {s.name_in(i18n.lang_code(str(get_locale())))}") for s in sites],
        studies=existing, site_codes=studies.site_codes_by_study(),
    ))
