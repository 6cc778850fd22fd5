"""The Flask extension objects, created once and bound to the app in create_app.

The ORM (``db``, ``Model``) lives in :mod:`epro.base.orm`, so views may use these
(CSRF, sign-in, rate limits) without reaching the database session.  Flask-Migrate is
not here: the factory binds it for the command line only (see ``register_migrations``).
"""
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf import CSRFProtect

csrf = CSRFProtect()
login_manager = LoginManager()
#: Storage comes from RATELIMIT_STORAGE_URI: database:// (services/rate_storage, shared by every worker)
#: by default, redis://… in production.
limiter = Limiter(key_func=get_remote_address)
