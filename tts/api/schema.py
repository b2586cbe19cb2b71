"""OpenAPI documentation pieces: error responses and request/response examples."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse

from .serializers import ErrorResponseSerializer


def error(description: str, *examples: tuple[str, str, str, str, str | None]) -> OpenApiResponse:
    """An error response in the one error shape, with (name, type, code, detail, attr)."""
    return OpenApiResponse(
        ErrorResponseSerializer, description=description,
        examples=[OpenApiExample(name, value={"type": kind, "errors": [
            {"code": code, "detail": detail, "attr": attr}]}) for name, kind, code, detail, attr
            in examples])


GENERATE_JSON_EXAMPLE = OpenApiExample(
    "JSON with base64 reference",
    request_only=True,
    media_type="application/json",
    value={
        "ref_audio": "<base64 of a 3-12 s wav/mp3/m4a clip>",
        "ref_text": "Some call me nature, others call me mother nature.",
        "gen_text": "I don't really care what you call me.",
        "model": "F5-TTS",
        "speed": 1.0,
        "nfe_step": 32,
        "seed": 42,
        "output_format": "mp3",
    },
)

GENERATE_RESPONSE_EXAMPLE = OpenApiExample(
    "Generated speech",
    response_only=True,
    value={
        "audio": "UklGRiQAAABXQVZFZm10IBAAAAABAAEAwF0AAIC7AAACABAAZGF0YQAAAAA=",
        "format": "wav",
        "sample_rate": 24000,
        "duration": 3.52,
        "model": "F5-TTS",
        "seed": 42,
        "ref_text": "Some call me nature, others call me mother nature.",
        "ref_clip": {"original_seconds": 4.1, "kept_start": 0.0, "kept_end": 4.1,
                     "clipped": False},
        "chunks": 1,
        "parameters": {"speed": 1.0, "nfe_step": 32, "cross_fade_duration": 0.15,
                       "remove_silence": False, "cfg_strength": 2.0,
                       "sway_sampling_coef": -1.0},
        "timing": {"total_seconds": 2.1, "preprocess_seconds": 0.08, "reference_cached": False,
                   "queue_seconds": 0.0, "load_seconds": 0.0, "inference_seconds": 1.9,
                   "real_time_factor": 0.54},
    },
)

GENERATE_ERRORS = {
    400: error("Invalid input: the field is named in `attr`.",
               ("Out of range", "validation_error", "max_value",
                "Must be between 0.3 and 2.0 (default 1.0).", "speed"),
               ("Not audio", "validation_error", "undecodable_audio",
                "The reference audio could not be decoded; send wav, mp3, flac, ogg/opus, "
                "m4a/aac or webm audio.", "ref_audio"),
               ("No transcript", "validation_error", "ref_text_required",
                "ref_text is empty and speech recognition is not configured on this server; "
                "send ref_text with the exact words spoken in the reference clip.",
                "ref_text")),
    404: error("Unknown model.", ("Unknown model", "client_error", "model_not_found",
                                  "Unknown model 'F6'. Available: F5-TTS, E2-TTS "
                                  "(see GET /api/tts/models/).", None)),
    413: error("Request body over TTS_MAX_UPLOAD_MB.",
               ("Too large", "client_error", "request_too_large",
                "The request body is 31.0 MB; the limit is 20 MB (TTS_MAX_UPLOAD_MB). Send a "
                "shorter clip.", None)),
    503: error("Model unavailable or busy; see Retry-After.",
               ("Weights missing", "server_error", "model_unavailable",
                "F5-TTS checkpoint not found in the local cache (hf://SWivid/F5-TTS/"
                "F5TTS_v1_Base/model_1250000.safetensors) and downloads are disabled; set "
                "TTS_F5_CKPT to a local file.", None),
               ("Busy", "server_error", "engine_busy",
                "Model F5-TTS already has 8 requests waiting; retry shortly.", None)),
}
