"""Fill the current audit record from what the services announce."""

from django.dispatch import receiver

from tts.observability.events import (
    job_finished,
    speech_generated,
    speech_streamed,
    stream_abandoned,
)

from .audit import note, record_job, release_stream, update_written
from .throttles import release_job


@receiver(speech_generated, dispatch_uid="access.audit.speech_generated")
def _speech_generated(sender, *, result, ref_audio: bytes, gen_text: str, voice: str = "",
                      **kwargs) -> None:
    # The voices used (the request's and its tags') were noted by the view (note_voices).
    note(reference=ref_audio, model=result.model, text=gen_text,
         audio_seconds=float(result.duration))


@receiver(speech_streamed, dispatch_uid="access.audit.speech_streamed")
def _speech_streamed(sender, *, summary: dict, **kwargs) -> None:
    # The stream runs after the view returned (its audit row is written): complete the row, so
    # streamed audio counts against the quota like any other.
    update_written(model=summary["model"], audio_seconds=float(summary["duration"]))


@receiver(job_finished, dispatch_uid="access.audit.job_finished")
def _job_finished(sender, *, job, **kwargs) -> None:
    # The submission was audited when it was accepted; the audio a job made counts against its
    # key's quota when it exists.
    record_job(job)
    release_job(str(job.id))  # its audit row now counts what it made; a failure made nothing


@receiver(stream_abandoned, dispatch_uid="access.audit.stream_abandoned")
def _stream_abandoned(sender, **kwargs) -> None:
    release_stream()
