"""Geriatric Depression Scale, long form (GDS-30; optional).

Source: Yesavage JA, Brink TL, Rose TL, et al. Development and validation of
a geriatric depression screening scale: a preliminary report. J Psychiatr Res
1983;17(1):37-49.  Item keys GDS0101-GDS0130 follow CDISC SDTM Controlled
Terminology (QS domain, long form).  "NO" scores 1 on items 1, 5, 7, 9, 15,
19, 21, 27, 29 and 30, "YES" on the others; 0-9 normal, 10-19 mild, 20-30
severe depression.  A self-report, like the short form (see ``gds15``).
"""

from epro.core.i18n_marker import N_

from .base import Band
from .gds15 import (
    INSTRUCTIONS,
    LONG_FORM_PROXY_QUESTIONS,
    LONG_FORM_QUESTIONS,
    PROXY_INSTRUCTIONS,
    GeriatricDepressionScale,
    yes_no_item,
)

REVERSED = frozenset({1, 5, 7, 9, 15, 19, 21, 27, 29, 30})

INSTRUMENT = GeriatricDepressionScale(
    code="gds30",
    name=N_("Geriatric Depression Scale (GDS-30)"),
    short_name="GDS-30",
    reporter="patient",
    instructions=INSTRUCTIONS,
    proxy_instructions=PROXY_INSTRUCTIONS,
    items=tuple(
        yes_no_item(f"GDS01{number:02d}", text, number in REVERSED, proxy=proxy)
        for number, (text, proxy) in enumerate(
            zip(LONG_FORM_QUESTIONS, LONG_FORM_PROXY_QUESTIONS, strict=True), start=1
        )
    ),
    min_total=0,
    max_total=30,
    higher_is_better=False,
    self_report_only=True,
    source=(
        "Yesavage JA, Brink TL, Rose TL, et al. Development and validation of a geriatric "
        "depression screening scale: a preliminary report. J Psychiatr Res 1983;17:37-49."
    ),
    bands=(
        Band("normal", N_("Normal"), 0, 9),
        Band("mild", N_("Mild depression"), 10, 19),
        Band("severe", N_("Severe depression"), 20, 30),
    ),
    depression_from=10,
    optional=True,
)
