"""Every setting lives here; test.py and production.py override a few."""
import datetime as dt
from importlib.util import find_spec
from pathlib import Path
from urllib.parse import urlsplit

from config.env import BASE_DIR, env

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# The embedded default is for a laptop demo; production.py demands a real key.
SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-embedded-mode-only-key-change-me")
# A rotation: the old key listed here still opens sessions' signatures and the webhook secrets encrypted under it.
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])
# django-fernet-encrypted-fields' salt for the webhook secrets' keys (the first encrypts, all are tried).
SALT_KEY = env.list("ROUNDS_SECRETS_SALT", default=["rounds-webhook-secrets-v1"])
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "knox",
    "axes",
    "csp",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "dispatch",
    "api",
]

# What every request goes through, calendar feed polls too (config.handlers: they take only these).
ROUNDS_FEED_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.RefuseUnknownHosts",
    "config.middleware.RefuseLargeBodies",
    "config.middleware.RefuseCharsetsThatAreNotText",
    "config.middleware.ResetTimezone",
    "config.middleware.RunDeadlockVictimsAgain",
    "config.middleware.AnswerInsteadOf500",
]
MIDDLEWARE = [
    *ROUNDS_FEED_MIDDLEWARE,
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.sessions.SessionLimits",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "config.middleware.ThrottleSignInPages",
    # Last, so that it sees the login views' answers and replaces them when a client is locked out.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
# API bodies are small JSON documents; 1 MiB leaves room for a large visit series.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("ROUNDS_MAX_BODY_BYTES", default=1024 * 1024)
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Plan runs write progress from a background thread while requests read: WAL lets both go on.
    # IMMEDIATE: each request's transaction (ATOMIC_REQUESTS) takes the write lock when it begins, so a second
    # writer waits up to the timeout for it. SQLite's default DEFERRED starts as a reader and upgrades at its
    # first write; two such upgrades cannot wait for each other, so SQLite fails one at once (SQLITE_BUSY,
    # our 503) without ever applying the timeout.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
# Reconnect after a database restart instead of failing every request.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "dispatch.User"
# Axes first: it refuses a locked-out client before any password is checked.
AUTHENTICATION_BACKENDS = ["dispatch.auth_backends.SignInLimitBackend", "dispatch.auth_backends.ActiveUserBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
PASSWORD_MIN_LENGTH = 12
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": PASSWORD_MIN_LENGTH},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"  # each role has its own page; "/" sends them there

# Sign-in limits (django-axes): a username that fails this many times (from one address, or from many) is
# refused for the cool-off period, on the board's and the admin's login pages and on the API token login.
# Not per address alone: a hospital's staff share one address, and one person's typos must not lock out
# the others. One address trying many usernames meets the sign-in throttle (ROUNDS_LOGIN_THROTTLE) instead.
AXES_FAILURE_LIMIT = env.int("ROUNDS_LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("ROUNDS_LOGIN_COOLOFF_MIN", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "username"]
# A try during the lockout is refused without counting: the cool-off ends when it said it would.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# A success does not wipe the failures: it would also wipe those an attacker's address made against others.
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_CALLABLE = "config.client.lockout_response"
AXES_CLIENT_IP_CALLABLE = "config.client.client_address"
# How many reverse proxies in front of Django append to X-Forwarded-For. 0 (the default): the header is
# the client's own and is ignored, so a forged one cannot pose as a new address and reset the counters.
ROUNDS_NUM_PROXIES = env.int("ROUNDS_NUM_PROXIES", default=0)

# Board and admin sessions: logged out after 30 minutes without a request, and 12 hours after log-in.
SESSION_COOKIE_AGE = env.int("ROUNDS_SESSION_IDLE_S", default=30 * 60)
# Read from the cache, written through to the database: an open board's reload (a 304 every few seconds per
# coordinator) reads its session from Redis, not PostgreSQL. The user is still read from the database on every
# request, so a switched-off account is refused at once; a cached session lives as long as its idle limit.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
ROUNDS_SESSION_MAX_AGE_S = env.int("ROUNDS_SESSION_MAX_AGE_S", default=12 * 3600)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# API tokens (django-rest-knox): only a hash is stored; a token unused for 30 days expires.
REST_KNOX = {
    "TOKEN_TTL": dt.timedelta(days=env.int("ROUNDS_TOKEN_IDLE_DAYS", default=30)),
    "AUTO_REFRESH": True,
    "MIN_REFRESH_INTERVAL": 3600,
    "AUTH_HEADER_PREFIX": "Token",
    # Past this many, a new log-in revokes the user's oldest token (dispatch/services/api_tokens.py).
    "TOKEN_LIMIT_PER_USER": env.int("ROUNDS_TOKENS_PER_USER", default=20),
}

# Content-Security-Policy (django-csp): the board, the admin and the API docs load only their own scripts,
# styles and images, so an injected script tag or a borrowed CDN cannot run.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Leaflet's own files from the django-leaflet package (pinned in requirements.txt), not copied in.
# Not an installed app: its admin module imports GeoDjango, which needs GDAL.
STATICFILES_DIRS = [("leaflet", Path(find_spec("leaflet").submodule_search_locations[0]) / "static" / "leaflet")]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.OrgTokenAuthentication",
        "api.authentication.OrgSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["api.filtering.KnownParamsFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.exception_handlers.exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "api.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "api.parsers.StrictMultiPartParser",
    ],
    "NUM_PROXIES": ROUNDS_NUM_PROXIES,
    "DEFAULT_THROTTLE_RATES": {
        "feed": env("ROUNDS_FEED_THROTTLE", default="120/min"),
        # Per address, all sign-in routes together: generous, as a hospital's staff sign in from one address.
        "login": env("ROUNDS_LOGIN_THROTTLE", default="60/min"),
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Rounds API",
    "DESCRIPTION": "Scheduling and dispatch for mobile palliative and clinical massage therapists.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from our own static files (drf-spectacular-sidecar), not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema_hooks.local_times_without_offset",
        "api.schema_docs.documented_operations",
    ],
    "ENUM_NAME_OVERRIDES": {
        "VisitStatusEnum": "dispatch.models.VisitStatus",
        "PlanStatusEnum": "dispatch.models.PlanStatus",
        "PlanKindEnum": "dispatch.models.PlanKind",
        "FacilityKindEnum": "dispatch.models.FacilityKind",
        "ContraindicationKindEnum": "dispatch.models.ContraindicationKind",
        "PrecautionKindEnum": "dispatch.models.PrecautionKind",
        "ExceptionKindEnum": "dispatch.models.ExceptionKind",
        "GenderEnum": "dispatch.models.Gender",
        "WebhookEventEnum": "dispatch.models.WebhookEvent",
    },
}

# Celery: with no broker configured, plan runs execute in-process (the embedded default).
REDIS_URL = env("REDIS_URL", default="")
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("ROUNDS_PLAN_HARD_TIME_LIMIT_S", default=600)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("ROUNDS_PLAN_SOFT_TIME_LIMIT_S", default=540)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
# Redis hands an unacknowledged run to another worker after this long: longer than any run may take.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("ROUNDS_BROKER_VISIBILITY_TIMEOUT_S", default=CELERY_TASK_TIME_LIMIT + 60)
}
# Celery beat (or, without a broker, the in-process scheduler) runs the notifications' minute job:
# late and at-risk alerts, and messages that are due or were left behind.
ROUNDS_NOTIFY_TICK_S = env.float("ROUNDS_NOTIFY_TICK_S", default=60.0)
CELERY_BEAT_SCHEDULE = {"notifications-tick": {"task": "dispatch.notifications_tick", "schedule": ROUNDS_NOTIFY_TICK_S}}

CACHES = {
    "default": (
        {"BACKEND": "config.cache.SharedClientRedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Rounds
ROUNDS_PUBLIC_URL = env("ROUNDS_PUBLIC_URL", default="http://127.0.0.1:8000")
ROUNDS_PLAN_TIME_LIMIT_S = env.float("ROUNDS_PLAN_TIME_LIMIT_S", default=10.0)
# Searches of a day plan side by side, one per process, the best kept (optimizer.portfolio); a Celery prefork
# pool process may not start processes, so there one search runs.
ROUNDS_PLAN_PROCESSES = env.int("ROUNDS_PLAN_PROCESSES", default=2)
ROUNDS_PLAN_MAX_TIME_LIMIT_S = env.float("ROUNDS_PLAN_MAX_TIME_LIMIT_S", default=120.0)
ROUNDS_PLAN_MAX_VISITS = env.int("ROUNDS_PLAN_MAX_VISITS", default=2000)
ROUNDS_REPLAN_TIME_LIMIT_S = env.float("ROUNDS_REPLAN_TIME_LIMIT_S", default=1.5)
# Day plans one organisation may have queued or running at once (one per day).
ROUNDS_PLAN_MAX_RUNNING = env.int("ROUNDS_PLAN_MAX_RUNNING", default=3)
# A run still queued or running this long after its time limit has lost its worker and is marked failed.
ROUNDS_PLAN_STALE_MARGIN_S = env.float("ROUNDS_PLAN_STALE_MARGIN_S", default=120.0)
# Without a broker: "thread" runs a plan beside the request so its progress can be watched;
# "sync" runs it inside the request (tests, scripts).
ROUNDS_PLAN_IN_PROCESS = env("ROUNDS_PLAN_IN_PROCESS", default="thread")
ROUNDS_DETOUR_FACTOR = env.float("ROUNDS_DETOUR_FACTOR", default=1.3)
# Geocoding is off by default: coordinates may be given directly. Set e.g. "nominatim".
ROUNDS_GEOCODER = env("ROUNDS_GEOCODER", default="")
ROUNDS_GEOCODER_USER_AGENT = env("ROUNDS_GEOCODER_USER_AGENT", default="rounds-dispatch")
ROUNDS_GEOCODER_MIN_DELAY_S = env.float("ROUNDS_GEOCODER_MIN_DELAY_S", default=1.0)
ROUNDS_OSRM_URL = env("ROUNDS_OSRM_URL", default="")
# The board's map: any XYZ tile server; empty draws routes and stops on a blank map (tests, offline).
ROUNDS_MAP_TILES_URL = env("ROUNDS_MAP_TILES_URL", default="https://tile.openstreetmap.org/{z}/{x}/{y}.png")
ROUNDS_MAP_ATTRIBUTION = env("ROUNDS_MAP_ATTRIBUTION", default="© OpenStreetMap contributors")
# The tile server is the one other origin the pages load images from ("{s}." subdomains: any of them).
if ROUNDS_MAP_TILES_URL:
    _tiles = urlsplit(ROUNDS_MAP_TILES_URL.replace("{s}.", "*."))
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["img-src"].append(f"{_tiles.scheme}://{_tiles.netloc}")

# Notifications: email through Django's backend (console here; SMTP or django-anymail in production).
EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("DJANGO_EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("DJANGO_EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("DJANGO_EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("DJANGO_EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("DJANGO_EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", default="Rounds <rounds@localhost>")
# A provider through django-anymail, e.g. DJANGO_EMAIL_BACKEND=anymail.backends.postmark.EmailBackend.
ANYMAIL = env.dict("ANYMAIL", default={})
# SMS: console here; dispatch.notifications.sms.TwilioSmsBackend in production.
ROUNDS_SMS_BACKEND = env("ROUNDS_SMS_BACKEND", default="dispatch.notifications.sms.ConsoleSmsBackend")
TWILIO_ACCOUNT_SID = env("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env("TWILIO_FROM_NUMBER", default="")
# A therapist hears of a move only when it is larger than this.
ROUNDS_NOTIFY_MOVE_MIN = env.int("ROUNDS_NOTIFY_MOVE_MIN", default=15)
# A booked visit with no check-in this many minutes after its planned start is late: the board marks it
# and coordinators are told.
ROUNDS_LATE_AFTER_MIN = env.int("ROUNDS_LATE_AFTER_MIN", default=10)
# Without a broker, messages go out from a thread beside the request ("thread") or inside it ("sync").
ROUNDS_NOTIFY_IN_PROCESS = env("ROUNDS_NOTIFY_IN_PROCESS", default="thread")
# Without a broker, the web process runs the minute job itself ("thread") or leaves it to
# `manage.py notifications_run` ("off").
ROUNDS_NOTIFY_SCHEDULER = env("ROUNDS_NOTIFY_SCHEDULER", default="thread")
# A sender holds a claimed message this long; a sender that died lets it go to the next one after it.
ROUNDS_NOTIFY_LEASE_S = env.float("ROUNDS_NOTIFY_LEASE_S", default=120.0)
ROUNDS_NOTIFY_MAX_ATTEMPTS = env.int("ROUNDS_NOTIFY_MAX_ATTEMPTS", default=6)
ROUNDS_WEBHOOK_TIMEOUT_S = env.float("ROUNDS_WEBHOOK_TIMEOUT_S", default=10.0)
ROUNDS_WEBHOOK_BACKOFF_S = env.float("ROUNDS_WEBHOOK_BACKOFF_S", default=30.0)
ROUNDS_WEBHOOK_MAX_ATTEMPTS = env.int("ROUNDS_WEBHOOK_MAX_ATTEMPTS", default=8)
ROUNDS_WEBHOOK_DISABLE_AFTER = env.int("ROUNDS_WEBHOOK_DISABLE_AFTER", default=15)
# Endpoints on loopback or private addresses are refused unless this is on (tests, a laptop demo).
ROUNDS_WEBHOOK_ALLOW_PRIVATE = env.bool("ROUNDS_WEBHOOK_ALLOW_PRIVATE", default=False)
# Check-in is accepted from this many minutes before the planned start until the end of the visit's
# day, or until ROUNDS_CHECK_IN_LATE_MIN minutes after the planned start when that is set.
ROUNDS_CHECK_IN_EARLY_MIN = env.int("ROUNDS_CHECK_IN_EARLY_MIN", default=120)
ROUNDS_CHECK_IN_LATE_MIN = env.int("ROUNDS_CHECK_IN_LATE_MIN", default=None)
# A check-in, check-out or late report may carry when it happened (a phone syncing later); one more than
# this many minutes ahead of the server's clock is refused (a wrong clock), one less is taken as now.
ROUNDS_CLOCK_SKEW_MIN = env.int("ROUNDS_CLOCK_SKEW_MIN", default=5)
# A check-out before this share of the session flags the visit (ended_early) for the coordinator.
ROUNDS_CHECK_OUT_MIN_SHARE = env.float("ROUNDS_CHECK_OUT_MIN_SHARE", default=0.5)
# An Idempotency-Key is remembered this long; `manage.py purge_idempotency_keys` deletes older ones.
ROUNDS_IDEMPOTENCY_KEY_TTL_H = env.int("ROUNDS_IDEMPOTENCY_KEY_TTL_H", default=24)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_tokens": {"()": "config.logging.RedactFeedTokens"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact_tokens"]}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
    # Django's defaults give "django" (DEBUG console, mail_admins) and runserver's access log ("django.server")
    # handlers of their own, without the filter: both write request paths, so they go to the root's handler.
    "loggers": {
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": [], "level": "INFO", "propagate": True},
    },
}
