"""Post–redirect–get for forms that fail: the message and what was typed survive a 303 to the page.

A failed POST that answered with a page left the browser on the POST's address, so a
reload posted again (a second wrong signing password, a second try of a refused step).
Instead the failed form is kept in the session for the next GET of the page it came
from: its values (never a password, never the CSRF token), its messages, which of the
page's forms failed.  That GET shows the page exactly as the failed POST would have.

The session is a signed cookie (about 4 KB): a state too big for it (pages of typed
narrative) is answered in place as before, with its 4xx status, rather than lost.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, redirect, request, session
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict
from wtforms import PasswordField

from epro.base import i18n
from epro.web.sessions import is_background_request

KEY = "kept_form"
#: Characters of kept values and messages a cookie session holds safely.
MAX_CHARS = 1500
#: A kept form older than this is stale (the person went elsewhere and came back).
MAX_AGE_SECONDS = 600
#: What is never kept: the CSRF token (a new one comes with the page) and secrets.
NEVER_KEPT = frozenset({"csrf_token", "password", "seed"})


@dataclass
class Kept:
    """A failed form, as the page it came from shows it again."""

    form: str
    failed: str | None = None
    data: list[tuple[str, str]] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)
    form_error: str | None = None
    status: int = 422

    @property
    def messages(self) -> dict[str, str]:
        """The first message of each field, for pages that show one message per field by hand."""
        return {name: found[0] for name, found in self.errors.items() if found}

    @property
    def values(self) -> dict[str, str]:
        """The first value of each field, for pages that fill their inputs by hand."""
        out: dict[str, str] = {}
        for name, value in self.data:
            out.setdefault(name, value)
        return out


def _secret_names(form: Any) -> set[str]:
    """Password inputs and what the form names as never kept (a one-time code: ``never_kept``)."""
    fields = getattr(form, "_fields", {})
    return {n for n, f in fields.items() if isinstance(f, PasswordField)} | set(getattr(form, "never_kept", ()))


def keep(form: Any = None, *, name: str | None = None, failed: str | None = None,
         errors: dict[str, Any] | None = None, form_error: str | None = None, status: int = 422,
         to: str | None = None, values: dict[str, str] | None = None) -> ResponseReturnValue | None:
    """Keep a failed form for the page at ``to`` (default: this address) and answer 303 there.

    ``values`` stand for what was typed when the page at ``to`` shows another form (the second
    step's lock-out shown on the sign-in page).  None when the state is too big for the session:
    the caller answers in place.
    """
    secrets = NEVER_KEPT | _secret_names(form)
    typed = list(values.items()) if values is not None else request.form.items(multi=True)
    data = [(k, v) for k, v in typed if k not in secrets]
    if errors is None and form is not None:
        errors = {n: [str(m) for m in f.errors] for n, f in form._fields.items() if f.errors}  # messages, not values
    if form_error is None and form is not None:
        form_error = getattr(form, "form_error", None)
    kept = Kept(form=name or type(form).__name__, failed=failed, data=data,
                errors={k: [str(v)] if isinstance(v, str) else [str(m) for m in v] for k, v in (errors or {}).items()},
                form_error=str(form_error) if form_error else None, status=status)
    size = sum(len(k) + len(v) for k, v in data) + sum(len(m) for v in kept.errors.values() for m in v)
    if size > MAX_CHARS:
        return None
    target = to or this_address()
    session[KEY] = {"path": target.split("?", 1)[0], "at": time.time(), "form": kept.form, "failed": failed,
                    "data": data, "errors": kept.errors, "form_error": kept.form_error, "status": status}
    return redirect(target, 303)


def this_address() -> str:
    """This request's address with its query (``?lang=en`` survives the redirect)."""
    return (request.script_root + request.full_path).rstrip("?")


def with_language(url: str) -> str:
    """``url`` with this request's ``?lang=`` choice, which is not kept anywhere else."""
    lang = request.args.get("lang")
    return f"{url}{'&' if '?' in url else '?'}lang={lang}" if lang in i18n.LANGS else url


def here() -> str:
    """This page's path as url_for writes it (with the prefix the app is mounted under)."""
    return request.script_root + request.path


def take(name: str | None = None) -> Kept | None:
    """The form kept for this page (and of this name, if given), once; None if there is none."""
    state = session.get(KEY)
    if not state or request.method != "GET" or state.get("path") != here():
        return None
    if name is not None and state.get("form") != name:
        return None
    session.pop(KEY, None)
    if time.time() - float(state.get("at", 0)) > MAX_AGE_SECONDS:
        return None
    return Kept(form=state["form"], failed=state.get("failed"), data=[(p[0], p[1]) for p in state["data"]],
                errors=state.get("errors") or {}, form_error=state.get("form_error"),
                status=int(state.get("status") or 422))


def restore(form: Any, kept: Kept | None) -> Any:
    """Fill ``form`` with what was typed and its messages, as the failed POST left it."""
    if kept is None:
        return form
    form.process(formdata=MultiDict(kept.data))
    for name, messages in kept.errors.items():
        if name in form._fields:
            form._fields[name].errors = list(messages)
    if hasattr(form, "form_error"):
        form.form_error = kept.form_error
    return form


def answer(form: Any, page: Callable[[], str], *, failed: str | None = None,
           to: str | None = None) -> ResponseReturnValue:
    """The end of a form view: a POST that got here failed (a success redirected already), so it
    is kept and redirected; a GET shows the page, with a kept form restored first.

    ``page`` renders the page (called after the restore, so it shows the kept form)."""
    if request.method == "POST":
        status = form.status if hasattr(form, "status") else 422
        return keep(form, failed=failed, status=status, to=to) or (page(), status)
    kept = take(type(form).__name__)
    restore(form, kept)
    # The page after the redirect answers with the failure's status (422, 409), as the POST did.
    return page(), (kept.status if kept is not None else getattr(form, "status", 200))


def register(app: Flask) -> None:
    @app.after_request
    def drop_stale(response):
        """A kept form is for the very next page; any other page the person opens drops it."""
        if (request.method == "GET" and not is_background_request() and KEY in session
                and session[KEY].get("path") != here() and response.status_code < 300
                and response.mimetype == "text/html"):
            session.pop(KEY, None)
        return response
