"""Administrators create a study from one of the protocols (shipped or in ``PROTOCOL_DIRS``)."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from epro.base.extensions import db
from epro.models import Site, Study
from epro.services import protocols as app_protocols
from epro.services.trial import fields, studies
from epro.web import guards
from epro.web.trial import bp, problems


@bp.route("/admin/studies/new", methods=["GET", "POST"])
@guards.audience("admin")
def new_study():
    sites = list(db.session.scalars(select(Site).order_by(Site.code)))
    errors: dict[str, str] = {}
    values = request.form if request.method == "POST" else {}
    if request.method == "POST":
        try:
            study = studies.create_from_protocol(request.form, current_user, sites)
        except fields.Invalid as exc:
            errors = problems(exc)
        else:
            db.session.commit()
            flash(_("Study %(code)s created from protocol %(protocol)s.", code=study.code,
                    protocol=study.protocol), "success")
            return redirect(url_for("trial.new_study"))
    existing = list(db.session.scalars(select(Study).order_by(Study.code)))
    return render_template(
        "trial/new_study.html", sites=sites, protocols=app_protocols.all_protocols(), errors=errors,
        values=values, chosen_sites=request.form.getlist("sites") if request.method == "POST" else [],
        studies=existing, sites_of=studies.sites_of,
    ), (422 if errors else 200)
