from django.urls import path

from . import views

urlpatterns = [
    path("generate/", views.GenerateView.as_view(), name="tts-generate"),
    path("generate", views.GenerateNoSlashView.as_view()),
    path("models/", views.ModelListView.as_view(), name="tts-models"),
    path("models/<str:model_id>/", views.ModelDetailView.as_view(), name="tts-model"),
    path("health/", views.HealthView.as_view(), name="tts-health"),
    path("health/ready/", views.ReadinessView.as_view(), name="tts-ready"),
]
