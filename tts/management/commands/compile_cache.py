"""Fill the persisted compile cache once, so that TTS_COMPILE=auto compiles at every later
start from it (a minute or more for a real-size model on a small CPU, once per configuration)."""

from __future__ import annotations

import dataclasses

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tts.engine.errors import EngineError
from tts.work.runtime import engine_config


class Command(BaseCommand):
    help = ("Compile the given models (default: TTS_PRELOAD) as this server would run them "
            "(TTS_DEVICE, TTS_PRECISION) and keep the compiled code in TTS_COMPILE_CACHE_DIR, "
            "so that TTS_COMPILE=auto compiles them at every later start without waiting. "
            "Run it again after upgrading torch or moving to another CPU.")

    def add_arguments(self, parser):
        parser.add_argument("models", nargs="*", help="model ids (default: TTS_PRELOAD)")

    def handle(self, *args, models: list[str], **options):
        from tts.engine.engine import TTSEngine  # deferred: torch and f5-tts come with it

        config = dataclasses.replace(engine_config(), compile="1")
        engine = TTSEngine(config)
        for model_id in models or settings.TTS_PRELOAD:
            try:
                engine.load_model(model_id)
            except EngineError as exc:
                raise CommandError(f"{model_id}: {exc.message}") from exc
            report = engine.compute_info()["compile_models"].get(model_id, {})
            self.stdout.write(self.style.SUCCESS(
                f"{model_id}: compiled in {report.get('seconds')} s (cache {report.get('cache')} "
                f"before) into {settings.TTS_COMPILE_CACHE_DIR}"))
            engine.pool.unload(model_id)
