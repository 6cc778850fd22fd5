"""Every page, patient and clinician, in both languages, on a 360 px phone at 100 % text:
no sideways scroll, axe finds nothing, and no patient touch target under 48 x 48 px (staff: 44).

The pages are those of tests/support/page_list.py (the same list test_i18n renders); the
sweep is tests/support/sweep.py.  200 % text: test_every_page_large_text.py (a module of its own,
so the two run side by side).
"""
import pytest
from support.sweep import sweep


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_fits_a_phone_is_accessible_and_big_enough_to_tap(page_for, helpers, lang):
    problems = sweep(page_for, helpers, lang, 100)
    assert not problems, f"{len(problems)} problem(s) at 100 % text, {lang}:\n" + "\n".join(problems)
