from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from tts.api.metrics import metrics

urlpatterns = [
    path("api/tts/", include("tts.api.urls")),
    # OpenAI's paths have no trailing slash (its clients append none).
    path("v1/", include("tts.openai.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
]

handler404 = "tts.api.errors.not_found"
handler500 = "tts.api.errors.server_error"
