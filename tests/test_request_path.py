"""The request path skips work a request does not need, without skipping a rule.

The rate limiter looks only at the views in ``THROTTLED_ENDPOINTS`` (epro/web/auth.py):
a view given a limit but missing from that set would silently go unlimited.
"""
from flask_limiter.util import get_qualified_name
from support.web import csrf_from

from epro.base.extensions import limiter
from epro.web.auth import THROTTLED_ENDPOINTS


def test_every_limited_view_is_in_the_throttled_set(app):
    limited = {endpoint for endpoint, view in app.view_functions.items()
               if get_qualified_name(view) in limiter._marked_for_limiting}
    assert limited, "the sign-in and activation views carry limits"
    assert limited == THROTTLED_ENDPOINTS


def test_the_throttled_views_are_still_limited(app):
    """Failed sign-ins from one address, up to the limit; then the next is refused (429)."""
    app.config["LOGIN_LIMIT_ADDRESS"] = "3 per 15 minutes"
    client = app.test_client()
    where = {"REMOTE_ADDR": "198.51.100.7"}
    token = csrf_from(client.get("/login", environ_base=where).get_data(as_text=True))
    codes = [client.post("/login", data={"username": f"nobody{n}", "password": "wrong", "csrf_token": token},
                         environ_base=where).status_code for n in range(4)]
    assert codes == [303, 303, 303, 429]  # refused (and shown on the page after the redirect), then limited


def test_every_other_request_skips_the_limiter(app):
    """The request filter exempts every endpoint but the throttled ones (so no look-up per request)."""
    for path, exempt in (("/healthz", True), ("/clinic/", True), ("/api/v1/me", True), ("/login", False),
                         ("/activate", False)):
        with app.test_request_context(path):
            assert any(f() for f in limiter._request_filters) is exempt, path
