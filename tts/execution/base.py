"""The executor: where work runs. One interface, two implementations, chosen once per process
(tts.execution.executor): here, by this process's engine (local), or on Celery workers
(celery). Use cases call it and never ask which mode they are in; both give the same results
(same seed, same samples)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from tts.work.sessions import StreamSession
from tts.work.speech import SpeechRequest, SpeechResult
from tts.work.status import ModelInfo, Readiness


class Executor(ABC):
    @abstractmethod
    def generate(self, request: SpeechRequest) -> SpeechResult:
        """The whole file at once."""

    @abstractmethod
    def stream(self, request: SpeechRequest) -> StreamSession:
        """Returns once generation has started (refusals are still ordinary errors); the
        pieces come as the caller iterates."""

    @abstractmethod
    def create_voice(self, **fields: Any) -> str:
        """Prepare (decode, clip, transcribe) and persist a saved voice; returns its id
        (``tts.work.voices.create_here``'s arguments)."""

    @abstractmethod
    def update_voice(self, **fields: Any) -> str:
        """Re-prepare a saved voice with a new transcript; returns its id."""

    @abstractmethod
    def align(self, *, audio: bytes, text: str, language: str | None = None) -> dict:
        """Time every word of ``text`` in ``audio``: ``{words, duration, recognised}``
        (``tts.work.alignment.align_here``)."""

    @abstractmethod
    def run_job(self, *, job_id: str, model_id: str) -> None:
        """Hand a committed job to whoever runs jobs (its progress is in its row)."""

    @abstractmethod
    def deliver_callback(self, *, job_id: str) -> None:
        """Have the job's due callback delivered (and retried) by whoever delivers them."""

    @abstractmethod
    def health(self) -> dict:
        """Liveness facts; ConfigurationError when no work can be taken."""

    @abstractmethod
    def readiness(self) -> Readiness:
        """Whether the default model can generate now, and why not."""

    @abstractmethod
    def models(self) -> list[ModelInfo]:
        """Every configured model, with its state where it would run."""

    def start(self) -> Callable[[], bool]:
        """Begin this process's background duties (a server process calls it once); returns
        whether start-up is over (the models it preloads are ready, or given up on)."""
        return lambda: True
