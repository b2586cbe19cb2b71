"""OpenAPI post-processing: what the view declarations cannot say on their own.

- errors are JSON only (the audio renderer never renders one);
- request bodies refuse unknown fields, and state the configured ``gen_text`` limit;
- without speech recognition ``ref_text`` may not be empty, and is required with ``ref_audio``
  (not with ``voice``; the schema is built per request, so it follows this server's
  configuration);
- ``Retry-After``, ``X-Request-ID`` and the ``X-`` metadata of raw-audio replies are declared;
- keys are declared only when TTS_REQUIRE_API_KEY is on: otherwise no operation needs one, so
  the docs show no padlocks and no Authorize button (a key sent anyway still counts).
"""

from __future__ import annotations

from django.conf import settings

JSON = "application/json"
#: The operation whose raw-audio replies carry AUDIO_HEADERS.
GENERATE_PATH = "/api/tts/generate/"
REQUEST_ID = {"description": "Identifies the request in the server log (echoed when sent).",
              "schema": {"type": "string"}}
RETRY_AFTER = {"description": "Seconds after which a retry may succeed (only where one can).",
               "schema": {"type": "integer"}}
#: Metadata headers of a raw-audio reply (tts/api/views.py audio_response).
AUDIO_HEADERS = {
    "X-Model": ("string", "Model that spoke."),
    "X-Seed": ("integer", "Seed used; send it back to reproduce."),
    "X-Sample-Rate": ("integer", "Sample rate of the audio."),
    "X-Duration": ("number", "Seconds of audio."),
    "X-Chunks": ("integer", "Text chunks generated and joined."),
    "X-Voice-Similarity": ("number", "Speaker similarity of the output to the reference "
                           "(0-1), with similarity."),
    "X-Ref-Text": ("string", "Reference transcript used, percent-encoded."),
    "X-Inference-Seconds": ("number", "Seconds of inference."),
    "X-Real-Time-Factor": ("number", "Inference seconds / audio seconds."),
    "X-Total-Seconds": ("number", "Seconds from request to reply."),
}


def _request_bodies(components: dict):
    for name, schema in components.get("schemas", {}).items():
        if name.endswith("Request") and "gen_text" in schema.get("properties", {}):
            yield name, schema


def configured_schema(result, generator, request, public):
    components = result.get("components", {})
    if not settings.TTS_REQUIRE_API_KEY:
        components.pop("securitySchemes", None)
        result.pop("security", None)
    for name, body in _request_bodies(components):
        body["additionalProperties"] = False
        properties = body["properties"]
        properties["gen_text"]["maxLength"] = (settings.TTS_MAX_JOB_CHARS if name.startswith("Job")
                                               else settings.TTS_MAX_TEXT_CHARS)
        if not settings.TTS_ASR_MODEL and "ref_text" in properties:
            ref_text = properties["ref_text"]
            ref_text["minLength"] = 1
            ref_text.pop("default", None)
            ref_text["description"] = (
                "Exact transcript of the reference clip. Required with `ref_audio`: this "
                "server has no speech recognition (TTS_ASR_MODEL). Leave it out with `voice` "
                "(a saved voice has its own).")
    for path, operations in result.get("paths", {}).items():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            if not settings.TTS_REQUIRE_API_KEY:
                operation.pop("security", None)
            for status, response in operation["responses"].items():
                headers = response.setdefault("headers", {})
                headers["X-Request-ID"] = REQUEST_ID
                content = response.get("content", {})
                if status.startswith(("4", "5")) and JSON in content:
                    response["content"] = {JSON: content[JSON]}
                if status in ("429", "503"):
                    headers["Retry-After"] = RETRY_AFTER
                if (path == GENERATE_PATH and status == "200"
                        and any(kind.startswith("audio/") for kind in content)):
                    headers.update({name: {"description": f"{text} (raw-audio replies only)",
                                           "schema": {"type": kind}}
                                    for name, (kind, text) in AUDIO_HEADERS.items()})
    return result
