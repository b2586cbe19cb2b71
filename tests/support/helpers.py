"""Small helpers for tests: engine configuration on the tiny models, threads at once."""

from __future__ import annotations

from pathlib import Path

from tts.engine.config import EngineConfig


def tiny_config(tiny_dir: Path, **overrides) -> EngineConfig:
    values = {"models_file": str(tiny_dir / "models.toml"), "allow_downloads": False,
              "default_model": "tiny-f5", "vocoder_path": str(tiny_dir / "vocos")}
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
