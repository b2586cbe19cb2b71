"""Django settings, all from the environment (django-environ). See README "Configuration"."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

VAR_DIR = Path(env("TTS_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """DJANGO_SECRET_KEY, or one generated once and kept in var/ for a self-hosted install."""
    if key := env("DJANGO_SECRET_KEY", default=""):
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(50))
    return path.read_text(encoding="utf-8").strip()


DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["*"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "drf_standardized_errors",
    "tts",
]

MIDDLEWARE = [
    "tts.api.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(VAR_DIR / "media")))
# Saved voices' files go through the default storage: MEDIA_ROOT, or any Django storage by
# setting only, e.g. S3 with django-storages (README "Saved voices").
STORAGES = {
    "default": {
        "BACKEND": env("TTS_STORAGE_BACKEND",
                       default="django.core.files.storage.FileSystemStorage"),
        "OPTIONS": env.json("TTS_STORAGE_OPTIONS", default={}),
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # serve the Swagger UI assets without a collectstatic step

# --- Uploads: bounded, kept in memory (no temp files), checked before parsing -------------
TTS_MAX_UPLOAD_MB = env.float("TTS_MAX_UPLOAD_MB", default=20.0)
_MAX_BODY = int(TTS_MAX_UPLOAD_MB * 2**20)
DATA_UPLOAD_MAX_MEMORY_SIZE = _MAX_BODY
FILE_UPLOAD_MAX_MEMORY_SIZE = _MAX_BODY
FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.MemoryFileUploadHandler"]

# --- REST framework, schema, errors -------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "drf_standardized_errors.handler.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_standardized_errors.openapi.AutoSchema",
    "URL_FORMAT_OVERRIDE": None,  # raw audio is `?response=audio` or an Accept header
}
DRF_STANDARDIZED_ERRORS = {
    "EXCEPTION_HANDLER_CLASS": "tts.api.exceptions.EngineAwareExceptionHandler",
    "ENABLE_IN_DEBUG_FOR_UNHANDLED_EXCEPTIONS": True,
    # 404, 413 and 503 carry our own codes: views declare them with tts.api.schema.error().
    "ALLOWED_ERROR_STATUS_CODES": ["400", "405", "406", "415", "500"],
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
    # Then examples filled in with this server's address, default model and models.
    "POSTPROCESSING_HOOKS": ["drf_standardized_errors.openapi_hooks.postprocess_schema_enums",
                             "tts.api.schema.postprocess_schema"],
}

# --- Text-to-speech engine ----------------------------------------------------------------
TTS_DEMO = env.bool("TTS_DEMO", default=False)
TTS_DEMO_DIR = Path(env("TTS_DEMO_DIR", default=str(VAR_DIR / "tiny-models")))
TTS_DEVICE = env("TTS_DEVICE", default="auto")
TTS_EXECUTION_MODE = "inline"
TTS_MODELS_FILE = env("TTS_MODELS_FILE",
                      default=str(TTS_DEMO_DIR / "models.toml") if TTS_DEMO else "")
TTS_DEFAULT_MODEL = env("TTS_DEFAULT_MODEL", default="tiny-f5" if TTS_DEMO else "F5-TTS")
# Readiness waits for the default model, so it loads at start unless told otherwise.
TTS_PRELOAD = env.list("TTS_PRELOAD", default=[TTS_DEFAULT_MODEL])
TTS_F5_CKPT = env("TTS_F5_CKPT", default="")
TTS_F5_VOCAB = env("TTS_F5_VOCAB", default="")
TTS_E2_CKPT = env("TTS_E2_CKPT", default="")
TTS_E2_VOCAB = env("TTS_E2_VOCAB", default="")
TTS_CUSTOM_CKPT = env("TTS_CUSTOM_CKPT", default="")
TTS_CUSTOM_VOCAB = env("TTS_CUSTOM_VOCAB", default="")
TTS_CUSTOM_ARCH = env("TTS_CUSTOM_ARCH", default="DiT")
TTS_CUSTOM_CONFIG = env("TTS_CUSTOM_CONFIG", default="")
TTS_VOCODER_PATH = env("TTS_VOCODER_PATH", default="")
TTS_ALLOW_DOWNLOADS = env.bool("TTS_ALLOW_DOWNLOADS",
                               default=os.environ.get("HF_HUB_OFFLINE") != "1")
TTS_HF_CACHE_DIR = env("TTS_HF_CACHE_DIR", default="") or None
TTS_ASR_MODEL = env("TTS_ASR_MODEL", default="")
TTS_ASR_LANGUAGE = env("TTS_ASR_LANGUAGE", default="") or None
TTS_MAX_TEXT_CHARS = env.int("TTS_MAX_TEXT_CHARS", default=5000)
TTS_MAX_QUEUE = env.int("TTS_MAX_QUEUE", default=8)
TTS_QUEUE_TIMEOUT = env.float("TTS_QUEUE_TIMEOUT", default=300.0)
TTS_MAX_LOADED_MODELS = env.int("TTS_MAX_LOADED_MODELS", default=2)
TTS_MAX_PREPARATIONS = env.int("TTS_MAX_PREPARATIONS", default=2)
# Slow clients: seconds a connection may take to send its headers, and may stay silent while
# sending its body, before the server closes it.
TTS_HEADER_TIMEOUT = env.float("TTS_HEADER_TIMEOUT", default=10.0)
TTS_BODY_TIMEOUT = env.float("TTS_BODY_TIMEOUT", default=30.0)
TTS_MIN_REF_SECONDS = env.float("TTS_MIN_REF_SECONDS", default=1.0)
TTS_MAX_REF_UPLOAD_SECONDS = env.float("TTS_MAX_REF_UPLOAD_SECONDS", default=60.0)
TTS_REF_CACHE_ENTRIES = env.int("TTS_REF_CACHE_ENTRIES", default=64)
TTS_REF_CACHE_MB = env.int("TTS_REF_CACHE_MB", default=256)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "tts.api.middleware.RequestIdLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"}
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain",
                    "filters": ["request_id"]}
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
