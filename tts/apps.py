from django.apps import AppConfig


class TtsConfig(AppConfig):
    name = "tts"
    verbose_name = "Text to speech"

    def ready(self) -> None:
        # Django's start-up hook: these need the app registry, so they are imported here.
        from . import checks  # noqa: F401  (registers the system checks)
        from .observability import metrics
        from .services.health import health_status

        metrics.register_collectors(health_status)
