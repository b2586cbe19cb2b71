"""Celery mode: what the workers say about themselves, as the web tier sees it (health,
readiness, the model list). The web tier holds no model, so it asks nobody and loads nothing:
each worker process publishes its status every few seconds under a key that expires
(tts.execution.celery_worker), so a dead worker disappears from the view on its own.
"""

from __future__ import annotations

import json

from django.conf import settings

from tts.work.runtime import configured_models
from tts.work.status import package_versions, uptime_seconds

from .queues import COMMON_QUEUE, queue_depth, served_queues
from .relay import broker_errors, connection

KEY_PREFIX = "tts:worker:"
PUBLISH_EVERY_SECONDS = 5.0
#: A worker silent for this long is gone.
KEY_SECONDS = 20


def workers() -> list[dict]:
    with broker_errors():
        conn = connection()
        keys = sorted(conn.scan_iter(match=KEY_PREFIX + "*", count=100))
        documents = [conn.get(key) for key in keys]
    return [json.loads(doc) for doc in documents if doc]


def waiting_requests() -> int:
    """Tasks in the queues of every configured model, not yet taken by a worker."""
    with broker_errors():
        return sum(queue_depth(name) for name in served_queues(_model_ids())
                   if name != COMMON_QUEUE)


def health_status() -> dict:
    """Health as local execution reports it, device facts from a worker (null with none),
    plus every worker; ``warnings`` says when none is running."""
    found = workers()
    base = found[0]["health"] if found else {
        "device": None, "device_info": None, "torch": None, "compute": None,
        "asr": {"model": settings.TTS_ASR_MODEL or None, "loaded": False},
        "reference_cache": None, "warnings": []}
    warnings = list(base.get("warnings") or [])
    if not found:
        warnings.append("No Celery worker is running: generation waits until one starts "
                        "(`make worker` on a machine with the models; CELERY_BROKER_URL).")
    return {
        **base, **package_versions(), "status": "ok", "warnings": warnings,
        "execution_mode": "celery", "default_model": settings.TTS_DEFAULT_MODEL,
        "loaded_models": sorted({m for w in found for m in w["health"]["loaded_models"]}),
        "queue_depth": waiting_requests() + sum(w["health"]["queue_depth"] for w in found),
        "uptime_seconds": uptime_seconds(),
        "workers": [{"name": w["name"], "models": w["models"], "ready": w["ready"],
                     "device": w["health"]["device"],
                     "loaded_models": w["health"]["loaded_models"],
                     "queue_depth": w["health"]["queue_depth"]} for w in found],
    }


def readiness() -> tuple[bool, str | None]:
    model_id = settings.TTS_DEFAULT_MODEL
    serving = [w for w in workers() if model_id in w["models"]]
    if any(w["ready"] for w in serving):
        return True, None
    if not serving:
        return False, (f"No running worker serves {model_id}; start one (`make worker`, "
                       "TTS_WORKER_MODELS).")
    return False, serving[0]["reason"]


def model_entries() -> list[dict]:
    """One entry per configured model: from the worker that has it loaded, else from any
    worker serving it, else unavailable (no worker serves it)."""
    found = workers()
    entries = []
    for spec in configured_models():
        reports = [entry for w in found for entry in w["catalog"] if entry["id"] == spec.id]
        loaded = [entry for entry in reports if entry["status"] == "loaded"]
        if loaded or reports:
            entries.append((loaded or reports)[0])
            continue
        entries.append({
            "id": spec.id, "name": spec.name or spec.id, "architecture": spec.architecture,
            "description": spec.description, "sample_rate": spec.sample_rate,
            "license": spec.license, "source": spec.checkpoint, "status": "unavailable",
            "reason": f"No running worker serves {spec.id}: start one (`make worker`) whose "
                      "TTS_WORKER_MODELS includes it.",
            "is_default": spec.id == settings.TTS_DEFAULT_MODEL, "device": None,
            "device_name": None, "device_memory_mb": None, "precision": None,
            "weights_mb": None, "torch_cuda": None, "gpu_usable": False,
            "timestamps": False, "verify": False,
            "listening_reason": "No running worker serves this model."})
    return entries


def _model_ids() -> list[str]:
    return [spec.id for spec in configured_models()]
