"""zxcvbn's feedback, as message ids of our catalog.

The zxcvbn package says why a password is weak with a fixed set of English
sentences.  Each of them is listed here with ``N_`` so Babel extracts it and the
web layer can show it in the reader's language; a sentence not listed (a newer
zxcvbn) is replaced by :data:`GENERAL`.
"""
from __future__ import annotations

from epro.core.i18n_marker import N_

#: Shown when zxcvbn says nothing we know, and as the lead of every refusal.
GENERAL = N_("This password is too easy to guess. Please choose a longer one, for example a few unrelated words.")
#: Shown for a password shorter than the minimum (zxcvbn is not asked).
TOO_SHORT = N_("The password must have at least %(n)d characters.")

KNOWN: frozenset[str] = frozenset({
    N_("Use a few words, avoid common phrases."),
    N_("No need for symbols, digits, or uppercase letters."),
    N_("Add another word or two. Uncommon words are better."),
    N_("Straight rows of keys are easy to guess."),
    N_("Short keyboard patterns are easy to guess."),
    N_("Use a longer keyboard pattern with more turns."),
    N_('Repeats like "aaa" are easy to guess.'),
    N_('Repeats like "abcabcabc" are only slightly harder to guess than "abc".'),
    N_("Avoid repeated words and characters."),
    N_('Sequences like "abc" or "6543" are easy to guess.'),
    N_("Avoid sequences."),
    N_("Recent years are easy to guess."),
    N_("Avoid recent years."),
    N_("Avoid years that are associated with you."),
    N_("Dates are often easy to guess."),
    N_("Avoid dates and years that are associated with you."),
    N_("This is a top-10 common password."),
    N_("This is a top-100 common password."),
    N_("This is a very common password."),
    N_("This is similar to a commonly used password."),
    N_("A word by itself is easy to guess."),
    N_("Names and surnames by themselves are easy to guess."),
    N_("Common names and surnames are easy to guess."),
    N_("Capitalization doesn't help very much."),
    N_("All-uppercase is almost as easy to guess as all-lowercase."),
    N_("Reversed words aren't much harder to guess."),
    N_("Predictable substitutions like '@' instead of 'a' don't help very much."),
})


def message_ids(warning: str, suggestions: list[str]) -> list[str]:
    """zxcvbn's warning and suggestions as catalog ids: known ones kept, the rest become GENERAL (once)."""
    out: list[str] = []
    for text in [warning, *suggestions]:
        if not text:
            continue
        msgid = text if text in KNOWN else GENERAL
        if msgid not in out:
            out.append(msgid)
    return out or [GENERAL]
