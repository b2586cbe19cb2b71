from django.apps import AppConfig


class AccessConfig(AppConfig):
    """API keys, per-key quotas and the audit log."""

    name = "tts.access"
    label = "access"
    verbose_name = "Access: API keys and audit log"

    def ready(self) -> None:
        from . import receivers, schema  # noqa: F401  (audit listeners, OpenAPI scheme)
