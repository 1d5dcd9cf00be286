"""One settings module, driven by environment variables.

With no variables set the portal runs on embedded defaults (SQLite, local-memory cache,
eager Celery, console email, a local fake Stripe): that is what `make run` gives.
Setting DATABASE_URL switches to production-style defaults (DEBUG off, secrets required).
"""

import logging
import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from config.csp import build_csp

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name, default=None):
    return os.environ.get(name, default)


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name, default):
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_list(name, default=""):
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


# Embedded mode: no database configured, so this is a developer's machine.
EMBEDDED = "DATABASE_URL" not in os.environ
DEBUG = env_bool("DEBUG", EMBEDDED)
TESTING = env_bool("TESTING", False)

SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG and not TESTING:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105

# Staff notes are encrypted at rest with a key derived from SECRET_KEY and this salt
# (django-fernet-encrypted-fields). Rotating SECRET_KEY: keep the old one in
# SECRET_KEY_FALLBACKS so existing notes still decrypt.
SALT_KEY = env_list("FIELD_ENCRYPTION_SALT", "portal-staff-notes-v1")
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS")

ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", "127.0.0.1,localhost,testserver" if DEBUG or TESTING else ""
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
SITE_NAME = env("SITE_NAME", "Brightwater Training")
# Emails' branding: the header's logo (an absolute https URL of a PNG/JPEG; empty: the name
# in the header) and colour, and the postal address in every email's footer.
BRAND_LOGO_URL = env("BRAND_LOGO_URL", "")
BRAND_COLOUR = env("BRAND_COLOUR", "#0f766e")
BRAND_ADDRESS = env("BRAND_ADDRESS", "")
SITE_ID = 1  # django.contrib.sites' one row, kept in step with SITE_URL/SITE_NAME (apps.core.sites)

INSTALLED_APPS = [
    "apps.backoffice.admin_config.BackOfficeAdminConfig",  # django.contrib.admin, our site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.sites",  # allauth's emails name the site from it (apps.core.sites)
    "django_htmx",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI files served locally: no CDN, CSP-safe
    "encrypted_fields",
    "django_ratelimit",
    "allauth",
    "allauth.account",
    "allauth.mfa",  # staff's second factor: TOTP with recovery codes
    "axes",
    "apps.core",
    "apps.users",
    "apps.sessions",
    "apps.pricing",
    "apps.companies",
    "apps.bookings",
    "apps.invoicing",
    "apps.payments",
    "apps.refunds",
    "apps.certificates",
    "apps.legal",
    "apps.stripe_sync",
    "apps.operations",
    "apps.portal",
    "apps.backoffice",
]

MIDDLEWARE = [
    "apps.core.request_id.RequestIDMiddleware",
    "apps.core.client_address.ClientAddressMiddleware",  # see "Reverse proxy" below
    # A NUL character, absurdly nested JSON or an over-long query: a 400/414 before any view.
    "apps.core.request_guard.RequestGuardMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Admin and support who signed in without a second factor set one up before anything else.
    "apps.users.middleware.StaffSecondFactorMiddleware",
    "django_ratelimit.middleware.RatelimitMiddleware",
    # Database unreachable: a quick 503 page (or API error), not a 500.
    "apps.core.unavailable.DatabaseUnavailableMiddleware",
    # Last: turns a locked-out login (django-axes) into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.core.context_processors.site",
            ],
        },
    }
]

# --- Database ---------------------------------------------------------------
if EMBEDDED:
    (BASE_DIR / "var").mkdir(exist_ok=True)
DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend, its per-request health check without a round trip while the
    # connection is quiet (apps/core/postgres/base.py).
    DATABASES["default"]["ENGINE"] = "apps.core.postgres"
    # A request never waits forever on a lock or a dead server.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 5)
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default serves the browser, the fake Stripe's webhooks and the hold
    # sweeper at once. WAL: readers never wait for the writer. IMMEDIATE: a transaction
    # takes the write lock when it begins, so it waits its turn (busy timeout, seconds)
    # instead of failing "database is locked" when a read would have to become a write.
    _sqlite = DATABASES["default"].setdefault("OPTIONS", {})
    _sqlite.setdefault("init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL")
    _sqlite.setdefault("transaction_mode", "IMMEDIATE")
    _sqlite.setdefault("timeout", 20)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache --------------------------------------------------------------------
REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", "portal"),
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 1,
                "SOCKET_TIMEOUT": 1,
                # Redis down must not take pages down: a miss falls through to the DB.
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Embedded mode is one process: its local-memory cache is shared enough for rate limits.
    SILENCED_SYSTEM_CHECKS = ["django_ratelimit.E003", "django_ratelimit.W001"]

# --- Celery -------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
# Eager mode (the embedded demo) behaves like a worker: a failing task does not fail its
# caller, and retries run (immediately) as they would on a worker. In the tests an
# exception inside a task fails the test (tests/conftest.py's celery_as_a_worker turns it
# off for tests of retries).
CELERY_TASK_EAGER_PROPAGATES = TESTING
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# --- Redelivery after a lost worker (fault tests: tests/faults/test_worker_killed.py) ---
# Every task acks late. A pool child that dies mid-task (OOM killer, SIGKILL) is seen by
# its parent, which requeues the message at once (TASK_REJECT_ON_WORKER_LOST). When the
# whole worker dies, Redis keeps the message "unacked" and any worker puts it back after
# the visibility timeout. That timeout must stay longer than the longest countdown we
# schedule (email retries back off to 30 minutes), or Redis hands those waiting tasks to a
# second worker: hence one hour in production. Tests lower it to see a redelivery quickly.
TASK_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    "visibility_timeout": TASK_VISIBILITY_TIMEOUT,
    # Look for abandoned messages every tenth of the timeout (at most every 10 s).
    "unacked_restore_interval": max(1, min(10, TASK_VISIBILITY_TIMEOUT // 10)),
    "unacked_restore_throttle": 1,
}
# --- end redelivery ---
# Task modules Celery's autodiscovery (each app's tasks.py) does not find by itself.
CELERY_IMPORTS = ["apps.payments.holds"]
CELERY_BEAT_SCHEDULE = {
    "release-expired-holds": {
        "task": "apps.payments.holds.release_expired_holds_task",
        "schedule": float(env_int("HOLD_RELEASE_INTERVAL_SECONDS", 60)),
    },
    "expire-waitlist-offers": {  # unclaimed offers give their seats to the next in line
        "task": "apps.bookings.tasks.waitlist_expire_offers_task",
        "schedule": 60.0,
    },
    "sweep-stripe-events": {
        "task": "apps.stripe_sync.tasks.sweep_stripe_events_task",
        "schedule": 120.0,
    },
    "send-reminders": {
        "task": "apps.operations.tasks.send_reminders_task",
        "schedule": 15 * 60.0,
    },
    "send-hold-reminders": {  # every minute: a 5-minute nudge window inside a 15-minute hold
        "task": "apps.operations.tasks.send_hold_reminders_task",
        "schedule": 60.0,
    },
    "retry-failed-emails": {
        "task": "apps.core.tasks.retry_failed_emails_task",
        "schedule": 10 * 60.0,
    },
    "refresh-dashboard": {  # the staff dashboard's figures stay warm (5-minute cache)
        "task": "apps.operations.tasks.refresh_dashboard_task",
        "schedule": 4 * 60.0,
    },
    "purge-expired-data-nightly": {  # retention policy; each run recorded in the activity log
        "task": "apps.operations.tasks.purge_expired_data_task",
        "schedule": crontab(hour=2, minute=30),
    },
    "data-quality-daily": {  # problems emailed to OPERATIONS_EMAIL
        "task": "apps.operations.tasks.data_quality_task",
        "schedule": crontab(hour=6, minute=0),
    },
    "sweep-stuck-refunds": {  # refunds that never reached Stripe, or got no answer
        "task": "apps.refunds.tasks.sweep_stuck_refunds_task",
        "schedule": 15 * 60.0,
    },
    "on-account-daily": {  # payment reminders, then unpaid bookings released (setting)
        "task": "apps.operations.tasks.on_account_daily_task",
        "schedule": crontab(hour=7, minute=0),
    },
    "reconcile-payments-nightly": {
        "task": "apps.stripe_sync.tasks.reconcile_payments_task",
        "schedule": crontab(hour=3, minute=15),
    },
}
OPERATIONS_EMAIL = env("OPERATIONS_EMAIL", "operations@example.com")

# --- Stripe -------------------------------------------------------------------
LOCAL_STRIPE_PORT = env_int("LOCAL_STRIPE_PORT", 8420)
STRIPE_API_BASE = env(
    "STRIPE_API_BASE",
    f"http://127.0.0.1:{LOCAL_STRIPE_PORT}" if EMBEDDED or TESTING else "https://api.stripe.com",
).rstrip("/")
STRIPE_USES_LOCAL_FAKE = not STRIPE_API_BASE.startswith("https://api.stripe.com")
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", "sk_test_local" if STRIPE_USES_LOCAL_FAKE else "")
STRIPE_PUBLISHABLE_KEY = env(
    "STRIPE_PUBLISHABLE_KEY", "pk_test_local" if STRIPE_USES_LOCAL_FAKE else ""
)
STRIPE_WEBHOOK_SECRET = env(
    "STRIPE_WEBHOOK_SECRET", "whsec_local" if STRIPE_USES_LOCAL_FAKE else ""
)
# Stored webhook events are processed by this many drain tasks at once (one per slot,
# apps.stripe_sync.tasks): at most the Celery worker processes that may work on them.
STRIPE_EVENT_DRAINS = env_int("STRIPE_EVENT_DRAINS", 2)
STRIPE_JS_URL = env(
    "STRIPE_JS_URL",
    f"{STRIPE_API_BASE}/double/v3/"  # the fake's Stripe.js double (apps/payments/fake)
    if STRIPE_USES_LOCAL_FAKE
    else "https://js.stripe.com/v3/",
)
# A payment request waits for Stripe at most (retries + 1) × timeout plus the SDK's backoff
# (under 2 s a retry): that must end well inside the web worker's timeout, or gunicorn kills
# the worker mid-payment. The `payments.W001` check compares them (WEB_TIMEOUT_SECONDS is the
# gunicorn --timeout the image runs with).
WEB_TIMEOUT_SECONDS = env_int("WEB_TIMEOUT_SECONDS", 30)
STRIPE_TIMEOUT_SECONDS = env_int("STRIPE_TIMEOUT_SECONDS", 8)
# A Radar early fraud warning (the issuer reports the card as stolen) usually becomes a
# dispute: refunding first avoids the dispute and its fee. Off: staff are told and decide.
STRIPE_REFUND_ON_EARLY_FRAUD_WARNING = env_bool("STRIPE_REFUND_ON_EARLY_FRAUD_WARNING", False)
# The fake answers 409/5xx for things real Stripe would not; retries only make sense live.
STRIPE_MAX_NETWORK_RETRIES = env_int(
    "STRIPE_MAX_NETWORK_RETRIES", 0 if STRIPE_USES_LOCAL_FAKE else 1
)

# --- Booking rules ------------------------------------------------------------
DEFAULT_CURRENCY = env("DEFAULT_CURRENCY", "GBP")
BOOKING_HOLD_MINUTES = env_int("BOOKING_HOLD_MINUTES", 15)
BOOKING_MAX_SEATS = env_int("BOOKING_MAX_SEATS", 12)
# Bookings on account (a company pays by invoice): seats are held until paid. Unset: an
# unpaid booking keeps its seats up to the session; N: it is released N days before the
# session (beat task, the purchaser and the company's contacts are emailed). Partly paid
# bookings are never released automatically: staff decide.
ON_ACCOUNT_UNPAID_RELEASE_DAYS = env_int("ON_ACCOUNT_UNPAID_RELEASE_DAYS", None)
# Payment reminders for bookings on account: this many days before the due date, and this
# many days after it (each sent once per booking).
ON_ACCOUNT_REMINDER_DAYS_BEFORE = env_int("ON_ACCOUNT_REMINDER_DAYS_BEFORE", 7)
ON_ACCOUNT_REMINDER_DAYS_AFTER = env_int("ON_ACCOUNT_REMINDER_DAYS_AFTER", 7)
AVAILABILITY_CACHE_SECONDS = env_int("AVAILABILITY_CACHE_SECONDS", 60)
BOOKING_RATE_LIMIT = env("BOOKING_RATE_LIMIT", "30/h")  # submitted bookings per IP
BOOKING_VALIDATE_RATE_LIMIT = env("BOOKING_VALIDATE_RATE_LIMIT", "600/h")  # inline checks
# Card payments (both steps: card form and charge), against card testing.
PAYMENT_RATE_LIMIT_PER_BOOKING = env("PAYMENT_RATE_LIMIT_PER_BOOKING", "20/h")
PAYMENT_RATE_LIMIT_PER_CLIENT = env("PAYMENT_RATE_LIMIT_PER_CLIENT", "60/h")
PAYMENT_MAX_DECLINES = env_int("PAYMENT_MAX_DECLINES", 5)  # then the booking must start again
# Waiting list: hours an offer holds its seats; joins per client address.
WAITLIST_OFFER_HOURS = env_int("WAITLIST_OFFER_HOURS", 24)
WAITLIST_RATE_LIMIT = env("WAITLIST_RATE_LIMIT", "20/h")
# Customers may move a booking to another date until this many hours before the course
# (staff any time): docs/changes.md.
TRANSFER_CUTOFF_HOURS = env_int("TRANSFER_CUTOFF_HOURS", 48)
# Emailed booking links: each works until this many days after its session ends (and at
# least this many days after it was sent); requests for a fresh link per client address.
BOOKING_LINK_DAYS = env_int("BOOKING_LINK_DAYS", 30)
BOOKING_LINK_RESEND_RATE_LIMIT = env("BOOKING_LINK_RESEND_RATE_LIMIT", "10/h")
# Customers may hand their seat to someone else until this many hours before the start
# (staff any time).
SUBSTITUTION_CUTOFF_HOURS = env_int("SUBSTITUTION_CUTOFF_HOURS", 24)
RATELIMIT_VIEW = "apps.core.views.rate_limited"
# With Redis down, let bookings through rather than refuse everyone (the seat rules live
# in PostgreSQL, not in the cache).
RATELIMIT_FAIL_OPEN = True

# --- Email --------------------------------------------------------------------


def _mailer_from_url(url):
    parts = urlsplit(url)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    backends = {
        "console": "django.core.mail.backends.console.EmailBackend",
        "locmem": "django.core.mail.backends.locmem.EmailBackend",
        "dummy": "django.core.mail.backends.dummy.EmailBackend",
        "smtp": "django.core.mail.backends.smtp.EmailBackend",
        "smtps": "django.core.mail.backends.smtp.EmailBackend",
        "submission": "django.core.mail.backends.smtp.EmailBackend",
    }
    if parts.scheme not in backends:
        raise ImproperlyConfigured(f"EMAIL_URL scheme {parts.scheme!r} is not supported.")
    options = {}
    if parts.scheme in {"smtp", "smtps", "submission"}:
        options = {
            "host": parts.hostname or "localhost",
            "port": parts.port or {"smtp": 25, "smtps": 465, "submission": 587}[parts.scheme],
            "username": unquote(parts.username or ""),
            "password": unquote(parts.password or ""),
            "use_ssl": parts.scheme == "smtps",
            "use_tls": parts.scheme == "submission" or query.get("tls") == "1",
            "timeout": 10,
        }
    return {"BACKEND": backends[parts.scheme], "OPTIONS": options}


MAILERS = {
    "default": _mailer_from_url(env("EMAIL_URL", "console://" if DEBUG else "smtp://localhost:25"))
}
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", f"{SITE_NAME} <bookings@example.com>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Where a customer's reply to any email goes (the provider's bookings inbox).
EMAIL_REPLY_TO = env("EMAIL_REPLY_TO", "bookings@example.com")

# --- Auth (allauth: email is the login, sign-in by emailed code) ------------
AUTH_USER_MODEL = "users.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses a password login from a locked-out account or address before any
    # password is checked (django-axes counts failures in the database).
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
ACCOUNT_LOGIN_BY_CODE_TIMEOUT = 600
ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS = 3
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_CHANGE_EMAIL = True  # one address per person: changing it verifies the new one first
ACCOUNT_ADAPTER = "apps.users.adapter.AccountAdapter"
# An address routes sign-ins to an account only once verified there (or as the address the
# account was created for): see apps.users.selectors.user_for_email.
ACCOUNT_FORMS = {
    "login": "apps.users.forms.LoginForm",
    "request_login_code": "apps.users.forms.RequestLoginCodeForm",
    "add_email": "apps.users.forms.AddEmailForm",
    "reset_password": "apps.users.forms.ResetPasswordForm",  # pragma: allowlist secret
}
# Staff (admin, support, instructor) sign in with a password at /accounts/login/ (the
# admin's login page sends them there) and a second factor: TOTP with recovery codes,
# required for admin and support (apps.users.adapter), offered to instructors. Emailed codes
# are for customers only (apps.users.forms.RequestLoginCodeForm).
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
# Failed passwords are counted by django-axes alone (below): one lockout, the same on every
# staff route in, that admins can lift. allauth's own counter would answer first, with a
# shorter lock of its own.
ACCOUNT_RATE_LIMITS = {"login_failed": None}
MFA_TOTP_ISSUER = SITE_NAME
LOGIN_REDIRECT_URL = "/portal/"
# Customers have no password: "sign in" means "mail me a code".
LOGIN_URL = "/accounts/login/code/"
ACCOUNT_LOGOUT_REDIRECT_URL = "/"

# Password logins (the staff login at /admin/login/): after AXES_FAILURE_LIMIT failures
# from one address, or against one account, further attempts are refused for the cool-off
# period, whatever the password. Failures are counted in PostgreSQL (shared by every web
# process); a successful login clears them; an admin can unlock early in admin → Axes.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_USERNAME_CALLABLE = "apps.users.lockout.login_identifier"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "apps.core.views.locked_out"
AXES_VERBOSE = False

PASSWORD_HASHERS = (
    ["django.contrib.auth.hashers.MD5PasswordHasher"]
    if TESTING
    else [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
        "django.contrib.auth.hashers.ScryptPasswordHasher",
    ]
)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# --- REST framework -------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "apps.api.pagination.StrictPageNumberPagination",
    "PAGE_SIZE": 25,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "EXCEPTION_HANDLER": "apps.api.errors.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("API_ANON_RATE", "120/min"),
        "user": env("API_USER_RATE", "600/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": f"{SITE_NAME} API",
    "DESCRIPTION": "Course sessions, customer bookings and staff operations.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.api.schema.document_site_wide_errors",
    ],
}

# --- I18N, static -------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = env("TIME_ZONE", "Europe/London")
# Beat's crontab entries are wall-clock times in the provider's time zone (03:15 stays 03:15
# across BST).
CELERY_TIMEZONE = TIME_ZONE
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
WHITENOISE_USE_FINDERS = DEBUG or TESTING
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Security -------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
# Django's database sessions, a new one in one INSERT instead of SELECT + BEGIN/INSERT/COMMIT.
SESSION_ENGINE = "apps.core.session_store"
CSRF_COOKIE_HTTPONLY = False  # HTMX reads the token from the page, not the cookie.
CSRF_FAILURE_VIEW = "apps.core.views.csrf_failure"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SECURE_CSP = build_csp(stripe_js_url=STRIPE_JS_URL)  # config/csp.py: real Stripe or the fake
if not DEBUG:
    # Tests run production settings over plain HTTP (test client, live server).
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not TESTING)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not TESTING)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    # Never redirect Stripe's webhooks: Stripe does not follow a 301, so a redirected
    # event is lost. The signature, not the transport, is what authenticates them.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^webhooks/"]

# --- Reverse proxy (issue 15; docs/deploying.md) -------------------------------------
# TRUSTED_PROXY_COUNT: how many reverse proxies WE run in front of gunicorn (nginx in
# compose.yaml: 1; a CDN or load balancer in front of it: 2). The client's address is the
# entry that many places from the right of X-Forwarded-For (apps/core/client_address.py);
# entries further left are the client's own and never trusted. 0 (default): no proxy,
# X-Forwarded-For and X-Forwarded-Proto are ignored. Never set it higher than the real
# number of proxies, and never expose gunicorn directly when it is above 0.
try:
    TRUSTED_PROXY_COUNT = int(env("TRUSTED_PROXY_COUNT", "0"))
    if TRUSTED_PROXY_COUNT < 0:
        raise ValueError
except ValueError:
    raise ImproperlyConfigured(
        "TRUSTED_PROXY_COUNT must be a whole number of proxies (0 or more), "
        f"not {env('TRUSTED_PROXY_COUNT')!r}."
    ) from None
if TRUSTED_PROXY_COUNT:
    # Only a proxy of ours may say the original request was HTTPS.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
RATELIMIT_IP_META_KEY = "apps.core.client_address.client_ip"
AXES_CLIENT_IP_CALLABLE = "apps.core.client_address.client_ip"
REST_FRAMEWORK["NUM_PROXIES"] = TRUSTED_PROXY_COUNT  # DRF throttles: the same rightmost rule
# --- end reverse proxy ---

# --- Logs and error reports (reliability) -------------------------------------------
# Production logs are one JSON object per line (python-json-logger) for log shippers:
# timestamp, level, logger, message, request_id, exc_info. `make run` (DEBUG) and the test
# suite keep the human format. LOG_FORMAT=json|plain overrides.
LOG_FORMAT = env("LOG_FORMAT", "plain" if DEBUG or TESTING else "json")
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or plain, not {LOG_FORMAT!r}.")
if LOG_FORMAT == "json":
    logging.captureWarnings(True)  # Python warnings become JSON lines too (logger py.warnings)
# Workers log through LOGGING below (same format, request/task ids) instead of Celery's own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Errors go to Sentry only when SENTRY_DSN is set (sentry-sdk is not even imported otherwise).
if env("SENTRY_DSN"):
    from apps.core.error_reporting import sentry_init

    sentry_init(dsn=env("SENTRY_DSN"), environment=env("SENTRY_ENVIRONMENT", "production"),
                release=env("SENTRY_RELEASE"),
                traces_sample_rate=float(env("SENTRY_TRACES_SAMPLE_RATE", "0")))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "apps.core.request_id.RequestIDFilter"},
                "client_ip": {"()": "apps.core.client_address.ClientAddressFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s %(request_id)s %(client_ip)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": True,  # ISO 8601, UTC
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT,
                             "filters": ["request_id", "client_ip"]}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "stripe": {"level": "WARNING"},  # one INFO line per API call otherwise
        "axes": {"level": "WARNING"},  # one INFO line per login otherwise; lockouts warn
        # Embedded mode runs tasks in-process: one line per task is noise there.
        "celery.app.trace": {"level": "WARNING" if EMBEDDED else "INFO"},
        "kombu.connection": {"level": "ERROR" if EMBEDDED else "WARNING"},
    },
}

# --- Customer portal ----------------------------------------------------------------
# VAT included in prices, in percent (0: no VAT breakdown on receipts).
VAT_RATE_PERCENT = env_int("VAT_RATE_PERCENT", 20)
VAT_NUMBER = env("VAT_NUMBER", "GB 123 4567 89")
COMPANY_ADDRESS = env("COMPANY_ADDRESS", "12 Wharf Road, London N1 7GR")
# The seller on invoices and credit notes (frozen into each document when it is issued).
SELLER_NAME = env("SELLER_NAME", f"{SITE_NAME} Ltd")
SELLER_ADDRESS = env("SELLER_ADDRESS", COMPANY_ADDRESS)
SELLER_VAT_NUMBER = env("SELLER_VAT_NUMBER", VAT_NUMBER)
# Finance exports (docs/finance-exports.md): the Xero account code sales are posted to.
FINANCE_SALES_ACCOUNT_CODE = env("FINANCE_SALES_ACCOUNT_CODE", "200")
# Cancellation by the customer: (days before the session at least, percent refunded),
# checked in order; the first that applies wins. Default: full refund up to 14 days
# before, half up to 7 days before, nothing after.
CANCELLATION_POLICY = [
    (int(days), int(percent))
    for days, percent in (
        item.split(":") for item in env_list("CANCELLATION_POLICY", "14:100,7:50,0:0")
    )
]

# --- Reminders (Celery beat runs them every 15 minutes; also `manage.py send_reminders`) --
SESSION_REMINDER_HOURS = env_int("SESSION_REMINDER_HOURS", 48)
CERTIFICATE_EXPIRY_REMINDER_DAYS = sorted(
    (int(days) for days in env_list("CERTIFICATE_EXPIRY_REMINDER_DAYS", "90,30")), reverse=True
)
HOLD_REMINDER_MINUTES = env_int("HOLD_REMINDER_MINUTES", 5)
