"""Default settings; every key can be overridden as EPRO_<KEY> in the environment."""
from datetime import timedelta


class Defaults:
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    SQLITE_BUSY_TIMEOUT_MS = 15000
    WTF_CSRF_TIME_LIMIT = None  # tokens live as long as the session
    WTF_CSRF_HEADERS = ["X-CSRFToken", "X-CSRF-Token"]
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    PERMANENT_SESSION_LIFETIME = timedelta(days=30)
    BABEL_DEFAULT_LOCALE = "zh_Hans"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    SITE_TIMEZONE = "Asia/Shanghai"
    ACTIVATION_CODE_HOURS = 72
    MAX_CONTENT_LENGTH = 256 * 1024
    PAGE_SIZE = 50
    # When set, "today" for schedules is this ISO date (demo screenshots, tests).
    TODAY = None
