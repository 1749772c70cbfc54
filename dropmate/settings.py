"""DropMate settings, read from the environment.

With nothing set, the app runs on an embedded default that needs nothing installed: SQLite,
the in-memory channel layer, local-memory cache, eager Celery, local media and console
SMS/email. DATABASE_URL, REDIS_URL, AWS_STORAGE_BUCKET_NAME and the STRIPE_* variables switch
the same code onto PostgreSQL, Redis (channels, cache, Celery), S3 and Stripe.
`.env.example` lists every variable.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)

# Production mode (DJANGO_DEBUG unset or 0) refuses to start without a real secret and hosts.
_missing = [name for name in ("SECRET_KEY", "ALLOWED_HOSTS") if not env.str(name, default="")]
if _missing and not DEBUG:
    raise ImproperlyConfigured(
        "Production mode (DJANGO_DEBUG is not 1) needs these environment variables: "
        + ", ".join(_missing)
        + ". Set them, or set DJANGO_DEBUG=1 for local development."
    )
SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-never-use-in-production")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Demo data and other conveniences are refused when this is true.
IS_PRODUCTION = not DEBUG

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "dropmate.accounts",
    "shipments",
    "drivers",
    "tracking",
    "notifications",
    "portals",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "dropmate.urls"
WSGI_APPLICATION = "dropmate.wsgi.application"
ASGI_APPLICATION = "dropmate.asgi.application"

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
                "portals.context_processors.site",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env.str("DATABASE_URL", default="")
if DATABASE_URL:
    _db = env.db_url_config(DATABASE_URL)
    if _db["ENGINE"] in ("django.db.backends.postgresql", "django.db.backends.postgresql_psycopg2"):
        _db["ENGINE"] = "django.db.backends.postgresql"
        # Under ASGI every request may run in another thread: persistent connections pile up
        # until PostgreSQL refuses more. Django's psycopg pool shares a bounded set instead.
        _db["CONN_MAX_AGE"] = 0
        _db.setdefault("OPTIONS", {})["pool"] = {
            "min_size": env.int("DB_POOL_MIN_SIZE", default=2),
            "max_size": env.int("DB_POOL_MAX_SIZE", default=20),
            "timeout": env.int("DB_POOL_TIMEOUT", default=10),
        }
    DATABASES = {"default": _db}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env.str("SQLITE_PATH", default=str(BASE_DIR / "db.sqlite3")),
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }
DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME", default=None)}
if not DATABASE_URL and not DATABASES["default"]["TEST"]["NAME"]:
    # A file, not Django's shared in-memory database: the live server used by browser tests
    # answers several requests at once (service worker, page, API), and one in-memory
    # connection shared between threads fails under that ("bad parameter or API misuse").
    import os
    import tempfile

    DATABASES["default"]["TEST"]["NAME"] = os.path.join(
        tempfile.gettempdir(), f"dropmate-test-{os.getpid()}.sqlite3"
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, cache, Celery ------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# redis-py 8 caps a pool at 100 connections and then fails handshakes; size it explicitly.
REDIS_MAX_CONNECTIONS = env.int("REDIS_MAX_CONNECTIONS", default=1000)

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # The pub/sub layer delivers to watchers under HTTP load where the list-based
            # default layer starved its receive loop (measured on this project's benchmark);
            # ours pipelines group sends (dropmate/layers.py).
            "BACKEND": "dropmate.layers.PipelinedPubSubChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "max_connections": REDIS_MAX_CONNECTIONS}],
                # Pub/sub ignores the Redis database number: separate sites by prefix.
                "prefix": env.str("CHANNEL_LAYER_PREFIX", default="asgi"),
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "dropmate",
            "OPTIONS": {"max_connections": REDIS_MAX_CONNECTIONS},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Every retry countdown must stay below this, or Redis redelivers a task that is only waiting.
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_RESULT_EXPIRES = 3600
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE: dict = {}

# --- Storage ----------------------------------------------------------------------------------
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
MEDIA_URL = "/media/"
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(BASE_DIR / "media"))
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
_static_backend = (
    "django.contrib.staticfiles.storage.StaticFilesStorage"
    if DEBUG
    else "whitenoise.storage.CompressedManifestStaticFilesStorage"
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": env.str("STATICFILES_BACKEND", default=_static_backend)},
}
if AWS_STORAGE_BUCKET_NAME:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            # Proof-of-delivery files are private: only short-lived signed URLs.
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": env.int("AWS_QUERYSTRING_EXPIRE", default=300),
            "file_overwrite": False,
        },
    }
WHITENOISE_USE_FINDERS = DEBUG

# --- Auth -------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Email and SMS ----------------------------------------------------------------------------
_email_backend = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
_email_options: dict = {}
if _email_backend.endswith("smtp.EmailBackend"):
    _email_options = {
        "host": env.str("EMAIL_HOST", default="localhost"),
        "port": env.int("EMAIL_PORT", default=25),
        "username": env.str("EMAIL_HOST_USER", default="") or None,
        "password": env.str("EMAIL_HOST_PASSWORD", default="") or None,
        "use_tls": env.bool("EMAIL_USE_TLS", default=False),
        "timeout": env.int("EMAIL_TIMEOUT", default=10),
    }
MAILERS = {"default": {"BACKEND": _email_backend, "OPTIONS": _email_options}}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="DropMate <no-reply@dropmate.local>")
SMS_BACKEND = env.str("SMS_BACKEND", default="console")

# --- Stripe -----------------------------------------------------------------------------------
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env.str("STRIPE_PUBLISHABLE_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")  # a stand-in such as localstripe
STRIPE_JS_URL = env.str("STRIPE_JS_URL", default="https://js.stripe.com/v3/")

# --- Product ----------------------------------------------------------------------------------
DROPMATE_SITE_NAME = env.str("DROPMATE_SITE_NAME", default="DropMate")
DROPMATE_BASE_URL = env.str("DROPMATE_BASE_URL", default="http://127.0.0.1:8000")
DROPMATE_CURRENCY = env.str("DROPMATE_CURRENCY", default="EUR")
DROPMATE_MAX_WEIGHT_KG = env.int("DROPMATE_MAX_WEIGHT_KG", default=50)
DROPMATE_MAP_TILE_URL = env.str(
    "DROPMATE_MAP_TILE_URL", default="https://tile.openstreetmap.org/{z}/{x}/{y}.png"
)
# A test that needs a real service it cannot reach fails instead of skipping when this is set.
DROPMATE_REQUIRE_SERVICES = env.bool("DROPMATE_REQUIRE_SERVICES", default=False)

# --- I18N -------------------------------------------------------------------------------------
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- API --------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "dropmate.api.exceptions.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    # Swagger UI served from our own static files (no CDN: self-hosted, works offline).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "TITLE": "DropMate API",
    "DESCRIPTION": "Book, track and operate local deliveries.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

# --- Security (production) --------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- api ----------------------------------------------------------------------------------------
# Personal API tokens first, so an unauthenticated call gets 401 with WWW-Authenticate.
REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"] = [
    "dropmate.api.authentication.ApiTokenAuthentication",
    *REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"],
]
REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "dropmate.api.schema.AutoSchema"
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = [
    "dropmate.api.throttling.AnonThrottle",
    "dropmate.api.throttling.UserThrottle",
]
# Proxies in front of the app that append to X-Forwarded-For (0: use the socket's address).
REST_FRAMEWORK["NUM_PROXIES"] = env.int("API_NUM_PROXIES", default=0) or None
# Counted in the shared cache (Redis when REDIS_URL is set). Rates: "<n>/<s|min|hour|day>".
API_THROTTLE_RATES = {
    "anon": env.str("API_THROTTLE_ANON", default="120/min"),
    "user": env.str("API_THROTTLE_USER", default="1200/min"),
    "track": env.str("API_THROTTLE_TRACK", default="30/min"),
}
SPECTACULAR_SETTINGS.update(
    {
        "COMPONENT_SPLIT_REQUEST": True,
        "ENUM_NAME_OVERRIDES": {
            "ShipmentStatusEnum": "shipments.lifecycle.Status",
            "ServiceLevelEnum": "shipments.models.ServiceLevel",
            "SizeClassEnum": "shipments.models.SizeClass",
            "PaymentStateEnum": "shipments.models.PaymentState",
            "PaymentMethodEnum": "shipments.models.PaymentMethod",
            "VehicleKindEnum": "drivers.models.Vehicle.Kind",
        },
        "DESCRIPTION": (
            "Book, track and operate local deliveries. Authenticate with a personal API token "
            "(`Authorization: Bearer dmt_…`, issued by staff) or the site session (with CSRF). "
            'Every error answers `{"error": {"code", "message", "details"}}`. '
            "Timestamps are ISO 8601 in UTC; money is a decimal string with a currency."
        ),
    }
)

# --- notifications ----------------------------------------------------------------------------
# SMS_BACKEND (above): console | file | sns | twilio | a dotted path to a class.
SMS_FILE_PATH = env.str("SMS_FILE_PATH", default="") or str(BASE_DIR / "sms-outbox.jsonl")
SMS_TIMEOUT = env.int("SMS_TIMEOUT", default=10)
AWS_SNS_REGION_NAME = env.str("AWS_SNS_REGION_NAME", default="eu-west-1")
AWS_SNS_ENDPOINT_URL = env.str("AWS_SNS_ENDPOINT_URL", default="")
AWS_SNS_SENDER_ID = env.str("AWS_SNS_SENDER_ID", default="")
TWILIO_API_BASE = env.str("TWILIO_API_BASE", default="https://api.twilio.com")
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
TWILIO_MESSAGING_SERVICE_SID = env.str("TWILIO_MESSAGING_SERVICE_SID", default="")
NOTIFY_SMS_MAX_SEGMENTS = env.int("NOTIFY_SMS_MAX_SEGMENTS", default=2)
# Times in messages are shown in this zone; the ETA window is the prediction ± this.
NOTIFY_DISPLAY_TIME_ZONE = env.str("NOTIFY_DISPLAY_TIME_ZONE", default=TIME_ZONE)
NOTIFY_ETA_WINDOW_MINUTES = env.int("NOTIFY_ETA_WINDOW_MINUTES", default=15)
# Non-urgent customer messages written in quiet hours ("HH:MM-HH:MM", empty: none) are held
# and sent when they end.
NOTIFY_QUIET_HOURS = env.str("NOTIFY_QUIET_HOURS", default="")
NOTIFY_QUIET_HOURS_TIME_ZONE = env.str("NOTIFY_QUIET_HOURS_TIME_ZONE", default=TIME_ZONE)
if NOTIFY_QUIET_HOURS:
    import re as _re

    if not _re.fullmatch(r"\d{2}:\d{2}-\d{2}:\d{2}", NOTIFY_QUIET_HOURS.replace(" ", "")):
        raise ImproperlyConfigured("NOTIFY_QUIET_HOURS must look like 21:00-08:00, or be empty.")
# After this many messages to a recipient on a channel failed for good in a row, new messages
# go to their other allowed channel first (0: never switch).
NOTIFY_FALLBACK_AFTER_FAILURES = env.int("NOTIFY_FALLBACK_AFTER_FAILURES", default=3)
# Sending: attempts per message, exponential backoff with jitter (seconds, capped below the
# broker visibility timeout), and the sweep's thresholds.
NOTIFY_MAX_ATTEMPTS = env.int("NOTIFY_MAX_ATTEMPTS", default=6)
NOTIFY_RETRY_BASE_DELAY = env.float("NOTIFY_RETRY_BASE_DELAY", default=30.0)
NOTIFY_RETRY_MAX_DELAY = env.float("NOTIFY_RETRY_MAX_DELAY", default=1800.0)
NOTIFY_STUCK_AFTER = env.float("NOTIFY_STUCK_AFTER", default=120.0)
NOTIFY_SENDING_TIMEOUT = env.float("NOTIFY_SENDING_TIMEOUT", default=300.0)
NOTIFY_SWEEP_BATCH = env.int("NOTIFY_SWEEP_BATCH", default=1000)
NOTIFY_BROKER_DOWN_BACKOFF = env.float("NOTIFY_BROKER_DOWN_BACKOFF", default=10.0)
if NOTIFY_RETRY_MAX_DELAY >= CELERY_VISIBILITY_TIMEOUT:
    NOTIFY_RETRY_MAX_DELAY = CELERY_VISIBILITY_TIMEOUT * 0.8
# A publish to an unreachable broker must fail fast instead of hanging the request's commit.
CELERY_BROKER_TRANSPORT_OPTIONS.setdefault(
    "socket_timeout", env.float("CELERY_BROKER_SOCKET_TIMEOUT", default=5.0)
)
CELERY_BROKER_TRANSPORT_OPTIONS.setdefault(
    "socket_connect_timeout", env.float("CELERY_BROKER_SOCKET_TIMEOUT", default=5.0)
)
# Staff checks.
NOTIFY_LATE_GRACE_MINUTES = env.int("NOTIFY_LATE_GRACE_MINUTES", default=15)
NOTIFY_DRIVER_SILENT_MINUTES = env.int("NOTIFY_DRIVER_SILENT_MINUTES", default=10)
CELERY_BEAT_SCHEDULE.update(
    {
        "notifications-sweep": {
            "task": "notifications.sweep",
            "schedule": env.float("NOTIFY_SWEEP_INTERVAL", default=60.0),
        },
        "notifications-late-shipments": {
            "task": "notifications.check_late_shipments",
            "schedule": env.float("NOTIFY_LATE_CHECK_INTERVAL", default=300.0),
        },
        "notifications-silent-drivers": {
            "task": "notifications.check_silent_drivers",
            "schedule": env.float("NOTIFY_SILENT_CHECK_INTERVAL", default=120.0),
        },
        "notifications-failed": {
            "task": "notifications.check_failed_notifications",
            "schedule": env.float("NOTIFY_FAILED_CHECK_INTERVAL", default=600.0),
        },
    }
)

# --- Customer portal ----------------------------------------------------------------------------
from datetime import timedelta  # noqa: E402

# django-axes: brute-force protection on login, keyed on username AND client address, so one
# noisy address never locks out everyone behind it and one user is not locked out worldwide.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The login form's field is "username" even though users log in with their email.
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
# The client address comes from REMOTE_ADDR only, so a forged X-Forwarded-For cannot dodge the
# lockout. Behind a reverse proxy, set AXES_PROXY_COUNT to the number of proxies in front.
AXES_IPWARE_PROXY_COUNT = env.int("AXES_PROXY_COUNT", default=0) or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if AXES_IPWARE_PROXY_COUNT else ["REMOTE_ADDR"]
)
AXES_VERBOSE = False

# Public tracking: at most this many lookups per client address per window, counted in the
# shared cache (Redis when REDIS_URL is set) so the limit holds across processes.
PUBLIC_TRACKING_RATE_LIMIT = env.int("PUBLIC_TRACKING_RATE_LIMIT", default=30)
PUBLIC_TRACKING_RATE_WINDOW = env.int("PUBLIC_TRACKING_RATE_WINDOW", default=60)

# Geocoding: a Nominatim-compatible search URL (e.g. https://nominatim.example.com/search).
# Empty: no geocoding; the customer places the pin on the map.
DROPMATE_GEOCODER_URL = env.str("DROPMATE_GEOCODER_URL", default="")
DROPMATE_GEOCODER_TIMEOUT = env.float("DROPMATE_GEOCODER_TIMEOUT", default=5.0)
DROPMATE_GEOCODER_USER_AGENT = env.str(
    "DROPMATE_GEOCODER_USER_AGENT", default="DropMate (self-hosted delivery platform)"
)
# Where a new booking map starts when no pin is placed yet (lat, lng).
DROPMATE_MAP_CENTER = env.list("DROPMATE_MAP_CENTER", cast=float, default=[51.0543, 3.7174])
# Booking limits.
DROPMATE_MAX_DECLARED_VALUE = env.int("DROPMATE_MAX_DECLARED_VALUE", default=5000)
DROPMATE_BOOKING_HORIZON_DAYS = env.int("DROPMATE_BOOKING_HORIZON_DAYS", default=60)

# Payments stuck in "pending" for longer than this are asked about at Stripe by the periodic
# reconciliation task, so a lost webhook heals by itself.
STRIPE_RECONCILE_AFTER_MINUTES = env.int("STRIPE_RECONCILE_AFTER_MINUTES", default=5)
STRIPE_TIMEOUT = env.float("STRIPE_TIMEOUT", default=20.0)
# After a failed attempt a customer may choose a new delivery time this many times per
# shipment; then the page tells them to contact support (staff are not limited).
DROPMATE_REDELIVERY_LIMIT = env.int("DROPMATE_REDELIVERY_LIMIT", default=3)
# An Idempotency-Key is remembered this many days; after that, a booking sent again under the
# same key books a new shipment (clients retry within hours; Stripe keeps keys 24 hours).
IDEMPOTENCY_KEY_RETENTION_DAYS = env.int("IDEMPOTENCY_KEY_RETENTION_DAYS", default=7)
if IDEMPOTENCY_KEY_RETENTION_DAYS < 1:
    raise ImproperlyConfigured("IDEMPOTENCY_KEY_RETENTION_DAYS must be at least 1.")
CELERY_BEAT_SCHEDULE["shipments-purge-idempotency-keys"] = {
    "task": "shipments.tasks.idempotency_keys_purge_old",
    "schedule": 3600.0,
}
# Retention purges delete this many rows per statement, so a backlog never locks the table.
RETENTION_DELETE_BATCH_SIZE = env.int("RETENTION_DELETE_BATCH_SIZE", default=1000)
CELERY_BEAT_SCHEDULE["payments-reconcile"] = {
    "task": "shipments.tasks.payments_reconcile",
    "schedule": env.int("STRIPE_RECONCILE_EVERY_SECONDS", default=120),
}
# A webhook whose signed timestamp is older than this (seconds) is refused as a replay.
STRIPE_WEBHOOK_TOLERANCE = env.int("STRIPE_WEBHOOK_TOLERANCE", default=300)

# --- backoffice -------------------------------------------------------------------------------
# A user's role counts as membership of the matching group (Dispatchers, Admins). It replaces
# ModelBackend (it is one) behind the customer portal's login protection; the last backend
# is the one a fresh sign-up is logged in with.
AUTHENTICATION_BACKENDS = [
    "dropmate.accounts.backends.LoginProtectionBackend",
    "dropmate.accounts.roles.RoleGroupBackend",
]
# The dispatch console's "at risk" queue: due within this many minutes, or a driver on a job
# silent for longer than DROPMATE_DRIVER_SILENT_MINUTES.
DROPMATE_AT_RISK_MINUTES = env.int("DROPMATE_AT_RISK_MINUTES", default=30)
DROPMATE_DRIVER_SILENT_MINUTES = env.int("DROPMATE_DRIVER_SILENT_MINUTES", default=10)
# Seconds between the console's fallback refreshes (the fleet socket updates it at once).
DROPMATE_CONSOLE_REFRESH_SECONDS = env.int("DROPMATE_CONSOLE_REFRESH_SECONDS", default=5)

# --- Dispatch planning (drivers.planning) ---------------------------------------------------
# Travel times: straight line × road factor ÷ speed, unless an OSRM- or Valhalla-compatible
# table service is configured.
PLANNING_MATRIX_URL = env.str("PLANNING_MATRIX_URL", default="")
PLANNING_MATRIX_KIND = env.str("PLANNING_MATRIX_KIND", default="osrm")  # osrm | valhalla
PLANNING_MATRIX_TIMEOUT_S = env.float("PLANNING_MATRIX_TIMEOUT_S", default=10.0)
PLANNING_ROAD_FACTOR = env.float("PLANNING_ROAD_FACTOR", default=1.3)
PLANNING_SPEED_KMH = env.float("PLANNING_SPEED_KMH", default=25.0)
# Seconds the solver may search: a full plan, and an automatic re-plan after an event.
PLANNING_TIME_BUDGET_S = env.float("PLANNING_TIME_BUDGET_S", default=4.0)
PLANNING_REPLAN_TIME_BUDGET_S = env.float("PLANNING_REPLAN_TIME_BUDGET_S", default=1.0)
PLANNING_EXPLORATION_LEVEL = env.int("PLANNING_EXPLORATION_LEVEL", default=3)
# Used instead when the day already has routes: the search starts from them.
PLANNING_REPLAN_EXPLORATION_LEVEL = env.int("PLANNING_REPLAN_EXPLORATION_LEVEL", default=1)
PLANNING_AUTO_REPLAN = env.bool("PLANNING_AUTO_REPLAN", default=True)
PLANNING_SERVICE_S = env.int("PLANNING_SERVICE_S", default=180)
PLANNING_DAY_START = env.str("PLANNING_DAY_START", default="08:00")
PLANNING_DAY_END = env.str("PLANNING_DAY_END", default="20:00")
# Where a driver with no known position starts (blank: such a driver is left out).
PLANNING_DEPOT_LAT = env.float("PLANNING_DEPOT_LAT", default=None)
PLANNING_DEPOT_LNG = env.float("PLANNING_DEPOT_LNG", default=None)

# --- live tracking ---
# A fix's device time may be at most this far ahead of the server clock (clock skew), and at
# most this old (an offline queue replayed late). Duplicates are recognised within that age.
TRACKING_FIX_MAX_FUTURE_S = env.int("TRACKING_FIX_MAX_FUTURE_S", default=60)
TRACKING_FIX_MAX_AGE_S = env.int("TRACKING_FIX_MAX_AGE_S", default=6 * 3600)
# The live store remembers a fix's client id this long (about 165 bytes of Redis per fix); a
# fix older than this is checked against the history table instead.
TRACKING_FIX_DEDUP_WINDOW_S = env.int("TRACKING_FIX_DEDUP_WINDOW_S", default=900)
# Faster than this between two fixes (after allowing for their accuracy) is a jump: stored
# flagged, never shown as the position.
TRACKING_MAX_SPEED_MPS = env.float("TRACKING_MAX_SPEED_MPS", default=60.0)
TRACKING_MAX_FIXES_PER_REQUEST = env.int("TRACKING_MAX_FIXES_PER_REQUEST", default=500)
# The socket hot path buffers history rows and bulk-inserts them every FLUSH seconds (or when
# BATCH rows wait); past MAX_PENDING rows new fixes are refused (load shedding).
TRACKING_FIX_FLUSH_S = env.float("TRACKING_FIX_FLUSH_S", default=1.0)
TRACKING_FIX_FLUSH_BATCH = env.int("TRACKING_FIX_FLUSH_BATCH", default=2000)
TRACKING_FIX_MAX_PENDING = env.int("TRACKING_FIX_MAX_PENDING", default=50000)
# History older than this many days is purged by a periodic task.
TRACKING_RETENTION_DAYS = env.int("TRACKING_RETENTION_DAYS", default=30)
# ETA: road factor over straight lines, driver speed bounds (m/s) and service time per stop.
TRACKING_ROAD_FACTOR = env.float("TRACKING_ROAD_FACTOR", default=1.3)
TRACKING_DEFAULT_SPEED_MPS = env.float("TRACKING_DEFAULT_SPEED_MPS", default=8.0)
TRACKING_MIN_SPEED_MPS = env.float("TRACKING_MIN_SPEED_MPS", default=3.0)
TRACKING_MAX_ETA_SPEED_MPS = env.float("TRACKING_MAX_ETA_SPEED_MPS", default=20.0)
TRACKING_SERVICE_TIME_S = env.int("TRACKING_SERVICE_TIME_S", default=240)
# ETA and the driver's position are hidden when the last fix is older than this.
TRACKING_STALE_FIX_S = env.int("TRACKING_STALE_FIX_S", default=180)
# "Driver is nearby" fires once per shipment inside this radius around the drop-off.
TRACKING_NEARBY_RADIUS_M = env.float("TRACKING_NEARBY_RADIUS_M", default=150.0)
# WebSockets: server ping interval (a silent socket is closed after 3 intervals), largest
# accepted client frame, and connections one process holds before refusing more.
TRACKING_WS_HEARTBEAT_S = env.float("TRACKING_WS_HEARTBEAT_S", default=20.0)
TRACKING_WS_MAX_FRAME_BYTES = env.int("TRACKING_WS_MAX_FRAME_BYTES", default=8192)
TRACKING_WS_MAX_CONNECTIONS = env.int("TRACKING_WS_MAX_CONNECTIONS", default=20000)
# Load shedding on the driver socket: fixes per second one socket may send, and fixes one
# process applies at once; past either, a fix is answered "rejected" (busy) at once.
TRACKING_WS_MAX_FIX_RATE = env.int("TRACKING_WS_MAX_FIX_RATE", default=10)
TRACKING_WS_MAX_INFLIGHT_FIXES = env.int("TRACKING_WS_MAX_INFLIGHT_FIXES", default=1000)
# Fixes one server process accepts per second (admission control; 0 = no limit). Measured on
# a 2-core box: a process applies ~1,000/s with low latency; two processes share 1,000/s.
TRACKING_WS_MAX_FIXES_PER_S = env.int("TRACKING_WS_MAX_FIXES_PER_S", default=750)
# A fix that would wait longer than this (event loop or worker queue behind) is shed as busy.
TRACKING_WS_MAX_QUEUE_S = env.float("TRACKING_WS_MAX_QUEUE_S", default=0.25)
# The staff fleet map gets at most one coalesced positions frame per this many seconds.
TRACKING_FLEET_COALESCE_S = env.float("TRACKING_FLEET_COALESCE_S", default=1.0)
# Each server process gathers the positions of the drivers whose sockets it holds and sends
# them to the fleet sockets once per this many seconds (one group message, not one per fix).
TRACKING_FLEET_PUBLISH_S = env.float("TRACKING_FLEET_PUBLISH_S", default=0.25)
# On the socket path ETA is recomputed (and stored) at most this often per driver; "nearby"
# is checked on every fix.
TRACKING_ETA_EVERY_S = env.float("TRACKING_ETA_EVERY_S", default=10.0)
# Catch-up sends the missed events when there are at most this many, else a snapshot.
TRACKING_CATCH_UP_MAX_EVENTS = env.int("TRACKING_CATCH_UP_MAX_EVENTS", default=100)
CELERY_BEAT_SCHEDULE["tracking-purge-fixes"] = {
    "task": "tracking.tasks.fixes_purge_old",
    "schedule": 3600.0,
}

# --- driver portal ---
# Location sharing: the phone sends a fix at most every N seconds, sooner on significant movement.
DRIVER_FIX_INTERVAL_S = env.int("DRIVER_FIX_INTERVAL_S", default=10)
DRIVER_FIX_MIN_DISTANCE_M = env.int("DRIVER_FIX_MIN_DISTANCE_M", default=50)
# Offline replay: the most queued updates one request may carry.
DRIVER_REPLAY_MAX_ITEMS = env.int("DRIVER_REPLAY_MAX_ITEMS", default=2000)
# A queued job update is applied only if its device time is at most MAX_AGE_DAYS old and at
# most MAX_FUTURE_HOURS ahead of the server clock (a phone set to the wrong zone); otherwise it
# is rejected. Its at-most-once record is kept RETENTION_DAYS, which must be longer than both
# together: a copy arriving after its record is purged is then always too old to apply again.
DRIVER_REPLAY_MAX_AGE_DAYS = env.int("DRIVER_REPLAY_MAX_AGE_DAYS", default=7)
DRIVER_REPLAY_MAX_FUTURE_HOURS = env.int("DRIVER_REPLAY_MAX_FUTURE_HOURS", default=24)
DRIVER_REPLAY_RETENTION_DAYS = env.int("DRIVER_REPLAY_RETENTION_DAYS", default=30)
if timedelta(days=DRIVER_REPLAY_RETENTION_DAYS) <= timedelta(
    days=DRIVER_REPLAY_MAX_AGE_DAYS, hours=DRIVER_REPLAY_MAX_FUTURE_HOURS
):
    raise ImproperlyConfigured(
        "DRIVER_REPLAY_RETENTION_DAYS must be longer than DRIVER_REPLAY_MAX_AGE_DAYS plus "
        "DRIVER_REPLAY_MAX_FUTURE_HOURS, or a driver update replayed after its record is purged "
        "would be applied a second time."
    )
CELERY_BEAT_SCHEDULE["drivers-purge-replayed-updates"] = {
    "task": "drivers.tasks.replayed_updates_purge_old",
    "schedule": 3600.0,
}
# Proof-of-delivery photos and signatures: limits checked on the content, not the name.
POD_MAX_BYTES = env.int("POD_MAX_BYTES", default=10 * 1024 * 1024)
POD_MAX_PIXELS = env.int("POD_MAX_PIXELS", default=40_000_000)
# Re-encoded photos are scaled down to fit this many pixels on their longest side.
POD_MAX_DIMENSION = env.int("POD_MAX_DIMENSION", default=2048)
# "Delivered" is refused without proof of delivery for these service levels, for declared
# values at or above the threshold, and for shipments flagged `requires_pod`.
POD_REQUIRED_SERVICE_LEVELS = env.list("POD_REQUIRED_SERVICE_LEVELS", default=["same_day"])
POD_REQUIRED_MIN_DECLARED_VALUE = env.int("POD_REQUIRED_MIN_DECLARED_VALUE", default=250)
# A handover PIN is issued when the shipment is accepted, for these service levels and for
# declared values at or above the threshold; this many wrong PINs lock the job.
HANDOVER_PIN_SERVICE_LEVELS = env.list("HANDOVER_PIN_SERVICE_LEVELS", default=[])
HANDOVER_PIN_MIN_DECLARED_VALUE = env.int("HANDOVER_PIN_MIN_DECLARED_VALUE", default=500)
HANDOVER_PIN_MAX_FAILURES = env.int("HANDOVER_PIN_MAX_FAILURES", default=5)
