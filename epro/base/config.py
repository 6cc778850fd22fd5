"""Default settings; every key can be overridden as EPRO_<KEY> in the environment."""


class Defaults:
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    SQLITE_BUSY_TIMEOUT_MS = 15000
    WTF_CSRF_TIME_LIMIT = None  # tokens live as long as the session
    WTF_CSRF_HEADERS = ["X-CSRFToken", "X-CSRF-Token"]
    SESSION_COOKIE_HTTPONLY = True
    # Set EPRO_SESSION_COOKIE_SECURE=true and EPRO_REMEMBER_COOKIE_SECURE=true behind HTTPS.
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    BABEL_DEFAULT_LOCALE = "zh_Hans"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    SITE_TIMEZONE = "Asia/Shanghai"
    ACTIVATION_CODE_HOURS = 72
    # Administrators and unblinded staff must sign in with a second factor (TOTP).
    # `epro demo` turns it off (EPRO_REQUIRE_SECOND_FACTOR=false) so the demo accounts sign in with a password.
    REQUIRE_SECOND_FACTOR = True
    MAX_CONTENT_LENGTH = 256 * 1024
    PAGE_SIZE = 50
    # Sign-in limits.  Only failures count.  The account lock-out is kept in the
    # database (services/sign_in_limits): LOGIN_LIMIT_ACCOUNT failures of one name
    # lock it for LOGIN_LOCK_MINUTES, every attempt refused with 429 meanwhile.
    # Per-address throttling is Flask-Limiter's, in a storage shared by every
    # worker: "database://" (this app's database, rate_counters) by default,
    # EPRO_RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379/0 in production.
    RATELIMIT_STORAGE_URI = "database://"
    RATELIMIT_HEADERS_ENABLED = False
    LOGIN_LIMIT_ACCOUNT = "5 per 15 minutes"
    LOGIN_LOCK_MINUTES = 15
    LOGIN_LIMIT_ADDRESS = "30 per 15 minutes"
    ACTIVATION_LIMIT_ADDRESS = "20 per hour"
    # Sessions: staff are signed out after this idle time; patients and caregivers
    # stay signed in on their own phone (remember-me) for PATIENT_SESSION_DAYS.
    STAFF_IDLE_MINUTES = 15
    PATIENT_SESSION_DAYS = 30
    # Behind a TLS-terminating proxy: how many proxies to trust for X-Forwarded-*.
    PROXY_FIX_HOPS = 0
    # Static files whose URL carries ?v=<content hash> are cached this long (1 year), immutable.
    STATIC_MAX_AGE = 365 * 24 * 3600
    # Compressed responses (Flask-Compress): HTML, CSS, JS, JSON and the web app manifest.
    COMPRESS_MIMETYPES = ["text/html", "text/css", "text/javascript", "application/javascript",
                          "application/json", "application/problem+json", "application/manifest+json",
                          "image/svg+xml"]
    # Directories searched for protocol files after the shipped ones (EPRO_PROTOCOL_DIRS:
    # paths separated by ":" or a JSON list), so a new protocol is a new file.
    PROTOCOL_DIRS: tuple[str, ...] = ()
    # When set, "today" for schedules is this ISO date (demo screenshots, tests).
    TODAY = None
    # Reminders (`epro remind`, README "Reminders"). Links in messages start with BASE_URL.
    BASE_URL = "http://127.0.0.1:5000"
    # E-mail through SMTP; no MAIL_SERVER, no e-mail.
    MAIL_SERVER: str | None = None
    MAIL_PORT = 25
    MAIL_SENDER = "epro <epro@localhost>"
    MAIL_STARTTLS = False
    MAIL_USERNAME: str | None = None
    MAIL_PASSWORD: str | None = None
    # SMS: "log" (written to the log, nothing leaves), "http" (SMS_HTTP_URL, SMS_HTTP_TOKEN, SMS_HTTP_SENDER), "none".
    SMS_DRIVER = "log"
    SMS_HTTP_URL: str | None = None
    SMS_HTTP_TOKEN: str | None = None
    SMS_HTTP_SENDER: str | None = None
    # Web push: the VAPID private key (base64url of the 32 raw bytes, or PEM); else instance/vapid_private_key
    # (`epro demo` makes one). VAPID_SUBJECT: a mailto: or https: contact for the push services
    # (default: BASE_URL if https, else mailto: the sender).
    VAPID_PRIVATE_KEY: str | None = None
    VAPID_SUBJECT: str | None = None
    # Push endpoints must be https:// (browsers' push services are); tests with a local push service allow http.
    PUSH_ALLOW_HTTP_ENDPOINTS = False
    # When reminders go: "closing" from this many days before a window's last day; none in the quiet hours
    # (the site's local time; the start may be after the end, over midnight).
    REMINDER_CLOSING_DAYS = 3
    REMINDER_QUIET_START = "21:00"
    REMINDER_QUIET_END = "08:00"
