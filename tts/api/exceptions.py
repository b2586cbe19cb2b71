"""The one place engine errors become HTTP errors (docs/architecture.md, "Errors")."""

from __future__ import annotations

import logging

from drf_standardized_errors.handler import ExceptionHandler
from rest_framework import exceptions, status
from rest_framework.exceptions import ErrorDetail, ValidationError

import tts.engine.errors as engine
from tts.observability.metrics import observe_error
from tts.work import errors as service

logger = logging.getLogger(__name__)


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service cannot take this request right now."
    default_code = "service_unavailable"

    def __init__(self, detail=None, code=None, wait: int | None = None):
        super().__init__(detail, code)
        self.wait = wait  # becomes Retry-After


class InsufficientStorage(ServiceUnavailable):
    status_code = status.HTTP_507_INSUFFICIENT_STORAGE
    default_detail = "The server's storage is full."
    default_code = "insufficient_storage"


class ResourceNotFound(exceptions.NotFound):
    default_code = "not_found"


class ResourceConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The resource is not in a state that allows this."
    default_code = "conflict"


def as_engine_error(exc: Exception) -> Exception:
    """A full disk or database, however it surfaced (OSError, a database error), as the
    StorageFull it means; any other exception unchanged."""
    if isinstance(exc, exceptions.APIException):
        return exc
    full = service.storage_full(exc)
    if full is not None:
        logger.warning("storage full: %s: %s", type(exc).__name__, exc)
        return full
    return exc


def to_api_exception(exc: engine.EngineError) -> exceptions.APIException:
    if isinstance(exc, (engine.ModelNotFound, service.NotFound)):
        return ResourceNotFound(exc.message, code=exc.code)
    if isinstance(exc, service.Conflict):
        return ResourceConflict(exc.message, code=exc.code)
    if isinstance(exc, service.LimitReached):
        return exceptions.Throttled(wait=exc.retry_after, detail=exc.message, code=exc.code)
    if isinstance(exc, service.Forbidden):
        return exceptions.PermissionDenied(exc.message, code=exc.code)
    if isinstance(exc, (engine.InvalidReferenceAudio, engine.InvalidReferenceText,
                        engine.GenerationFailed, service.InvalidInput)):
        return ValidationError({exc.attr or "non_field_errors": [ErrorDetail(exc.message,
                                                                             code=exc.code)]})
    if isinstance(exc, service.StorageFull):
        return InsufficientStorage(exc.message, code=exc.code, wait=exc.retry_after)
    if isinstance(exc, (engine.ModelUnavailable, engine.ModelLoadError, engine.EngineBusy,
                        engine.OutOfMemory, engine.ConfigurationError)):
        return ServiceUnavailable(exc.message, code=exc.code, wait=exc.retry_after)
    logger.error("unmapped engine error %s: %s", type(exc).__name__, exc.message)
    return exceptions.APIException(exc.message, code=exc.code)


#: How each body a view parses carries a file, for the 415 that names what to send instead.
MEDIA_TYPE_HINTS = {"multipart/form-data": "multipart/form-data (files as uploads: curl -F)",
                    "application/json": "application/json (files as base64)"}


def explain_media_type(exc: Exception, context: dict) -> Exception:
    """A 415 that names the media types the endpoint takes, and why a URL-encoded form (curl
    -d, an HTML form's default) is not one of them."""
    view, request = context.get("view"), context.get("request")
    if not isinstance(exc, exceptions.UnsupportedMediaType) or view is None:
        return exc
    accepted = [parser.media_type for parser in view.get_parsers()]
    takes_files = "multipart/form-data" in accepted
    named = [MEDIA_TYPE_HINTS.get(media, media) if takes_files else media for media in accepted]
    sent = (getattr(request, "content_type", "") or "").split(";")[0].strip() or "none"
    message = f"Unsupported media type \"{sent}\": send {' or '.join(named)}."
    if sent == "application/x-www-form-urlencoded" and takes_files:
        message += " A URL-encoded form (curl -d) cannot carry an audio file."
    return exceptions.UnsupportedMediaType(sent, detail=message)


class EngineAwareExceptionHandler(ExceptionHandler):
    def run(self):
        response = super().run()
        if response is not None:
            errors = response.data.get("errors") or [{}]
            observe_error(errors[0].get("code") or "unknown", response.status_code)
        return response

    def convert_known_exceptions(self, exc: Exception) -> Exception:
        exc = as_engine_error(exc)
        if isinstance(exc, engine.EngineError):
            return to_api_exception(exc)
        return super().convert_known_exceptions(explain_media_type(exc, self.context))

    def report_exception(self, exc: exceptions.APIException, response) -> None:
        # A busy, loading or unavailable model is an expected state, not a crash: one warning,
        # no traceback, no error-tracker event. Everything else is reported as DRF/Django do.
        if isinstance(self.exc, engine.EngineError) or isinstance(exc, ServiceUnavailable):
            # Readiness saying "not yet" is what a probe expects while the server starts (a
            # preload that fails logs its own warning): not a warning each time it is asked.
            level = logging.INFO if exc.get_codes() == "not_ready" else logging.WARNING
            logger.log(level, "%s %s: %s", response.status_code, exc.get_codes(), exc.detail)
            response._has_been_logged = True  # Django would log it again at ERROR
            return
        super().report_exception(exc, response)
