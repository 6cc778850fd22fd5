"""The JSON API (/api/v1): same session cookie and CSRF header as the web app."""
from epro.web.api.views import bp

__all__ = ["bp"]
