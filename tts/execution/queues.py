"""Celery's queues and task names: the routing both sides agree on.

``tts.<model>`` carries requests a client waits on, ``tts.<model>.jobs`` that model's jobs, and
``tts`` work that needs no particular model (voices, callbacks, retention). A worker consumes
the common queue and the queues of the models it serves (TTS_WORKER_MODELS), so it loads only
those.
"""

from __future__ import annotations

import re

from tts.celery_app import app

from .relay import broker_errors, connection

COMMON_QUEUE = "tts"
SPEECH_TASK = "tts.speech"
VOICE_TASK = "tts.voice"
RUN_JOB_TASK = "tts.run_job"
DELIVER_CALLBACK_TASK = "tts.deliver_callback"
PURGE_JOBS_TASK = "tts.purge_jobs"


def queue_for(model_id: str, *, jobs: bool = False) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", model_id)
    return f"tts.{name}.jobs" if jobs else f"tts.{name}"


def served_queues(model_ids: list[str]) -> list[str]:
    return [COMMON_QUEUE] + [queue for model in model_ids
                             for queue in (queue_for(model), queue_for(model, jobs=True))]


def queue_depth(queue: str) -> int:
    """Tasks waiting in ``queue`` (Redis keeps a queue as a list)."""
    return int(connection().llen(queue))


def send(task: str, args: list, *, queue: str, expires: float | None = None) -> None:
    """Put a task on a queue; a broker that cannot be reached is a 503 that says so."""
    with broker_errors():
        app.send_task(task, args=args, queue=queue, expires=expires)


def send_run_job(job_id: str, model_id: str) -> None:
    send(RUN_JOB_TASK, [job_id], queue=queue_for(model_id, jobs=True))


def send_deliver_callback(job_id: str) -> None:
    send(DELIVER_CALLBACK_TASK, [job_id], queue=COMMON_QUEUE)
