"""The configured models, read from the configuration alone: nothing is loaded and torch is
not imported, so a process that holds no engine (a celery-mode web process) can name them,
check an id and list them. TTSEngine answers the same from its registry."""

from __future__ import annotations

from .config import EngineConfig
from .registry import ModelRegistry, ModelSpec


def configured_specs(config: EngineConfig) -> list[ModelSpec]:
    return list(ModelRegistry.from_config(config))


def configured_spec(config: EngineConfig, model_id: str) -> ModelSpec:
    """ModelNotFound (naming the known ids) for an unknown id."""
    return ModelRegistry.from_config(config).get(model_id)


__all__ = ["ModelSpec", "configured_spec", "configured_specs"]
