"""Celery mode: web processes hand every generation to a worker and relay its output.

Web side (``call_*``): refuse what can be refused without a model (unknown model, full
queue), send the task to the model's queue, wait for a worker to take it, then read the
relay (tts.services.relay): errors become the same exceptions as inline, pieces of a stream
are passed on as they arrive. Worker side (``serve_*``, called by tts.tasks): run the same
service as inline mode and publish what it makes. Same code, same seed: same samples.
"""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from django.conf import settings

from tts.engine.errors import EngineBusy, EngineError
from tts.engine.reference import ClipInfo

from .events import announce_streamed, announces_speech
from .relay import (
    BEAT_SECONDS,
    Message,
    Relay,
    broker_errors,
    connection,
    rebuild_error,
)
from .runtime import configured_model
from .streaming import StreamEvent, StreamFailed, StreamSession

#: Seconds of silence from a worker that has taken a request before it counts as gone.
SILENCE_SECONDS = 15 * BEAT_SECONDS
#: The queue of work that needs no particular model (voices, callbacks, retention).
COMMON_QUEUE = "tts"


# --- queues -------------------------------------------------------------------------------------
def queue_for(model_id: str, *, jobs: bool = False) -> str:
    """``tts.<model>`` for requests a client waits on, ``tts.<model>.jobs`` for jobs: a worker
    consumes only the queues of the models it serves."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", model_id)
    return f"tts.{name}.jobs" if jobs else f"tts.{name}"


def served_queues(model_ids: list[str]) -> list[str]:
    return [COMMON_QUEUE] + [queue for model in model_ids
                             for queue in (queue_for(model), queue_for(model, jobs=True))]


def known_model(model_id: str) -> str:
    """The model id a request means (the default when empty); ModelNotFound (404) for an
    unknown one, decided from the configuration alone."""
    model_id = model_id or settings.TTS_DEFAULT_MODEL
    return configured_model(model_id).id


def queue_depth(queue: str) -> int:
    return int(connection().llen(queue))


def send(task: str, args: list, *, queue: str, expires: float | None = None) -> None:
    from config.celery import app

    with broker_errors():
        app.send_task(task, args=args, queue=queue, expires=expires)


# --- web side -----------------------------------------------------------------------------------
def _call(task: str, request: dict, *, queue: str, model_id: str = ""
          ) -> tuple[Relay, Iterator[Message]]:
    """Send ``task`` and wait until a worker has taken it. Returns the relay and its further
    messages. A full queue is refused before sending (503, as inline)."""
    with broker_errors():
        return _send_and_wait(task, request, queue=queue, model_id=model_id)


def _send_and_wait(task: str, request: dict, *, queue: str, model_id: str
                   ) -> tuple[Relay, Iterator[Message]]:
    if queue_depth(queue) > settings.TTS_MAX_QUEUE:
        raise EngineBusy(f"{settings.TTS_MAX_QUEUE} requests are already waiting for "
                         f"{model_id or 'a worker'}; retry shortly.")
    relay = Relay()
    relay.put_upload(request.pop("ref_audio", None))
    wait = settings.TTS_WORKER_WAIT_SECONDS
    send(task, [relay.id, request], queue=queue, expires=wait)
    messages = relay.messages(first_timeout=wait, timeout=SILENCE_SECONDS)
    taken = next(messages, None)
    if taken is None:
        relay.discard()
        raise EngineBusy(
            f"No worker took the request within {wait:g} s (TTS_WORKER_WAIT_SECONDS): start "
            f"one that serves {model_id or 'this server'} (`make worker`) or add workers.",
            code="no_worker", retry_after=10)
    return relay, messages


def _expect(messages: Iterator[Message], relay: Relay) -> Message:
    """The next message that is not an error; a worker's error is raised here as itself."""
    message = next(messages, None)
    if message is None:
        relay.discard()
        raise EngineBusy("The worker stopped answering (it may have died); retry.",
                         code="worker_lost", retry_after=5)
    if message.kind == "error":
        raise rebuild_error(message.meta)
    return message


def _request(args: Mapping[str, Any]) -> dict:
    """The service's arguments as plain JSON values for the task message."""
    request = dict(args)
    if "options" in request:
        request["options"] = dict(request["options"])
    return request


@announces_speech
def call_generate(**request: Any):
    """A whole file, made by a worker (``generation.generate_here``'s arguments)."""
    from .generation import SpeechResult

    model_id = known_model(request.get("model_id", ""))
    relay, messages = _call("tts.generate", _request(request), queue=queue_for(model_id),
                            model_id=model_id)
    message = _expect(messages, relay)
    relay.discard()  # the audio is in hand: free Redis of it now
    fields = message.meta
    png = fields.pop("spectrogram_png")
    return SpeechResult(**{**fields, "audio": message.data,
                           "ref_clip": ClipInfo(**fields["ref_clip"]),
                           "spectrogram_png": base64.b64decode(png) if png else None})


class RelayedStreamSession(StreamSession):
    """A stream made by a worker: its pieces as the relay brings them."""

    def __init__(self, relay: Relay, messages: Iterator[Message], header: dict):
        super().__init__(fmt=header["format"], events=header["events"], model=header["model"],
                         seed=header["seed"], total_chunks=header["total_chunks"],
                         sample_rate=header["sample_rate"])
        self.relay = relay
        self._messages = messages
        self._summary: dict = {"model": self.model, "seed": self.seed, "duration": 0.0}

    def produce(self, hand_over: Callable[[Any], None]) -> None:
        for message in self._messages:
            if message.kind == "piece":
                hand_over(message.data)
            elif message.kind == "event":
                hand_over(StreamEvent(message.meta["name"], message.meta["data"]))
            elif message.kind == "failed":
                hand_over(StreamFailed(message.meta["message"]))
            elif message.kind == "end":
                self._summary = message.meta
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


def call_stream(**request: Any) -> RelayedStreamSession:
    """A stream made by a worker (``streaming.speech_stream``'s arguments). Returns once the
    worker has started generating, so refusals are still ordinary replies."""
    model_id = known_model(request.get("model_id", ""))
    relay, messages = _call("tts.stream", _request(request), queue=queue_for(model_id),
                            model_id=model_id)
    started = _expect(messages, relay)
    return RelayedStreamSession(relay, messages, started.meta)


def call_voice(action: str, **request: Any) -> str:
    """``create`` or ``update`` a saved voice on a worker (it decodes and transcribes);
    returns the voice id."""
    relay, messages = _call(f"tts.voice_{action}", _request(request), queue=COMMON_QUEUE)
    voice_id = _expect(messages, relay).meta["voice_id"]
    relay.discard()
    return voice_id


# --- worker side --------------------------------------------------------------------------------
def _serve(relay_id: str, request: dict, work: Callable[[Relay, dict], None],
           on_cancel: Callable[[], None] = lambda: None) -> None:
    relay = Relay(relay_id)
    relay.publish("taken")
    stop_watching = relay.watch(on_cancel)
    try:
        upload = relay.take_upload()
        if upload is not None:
            request["ref_audio"] = upload
        work(relay, request)
    except EngineError as exc:
        relay.publish_error(exc)
    except Exception as exc:
        relay.publish_error(exc)  # as a generic failure; the worker logs the traceback
        raise
    finally:
        stop_watching()


def serve_generate(relay_id: str, request: dict) -> None:
    from .generation import generate_here

    def work(relay: Relay, request: dict) -> None:
        result = generate_here(**request)
        fields = {field.name: getattr(result, field.name)
                  for field in dataclasses.fields(result) if field.name != "audio"}
        fields["ref_clip"] = dataclasses.asdict(result.ref_clip)
        png = result.spectrogram_png
        fields["spectrogram_png"] = base64.b64encode(png).decode("ascii") if png else None
        relay.publish("result", fields, result.audio)

    _serve(relay_id, request, work)


def serve_stream(relay_id: str, request: dict) -> None:
    from .streaming import speech_stream

    sessions: list[StreamSession] = []

    def cancel() -> None:
        if sessions:
            sessions[0].cancel("the client disconnected")

    def work(relay: Relay, request: dict) -> None:
        session = speech_stream(**request)
        sessions.append(session)
        relay.publish("started", session.header())
        session.produce(lambda item: _publish_piece(relay, item))
        relay.publish("end", session.summary())

    _serve(relay_id, request, work, on_cancel=cancel)


def _publish_piece(relay: Relay, item: Any) -> None:
    if isinstance(item, bytes | bytearray):
        relay.publish("piece", data=bytes(item))
    elif isinstance(item, StreamEvent):
        relay.publish("event", {"name": item.name, "data": item.data})
    elif isinstance(item, StreamFailed):
        relay.publish("failed", {"message": str(item)})


def serve_voice(action: str, relay_id: str, request: dict) -> None:
    from . import voices

    def work(relay: Relay, request: dict) -> None:
        service = voices.create_here if action == "create" else voices.update_here
        relay.publish("result", {"voice_id": service(**request).id})

    _serve(relay_id, request, work)
