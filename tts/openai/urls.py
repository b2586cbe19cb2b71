from django.urls import path

from . import views

urlpatterns = [
    path("audio/speech", views.SpeechView.as_view(), name="openai-speech"),
    path("audio/voices", views.VoiceListView.as_view(), name="openai-voices"),
    path("audio/voices/<str:voice_id>", views.VoiceDetailView.as_view(), name="openai-voice"),
    path("models", views.ModelListView.as_view(), name="openai-models"),
    path("models/<str:model_id>", views.ModelDetailView.as_view(), name="openai-model"),
]
