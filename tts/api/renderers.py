import json

from rest_framework.renderers import BaseRenderer


class AudioRenderer(BaseRenderer):
    """Lets content negotiation accept ``Accept: audio/*``; the view returns the bytes itself."""

    media_type = "audio/*"
    format = "audio"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, bytes) else b""


class EventStreamRenderer(BaseRenderer):
    """Lets content negotiation accept ``Accept: text/event-stream``; the view streams."""

    media_type = "text/event-stream"
    format = "sse"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, bytes) else b""


def server_sent_event(name: str, data: dict) -> bytes:
    """One event in the text/event-stream format (the data is one line of JSON)."""
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


#: Accept media types that name a concrete output format.
FORMAT_BY_MEDIA_TYPE = {
    "audio/wav": "wav", "audio/x-wav": "wav", "audio/wave": "wav", "audio/vnd.wave": "wav",
    "audio/mpeg": "mp3", "audio/mp3": "mp3",
    "audio/flac": "flac", "audio/x-flac": "flac",
    "audio/ogg": "ogg", "audio/opus": "ogg",
    "audio/aac": "aac", "audio/x-aac": "aac",
    "audio/pcm": "pcm", "audio/l16": "pcm",
}
