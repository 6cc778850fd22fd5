"""Password hashing with Argon2id (OWASP's first choice), via argon2-cffi."""
from __future__ import annotations

from collections.abc import Sequence

from argon2 import Parameters, PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
#: Verified against when the user does not exist, so both paths take as long.
_DUMMY_HASH = _hasher.hash("not-a-real-password-0f3c")

MIN_LENGTH = 8
#: zxcvbn's scale: 3 is "safely unguessable: moderate protection from offline slow-hash attacks".
MIN_STRENGTH = 3
#: zxcvbn judges only the first characters; a longer password is not weaker for it.
_JUDGED_LENGTH = 100


def use_parameters(parameters: Parameters) -> None:
    """Hash with these Argon2 parameters from now on.  For the test suite (argon2's CHEAPEST
    profile: a sign-in verifies in 0.1 ms instead of about 130), never for a server; hashes made
    before still verify, as each one carries its own parameters."""
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher.from_parameters(parameters)
    _DUMMY_HASH = _hasher.hash("not-a-real-password-0f3c")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def weakness(password: str, related: Sequence[str] = ()) -> str | None:
    """Why *password* is too weak (zxcvbn's warning, in English), or None if it is strong enough.

    A well-kept estimator rather than composition rules: ``12345678`` and
    ``password123`` pass "8 characters with a digit" yet are among the first
    guesses; *related* are words an attacker knows (the username, "epro").
    """
    if len(password) < MIN_LENGTH:
        return f"at least {MIN_LENGTH} characters"
    from zxcvbn import zxcvbn  # its dictionaries weigh 12 MiB: loaded when a password is chosen

    result = zxcvbn(password[:_JUDGED_LENGTH], user_inputs=[w for w in related if w])
    if result["score"] >= MIN_STRENGTH:
        return None
    feedback = result["feedback"]
    return feedback.get("warning") or " ".join(feedback.get("suggestions") or ()) or "too easy to guess"


def feedback(password: str, related: Sequence[str] = ()) -> list[str]:
    """Why *password* is too weak, as catalog message ids (epro.core.password_feedback); [] if strong enough.

    The first id is always :data:`~epro.core.password_feedback.GENERAL` or
    :data:`~epro.core.password_feedback.TOO_SHORT` (with ``n`` = MIN_LENGTH);
    zxcvbn's own warning and suggestions follow, each one we have translated.
    """
    from epro.core import password_feedback

    if len(password) < MIN_LENGTH:
        return [password_feedback.TOO_SHORT]
    from zxcvbn import zxcvbn

    result = zxcvbn(password[:_JUDGED_LENGTH], user_inputs=[w for w in related if w])
    if result["score"] >= MIN_STRENGTH:
        return []
    found = result["feedback"]
    ids = password_feedback.message_ids(found.get("warning") or "", list(found.get("suggestions") or ()))
    return [password_feedback.GENERAL, *(i for i in ids if i != password_feedback.GENERAL)]
