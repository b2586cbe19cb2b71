"""OpenAPI documentation pieces: descriptions, examples and error responses.

Examples name this server's own models and address. They are written with ``{tokens}``
(``{server}``, ``{default_model}``...) that :func:`postprocess_schema` fills in each time the
schema is generated, from the request that asked for it and the running configuration, so
the docs page shows requests that work against the server that serves it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from drf_spectacular.utils import OpenApiExample, OpenApiResponse

from tts.engine.errors import EngineError
from tts.services import catalog, voices

from .serializers import ErrorResponseSerializer

#: Where the server is, when the schema is generated without a request (``manage.py
#: spectacular``): what ``make serve`` listens on.
DEFAULT_SERVER = "http://127.0.0.1:8000"
#: A transcript and a sentence that make a first request from the docs page work as is.
EXAMPLE_REF_TEXT = "Some call me nature, others call me mother nature."
EXAMPLE_GEN_TEXT = "Hello! This is my cloned voice speaking."
#: Stands for the clip in the JSON example; clients put the base64 of their file here.
REF_AUDIO_PLACEHOLDER = "<base64 of a 3-12 s wav/mp3/m4a clip>"
#: Named in examples that need a saved voice while the server has none (save one first).
FALLBACK_VOICE = "narrator"
#: What the voice forms start with, so that choosing a clip and pressing Execute works.
EXAMPLE_VOICE_NAME = "My voice"
EXAMPLE_CONSENT = "The speaker agreed in writing on 2025-06-01."

GENERATE_DESCRIPTION = f"""
Clone the voice in `ref_audio` and speak `gen_text` with it.

Send **multipart/form-data** (`ref_audio` as a file) or **application/json** (`ref_audio` as
base64). The reply is JSON with the audio as base64; send `Accept: audio/wav` (or
`audio/mpeg`, `audio/flac`, `audio/ogg`, `audio/*`), or add `?response=audio`, to get the raw
bytes instead (as an attachment named `speech.<format>`), with the metadata in `X-` headers.

With `stream=true` the audio is sent while it is generated (a chunked file in any
`output_format`); with `Accept: text/event-stream` it comes as Server-Sent Events: one `chunk`
event per piece of text (base64 16-bit PCM), then `done` with the metadata (or `error`).

On this page: choose a clip under `ref_audio` and press **Execute**. Pick `audio/*` as the
media type of the 200 response to get a player and a download link instead of JSON.

```bash
curl -X POST {{server}}/api/tts/generate/ \\
  -F ref_audio=@voice.wav -F "ref_text={EXAMPLE_REF_TEXT}" \\
  -F "gen_text={EXAMPLE_GEN_TEXT}" -H "Accept: audio/wav" -o speech.wav
```

```python
import requests

with open("voice.wav", "rb") as clip:
    reply = requests.post(
        "{{server}}/api/tts/generate/",
        files={{"ref_audio": clip}},
        data={{"ref_text": "{EXAMPLE_REF_TEXT}",
              "gen_text": "{EXAMPLE_GEN_TEXT}"}},
        timeout=600)
reply.raise_for_status()
print(reply.json()["seed"], reply.json()["duration"])
```
"""


def error(description: str, *examples: tuple[str, str, str, str, str | None]) -> OpenApiResponse:
    """An error response in the one error shape, with (name, type, code, detail, attr)."""
    return OpenApiResponse(
        ErrorResponseSerializer, description=description,
        examples=[OpenApiExample(name, value={"type": kind, "errors": [
            {"code": code, "detail": detail, "attr": attr}]}) for name, kind, code, detail, attr
            in examples])


GENERATE_JSON_EXAMPLE = OpenApiExample(
    "JSON with base64 reference",
    description="Put the base64 of your clip in `ref_audio` (`base64 -w0 voice.wav`); the "
                "rest works as it is.",
    request_only=True,
    media_type="application/json",
    value={
        "ref_audio": REF_AUDIO_PLACEHOLDER,
        "ref_text": EXAMPLE_REF_TEXT,
        "gen_text": "I don't really care what you call me.",
        "model": "{default_model}",
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
        "model": "{default_model}",
        "seed": 42,
        "ref_text": EXAMPLE_REF_TEXT,
        "ref_clip": {"original_seconds": 4.1, "kept_start": 0.0, "kept_end": 4.1,
                     "clipped": False},
        "reference_report": {
            "seconds": 4.1, "kept_seconds": 4.1, "speech_ratio": 0.86, "loudness_lufs": -19.8,
            "peak_dbfs": -2.1, "clipping_share": 0.0, "snr_db": 41.5, "tone_share": 0.05,
            "speaker_consistency": 0.84, "cut_at_start": False, "cut_at_end": False,
            "findings": [], "severity": "ok"},
        "chunks": 1,
        "spoken_text": "Hello! This is my cloned voice speaking.",
        "parameters": {"speed": 1.0, "nfe_step": 32, "cross_fade_duration": 0.15,
                       "remove_silence": False, "cfg_strength": 2.0,
                       "sway_sampling_coef": -1.0},
        "timing": {"total_seconds": 2.1, "preprocess_seconds": 0.08, "reference_cached": False,
                   "queue_seconds": 0.0, "load_seconds": 0.0, "inference_seconds": 1.9,
                   "real_time_factor": 0.54},
    },
)


def _event(name: str, data: dict) -> str:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


_CHUNK = {"index": 0, "total": 2, "text": "Hello!", "start": 0.0, "end": 0.62,
          "sample_rate": 24000, "format": "pcm_s16le", "audio": "AAABAAIA..."}
GENERATE_EVENTS_EXAMPLE = OpenApiExample(
    "Server-Sent Events",
    response_only=True,
    media_type="text/event-stream",
    value="".join([
        _event("chunk", _CHUNK),
        _event("chunk", {**_CHUNK, "index": 1, "text": "This is my cloned voice speaking.",
                         "start": 0.62, "end": 3.52, "audio": "AwAEAAUA..."}),
        _event("done", {**{key: GENERATE_RESPONSE_EXAMPLE.value[key] for key in (
            "model", "seed", "sample_rate", "duration", "ref_text", "spoken_text", "parameters",
            "timing", "reference_report")},
            "chunks": 2}),
    ]),
)

def event_stream(description: str, *, events: list[str], data: str,
                 examples: list[OpenApiExample] | None = None) -> OpenApiResponse:
    """A text/event-stream reply. Its schema describes one event as an SSE parser reads it
    (``event`` name, ``data`` text), as OpenAPI 3.2's ``itemSchema`` does; the example shows
    the stream as sent."""
    return OpenApiResponse({
        "type": "object", "description": "One event of the stream.",
        "properties": {
            "event": {"type": "string", "enum": events,
                      "description": "The event's name (`message` when the stream names none)."},
            "data": {"type": "string", "description": data},
            "id": {"type": "string"}, "retry": {"type": "integer"}},
        "required": ["data"]}, description=description, examples=examples)


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
                                  "{unknown_model_detail}", None)),
    413: error("Request body over TTS_MAX_UPLOAD_MB.",
               ("Too large", "client_error", "request_too_large",
                "The request body is 31.0 MB; the limit is 20 MB (TTS_MAX_UPLOAD_MB). Send a "
                "shorter clip.", None)),
    503: error("Model unavailable or busy; see Retry-After.",
               ("Weights missing", "server_error", "model_unavailable",
                "{unavailable_detail}", None),
               ("Busy", "server_error", "engine_busy",
                "{max_queue} requests are already waiting for this server's device; retry "
                "shortly.", None)),
}

#: Shown when every configured model is available (nothing real to quote).
GENERIC_UNAVAILABLE = ("F5-TTS checkpoint not found in the local cache (hf://SWivid/F5-TTS/"
                       "F5TTS_v1_Base/model_1250000.safetensors) and downloads are disabled; "
                       "set TTS_F5_CKPT to a local file.")


def server_facts(request=None) -> dict[str, str]:
    """The values of the ``{tokens}``: this server's address, default model, models, limits."""
    server = request.build_absolute_uri("/").rstrip("/") if request is not None else (
        DEFAULT_SERVER)
    facts = {"server": server, "default_model": settings.TTS_DEFAULT_MODEL,
             "max_queue": str(settings.TTS_MAX_QUEUE), "served_models": "",
             "unknown_model_detail": "Unknown model 'F6' (see GET /api/tts/models/).",
             "unavailable_detail": GENERIC_UNAVAILABLE, "example_voice": FALLBACK_VOICE}
    try:
        # Only a voice every caller may use (unowned or shared): the docs are open to all.
        saved = (voices.voice_list(tenant=voices.Tenant()).order_by("created_at")
                 .values_list("slug", flat=True).first())
    except DatabaseError:  # `manage.py spectacular` before `migrate`
        saved = None
    facts["example_voice"] = saved or FALLBACK_VOICE
    try:
        models = catalog.model_list()
    except EngineError:  # a broken model configuration: health and readiness report it
        return facts
    try:
        catalog.model_get(model_id="F6")
    except EngineError as exc:
        facts["unknown_model_detail"] = exc.message
    default = next((model.id for model in models if model.is_default), "")
    facts["default_model"] = default or facts["default_model"]
    facts["served_models"] = ", ".join(
        model.id for model in models if model.status != "unavailable")
    facts["unavailable_detail"] = next(
        (model.reason for model in models if model.status == "unavailable" and model.reason),
        GENERIC_UNAVAILABLE)
    return facts


def _fill(node: Any, facts: Mapping[str, str]) -> Any:
    """``node`` with every ``{token}`` in its strings replaced, and the default address by
    this server's (keys are left alone)."""
    if isinstance(node, str):
        for name, value in facts.items():
            node = node.replace(f"{{{name}}}", value)
        # Snippets written for `make serve`'s address (voices, /v1/...) name this server too.
        return node.replace(DEFAULT_SERVER, facts["server"])
    if isinstance(node, dict):
        return {key: _fill(value, facts) for key, value in node.items()}
    if isinstance(node, list):
        return [_fill(value, facts) for value in node]
    return node


#: Form fields with a real value to start from (the rest start empty).
FORM_EXAMPLES = {"ref_text": EXAMPLE_REF_TEXT, "gen_text": EXAMPLE_GEN_TEXT,
                 "name": EXAMPLE_VOICE_NAME, "consent": EXAMPLE_CONSENT}
#: Request bodies sent only as forms: their empty optional fields are simply not sent.
FORM_BODIES = ("GenerateMultipartRequest", "JobMultipartRequest", "VoiceCreateMultipartRequest",
               "OpenAIVoiceCreateRequest")


def _is_text(prop: dict) -> bool:
    variants = prop.get("oneOf") or [prop]
    return all(variant.get("type") == "string" and variant.get("format") not in (
        "binary", "byte") and "enum" not in variant for variant in variants)


def _prefill_forms(schemas: dict, facts: Mapping[str, str]) -> None:
    """Form values that make a first request work as shipped: the clip first, a real sentence
    and its transcript, a voice name and a consent statement; no "string" placeholders and no
    invented numbers (no seed, no step count: the server's defaults and the quality preset
    apply). JSON bodies get whole examples instead (see _request_examples)."""
    for name, body in schemas.items():
        props = body.get("properties")
        if not name.endswith("Request") or not props:
            continue
        form = name in FORM_BODIES
        if form and "ref_audio" in props:
            body["properties"] = props = {"ref_audio": props["ref_audio"], **props}
        for field, prop in props.items():
            if field in FORM_EXAMPLES:
                prop["example"] = FORM_EXAMPLES[field]
            elif "example" in prop or prop.get("default") not in (None, ""):
                continue
            elif _is_text(prop) or (form and prop.get("nullable")):
                # On the wire an empty form field is null or "": the server's default.
                prop["example"] = ""
        if "model" in props and facts["served_models"]:
            props["model"]["description"] += (
                f" This server serves: {facts['served_models']}; its default is "
                f"{facts['default_model']}.")


def _request_examples(paths: dict) -> None:
    """Whole JSON bodies for the operations whose JSON forms would otherwise be sampled
    from the schema ("string", the largest seed)."""
    examples = {
        ("/api/tts/jobs/", "post"): {"ref_audio": REF_AUDIO_PLACEHOLDER,
                                     "ref_text": EXAMPLE_REF_TEXT,
                                     "gen_text": "Chapter one. " + EXAMPLE_GEN_TEXT,
                                     "model": "{default_model}", "quality": "best"},
    }
    for (path, method), value in examples.items():
        content = (paths.get(path, {}).get(method, {}).get("requestBody", {})
                   .get("content", {}).get("application/json"))
        if content is not None and not content.get("examples"):
            content["examples"] = {"AsShipped": {"summary": "Works as it is", "value": value}}


def _camel_operation_ids(paths: dict) -> None:
    """Swagger UI's deep links (#/tag/operationId) log a deprecation warning for ids with
    underscores, drf-spectacular's default (tts_voices_list): make them ttsVoicesList."""
    for methods in paths.values():
        for operation in methods.values():
            if isinstance(operation, dict) and "_" in operation.get("operationId", ""):
                head, *rest = operation["operationId"].split("_")
                operation["operationId"] = head + "".join(part[:1].upper() + part[1:]
                                                          for part in rest)


def postprocess_schema(result: dict, generator, request, public, **kwargs) -> dict:
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""
    facts = server_facts(request)
    _prefill_forms(result.get("components", {}).get("schemas", {}), facts)
    _request_examples(result.get("paths", {}))
    _camel_operation_ids(result.get("paths", {}))
    return _fill(result, facts)
