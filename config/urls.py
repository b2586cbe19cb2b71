from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from tts.api.docs import RedocView, SwaggerView, favicon
from tts.api.metrics import metrics
from tts.studio.views import studio

urlpatterns = [
    # The studio (TTS_STUDIO): a page for people, on top of the public API.
    path("", studio, name="studio"),
    path("api/tts/", include("tts.api.urls")),
    # OpenAI's paths have no trailing slash (its clients append none).
    path("v1/", include("tts.openai.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", RedocView.as_view(url_name="schema"), name="redoc"),
    path("favicon.ico", favicon, name="favicon"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
]

handler400 = "tts.web.errors.bad_request"
handler404 = "tts.web.errors.not_found"
handler500 = "tts.web.errors.server_error"
