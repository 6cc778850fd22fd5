"""The offline round trip of test_offline.py in English: patient.a1 answers the BI and the GDS-15 with
no signal on an English phone; the banners, the outbox and the home page's badges speak English, axe
finds nothing, and each answer is stored once when the signal returns.  A module of its own, so its
server's patient.a1 has not yet answered these questionnaires in Chinese."""
from __future__ import annotations

from support.offline import kept_and_sent_once


def test_offline_answers_are_kept_and_sent_once_in_english(page_for, helpers):
    kept_and_sent_once(page_for, helpers, "en")
