"""Celery execution, the worker side (`make worker`): each worker process runs the models
with its own local executor and serves the tasks of tts.tasks.

The main process stays free of torch (it only forks); each pool process loads its models in
the background (TTS_PRELOAD, among those it serves), publishes its status for the web tier's
health and model list, sweeps for jobs whose worker died and callbacks whose delivery was
lost (every TTS_JOB_SWEEP_SECONDS, and at start), and, with TTS_WORKER_METRICS_PORT, serves
its own Prometheus metrics. The worker consumes the common queue and the queues of the models
it serves (TTS_WORKER_MODELS, default all).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from celery.signals import celeryd_after_setup, worker_process_init
from django.conf import settings
from django.db import close_old_connections, connection

from tts.engine.errors import EngineError
from tts.observability.metrics import serve_worker_metrics
from tts.work.jobs.callbacks import due_callbacks
from tts.work.jobs.sweep import requeue_stale
from tts.work.preload import start_preload
from tts.work.runtime import configured_models
from tts.work.sessions import StreamEvent, StreamFailed, StreamSession
from tts.work.speech import SpeechRequest
from tts.work.status import local_health, local_models, local_readiness

from . import use_executor
from .cluster import KEY_PREFIX, KEY_SECONDS, PUBLISH_EVERY_SECONDS
from .local import LocalExecutor
from .messages import (
    AlignDone,
    AlignTask,
    Piece,
    SpeechDone,
    SpeechTask,
    StreamBroken,
    StreamEnd,
    StreamStarted,
    Taken,
    VoiceDone,
    VoiceTask,
    read_task,
)
from .messages import StreamEvent as EventMessage
from .queues import send_deliver_callback, send_run_job, served_queues
from .relay import Relay
from .relay import connection as broker

logger = logging.getLogger(__name__)
#: A callback due this long without being delivered lost its task: it is sent again.
CALLBACK_OVERDUE_SECONDS = 60.0
_local = LocalExecutor()


def served_models() -> list[str]:
    configured = [spec.id for spec in configured_models()]
    wanted = settings.TTS_WORKER_MODELS
    return [model for model in configured if not wanted or model in wanted]


# --- the worker's processes ---------------------------------------------------------------------
@celeryd_after_setup.connect
def consume_served_queues(sender, instance, **kwargs) -> None:
    queues = served_queues(served_models())
    for queue in queues:
        instance.app.amqp.queues.select_add(queue)
    logger.info("worker %s consumes %s", sender, ", ".join(queues))


@worker_process_init.connect
def start_worker_process(**kwargs) -> None:
    use_executor(_local)  # whatever runs here runs on this process's engine
    models = served_models()
    start_preload(models=[m for m in settings.TTS_PRELOAD if m in models])
    _every(PUBLISH_EVERY_SECONDS, lambda: publish_status(models), "tts-worker-status")
    _every(settings.TTS_JOB_SWEEP_SECONDS, sweep, "tts-sweeper")
    if settings.TTS_WORKER_METRICS_PORT:
        serve_worker_metrics(settings.TTS_WORKER_METRICS_PORT)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def publish_status(models: list[str]) -> None:
    """This worker process: its health, readiness of its default model, its models."""
    state = local_readiness()
    document = {"name": worker_name(), "models": models, "health": local_health(),
                "ready": state.ready, "reason": state.reason,
                "catalog": [dataclasses.asdict(info) for info in local_models()
                            if info.id in models]}
    broker().set(KEY_PREFIX + worker_name(), json.dumps(document), ex=KEY_SECONDS)


def sweep() -> None:
    """Jobs whose worker went quiet go back to their queue; callbacks whose task was lost are
    sent again. Every worker process does it (at start, then on a timer): two sweepers
    racing requeue a job once."""
    for job in requeue_stale():
        send_run_job(str(job.id), job.model)
    for job_id in due_callbacks(overdue_seconds=CALLBACK_OVERDUE_SECONDS):
        send_deliver_callback(job_id)


def _every(seconds: float, work: Callable[[], None], name: str) -> None:
    """Run ``work`` now and every ``seconds`` on a daemon thread; failures are logged."""

    def run() -> None:
        while True:
            close_old_connections()
            try:
                work()
            except Exception:
                logger.exception("%s failed", name)
            finally:
                connection.close()  # this thread's own: nobody else closes it
            time.sleep(seconds)

    threading.Thread(target=run, name=name, daemon=True).start()


# --- serving what a web node asked for ----------------------------------------------------------
def serve(payload: Any) -> None:
    """Run a web node's task (tts.execution.messages) and publish what it makes on its relay.
    A task of another protocol version is refused with an error its web node can read."""
    relay_id = payload.get("relay_id", "") if isinstance(payload, dict) else ""
    relay = Relay(relay_id)
    try:
        task = read_task(payload)
    except Exception as exc:
        relay.publish_error(exc)
        return
    relay.publish(Taken())
    sessions: list[StreamSession] = []

    def cancel() -> None:
        if sessions:
            sessions[0].cancel("the client disconnected")

    stop_watching = relay.watch(cancel)
    try:
        upload = relay.take_upload()
        if isinstance(task, SpeechTask):
            _serve_speech(task, upload, relay, sessions)
        elif isinstance(task, AlignTask):
            relay.publish(AlignDone(**_local.align(audio=upload or b"", text=task.text,
                                                   language=task.language)))
        else:
            _serve_voice(task, upload, relay)
    except Exception as exc:
        relay.publish_error(exc)  # an unexpected one as a generic failure, logged here
        if not isinstance(exc, EngineError):
            raise
    finally:
        stop_watching()


def _serve_speech(task: SpeechTask, upload: bytes | None, relay: Relay,
                  sessions: list[StreamSession]) -> None:
    request = SpeechRequest(
        gen_text=task.gen_text, options=task.options, model_id=task.model_id, ref_audio=upload,
        ref_text=task.ref_text, voice=task.voice, voice_keys=task.voice_keys,
        output_format=task.output_format,
        include_spectrogram=task.include_spectrogram, events=task.events, label=task.label)
    if not task.stream:
        result = _local.generate(request)
        fields = {field.name: getattr(result, field.name) for field in dataclasses.fields(result)
                  if field.name not in ("audio", "ref_clip", "spectrogram_png")}
        png = result.spectrogram_png
        relay.publish(SpeechDone(**fields, ref_clip=dataclasses.asdict(result.ref_clip),
                                 spectrogram_png=base64.b64encode(png).decode("ascii")
                                 if png else None), result.audio)
        return
    session = _local.stream(request)
    sessions.append(session)
    relay.publish(StreamStarted(**session.header()))
    session.produce(lambda item: _publish_piece(relay, item))
    relay.publish(StreamEnd(summary=session.summary()))


def _publish_piece(relay: Relay, item: Any) -> None:
    if isinstance(item, bytes | bytearray):
        relay.publish(Piece(), bytes(item))
    elif isinstance(item, StreamEvent):
        relay.publish(EventMessage(name=item.name, data=item.data))
    elif isinstance(item, StreamFailed):
        relay.publish(StreamBroken(message=str(item)))


def _serve_voice(task: VoiceTask, upload: bytes | None, relay: Relay) -> None:
    if task.action == "create":
        voice_id = _local.create_voice(**task.fields, ref_audio=upload)
    else:
        voice_id = _local.update_voice(**task.fields)
    relay.publish(VoiceDone(voice_id=voice_id))
