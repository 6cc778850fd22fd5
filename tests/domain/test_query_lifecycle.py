"""The data-query lifecycle (epro.core.queries), every role × state × action × source, written out."""
from datetime import UTC, datetime
from itertools import product

import pytest

from epro.core import queries, roles

#: The expected table, written independently of queries.MOVES: (state, action) -> (new state, roles).
RAISERS = {"monitor", "data-manager"}
ANSWERERS = {"clinician", "investigator"}
EXPECTED = {
    (None, "raise"): ("open", RAISERS),
    ("open", "answer"): ("answered", ANSWERERS),
    ("open", "correct"): ("answered", ANSWERERS),
    ("open", "cancel"): ("cancelled", RAISERS),
    ("answered", "reopen"): ("open", RAISERS),
    ("answered", "close"): ("closed", RAISERS),
}
NEEDS = {"raise": RAISERS, "answer": ANSWERERS, "correct": ANSWERERS, "cancel": RAISERS, "reopen": RAISERS,
         "close": RAISERS}


@pytest.mark.parametrize("role,state,action,source", list(product(
    sorted(roles.TABLE), (None, *queries.STATES), (*queries.ACTIONS, "delete"), ("clinician", "patient"))))
def test_every_move(role, state, action, source):
    caps = roles.of(role)
    if action == "delete" or role not in NEEDS[action]:
        with pytest.raises(queries.QueryRefused) as refused:
            queries.next_state(state, action, caps, source)
        assert refused.value.status == (409 if action == "delete" else 403)
        return
    if action == "correct" and source == "patient":  # the patient's own answer is its own source
        with pytest.raises(queries.QueryRefused) as refused:
            queries.next_state(state, action, caps, source)
        assert refused.value.status == 422 and refused.value.message == queries.OWN_SOURCE
        return
    if (state, action) in EXPECTED:
        to, who = EXPECTED[(state, action)]
        assert role in who
        assert queries.next_state(state, action, caps, source) == to
    else:
        with pytest.raises(queries.QueryRefused) as refused:
            queries.next_state(state, action, caps, source)
        assert refused.value.status == 409


def test_closed_and_cancelled_are_final_for_everyone():
    for role, state, action, source in product(roles.TABLE, queries.FINAL, queries.ACTIONS, ("clinician", "patient")):
        with pytest.raises(queries.QueryRefused):
            queries.next_state(state, action, roles.of(role), source)
        assert queries.actions_for(state, roles.of(role), source) == ()


def test_what_each_role_is_offered():
    mon, dm, clin = roles.of("monitor"), roles.of("data-manager"), roles.of("clinician")
    assert queries.actions_for(None, mon, "patient") == ("raise",)
    assert queries.actions_for("open", mon, "clinician") == ("cancel",)
    assert queries.actions_for("answered", dm, "clinician") == ("reopen", "close")
    assert queries.actions_for("open", clin, "clinician") == ("answer", "correct")
    assert queries.actions_for("open", clin, "patient") == ("answer",)  # a note only
    assert queries.actions_for("answered", clin, "clinician") == ()
    for role in ("patient", "caregiver", "statistician", "admin"):
        for state in (None, *queries.STATES):
            assert queries.actions_for(state, roles.of(role), "clinician") == ()


def test_only_monitors_verify_and_only_a_clinicians_form():
    assert queries.may_verify(roles.of("monitor"), "clinician")
    for respondent in ("patient", "caregiver-assisted", "caregiver-proxy"):
        assert not queries.may_verify(roles.of("monitor"), respondent)
        assert queries.source_of(respondent) == "patient"
    for role in set(roles.TABLE) - {"monitor"}:
        assert not queries.may_verify(roles.of(role), "clinician")


def test_messages_and_days_open_on_the_sites_calendar():
    assert queries.message_problem("  ") == queries.NO_TEXT
    assert queries.message_problem("x" * 1001) == queries.TOO_LONG
    assert queries.message_problem("x" * 1000) is None
    raised = datetime(2026, 3, 1, 15, 30, tzinfo=UTC)  # 23:30 on 1 March in Shanghai
    assert queries.days_open(raised, datetime(2026, 3, 1, 16, 30, tzinfo=UTC), "Asia/Shanghai") == 1  # 2 March
    assert queries.days_open(raised, datetime(2026, 3, 1, 16, 30, tzinfo=UTC), "UTC") == 0
    assert queries.days_open(raised, datetime(2026, 4, 1, 0, 0, tzinfo=UTC), "UTC") == 31
    assert [queries.age_band(d) for d in (0, 7, 8, 30, 31, 400)] == [0, 0, 1, 1, 2, 2]
