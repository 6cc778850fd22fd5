"""Geriatric Depression Scale, short form (GDS-15; 老年抑郁量表).

Source: Sheikh JI, Yesavage JA. Geriatric Depression Scale (GDS): recent
evidence and development of a shorter version. Clin Gerontol 1986;5(1-2):
165-173.  Item keys GDS0201-GDS0215 and the total GDS0216 follow CDISC SDTM
Controlled Terminology (QS domain, QSCAT "GDS SHORT FORM").  LOINC panel
48543-3, total 48545-8.

Each item scores 1 for the depressive answer: "NO" on items 1, 5, 7, 11 and 13,
"YES" on the others.  0-4 is read as normal, 5 or more suggests depression,
10 or more almost always means depression.  The GDS is a self-report: a
caregiver answering *for* the patient (``caregiver-proxy``) is not the
validated measure, so such a score carries the flag ``proxy``, and the
caregiver reads every question about the patient ("Is he or she basically
satisfied with his or her life?"; 他/她), the same questions in the third
person; keys and scoring do not change.
"""

from dataclasses import dataclass

from epro.core.i18n_marker import N_

from .base import NO, YES, Band, Choice, Instrument, Item

INSTRUCTIONS = N_("Choose the best answer for how you have felt over the past week.")
#: For a caregiver answering *for* the patient (``caregiver-proxy``): every
#: text speaks of the patient ("he or she", 他/她), so the answer is about the
#: patient, not the caregiver.  The score stays flagged ``proxy``.
PROXY_INSTRUCTIONS = N_(
    "You are answering for the patient. Choose the best answer for how he or she has felt "
    "over the past week."
)
_YES_LABEL = N_("Yes")
_NO_LABEL = N_("No")

#: The 30 long-form questions (Yesavage et al. 1983), shared with ``gds30``.
#: The short form uses long-form items 1, 2, 3, 4, 7, 8, 9, 10, 12, 14, 15,
#: 17, 21, 22, 23.
LONG_FORM_QUESTIONS = (
    N_("Are you basically satisfied with your life?"),
    N_("Have you dropped many of your activities and interests?"),
    N_("Do you feel that your life is empty?"),
    N_("Do you often get bored?"),
    N_("Are you hopeful about the future?"),
    N_("Are you bothered by thoughts you can't get out of your head?"),
    N_("Are you in good spirits most of the time?"),
    N_("Are you afraid that something bad is going to happen to you?"),
    N_("Do you feel happy most of the time?"),
    N_("Do you often feel helpless?"),
    N_("Do you often get restless and fidgety?"),
    N_("Do you prefer to stay at home, rather than going out and doing new things?"),
    N_("Do you frequently worry about the future?"),
    N_("Do you feel you have more problems with memory than most?"),
    N_("Do you think it is wonderful to be alive now?"),
    N_("Do you often feel downhearted and blue?"),
    N_("Do you feel pretty worthless the way you are now?"),
    N_("Do you worry a lot about the past?"),
    N_("Do you find life very exciting?"),
    N_("Is it hard for you to get started on new projects?"),
    N_("Do you feel full of energy?"),
    N_("Do you feel that your situation is hopeless?"),
    N_("Do you think that most people are better off than you are?"),
    N_("Do you frequently get upset over little things?"),
    N_("Do you frequently feel like crying?"),
    N_("Do you have trouble concentrating?"),
    N_("Do you enjoy getting up in the morning?"),
    N_("Do you prefer to avoid social gatherings?"),
    N_("Is it easy for you to make decisions?"),
    N_("Is your mind as clear as it used to be?"),
)
#: The same 30 questions about the patient, for a caregiver answering for him or her.
LONG_FORM_PROXY_QUESTIONS = (
    N_("Is he or she basically satisfied with his or her life?"),
    N_("Has he or she dropped many of his or her activities and interests?"),
    N_("Does he or she feel that his or her life is empty?"),
    N_("Does he or she often get bored?"),
    N_("Is he or she hopeful about the future?"),
    N_("Is he or she bothered by thoughts he or she can't get out of his or her head?"),
    N_("Is he or she in good spirits most of the time?"),
    N_("Is he or she afraid that something bad is going to happen to him or her?"),
    N_("Does he or she feel happy most of the time?"),
    N_("Does he or she often feel helpless?"),
    N_("Does he or she often get restless and fidgety?"),
    N_("Does he or she prefer to stay at home, rather than going out and doing new things?"),
    N_("Does he or she frequently worry about the future?"),
    N_("Does he or she feel he or she has more problems with memory than most?"),
    N_("Does he or she think it is wonderful to be alive now?"),
    N_("Does he or she often feel downhearted and blue?"),
    N_("Does he or she feel pretty worthless the way he or she is now?"),
    N_("Does he or she worry a lot about the past?"),
    N_("Does he or she find life very exciting?"),
    N_("Is it hard for him or her to get started on new projects?"),
    N_("Does he or she feel full of energy?"),
    N_("Does he or she feel that his or her situation is hopeless?"),
    N_("Does he or she think that most people are better off than he or she is?"),
    N_("Does he or she frequently get upset over little things?"),
    N_("Does he or she frequently feel like crying?"),
    N_("Does he or she have trouble concentrating?"),
    N_("Does he or she enjoy getting up in the morning?"),
    N_("Does he or she prefer to avoid social gatherings?"),
    N_("Is it easy for him or her to make decisions?"),
    N_("Is his or her mind as clear as it used to be?"),
)
SHORT_FORM_ITEMS = (1, 2, 3, 4, 7, 8, 9, 10, 12, 14, 15, 17, 21, 22, 23)
#: Short-form items where "NO" is the depressive answer.
REVERSED = frozenset({1, 5, 7, 11, 13})


def yes_no_item(key: str, text: str, reversed_: bool, proxy: str = "") -> Item:
    """A yes/no item scoring 1 for the depressive answer; *proxy* asks the same about the patient."""
    return Item(
        key,
        text,
        (
            Choice(YES, _YES_LABEL, points=0 if reversed_ else 1),
            Choice(NO, _NO_LABEL, points=1 if reversed_ else 0),
        ),
        proxy=proxy,
    )


@dataclass(frozen=True, kw_only=True)
class GeriatricDepressionScale(Instrument):
    #: Total at or above which the score suggests depression (flag "depression").
    depression_from: int

    def _flags(self, answers: dict[str, int | str], total: int) -> set[str]:
        return {"depression"} if total >= self.depression_from else set()


INSTRUMENT = GeriatricDepressionScale(
    code="gds15",
    name=N_("Geriatric Depression Scale (GDS-15)"),
    short_name="GDS-15",
    reporter="patient",
    task_hint=N_("Your mood — 15 questions"),
    caregiver_task_hint=N_("The patient's mood — 15 questions"),
    instructions=INSTRUCTIONS,
    proxy_instructions=PROXY_INSTRUCTIONS,
    items=tuple(
        yes_no_item(
            f"GDS02{number:02d}", LONG_FORM_QUESTIONS[long_number - 1], number in REVERSED,
            proxy=LONG_FORM_PROXY_QUESTIONS[long_number - 1],
        )
        for number, long_number in enumerate(SHORT_FORM_ITEMS, start=1)
    ),
    min_total=0,
    max_total=15,
    higher_is_better=False,
    self_report_only=True,
    loinc="48545-8",
    loinc_panel="48543-3",
    source=(
        "Sheikh JI, Yesavage JA. Geriatric Depression Scale (GDS): recent evidence and "
        "development of a shorter version. Clin Gerontol 1986;5:165-173. "
        "Item codes: CDISC SDTM CT, QS GDS SHORT FORM."
    ),
    bands=(
        Band("normal", N_("Normal"), 0, 4),
        Band("depression", N_("Suggests depression"), 5, 9),
        Band("severe", N_("Almost always depression"), 10, 15),
    ),
    depression_from=5,
)
