from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from tts.engine.tiny import NOISE_NOTE, write_tiny_models


class Command(BaseCommand):
    help = ("Write tiny randomly initialised F5-TTS (DiT) and E2-TTS (UNetT) checkpoints, a "
            "vocab, a tiny Vocos and a models.toml registering them as tiny-f5 and tiny-e2. "
            + NOISE_NOTE)
    # The demo's models file does not exist until this command writes it.
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("folder", nargs="?", default=str(settings.TTS_DEMO_DIR),
                            help="Where to write them (default: TTS_DEMO_DIR, var/tiny-models).")
        parser.add_argument("--skip-existing", action="store_true",
                            help="Do nothing when the folder already holds a models.toml.")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, folder: str, skip_existing: bool, seed: int, **options):
        models_file = Path(folder) / "models.toml"
        if skip_existing and models_file.exists():
            self.stdout.write(f"tiny models already in {folder}")
            return
        written = write_tiny_models(folder, seed=seed)
        self.stdout.write(self.style.SUCCESS(
            f"wrote tiny models to {folder}; use TTS_MODELS_FILE={written}. {NOISE_NOTE}"))
