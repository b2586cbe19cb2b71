"""Celery worker processes (`make worker`): they run the models, one engine per process.

The main process stays free of torch (it only forks); each pool process marks itself a
worker, loads its models in the background (TTS_PRELOAD, among those it serves) and
publishes its status for the web tier's health and model list (and, with
TTS_WORKER_METRICS_PORT, serves its own Prometheus metrics). The worker consumes the
common queue and the queues of the models it serves (TTS_WORKER_MODELS, default all).
"""

from __future__ import annotations

import logging

from celery.signals import celeryd_after_setup, worker_process_init
from django.conf import settings

from tts.services import cluster, metrics, remote, runtime

logger = logging.getLogger(__name__)


def served_models() -> list[str]:
    configured = [spec.id for spec in runtime.configured_models()]
    wanted = settings.TTS_WORKER_MODELS
    return [model for model in configured if not wanted or model in wanted]


@celeryd_after_setup.connect
def consume_served_queues(sender, instance, **kwargs) -> None:
    queues = remote.served_queues(served_models())
    for queue in queues:
        instance.app.amqp.queues.select_add(queue)
    logger.info("worker %s consumes %s", sender, ", ".join(queues))


@worker_process_init.connect
def start_worker_process(**kwargs) -> None:
    runtime.mark_worker_process()
    models = served_models()
    runtime.start_preload(models=[m for m in settings.TTS_PRELOAD if m in models])
    cluster.start_status_publisher(models)
    if settings.TTS_WORKER_METRICS_PORT:
        metrics.serve_worker_metrics(settings.TTS_WORKER_METRICS_PORT)
