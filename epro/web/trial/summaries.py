"""Study summaries: safety (the primary outcome) and outcome changes from baseline.

Pooled for masked users; per arm only for users who see arms (splitting a
masked study's numbers by arm would unmask it).  Both cover the study's
patients at the user's own site, the only patients the user may see.
"""
from __future__ import annotations

from flask import abort, render_template
from flask_babel import gettext as _
from flask_login import current_user

from epro.core import endpoints
from epro.core.instruments import get as instrument
from epro.core.trial import outcomes as stats
from epro.core.trial import safety as rules
from epro.models import Study
from epro.services.trial import outcomes, safety, studies
from epro.web.hooks import presenter
from epro.web.trial import bp, lang


def _study(study_id: int) -> Study:
    study = studies.visible_study(current_user, study_id)
    if study is None:
        abort(404)
    return study


def _group_names(study: Study, by_arm: bool) -> dict[str, str]:
    if not by_arm:
        return {stats.POOLED: _("All patients (pooled)")}
    names = {a.code: a.text(lang()) for a in presenter().study_arms(study)}
    names[outcomes.NO_ARM] = _("No arm")
    return names


@bp.get("/")
def studies_index():
    rows = [(s, studies.protocol_of(s), presenter().sees_allocation_list(s))
            for s in studies.visible_studies(current_user)]
    return render_template("trial/studies.html", rows=rows)


@bp.get("/studies/<int:study_id>/safety")
def safety_summary(study_id: int):
    study = _study(study_id)
    by_arm = presenter().sees_arms_in(study)
    result = safety.study_summary(study, current_user.site_id, masked=not by_arm)
    return render_template(
        "trial/safety_summary.html", study=study, protocol=studies.protocol_of(study), result=result,
        categories=rules.CATEGORIES, names=_group_names(study, by_arm), by_arm=by_arm,
    )


@bp.get("/studies/<int:study_id>/outcomes")
def outcome_summary(study_id: int):
    study = _study(study_id)
    by_arm = presenter().sees_arms_in(study)
    result = outcomes.study_outcomes(study, current_user.site_id, masked=not by_arm)
    names = _group_names(study, by_arm)
    mrs_labels = [str(n) for n in stats.MRS_LEVELS]
    charts = {}
    for n, (group, by_visit) in enumerate(result.mrs.items()):
        charts[group] = stats.stacked_bar_svg(
            [(v, by_visit[v]) for v in result.visits],
            title=_("mRS by visit: %(group)s", group=names.get(group, group)),
            description=_("Share of patients at each mRS level (0 no symptoms to 6 dead) per visit."),
            id_prefix=f"mrs-{n}", labels=mrs_labels,
        )
    return render_template(
        "trial/outcome_summary.html", study=study, protocol=studies.protocol_of(study), result=result,
        names=names, by_arm=by_arm, charts=charts, instrument=instrument,
        derivation_rules=endpoints.rules(_),
        apart_names={"proxy": _("answered by a caregiver for the patient (proxy)"),
                     "untestable": _("totals containing untestable items (UN)")},
        follow_up=[v for v in result.visits if v != stats.BASELINE],
    )
