"""The JSON API (/api/v1): same session cookie and CSRF header as the web app."""
from epro.web.api import (
    admin,  # noqa: F401  (the Administration API's routes)
    push,  # noqa: F401  (web push for reminders)
)
from epro.web.api.views import bp

__all__ = ["bp"]
