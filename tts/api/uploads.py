"""Request bodies over TTS_MAX_UPLOAD_MB are refused before anything parses them."""

from __future__ import annotations

from django.conf import settings

from .errors import RequestTooLarge, too_large_detail


class BoundedUploadMixin:
    """For APIViews that accept uploads: 413 from the Content-Length alone."""

    def initial(self, request, *args, **kwargs):
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > settings.TTS_MAX_UPLOAD_MB * 2**20:
            raise RequestTooLarge(too_large_detail(length))
        super().initial(request, *args, **kwargs)
