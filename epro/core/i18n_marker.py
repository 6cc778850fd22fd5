"""Marks text for translation without importing Flask.

The domain core (instruments, schedule, timeline) must stay free of Flask, yet
its item wording and answer labels are shown to people in two languages.  Text
is written in English and wrapped in ``N_``; Babel extracts it (see babel.cfg)
and the web layer translates it at render time with ``gettext(text)``.
"""


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext marker name
    """Return *message* unchanged; only marks it for extraction."""
    return message
