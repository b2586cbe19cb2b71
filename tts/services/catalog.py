"""Model listings for clients and operators. Never loads or downloads anything."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from tts.engine.catalog import ModelSpec

from .runtime import get_engine, runs_models_here


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
    #: Null in celery mode while no worker serves the model.
    device: str | None
    device_name: str | None
    device_memory_mb: int | None
    precision: str | None
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
    from .hardware import model_runtime

    engine = get_engine()
    status = engine.model_status(spec.id)
    return ModelInfo(
        id=spec.id, name=spec.name or spec.id, architecture=spec.architecture,
        description=spec.description, sample_rate=spec.sample_rate, license=spec.license,
        source=public_source(spec.checkpoint), status=status.state, reason=status.reason,
        is_default=spec.id == engine.config.default_model, **model_runtime(spec.id),
    )


def model_list() -> list[ModelInfo]:
    """Every configured model; in a celery-mode web process, as the workers report them."""
    if not runs_models_here():
        from .cluster import model_entries
        return [ModelInfo(**{**entry, "source": public_source(entry["source"])})
                for entry in model_entries()]
    return [_info(spec) for spec in get_engine().model_specs()]


def model_get(*, model_id: str) -> ModelInfo:
    if not runs_models_here():
        from .remote import known_model
        model_id = known_model(model_id)  # ModelNotFound (404) for an unknown id
        return next(info for info in model_list() if info.id == model_id)
    return _info(get_engine().model_spec(model_id))
