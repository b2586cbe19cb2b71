"""Request bodies over TTS_MAX_UPLOAD_MB are refused before anything parses them."""

from __future__ import annotations

from django.conf import settings

from .exceptions import RequestTooLarge


class BoundedUploadMixin:
    """For APIViews that accept uploads: 413 from the Content-Length alone."""

    def initial(self, request, *args, **kwargs):
        limit_mb = settings.TTS_MAX_UPLOAD_MB
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > limit_mb * 2**20:
            raise RequestTooLarge(
                f"The request body is {length / 2**20:.1f} MB; the limit is {limit_mb:g} MB "
                "(TTS_MAX_UPLOAD_MB). Send a shorter or more compressed clip.")
        super().initial(request, *args, **kwargs)
