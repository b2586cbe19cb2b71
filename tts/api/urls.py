from django.urls import path

from . import align_views, job_views, usage_views, views, voice_views


def unslashed(view: type) -> object:
    """``view`` at its path without the trailing slash, for the endpoints clients POST to: a
    redirect to the slash would lose the body. Left out of the schema (the canonical path is
    documented)."""
    return type(f"{view.__name__}NoSlash", (view,), {"schema": None}).as_view()


urlpatterns = [
    path("generate/", views.GenerateView.as_view(), name="tts-generate"),
    path("generate", unslashed(views.GenerateView)),
    path("models/", views.ModelListView.as_view(), name="tts-models"),
    path("models/<str:model_id>/", views.ModelDetailView.as_view(), name="tts-model"),
    path("health/", views.HealthView.as_view(), name="tts-health"),
    path("health/ready/", views.ReadinessView.as_view(), name="tts-ready"),
    path("usage/", usage_views.UsageView.as_view(), name="tts-usage"),
    path("jobs/", job_views.JobListView.as_view(), name="tts-jobs"),
    path("jobs", unslashed(job_views.JobListView)),
    path("jobs/<str:job_id>/", job_views.JobDetailView.as_view(), name="tts-job"),
    path("jobs/<str:job_id>/audio/", job_views.JobAudioView.as_view(), name="tts-job-audio"),
    path("jobs/<str:job_id>/captions/", job_views.JobCaptionsView.as_view(),
         name="tts-job-captions"),
    path("align/", align_views.AlignView.as_view(), name="tts-align"),
    path("align", unslashed(align_views.AlignView)),
    path("voices/", voice_views.VoiceListView.as_view(), name="tts-voices"),
    path("voices", unslashed(voice_views.VoiceListView)),
    path("voices/<slug:voice_id>/", voice_views.VoiceDetailView.as_view(), name="tts-voice"),
    path("voices/<slug:voice_id>/clip/", voice_views.VoiceClipView.as_view(),
         name="tts-voice-clip"),
]
