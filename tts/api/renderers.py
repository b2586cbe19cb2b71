from rest_framework.renderers import BaseRenderer


class AudioRenderer(BaseRenderer):
    """Lets content negotiation accept ``Accept: audio/*``; the view returns the bytes itself."""

    media_type = "audio/*"
    format = "audio"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, bytes) else b""


#: Accept media types that name a concrete output format.
FORMAT_BY_MEDIA_TYPE = {
    "audio/wav": "wav", "audio/x-wav": "wav", "audio/wave": "wav", "audio/vnd.wave": "wav",
    "audio/mpeg": "mp3", "audio/mp3": "mp3",
    "audio/flac": "flac", "audio/x-flac": "flac",
    "audio/ogg": "ogg", "audio/opus": "ogg",
    "audio/aac": "aac", "audio/pcm": "pcm",
}
