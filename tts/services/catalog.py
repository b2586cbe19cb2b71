"""Model listings for clients and operators. Never loads or downloads anything."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from tts.engine.engine import ModelSpec

from .hardware import model_runtime
from .runtime import get_engine


@dataclass(frozen=True)
class ModelInfo:
    id: str
    name: str
    architecture: str
    description: str
    sample_rate: int
    license: str
    source: str
    status: str
    reason: str | None
    is_default: bool
    device: str
    device_name: str
    device_memory_mb: int | None
    precision: str
    weights_mb: float | None
    torch_cuda: str | None
    gpu_usable: bool


def public_source(location: str) -> str:
    """A checkpoint location without credentials or query strings (tokens live there)."""
    parts = urlsplit(location)
    if parts.scheme in ("http", "https", "s3", "gs") and parts.netloc:
        host = parts.hostname or ""
        return urlunsplit((parts.scheme, host, parts.path, "", ""))
    return location


def _info(spec: ModelSpec) -> ModelInfo:
    engine = get_engine()
    status = engine.model_status(spec.id)
    return ModelInfo(
        id=spec.id, name=spec.name or spec.id, architecture=spec.architecture,
        description=spec.description, sample_rate=spec.sample_rate, license=spec.license,
        source=public_source(spec.checkpoint), status=status.state, reason=status.reason,
        is_default=spec.id == engine.config.default_model, **model_runtime(spec.id),
    )


def model_list() -> list[ModelInfo]:
    return [_info(spec) for spec in get_engine().model_specs()]


def model_get(*, model_id: str) -> ModelInfo:
    return _info(get_engine().model_spec(model_id))
