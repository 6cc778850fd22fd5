"""How large the text is and whether the high-contrast colours are on: a person's display choice.

For stroke survivors with poor eyesight (issue 13): five text sizes, from the normal
size to twice as large, and a black-on-white theme.  The choice is kept on the phone
and on the account; this module only says which values exist and reads them from a
form, so the page, the endpoint and the tests agree on one list.
"""
from __future__ import annotations

from dataclasses import dataclass

from epro.core.i18n_marker import N_

#: Percent of the normal text size; 100 is the normal size.
TEXT_SIZES = (100, 125, 150, 175, 200)
CONTRASTS = ("normal", "more")
BAD_SIZE = N_("Please choose one of the text sizes shown.")
BAD_CONTRAST = N_("Please choose normal or high contrast.")


@dataclass(frozen=True)
class Display:
    text_size: int = 100
    high_contrast: bool = False


def parse(text_size: str | None, contrast: str | None) -> Display:
    """The choice from a form's two fields; ValueError with a message id when a value is not one of ours."""
    size = (text_size or "").strip().removesuffix("%")
    if not size.isdigit() or int(size) not in TEXT_SIZES:
        raise ValueError(BAD_SIZE)
    chosen = (contrast or "normal").strip()
    if chosen not in CONTRASTS:
        raise ValueError(BAD_CONTRAST)
    return Display(text_size=int(size), high_contrast=chosen == "more")
