"""`manage.py check` (and so `make serve`, through migrate) fails fast on a broken model setup."""

from django.core.checks import Error, register


@register()
def model_configuration(app_configs, **kwargs):
    from django.conf import settings

    from tts.engine.errors import ConfigurationError
    from tts.engine.registry import ModelRegistry
    from tts.services.runtime import engine_config

    try:
        registry = ModelRegistry.from_config(engine_config())
    except ConfigurationError as exc:
        return [Error(exc.message, id="tts.E001")]
    if settings.TTS_DEFAULT_MODEL not in registry:
        return [Error(f"TTS_DEFAULT_MODEL={settings.TTS_DEFAULT_MODEL!r} is not a known model.",
                      hint=f"Use one of: {', '.join(registry.ids())}.", id="tts.E002")]
    return []
