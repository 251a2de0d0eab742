"""Settings, all from the environment (README: "Settings").

``WAGATE_ENV`` is ``production`` (the default), ``development`` or ``test``.
Production only tightens: it refuses to start without ``SECRET_KEY`` and
``FLEET_ENROLLMENT_TOKEN``. ``DEBUG`` is off unless asked for.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from control_plane.config.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parents[2]
WAGATE_ENV = env_str("WAGATE_ENV", "production")
if WAGATE_ENV not in {"production", "development", "test"}:
    raise ImproperlyConfigured("WAGATE_ENV must be production, development or test")
IS_PRODUCTION = WAGATE_ENV == "production"
DATA_DIR = Path(env_str("WAGATE_DATA_DIR", str(BASE_DIR / ".wagate")))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if IS_PRODUCTION:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it (or SECRET_KEY_FILE), or run with "
            "WAGATE_ENV=development for a local, insecure key."
        )
    SECRET_KEY = f"insecure-{WAGATE_ENV}-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY") else None
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", IS_PRODUCTION)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "channels",
    "django_htmx",
    "control_plane.core",
    "control_plane.accounts",
    "control_plane.fleet",
    "control_plane.sessions",
    "control_plane.messaging",
    "control_plane.webhooks",
    "control_plane.proxies",
    "control_plane.portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "control_plane.core.middleware.ApiBodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "control_plane.core.middleware.PageMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "control_plane.config.urls"
WSGI_APPLICATION = "control_plane.config.wsgi.application"
ASGI_APPLICATION = "control_plane.config.asgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# --- database -------------------------------------------------------------
_default_db = (
    "postgres://postgres@127.0.0.1:5432/wagate"
    if WAGATE_ENV == "test"
    else f"sqlite:///{DATA_DIR / 'db.sqlite3'}"
)
DATABASE_URL = env_str("DATABASE_URL", _default_db)
DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's own psycopg 3 pool: CONN_MAX_AGE does not hold connections under
    # ASGI (research/send-path.md), a pool does under both servers.
    DATABASES["default"]["OPTIONS"] = {
        "pool": {
            "min_size": env_int("DB_POOL_MIN", 1),
            "max_size": env_int("DB_POOL_MAX", 10),
            "timeout": env_float("DB_POOL_TIMEOUT", 10.0),
        },
        # Parameters travel apart from the SQL and psycopg prepares a statement used
        # five times on a connection: PostgreSQL then skips parsing and planning (the
        # send path's session lookup: 103 -> 43 µs of server CPU), and the client skips
        # quoting every value into the SQL text. Off for PgBouncer in transaction mode.
        "server_side_binding": env_bool("DB_SERVER_SIDE_BINDING", True),
    }
    if DATABASES["default"]["OPTIONS"]["server_side_binding"]:
        DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 5  # Django's default is never
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Lets several test runs share one server without sharing a test database.
    DATABASES["default"]["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME") or None}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- redis, cache, channels, celery -----------------------------------------
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
REDIS_SOCKET_TIMEOUT = env_float("REDIS_SOCKET_TIMEOUT", 2.0)
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("WAGATE_REDIS_PREFIX", "wagate") + ":cache",
        "OPTIONS": {
            "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
            "socket_timeout": REDIS_SOCKET_TIMEOUT,
        },
    }
}
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # redis-py 8's asyncio client times reads out after 5 s, exactly the
            # channel layer's blocking-pop timeout: give its sockets more room.
            "hosts": [{"address": REDIS_URL, "socket_timeout": 30, "socket_connect_timeout": 5}],
            "prefix": env_str("WAGATE_REDIS_PREFIX", "wagate") + ":channels",
        },
    }
}
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE: dict = {}  # filled below, once the fleet settings are known

# --- auth -----------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/login"
LOGIN_REDIRECT_URL = "/"
WEBSOCKET_URL = env_str("WEBSOCKET_URL", "")  # empty: ws://<host of the page>:WS_PORT/ws/
WS_PORT = env_int("WS_PORT", 8001)
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env_int("JWT_ACCESS_TTL", 15 * 60)),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=env_int("JWT_REFRESH_TTL", 7 * 24 * 3600)),
    "SIGNING_KEY": SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_CLAIM": "user_id",
    "UPDATE_LAST_LOGIN": False,
}
API_KEY_CACHE_SECONDS = env_int("API_KEY_CACHE_SECONDS", 30)
LOGIN_FAILURES_PER_EMAIL = env_int("LOGIN_FAILURES_PER_EMAIL", 10)
LOGIN_FAILURES_PER_IP = env_int("LOGIN_FAILURES_PER_IP", 100)
LOGIN_FAILURE_WINDOW = env_int("LOGIN_FAILURE_WINDOW", 900)

# --- API --------------------------------------------------------------------
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("API_MAX_UPLOAD_BYTES", 32 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["control_plane.core.parsers.StrictJSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "control_plane.core.negotiation.AnythingFirstNegotiation",
    "EXCEPTION_HANDLER": "control_plane.core.errors.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "control_plane.core.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "wagate API",
    "DESCRIPTION": "Self-hosted WhatsApp gateway. Errors use the envelope "
    '{"error": {"code", "message", "details"}}.',
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/v1",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- messaging and webhooks ------------------------------------------------------
WEBHOOKS_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOKS_ALLOW_PRIVATE_TARGETS", False)
WEBHOOK_TIMEOUT = env_float("WEBHOOK_TIMEOUT", 10.0)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8)
WEBHOOK_RETRY_BASE = env_float("WEBHOOK_RETRY_BASE", 10.0)  # seconds; doubles each attempt
MEDIA_MAX_BYTES = env_int("MEDIA_MAX_BYTES", 16 * 1024 * 1024)
MEDIA_DIR = env_str("MEDIA_DIR", str(DATA_DIR / "media"))
MESSAGE_MAX_BODY_BYTES = MEDIA_MAX_BYTES * 4 // 3 + 256 * 1024  # base64 media plus the JSON around it
MEDIA_FETCH_TIMEOUT = env_float("MEDIA_FETCH_TIMEOUT", 20.0)
MESSAGE_WAIT = env_float("MESSAGE_WAIT", 30.0)
MESSAGE_REDISPATCH_AFTER = env_int("MESSAGE_REDISPATCH_AFTER", 120)
MESSAGE_DUPLICATE_WINDOW = env_int("MESSAGE_DUPLICATE_WINDOW", 0)  # seconds; 0 turns the guard off
RATELIMIT_USE_CACHE = "default"
RATELIMIT_ENABLE = env_bool("RATELIMIT_ENABLE", True)

# --- fleet ------------------------------------------------------------------
FLEET_ENROLLMENT_TOKEN = env_str("FLEET_ENROLLMENT_TOKEN")
if not FLEET_ENROLLMENT_TOKEN and IS_PRODUCTION:
    raise ImproperlyConfigured("FLEET_ENROLLMENT_TOKEN is not set (workers enrol with it).")
HEARTBEAT_INTERVAL = env_int("HEARTBEAT_INTERVAL", 10)
# Unhealthy after two missed beats, offline (and failed over) at the third:
# failover starts after three missed heartbeats (issue 10's goal).
WORKER_MISSED_BEATS = env_int("WORKER_MISSED_BEATS", 2)
WORKER_OFFLINE_GRACE = env_int("WORKER_OFFLINE_GRACE", HEARTBEAT_INTERVAL)
QR_MAX_CODES = env_int("QR_MAX_CODES", 6)
WORKER_STOP_WAIT = env_float("WORKER_STOP_WAIT", 20.0)
PAIRING_CODE_WAIT = env_float("PAIRING_CODE_WAIT", 20.0)
SESSION_STUCK_AFTER = env_int("SESSION_STUCK_AFTER", 300)
SESSION_PROBLEM_ATTEMPTS = env_int("SESSION_PROBLEM_ATTEMPTS", 5)
SNAPSHOT_DIR = env_str("SNAPSHOT_DIR", str(DATA_DIR / "snapshots"))
SNAPSHOT_MAX_BYTES = env_int("SNAPSHOT_MAX_BYTES", 200 * 1024 * 1024)
PROXY_CHECK_URL = env_str("PROXY_CHECK_URL", "https://api.ipify.org")
PROXY_CHECK_TIMEOUT = env_float("PROXY_CHECK_TIMEOUT", 10.0)
PROXY_CHECK_INTERVAL = env_int("PROXY_CHECK_INTERVAL", 300)
CELERY_BEAT_SCHEDULE["proxies-rotate-due"] = {"task": "proxies.rotate_due", "schedule": 60.0}
if PROXY_CHECK_INTERVAL > 0:
    CELERY_BEAT_SCHEDULE["proxies-check-static"] = {
        "task": "proxies.check_static",
        "schedule": float(PROXY_CHECK_INTERVAL),
    }
CELERY_BEAT_SCHEDULE["messaging-sweep"] = {"task": "messaging.sweep", "schedule": 30.0}
CELERY_BEAT_SCHEDULE["webhooks-sweep"] = {"task": "webhooks.sweep", "schedule": 30.0}
DRAIN_CONCURRENCY = env_int("DRAIN_CONCURRENCY", 2)
DRAIN_MOVE_TIMEOUT = env_int("DRAIN_MOVE_TIMEOUT", 120)
CELERY_BEAT_SCHEDULE["sessions-drain-tick"] = {"task": "sessions.drain_tick", "schedule": 3.0}
CELERY_BEAT_SCHEDULE["sessions-retry-waiting"] = {"task": "sessions.retry_waiting", "schedule": 15.0}
CELERY_BEAT_SCHEDULE["fleet-health-monitor"] = {
    "task": "fleet.health_monitor",
    "schedule": float(env_int("HEALTH_MONITOR_INTERVAL", 2)),
}

# --- i18n, static -------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
# Outside production static files are served straight from the apps (no collectstatic step).
WHITENOISE_USE_FINDERS = WHITENOISE_AUTOREFRESH = not IS_PRODUCTION

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}

if WAGATE_ENV == "test":
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    FLEET_ENROLLMENT_TOKEN = FLEET_ENROLLMENT_TOKEN or "test-enrollment-token"
elif WAGATE_ENV == "development":
    FLEET_ENROLLMENT_TOKEN = FLEET_ENROLLMENT_TOKEN or "dev-enrollment-token"
