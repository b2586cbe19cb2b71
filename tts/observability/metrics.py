"""Prometheus metrics of the speech service (HTTP metrics come from django-prometheus).

Recorded from what the services already measure (the generation result's timings, the
``speech_generated`` event), never from inside the engine; gauges read the same facts as the
health endpoint at scrape time. With several server processes, metrics_workers adds up the
values of all of them.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

from django.db.models import Count, Min
from django.dispatch import receiver
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily

from tts.models import Job

from . import metrics_workers
from .events import job_finished, speech_generated, speech_streamed, stream_abandoned

logger = logging.getLogger(__name__)

SECONDS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
RATIOS = (0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 1.5, 2, 5, 10)

GENERATIONS = Counter("tts_generations", "Successful generations.", ["model"])
GENERATION_SECONDS = Histogram("tts_generation_seconds", "Inference seconds per generation.",
                               ["model"], buckets=SECONDS)
REAL_TIME_FACTOR = Histogram("tts_real_time_factor",
                             "Inference seconds / generated audio seconds (below 1 is faster "
                             "than real time).", ["model"], buckets=RATIOS)
AUDIO_SECONDS = Counter("tts_generated_audio_seconds", "Seconds of audio generated.", ["model"])
QUEUE_WAIT = Histogram("tts_queue_wait_seconds", "Seconds a generation waited for its device.",
                       ["model"], buckets=SECONDS)
LOAD_SECONDS = Histogram("tts_model_load_seconds", "Seconds spent loading a model.", ["model"],
                         buckets=SECONDS)
REFERENCE_CACHE = Counter("tts_reference_cache", "Prepared-reference cache lookups.",
                          ["result"])
REFERENCE_SECONDS = Histogram("tts_reference_prepare_seconds",
                              "Seconds to decode, clip and (if needed) transcribe a reference "
                              "that was not cached.", buckets=SECONDS)
ASR_SECONDS = Histogram("tts_asr_seconds", "Seconds of speech recognition per reference.",
                        buckets=SECONDS)
ERRORS = Counter("tts_errors", "API error responses by code.", ["code", "status"])
FIRST_AUDIO_SECONDS = Histogram("tts_stream_first_audio_seconds",
                                "Seconds from request to the first streamed audio bytes.",
                                ["model"], buckets=SECONDS)
STREAM_UNDERRUNS = Counter("tts_stream_underruns",
                           "Gaps a listener playing a stream at real time would hear: chunks "
                           "made after the audio before them had finished playing.", ["model"])

CER_BUCKETS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0)
VERIFY_CER = Histogram("tts_verify_cer",
                       "Character error rate of each verified chunk's kept attempt (what speech "
                       "recognition heard against the text asked for).", ["model"],
                       buckets=CER_BUCKETS)
VERIFY_RETRIES = Counter("tts_verify_retries",
                         "Chunks generated again by the intelligibility guard (verify).",
                         ["model"])
VERIFY_CHUNKS = Counter("tts_verify_chunks",
                        "Verified chunks, by whether the kept attempt passed (false: the guard "
                        "gave up after its retries).", ["model", "passed"])
SIMILARITY_BUCKETS = (0.0, 0.2, 0.4, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0)
VOICE_SIMILARITY = Histogram("tts_voice_similarity",
                             "Speaker similarity (cosine of voiceprints) of each generated "
                             "chunk to its reference, with similarity.", ["model"],
                             buckets=SIMILARITY_BUCKETS)
LISTEN_SECONDS = Histogram("tts_listen_seconds",
                           "Seconds of the listening pass (speech recognition and alignment) "
                           "per chunk.", buckets=SECONDS)

LONG_SECONDS = (*SECONDS, 600, 1800, 3600)
JOBS_FINISHED = Counter("tts_jobs_finished", "Jobs finished, by model and outcome.",
                        ["model", "status"])
JOB_RUN_SECONDS = Histogram("tts_job_run_seconds",
                            "Seconds from a job's start to its end, by model and outcome.",
                            ["model", "status"], buckets=LONG_SECONDS)
JOB_WAIT_SECONDS = Histogram("tts_job_wait_seconds",
                             "Seconds from a job's submission to its start.", ["model"],
                             buckets=LONG_SECONDS)
STREAMS_ABANDONED = Counter("tts_streams_abandoned",
                            "Streams cut short because the client hung up (disconnected) or "
                            "accepted no data for TTS_STREAM_SEND_TIMEOUT (stalled).",
                            ["reason"])
ORPHANS_REMOVED = Counter("tts_orphan_files_removed",
                          "Files and folders under the media root that no voice or job named "
                          "(a crash or a full disk left them), removed by the orphan sweep.")

for _result in ("hit", "miss"):
    REFERENCE_CACHE.labels(_result)  # both series exist from the start


@receiver(speech_generated, dispatch_uid="metrics.speech_generated")
def observe_generation(sender, *, result, **kwargs) -> None:
    timing, model = result.timing, result.model
    GENERATIONS.labels(model).inc()
    GENERATION_SECONDS.labels(model).observe(timing["inference_seconds"])
    if timing.get("real_time_factor") is not None:
        REAL_TIME_FACTOR.labels(model).observe(timing["real_time_factor"])
    AUDIO_SECONDS.labels(model).inc(max(result.duration, 0.0))
    QUEUE_WAIT.labels(model).observe(timing.get("queue_seconds", 0.0))
    if timing.get("load_seconds"):
        LOAD_SECONDS.labels(model).observe(timing["load_seconds"])
    cached = bool(timing.get("reference_cached"))
    REFERENCE_CACHE.labels("hit" if cached else "miss").inc()
    if not cached:
        REFERENCE_SECONDS.observe(timing.get("preprocess_seconds", 0.0))


@receiver(stream_abandoned, dispatch_uid="metrics.stream_abandoned")
def observe_abandoned(sender, *, reason: str, **kwargs) -> None:
    STREAMS_ABANDONED.labels("stalled" if "stopped reading" in reason
                             else "disconnected").inc()


@receiver(speech_streamed, dispatch_uid="metrics.speech_streamed")
def observe_stream(sender, *, summary: dict, **kwargs) -> None:
    timing, model = summary["timing"], summary["model"]
    GENERATIONS.labels(model).inc()
    GENERATION_SECONDS.labels(model).observe(timing["inference_seconds"])
    if timing.get("real_time_factor") is not None:
        REAL_TIME_FACTOR.labels(model).observe(timing["real_time_factor"])
    AUDIO_SECONDS.labels(model).inc(max(summary["duration"], 0.0))
    QUEUE_WAIT.labels(model).observe(timing.get("queue_seconds", 0.0))
    if timing.get("load_seconds"):
        LOAD_SECONDS.labels(model).observe(timing["load_seconds"])
    if timing.get("first_audio_seconds") is not None:
        FIRST_AUDIO_SECONDS.labels(model).observe(timing["first_audio_seconds"])
    STREAM_UNDERRUNS.labels(model).inc(timing.get("underruns") or 0)


@receiver(job_finished, dispatch_uid="metrics.job_finished")
def observe_job(sender, *, job, **kwargs) -> None:
    """Where the job finished: the server (inline) or the worker (celery mode, whose own
    metrics port shows it: TTS_WORKER_METRICS_PORT)."""
    JOBS_FINISHED.labels(job.model, job.status).inc()
    if job.started_at and job.finished_at:
        JOB_WAIT_SECONDS.labels(job.model).observe(
            max((job.started_at - job.created_at).total_seconds(), 0.0))
        JOB_RUN_SECONDS.labels(job.model, job.status).observe(
            max((job.finished_at - job.started_at).total_seconds(), 0.0))


def observe_error(code: str, status: int) -> None:
    ERRORS.labels(code, str(status)).inc()


class EngineStateCollector:
    """Queue depth and loaded models, read at scrape time from the health facts (the
    ``health`` function given at registration: the health use case)."""

    def __init__(self, health: Callable[[], dict]):
        self.health = health

    def describe(self):
        """The names alone. Without this, registering (at app ready) would call collect(): every
        process that sets Django up (`manage.py migrate` too) would ask the engine, or in celery
        mode the broker, before either need be there."""
        yield from self._families()

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        return (GaugeMetricFamily("tts_queue_depth", "Requests waiting for a device now."),
                GaugeMetricFamily("tts_loaded_models", "Models loaded in this process.",
                                  labels=["model"]),
                GaugeMetricFamily("tts_loaded_models_count", "Number of loaded models."))

    def collect(self):
        try:
            facts = self.health()
        except Exception as exc:  # noqa: BLE001 - a broken config must not break /metrics
            logger.warning("engine state not collected: %s", exc)
            return
        depth, loaded, count = self._families()
        depth.add_metric([], facts["queue_depth"])
        for model in facts["loaded_models"]:
            loaded.add_metric([model], 1)
        count.add_metric([], len(facts["loaded_models"]))
        yield from (depth, loaded, count)


class JobsCollector:
    """Jobs by status and the age of the oldest waiting one, read from the database at
    scrape time: the same numbers whichever process (or machine) answers the scrape."""

    def describe(self):
        """The names alone: registering reads no database (the app is not ready then)."""
        yield from self._families()

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (GaugeMetricFamily("tts_jobs", "Jobs held by the server (finished ones until "
                                  "TTS_JOB_RETENTION_HOURS), by status.", labels=["status"]),
                GaugeMetricFamily("tts_job_oldest_queued_seconds",
                                  "Seconds the oldest queued job has waited (0: none)."))

    def collect(self):
        try:
            counts = dict(Job.objects.order_by().values_list("status")
                          .annotate(count=Count("id")))
            oldest = Job.objects.filter(status=Job.Status.QUEUED).aggregate(
                oldest=Min("created_at"))["oldest"]
        except Exception as exc:  # noqa: BLE001 - a database down must not break /metrics
            logger.warning("jobs not collected: %s", exc)
            return
        jobs, waiting = self._families()
        for status in Job.Status.values:
            jobs.add_metric([status], counts.get(status, 0))
        waiting.add_metric([], (timezone.now() - oldest).total_seconds() if oldest else 0.0)
        yield from (jobs, waiting)


_collectors_registered = False
_jobs_collector = JobsCollector()


def register_collectors(health: Callable[[], dict]) -> None:
    """With one process, the engine's state is read at scrape time from ``health()`` (the
    health use case, handed down by the app's start-up); with several, each worker copies its
    own into gauges that a scrape adds up (metrics_workers)."""
    global _collectors_registered
    if not _collectors_registered and not metrics_workers.enabled():
        REGISTRY.register(EngineStateCollector(health))
        REGISTRY.register(_jobs_collector)
        _collectors_registered = True


def scrape_registry() -> CollectorRegistry:
    """What /metrics exposes: this process's registry, or every worker's values."""
    if not metrics_workers.enabled():
        return REGISTRY
    registry = metrics_workers.scrape_registry()
    registry.register(JobsCollector())
    return registry


def serve_worker_metrics(port: int) -> None:
    """A Celery worker process's own metrics, at http://<host>:<port>/metrics. Jobs by
    status are left to the web nodes (the same database): the exporter's threads would each
    hold a database connection of their own."""
    with contextlib.suppress(KeyError):
        REGISTRY.unregister(_jobs_collector)
    try:
        start_http_server(port)
    except OSError as exc:
        logger.error("worker metrics not served on port %d: %s (TTS_WORKER_METRICS_PORT)",
                     port, exc)
        return
    logger.info("worker metrics on port %d", port)
