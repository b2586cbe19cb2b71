"""`manage.py check` (and so `make serve`, through migrate) fails fast on a broken model setup."""

from django.core.checks import Error, register


@register()
def model_configuration(app_configs, **kwargs):
    from django.conf import settings

    from tts.engine.registry import ModelRegistry
    from tts.services.runtime import engine_config

    try:
        registry = ModelRegistry.from_config(engine_config())
    except (ValueError, OSError, KeyError) as exc:
        return [Error(f"The model configuration does not load: {exc}",
                      hint="Check TTS_MODELS_FILE and the TTS_CUSTOM_* variables.",
                      id="tts.E001")]
    if settings.TTS_DEFAULT_MODEL not in registry:
        return [Error(f"TTS_DEFAULT_MODEL={settings.TTS_DEFAULT_MODEL!r} is not a known model.",
                      hint=f"Use one of: {', '.join(registry.ids())}.", id="tts.E002")]
    return []
