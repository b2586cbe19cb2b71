"""Model listings for clients and operators. Never loads or downloads anything."""

from __future__ import annotations

from tts.execution import executor
from tts.work.runtime import known_model
from tts.work.status import ModelInfo, public_source

__all__ = ["ModelInfo", "model_get", "model_list", "public_source"]


def model_list() -> list[ModelInfo]:
    """Every configured model, as the processes that would run it report it."""
    return executor().models()


def model_get(*, model_id: str) -> ModelInfo:
    """ModelNotFound (404) for an id that is not configured."""
    model_id = known_model(model_id)
    return next(info for info in model_list() if info.id == model_id)
