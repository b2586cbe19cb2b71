"""Metrics of a server with several worker processes (WEB_CONCURRENCY > 1).

config/serve.py then points PROMETHEUS_MULTIPROC_DIR at a folder of the server's own (emptied
at each start) before any worker imports prometheus_client: every process writes its counters
and histograms there, and a scrape, whichever worker answers it, adds them all up
(prometheus_client's multiprocess mode). Counters of a worker that died stay in the sums, as
Prometheus expects of counters.

The engine's state (queue depth, loaded models) lives in each worker's memory, so each worker
copies it into "live" gauges once a second; a scrape sums those over the workers still alive.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, multiprocess

logger = logging.getLogger(__name__)

ENV = "PROMETHEUS_MULTIPROC_DIR"
REFRESH_SECONDS = 1.0

# Unregistered: only the multiprocess collector reads them (from their files). With one
# process, EngineStateCollector reports the same names at scrape time instead.
QUEUE_DEPTH = Gauge("tts_queue_depth", "Requests waiting for a device now (all workers).",
                    multiprocess_mode="livesum", registry=None)
LOADED = Gauge("tts_loaded_models", "Worker processes that have the model loaded.", ["model"],
               multiprocess_mode="livesum", registry=None)
LOADED_COUNT = Gauge("tts_loaded_models_count", "Models loaded, summed over the workers.",
                     multiprocess_mode="livesum", registry=None)


def enabled() -> bool:
    return bool(os.environ.get(ENV))


def scrape_registry() -> CollectorRegistry:
    """A registry that reads every worker's files (call only when enabled())."""
    folder = Path(os.environ[ENV])
    forget_dead_processes(folder)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(folder))
    return registry


def forget_dead_processes(folder: Path) -> None:
    """Live gauges of workers that exited (or crashed) leave the sums."""
    for path in folder.glob("gauge_live*_*.db"):
        pid = path.stem.rpartition("_")[2]
        if pid.isdigit() and not _alive(int(pid)):
            multiprocess.mark_process_dead(int(pid), path=str(folder))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


_started = False
_start_lock = threading.Lock()


def start_engine_state_refresh(health: Callable[[], dict],
                               interval: float = REFRESH_SECONDS) -> None:
    """In a worker of a multi-process server: keep the live gauges in step with its engine,
    as ``health()`` (the health use case) reports it."""
    global _started
    if not enabled():
        return
    with _start_lock:
        if _started:
            return
        _started = True
    threading.Thread(target=_refresh_forever, args=(health, interval), name="metrics-engine-state",
                     daemon=True).start()


def _refresh_forever(health: Callable[[], dict], interval: float) -> None:
    seen: set[str] = set()
    stop = threading.Event()
    while not stop.wait(interval):
        try:
            seen = refresh_engine_state(seen, health())
        except Exception as exc:  # noqa: BLE001 - a broken configuration must not kill it
            logger.debug("engine state not copied to the metrics: %s", exc)


def refresh_engine_state(seen: set[str], facts: dict) -> set[str]:
    """Copy the queue depth and loaded models of the health ``facts`` into the gauges; returns
    the models seen so far (a model unloaded since is set to 0: multi-process gauges cannot
    drop a label)."""
    loaded = set(facts["loaded_models"])
    QUEUE_DEPTH.set(facts["queue_depth"])
    LOADED_COUNT.set(len(loaded))
    for model in seen | loaded:
        LOADED.labels(model).set(1 if model in loaded else 0)
    return seen | loaded
