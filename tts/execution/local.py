"""Local execution: this process runs the models (inline mode's server, and every Celery
worker process for the work it is handed). Jobs run one at a time on a thread of the process
(tts.execution.inline_runner), callbacks are delivered by another."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from tts.observability.metrics_workers import start_engine_state_refresh
from tts.work.alignment import align_here
from tts.work.preload import start_preload
from tts.work.sessions import StreamSession, stream_here
from tts.work.speech import SpeechRequest, SpeechResult, generate_here
from tts.work.status import ModelInfo, Readiness, local_health, local_models, local_readiness
from tts.work.voices import create_here, update_here

from .base import Executor
from .inline_runner import CallbackDeliverer, InlineJobRunner


class LocalExecutor(Executor):
    def __init__(self) -> None:
        self.jobs = InlineJobRunner(on_finished=self._job_finished)
        self.callbacks = CallbackDeliverer()

    def generate(self, request: SpeechRequest) -> SpeechResult:
        return generate_here(**_arguments(request, without="events"))

    def stream(self, request: SpeechRequest) -> StreamSession:
        return stream_here(**_arguments(request, without="include_spectrogram"))

    def create_voice(self, **fields: Any) -> str:
        return create_here(**fields).slug

    def update_voice(self, **fields: Any) -> str:
        return update_here(**fields).slug

    def align(self, *, audio: bytes, text: str, language: str | None = None) -> dict:
        return align_here(audio=audio, text=text, language=language)

    def run_job(self, *, job_id: str, model_id: str) -> None:
        self.jobs.wake()

    def deliver_callback(self, *, job_id: str) -> None:
        self.callbacks.wake()

    def health(self) -> dict:
        return local_health()

    def readiness(self) -> Readiness:
        return local_readiness()

    def models(self) -> list[ModelInfo]:
        return local_models()

    def start(self) -> Callable[[], bool]:
        """Load TTS_PRELOAD in the background, resume the jobs and callbacks a previous
        process left (and keep sweeping for jobs whose runner died)."""
        preloading = start_preload()
        self.jobs.wake()
        self.callbacks.wake()
        start_engine_state_refresh(local_health)  # several server processes: /metrics sums
        return lambda: not preloading.is_alive() or local_readiness().ready

    def stop(self) -> None:
        """End the job runner and the callback deliverer (after their current pass)."""
        self.jobs.stop()
        self.callbacks.stop()

    def _job_finished(self, job_id: str) -> None:
        self.callbacks.wake()


def _arguments(request: SpeechRequest, *, without: str) -> dict[str, Any]:
    fields = {field.name: getattr(request, field.name)
              for field in dataclasses.fields(request)}
    fields.pop(without)
    return fields
