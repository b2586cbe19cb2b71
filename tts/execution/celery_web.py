"""Celery execution, the web side: a web node holds no model and never imports torch.

It refuses what can be refused without a model (an unknown model, a full queue), sends the
task to the model's queue, waits for a worker to take it, then reads the request's relay:
errors become the same exceptions as local execution, pieces of a stream are passed on as
they arrive. Health, readiness and the model list are what the workers publish
(tts.execution.cluster). The worker side is tts.execution.celery_worker.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings

from tts.engine.errors import EngineBusy
from tts.engine.reference import ClipInfo
from tts.observability.events import announce_speech, announce_streamed
from tts.work.runtime import known_model
from tts.work.sessions import StreamEvent, StreamFailed, StreamSession
from tts.work.speech import SpeechRequest, SpeechResult
from tts.work.status import ModelInfo, Readiness, public_source

from . import cluster
from .base import Executor
from .messages import (
    AlignDone,
    AlignTask,
    Failure,
    Message,
    Piece,
    SpeechDone,
    SpeechTask,
    StreamBroken,
    StreamEnd,
    StreamStarted,
    VoiceDone,
    VoiceTask,
)
from .messages import StreamEvent as EventMessage
from .queues import (
    COMMON_QUEUE,
    SPEECH_TASK,
    VOICE_TASK,
    queue_depth,
    queue_for,
    send,
    send_deliver_callback,
    send_run_job,
)
from .relay import BEAT_SECONDS, Received, Relay, broker_errors, rebuild_error

#: Seconds of silence from a worker that has taken a request before it counts as gone.
SILENCE_SECONDS = 15 * BEAT_SECONDS


class CeleryExecutor(Executor):
    def generate(self, request: SpeechRequest) -> SpeechResult:
        model_id = known_model(request.model_id)
        relay, replies = _call(SPEECH_TASK, _speech_task(request), request.ref_audio,
                               queue=queue_for(model_id), model_id=model_id)
        received = _expect(replies, relay, SpeechDone)
        relay.discard()  # the audio is in hand: free Redis of it now
        done = received.message
        fields = done.model_dump(exclude={"protocol", "kind", "spectrogram_png", "ref_clip"})
        result = SpeechResult(
            **fields, audio=received.data, ref_clip=ClipInfo(**done.ref_clip),
            spectrogram_png=base64.b64decode(done.spectrogram_png)
            if done.spectrogram_png else None)
        announce_speech(result, ref_audio=request.ref_audio or b"", gen_text=request.gen_text,
                        voice=request.voice)
        return result

    def stream(self, request: SpeechRequest) -> StreamSession:
        model_id = known_model(request.model_id)
        relay, replies = _call(SPEECH_TASK, _speech_task(request, stream=True),
                               request.ref_audio, queue=queue_for(model_id), model_id=model_id)
        started = _expect(replies, relay, StreamStarted).message
        return RelayedStreamSession(relay, replies, started)

    def create_voice(self, **fields: Any) -> str:
        return self._voice("create", fields.pop("ref_audio"), fields)

    def update_voice(self, **fields: Any) -> str:
        return self._voice("update", None, fields)

    def _voice(self, action: str, upload: bytes | None, fields: dict) -> str:
        task = VoiceTask(relay_id="", action=action, fields=fields)
        relay, replies = _call(VOICE_TASK, task, upload, queue=COMMON_QUEUE)
        voice_id = _expect(replies, relay, VoiceDone).message.voice_id
        relay.discard()
        return voice_id

    def align(self, *, audio: bytes, text: str, language: str | None = None) -> dict:
        task = AlignTask(relay_id="", text=text, language=language)
        relay, replies = _call(VOICE_TASK, task, audio, queue=COMMON_QUEUE)
        done = _expect(replies, relay, AlignDone).message
        relay.discard()
        return {"words": done.words, "duration": done.duration, "recognised": done.recognised}

    def run_job(self, *, job_id: str, model_id: str) -> None:
        send_run_job(job_id, model_id)

    def deliver_callback(self, *, job_id: str) -> None:
        send_deliver_callback(job_id)

    def health(self) -> dict:
        return cluster.health_status()

    def readiness(self) -> Readiness:
        ready, reason = cluster.readiness()
        return Readiness(ready, settings.TTS_DEFAULT_MODEL, reason)

    def models(self) -> list[ModelInfo]:
        return [ModelInfo(**{**entry, "source": public_source(entry["source"])})
                for entry in cluster.model_entries()]


class RelayedStreamSession(StreamSession):
    """A stream made by a worker: its pieces as the relay brings them."""

    def __init__(self, relay: Relay, replies: Iterator[Received], started: StreamStarted):
        super().__init__(fmt=started.format, events=started.events, model=started.model,
                         seed=started.seed, total_chunks=started.total_chunks,
                         sample_rate=started.sample_rate)
        self.relay = relay
        self._replies = replies
        self._summary: dict = {"model": self.model, "seed": self.seed, "duration": 0.0}

    def produce(self, hand_over: Callable[[Any], None]) -> None:
        for received in self._replies:
            message = received.message
            if isinstance(message, Piece):
                hand_over(received.data)
            elif isinstance(message, EventMessage):
                hand_over(StreamEvent(message.name, message.data))
            elif isinstance(message, StreamBroken):
                hand_over(StreamFailed(message.message))
            elif isinstance(message, StreamEnd):
                self._summary = message.summary
                self.relay.discard()
                announce_streamed(self.summary)
                return
        hand_over(StreamFailed("The worker stopped answering (it may have died)."))

    def cancel(self, why: str) -> None:
        self.relay.cancel()

    def close(self) -> None:
        if self._worker is None:
            self.relay.cancel()  # never read: the worker stops
        else:
            super().close()

    def summary(self) -> dict:
        return self._summary


def _speech_task(request: SpeechRequest, *, stream: bool = False) -> SpeechTask:
    fields = {field.name: getattr(request, field.name) for field in dataclasses.fields(request)
              if field.name != "ref_audio"}
    keys = None if request.voice_keys is None else dict(request.voice_keys)
    return SpeechTask(relay_id="", stream=stream,
                      **{**fields, "options": dict(request.options), "voice_keys": keys})


def _call(task_name: str, task: Message, upload: bytes | None, *, queue: str,
          model_id: str = "") -> tuple[Relay, Iterator[Received]]:
    """Send the task and wait until a worker has taken it. Returns the relay and its further
    replies. A full queue is refused before sending (503, as local execution does)."""
    with broker_errors():
        if queue_depth(queue) > settings.TTS_MAX_QUEUE:
            raise EngineBusy(f"{settings.TTS_MAX_QUEUE} requests are already waiting for "
                             f"{model_id or 'a worker'}; retry shortly.")
        relay = Relay()
        task = task.model_copy(update={"relay_id": relay.id})
        relay.put_upload(upload)
        wait = settings.TTS_WORKER_WAIT_SECONDS
        send(task_name, [task.model_dump(mode="json")], queue=queue, expires=wait)
        replies = relay.messages(first_timeout=wait, timeout=SILENCE_SECONDS)
        taken = next(replies, None)
    if taken is None:
        relay.discard()
        raise EngineBusy(
            f"No worker took the request within {wait:g} s (TTS_WORKER_WAIT_SECONDS): start "
            f"one that serves {model_id or 'this server'} (`make worker`) or add workers.",
            code="no_worker", retry_after=10)
    if isinstance(taken.message, Failure):  # refused on arrival (e.g. another protocol)
        raise rebuild_error(taken.message)
    return relay, replies


def _expect(replies: Iterator[Received], relay: Relay, kind: type[Message]) -> Received:
    """The next reply, which must be a ``kind``; a worker's error is raised here as itself."""
    received = next(replies, None)
    if received is None:
        relay.discard()
        raise EngineBusy("The worker stopped answering (it may have died); retry.",
                         code="worker_lost", retry_after=5)
    if isinstance(received.message, Failure):
        raise rebuild_error(received.message)
    if not isinstance(received.message, kind):
        raise EngineBusy(f"The worker answered {received.message.kind!r} where "
                         f"{kind.__name__} was due; retry.", code="worker_error")
    return received
