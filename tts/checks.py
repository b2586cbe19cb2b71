"""`manage.py check` (run by migrate, so by every way of starting the server) fails fast on a
broken model setup, a device that is not there, or a machine that lacks what requests will
need, and warns about a GPU build that cannot use a GPU."""

import shutil

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.core.checks import Warning as CheckWarning

from tts.engine.audio import unsupported_output_formats
from tts.engine.errors import ConfigurationError
from tts.engine.frontend import load_lexicon
from tts.engine.registry import ModelRegistry
from tts.work.runtime import engine_config


@register()
def model_configuration(app_configs, **kwargs):
    try:
        registry = ModelRegistry.from_config(engine_config())
    except ConfigurationError as exc:
        return [Error(exc.message, id="tts.E001")]
    if settings.TTS_DEFAULT_MODEL not in registry:
        return [Error(f"TTS_DEFAULT_MODEL={settings.TTS_DEFAULT_MODEL!r} is not a known model.",
                      hint=f"Use one of: {', '.join(registry.ids())}.", id="tts.E002")]
    return []


@register()
def lexicon_configuration(app_configs, **kwargs):
    """A lexicon file that does not load stops the server at start, naming the entry."""
    if not settings.TTS_LEXICON_FILE:
        return []
    try:
        load_lexicon(settings.TTS_LEXICON_FILE)
    except ConfigurationError as exc:
        return [Error(exc.message, id="tts.E008")]
    return []


@register()
def device_configuration(app_configs, **kwargs):
    """TTS_DEVICE=cuda (or cuda:N, mps) without such a device is an error, not a fallback to
    the CPU; a CUDA build of PyTorch that finds no GPU is a warning; torch and torchaudio built
    for different CUDA versions cannot import together."""
    from tts.engine import devices  # deferred: imports torch

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


@register()
def audio_tools(app_configs, **kwargs):
    """ffmpeg decodes every reference; libsndfile encodes every output format."""
    errors = []
    if shutil.which("ffmpeg") is None:
        errors.append(Error("ffmpeg is not installed (or not on PATH): no reference clip can be "
                            "decoded.", hint="Run scripts/install.sh or apt-get install ffmpeg.",
                            id="tts.E005"))
    for name, reason in unsupported_output_formats().items():
        errors.append(Error(f"output_format={name} cannot be encoded here ({reason}).",
                            hint="Install libsndfile 1.1 or newer (mp3 needs 1.1, opus 1.0.29; "
                                 "a current soundfile wheel bundles one) and an ffmpeg with "
                                 "libmp3lame, libopus and aac encoders (scripts/install.sh).",
                            id="tts.E006"))
    return errors


@register()
def secret_key(app_configs, **kwargs):
    if settings.SECRET_KEY.startswith("ephemeral-"):
        return [CheckWarning(
            "No DJANGO_SECRET_KEY and no var/secret_key file: this process made up a key of its "
            "own, so admin sessions end when it exits and differ between workers.",
            hint="Run `manage.py migrate` (it writes var/secret_key) or set "
                 "DJANGO_SECRET_KEY.", id="tts.W002")]
    return []


@register(Tags.security, deploy=True)
def callback_secret(app_configs, **kwargs):
    """Production checklist (docs/deployment.md): callbacks signed with a secret of their own."""
    if getattr(settings, "CALLBACK_SECRET_DERIVED", False):
        return [CheckWarning(
            "Job callbacks are signed with a key derived from DJANGO_SECRET_KEY: receivers need "
            "it to verify them, and it changes whenever the secret key does.",
            hint="Set TTS_CALLBACK_SECRET to a random string of at least 32 characters and give "
                 "it to the receivers (docs/api/jobs.md).", id="tts.W010")]
    return []
