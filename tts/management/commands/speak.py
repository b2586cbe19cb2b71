from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tts.engine.errors import EngineError
from tts.services.generation import OUTPUT_FORMATS, speech_generate


class Command(BaseCommand):
    help = ("Generate speech from the command line, through the same service as the API: "
            "a quick way to try a checkpoint.")

    def add_arguments(self, parser):
        parser.add_argument("--ref", required=True, type=Path, help="reference clip")
        parser.add_argument("--ref-text", default="", help="transcript of the clip")
        parser.add_argument("--text", required=True, help="text to speak")
        parser.add_argument("--model", default="", help="model id (default TTS_DEFAULT_MODEL)")
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--nfe-step", type=int, default=32)
        parser.add_argument("--speed", type=float, default=1.0)
        parser.add_argument("-o", "--output", type=Path, default=Path("speech.wav"),
                            help="output file; its suffix picks the format "
                                 "(wav, mp3, flac, ogg, aac, pcm)")

    def handle(self, *args, ref: Path, ref_text: str, text: str, model: str, seed, nfe_step: int,
               speed: float, output: Path, **options):
        fmt = output.suffix.lstrip(".").lower()
        if fmt not in OUTPUT_FORMATS:
            raise CommandError(f"--output must end in one of: {', '.join(OUTPUT_FORMATS)}")
        try:
            result = speech_generate(
                model_id=model, ref_audio=ref.read_bytes(),
                ref_text=ref_text, gen_text=text, output_format=fmt,
                options={"seed": seed, "nfe_step": nfe_step, "speed": speed})
        except (EngineError, OSError) as exc:
            raise CommandError(getattr(exc, "message", str(exc))) from exc
        output.write_bytes(result.audio)
        self.stdout.write(self.style.SUCCESS(
            f"{output}: {result.duration} s from {result.model}, seed {result.seed}, "
            f"real-time factor {result.timing['real_time_factor']}"))
