"""The interactive documentation pages, served from this machine alone.

Swagger UI gets a plugin (tts/static/tts/docs/swagger-plugin.js) that plays and offers for
download the raw audio replies, keeps the JSON body usable when the media type changes, and
says why the page refused to send a request. ReDoc loads no fonts or images from other hosts.
"""

from __future__ import annotations

from django.shortcuts import redirect
from django.templatetags.static import static
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

FAVICON = "tts/docs/favicon.svg"


class SwaggerView(SpectacularSwaggerView):
    template_name = "tts/docs/swagger_ui.html"
    template_name_js = "tts/docs/swagger_ui.js"

    @staticmethod
    def _swagger_ui_favicon() -> str:
        return static(FAVICON)


class RedocView(SpectacularRedocView):
    template_name = "tts/docs/redoc.html"


def favicon(request):
    """Browsers ask for /favicon.ico on every page that names no icon."""
    return redirect(static(FAVICON), permanent=True)
