from django.apps import AppConfig


class TtsConfig(AppConfig):
    name = "tts"
    verbose_name = "Text to speech"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from .services import metrics

        metrics.register_collectors()
