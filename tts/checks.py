"""`manage.py check` (and so `make serve`, through migrate) fails fast on a broken model setup
or a device that is not there, and warns about a GPU build that cannot use a GPU."""

from django.core.checks import Error, register
from django.core.checks import Warning as CheckWarning


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


@register()
def device_configuration(app_configs, **kwargs):
    """TTS_DEVICE=cuda (or cuda:N, mps) without such a device is an error, not a fallback to
    the CPU; a CUDA build of PyTorch that finds no GPU is a warning; torch and torchaudio built
    for different CUDA versions cannot import together."""
    from django.conf import settings

    from tts.engine import devices

    facts = devices.collect_facts()
    plan = devices.plan_device(settings.TTS_DEVICE, facts)
    found = []
    if plan.error:
        found.append(Error(plan.error, id="tts.E003"))
    found += [CheckWarning(text, id="tts.W001") for text in plan.warnings]
    pairing = devices.pairing_problem(facts.cuda, facts.torchaudio_version)
    if pairing:
        found.append(Error(pairing, id="tts.E004"))
    return found
