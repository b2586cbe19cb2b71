"""Django settings. Every TTS_* value is declared once, typed, in config/options.py; the rest
comes from the environment through django-environ. Importing this module writes nothing: the
var folder and the secret key file are made by `manage.py migrate` (tts/management)."""

from __future__ import annotations

import os
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path

import environ

from config import options
from config.security import (
    bind_requirements,
    derived_callback_secret,
    https_settings,
    is_loopback,
)

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

TTS = options.load()
globals().update(TTS.django_settings())
VAR_DIR = TTS.var_dir
SECRET_KEY_FILE = VAR_DIR / "secret_key"

DEBUG = env.bool("DJANGO_DEBUG", default=False)
#: Where the server will listen (make serve, config/serve.py, reads the same variable).
HOST = env("HOST", default="127.0.0.1")
# The production checklist (config/security.py): off loopback, refuse to start with debug
# pages on or without a strong secret key and host names of our own.
bind_requirements(host=HOST, demo=TTS.demo, debug=DEBUG,
                  secret_key=env("DJANGO_SECRET_KEY", default=""),
                  allowed_hosts=env("DJANGO_ALLOWED_HOSTS", default=""),
                  callback_secret=TTS.callback_secret)


def _secret_key() -> str:
    """DJANGO_SECRET_KEY, else the one `manage.py migrate` kept in var/, else a key for
    this process only (tts.W002 says so: sessions then end with the process)."""
    if key := env("DJANGO_SECRET_KEY", default=""):
        return key
    if SECRET_KEY_FILE.is_file():
        return SECRET_KEY_FILE.read_text(encoding="utf-8").strip()
    return "ephemeral-" + secrets.token_urlsafe(50)


SECRET_KEY = _secret_key()
#: Job callbacks are signed with a secret of their own, handed to the receivers: the operator's
#: TTS_CALLBACK_SECRET, else one derived from the secret key (never the key itself).
#: CALLBACK_SECRET_DERIVED lets `check --deploy` ask for one of its own (tts.W010).
CALLBACK_SECRET_DERIVED = not TTS.callback_secret
if CALLBACK_SECRET_DERIVED:
    TTS_CALLBACK_SECRET = derived_callback_secret(SECRET_KEY)

# --- HTTPS behind a TLS proxy (docs/deployment.md, "Production checklist") ----------------
# DJANGO_HTTPS: on by default off loopback (outside demo mode), off on loopback. Secure
# cookies, HSTS, the redirect to HTTPS (health and /metrics exempt) and X-Forwarded-Proto.
globals().update(https_settings(env, host=HOST, demo=TTS.demo).django_settings())
# No page of this server is meant to be framed by another site (clickjacking).
X_FRAME_OPTIONS = env("DJANGO_X_FRAME_OPTIONS", default="DENY")
# HSTS for every subdomain and the browsers' preload list are choices about the other hosts
# of your domain, which this server cannot know: DJANGO_HSTS_INCLUDE_SUBDOMAINS and
# DJANGO_HSTS_PRELOAD make them, and check --deploy does not nag about them.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = ["security.W005", "security.W021"]
_LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]"]
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=(
    _LOOPBACK_NAMES if is_loopback(HOST) else ["*"]))  # "*" only in demo mode (see security)
# Origins allowed to POST to the admin's forms behind a TLS proxy (https://tts.example.com).
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # The admin manages API keys and shows the audit log (/admin/, `manage.py createsuperuser`).
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_prometheus",
    "rest_framework_api_key",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "drf_standardized_errors",
    "tts",
    "tts.access",
    "axes",  # admin login throttling (TTS_ADMIN_LOGIN_ATTEMPTS)
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "tts.observability.request_ids.RequestIdMiddleware",
    # A Host outside ALLOWED_HOSTS: a JSON 400 and one WARNING line (no traceback).
    "tts.web.hosts.AllowedHostMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # API views are CSRF-exempt (keys, no cookies); this protects the admin's forms.
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Last, as django-axes asks: turns a locked-out admin login into its 429 page.
    "axes.middleware.AxesMiddleware",
]

# /admin/ logins: django-axes counts failures per user name and client address and locks that
# pair out for a while (a 429), so passwords cannot be guessed at speed.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = TTS.admin_login_attempts
AXES_COOLOFF_TIME = timedelta(minutes=TTS.admin_lockout_minutes)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_IPWARE_PROXY_COUNT = TTS.num_proxies or None


ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": [
            "django.template.context_processors.request",
            "django.contrib.auth.context_processors.auth",
            "django.contrib.messages.context_processors.messages",
        ]},
    }
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The job runner and the request threads write at once: wait for the lock instead of
    # failing, let readers read while one writes (WAL), take the write lock up front. A test
    # run uses a file of its own too (an in-memory database shared between threads locks
    # whole tables).
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30, "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"tts-test-db-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(VAR_DIR / "media")))
# Saved voices' files go through the default storage: MEDIA_ROOT, or any Django storage by
# setting only, e.g. S3 with django-storages (docs/api/voices.md).
STORAGES = {
    "default": {
        "BACKEND": TTS.storage_backend,
        "OPTIONS": TTS.storage_options,
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # serve the Swagger UI assets without a collectstatic step

# --- Uploads: bounded, kept in memory (no temp files), checked before parsing -------------
_MAX_BODY = int(TTS.max_upload_mb * 2**20)
DATA_UPLOAD_MAX_MEMORY_SIZE = _MAX_BODY
FILE_UPLOAD_MAX_MEMORY_SIZE = _MAX_BODY
FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.MemoryFileUploadHandler"]

# --- REST framework, schema, errors -------------------------------------------------------
REST_FRAMEWORK = {
    # API keys (tts/access): checked whenever sent, required with TTS_REQUIRE_API_KEY.
    "DEFAULT_AUTHENTICATION_CLASSES": ["tts.access.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["tts.access.authentication.ApiKeyRequired"],
    "NUM_PROXIES": TTS.num_proxies or None,
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["tts.api.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "drf_standardized_errors.handler.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_standardized_errors.openapi.AutoSchema",
    "URL_FORMAT_OVERRIDE": None,  # raw audio is `?response=audio` or an Accept header
}
DRF_STANDARDIZED_ERRORS = {
    "EXCEPTION_HANDLER_CLASS": "tts.api.exceptions.EngineAwareExceptionHandler",
    "ENABLE_IN_DEBUG_FOR_UNHANDLED_EXCEPTIONS": True,
    # 404, 413 and 503 carry our own codes: views declare them with tts.api.schema.error().
    "ALLOWED_ERROR_STATUS_CODES": ["400", "401", "405", "406", "415", "429", "500"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "F5-TTS voice-cloning API",
    "DESCRIPTION": (
        "Clone a voice from a short reference clip and speak any text with F5-TTS or "
        "E2-TTS. Send the clip (multipart file or base64 in JSON), its transcript and the "
        "text; get audio back as base64 JSON or raw bytes (`Accept: audio/*`). Every error "
        "has one shape: `{type, errors: [{code, detail, attr}]}`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],  # the docs stay open, whatever key is (or is not) sent
    # Docs pages (tts/api/docs.py): every asset from this server, nothing from other hosts.
    "SWAGGER_UI_DIST": "SIDECAR",
    # Forms open ready to fill in (the reference clip is a file picker), links to operations,
    # no online validator, the duration of each request shown.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "tryItOutEnabled": True,
                            "validatorUrl": None, "displayRequestDuration": True},
    "REDOC_DIST": "SIDECAR",
    # The system's own fonts instead of ReDoc's default web fonts.
    "REDOC_UI_SETTINGS": {"theme": {"typography": {
        "fontFamily": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
        "headings": {"fontFamily": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"},
        "code": {"fontFamily": "ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace"},
    }}},
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        name: f"drf_standardized_errors.openapi_serializers.{name}.choices"
        for name in ("ValidationErrorEnum", "ClientErrorEnum", "ServerErrorEnum",
                     "ErrorCode401Enum", "ErrorCode403Enum", "ErrorCode404Enum",
                     "ErrorCode405Enum", "ErrorCode406Enum", "ErrorCode415Enum",
                     "ErrorCode429Enum", "ErrorCode500Enum")
    },
    # Schema accuracy (ops), then examples filled in with this server's address, default model
    # and models (docs).
    "POSTPROCESSING_HOOKS": ["drf_standardized_errors.openapi_hooks.postprocess_schema_enums",
                             "tts.api.schema_hooks.configured_schema",
                             "tts.api.schema.postprocess_schema"],
}

# --- Celery (TTS_EXECUTION=celery; docs/deployment.md) -------------------------------------
# Redis carries the tasks and relays the chunks of each generation back to the web process.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/0")
# Rate-limit counters: per process inline; in celery mode the broker's Redis, so that a key's
# limit holds across every web process and node. CACHE_URL (redis://..., memcache://...)
# decides otherwise.
_SHARED_CACHE = TTS.execution == "celery" and CELERY_BROKER_URL.startswith(("redis:", "rediss:"))
CACHES = {"default": env.cache(
    "CACHE_URL", default=CELERY_BROKER_URL if _SHARED_CACHE else "locmemcache://")}
CELERY_TASK_ACKS_LATE = True  # a task is acknowledged when done, so a dead worker's is redone
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1  # a busy worker holds no second task back from others
CELERY_TASK_DEFAULT_QUEUE = "tts"
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True  # results go through the database or the relay
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# How long a task taken by a worker that vanished (machine lost) waits before Redis hands it
# to another; a worker process killed under a live worker is redone at once.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
# `celery -A config beat` (docs/deployment.md); tests/e2e/test_beat.py checks every entry
# names a registered task.
CELERY_BEAT_SCHEDULE = {
    "purge-expired-jobs": {"task": "tts.purge_jobs", "schedule": TTS.job_purge_seconds},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "tts.observability.request_ids.RequestIdLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"},
        # LOG_FORMAT=json: one JSON object per line; a generation's line also carries its model
        # and timings, a failure its traceback (python-json-logger).
        "json": {"()": "pythonjsonlogger.json.JsonFormatter",
                 "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(key_id)s",
                 "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"}},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler",
                    "formatter": "json" if env("LOG_FORMAT", default="plain") == "json"
                    else "plain",
                    "filters": ["request_id"]}
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
