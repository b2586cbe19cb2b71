"""Fill the current audit record from what the services announce."""

from django.dispatch import receiver

from tts.services.events import speech_generated

from .audit import note


@receiver(speech_generated, dispatch_uid="access.audit.speech_generated")
def _speech_generated(sender, *, result, ref_audio: bytes, gen_text: str, **kwargs) -> None:
    note(reference=ref_audio, model=result.model, text=gen_text,
         audio_seconds=float(result.duration))
