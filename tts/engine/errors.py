"""Typed engine errors. Each message says what went wrong and what to do about it.

The HTTP layer maps these once (tts/api/exceptions.py); nothing here knows about HTTP.
"""

from __future__ import annotations


class EngineError(Exception):
    """Base class. ``code`` is a stable machine-readable identifier."""

    code = "engine_error"
    #: Seconds after which a retry may succeed; ``None`` when retrying cannot help.
    retry_after: int | None = None

    def __init__(self, message: str, *, code: str | None = None, attr: str | None = None,
                 retry_after: int | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if retry_after is not None:
            self.retry_after = retry_after
        #: The request field the problem is about, when there is one.
        self.attr = attr


class ConfigurationError(EngineError):
    """The operator's model configuration is broken (models file, TTS_CUSTOM_* variables)."""

    code = "configuration_error"


class ModelNotFound(EngineError):
    code = "model_not_found"


class ModelUnavailable(EngineError):
    """The model is known but its weights (or vocoder) cannot be had. Only a failed download
    says when to retry (``retry_after``): missing files and a wrong device need the operator."""

    code = "model_unavailable"


class ModelLoadError(EngineError):
    """The weights exist but do not load (corrupt file, wrong architecture or vocab)."""

    code = "model_load_error"


class InvalidReferenceAudio(EngineError):
    code = "invalid_reference_audio"

    def __init__(self, message: str, *, code: str | None = None, attr: str | None = "ref_audio"):
        super().__init__(message, code=code, attr=attr)


class InvalidReferenceText(EngineError):
    code = "invalid_ref_text"

    def __init__(self, message: str, *, code: str | None = None, attr: str | None = "ref_text"):
        super().__init__(message, code=code, attr=attr)


class TranscriptionUnavailable(InvalidReferenceText):
    code = "ref_text_required"


class EngineBusy(EngineError):
    """Too many requests are already waiting for this model."""

    code = "engine_busy"
    retry_after = 5


class OutOfMemory(EngineError):
    code = "out_of_memory"
    retry_after = 10


class GenerationFailed(EngineError):
    code = "generation_failed"


class GenerationCancelled(EngineError):
    """The client went away or cancelled; the generation stopped at a chunk boundary."""

    code = "cancelled"


class ListeningUnavailable(GenerationFailed):
    """Timestamps, captions, verification or alignment were asked for, and this server has no
    speech recognition to listen with."""

    code = "listening_unavailable"


class AlignmentFailed(GenerationFailed):
    """Audio and text that cannot be aligned: no speech, text the audio cannot hold, a
    language the recogniser cannot hear."""

    code = "alignment_failed"
