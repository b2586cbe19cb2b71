"""Small helpers for tests: engine configuration on the tiny models, threads at once."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

from tts.engine.config import EngineConfig


def tiny_config(tiny_dir: Path, **overrides) -> EngineConfig:
    values = {"models_file": str(tiny_dir / "models.toml"), "allow_downloads": False,
              "default_model": "tiny-f5", "vocoder_path": str(tiny_dir / "vocos"),
              # Exact comparisons with upstream need float32 whatever `auto` finds here.
              "precision": "float32"}
    values.update(overrides)
    return EngineConfig(**values)


def run_in_threads(work, count: int) -> list:
    """Call ``work()`` from ``count`` threads at once; its results, or the first error raised."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(work) for _ in range(count)]
        return [future.result() for future in futures]


GENERATE = "/api/tts/generate/"


def error_of(response) -> dict:
    """The single error of a response in the standard shape."""
    body = response.json()
    assert set(body) == {"type", "errors"}, body
    assert len(body["errors"]) >= 1
    return body["errors"][0]


@contextlib.contextmanager
def device_held(engine, model_id: str = "tiny-f5"):
    """Another request holds ``engine``'s device (admitted, in its turn) until the block
    ends."""
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with engine.admit(model_id), engine.queue.turn():
            holding.set()
            release.wait(60)

    thread = threading.Thread(target=hold, name="device-holder")
    thread.start()
    holding.wait(60)
    try:
        yield
    finally:
        release.set()
        thread.join(60)


def reset_engine() -> None:
    """A fresh engine for the next test (settings change between cases), and no memory of
    the last one's preloading."""
    from tts.work.preload import forget_warming
    from tts.work.runtime import reset_engine as forget_engine

    forget_engine()
    forget_warming()
