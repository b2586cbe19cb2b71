"""Which models exist: built-in specs mirroring upstream, the Custom model, and a models file.

Nothing here imports torch or touches the network, so listing models is always cheap.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from .config import EngineConfig
from .errors import ConfigurationError, ModelNotFound
from .models_file import load_entries

ARCHITECTURES = ("DiT", "UNetT")
SAMPLE_RATE = 24_000
HUB_PREFIX = "hf://"


@dataclass(frozen=True)
class ModelSpec:
    id: str
    name: str
    architecture: str
    config: dict[str, Any]
    #: ``hf://owner/repo/path`` or a local file (``.safetensors`` or ``.pt``).
    checkpoint: str
    #: vocab.txt location; empty means the vocab bundled with f5-tts.
    vocab: str = ""
    #: Local Vocos folder for this model; empty means the engine's shared default.
    vocoder: str = ""
    description: str = ""
    license: str = ""
    #: The environment variable an operator sets to point at local weights.
    env_hint: str = ""
    sample_rate: int = SAMPLE_RATE
    tags: tuple[str, ...] = field(default_factory=tuple)
    #: Whether requests' text is normalised for it (``normalize = false`` in the models file
    #: for a model trained on raw text); pauses and the lexicon apply either way.
    normalize: bool = True

    @property
    def vocab_env_hint(self) -> str:
        return self.env_hint.replace("_CKPT", "_VOCAB")

    def backbone_class(self) -> type:
        """The f5-tts backbone class (imports torch: call only when loading)."""
        return backbone_class(self.architecture)


def backbone_class(architecture: str) -> type:
    from f5_tts.model import DiT, UNetT

    return {"DiT": DiT, "UNetT": UNetT}[architecture]


def upstream_arch(config_name: str) -> tuple[str, dict[str, Any]]:
    """Backbone class name and architecture dict from the config file shipped in f5-tts."""
    path = files("f5_tts").joinpath(f"configs/{config_name}.yaml")
    model = yaml.safe_load(path.read_text(encoding="utf-8"))["model"]
    return model["backbone"], dict(model["arch"])


def builtin_specs(config: EngineConfig) -> list[ModelSpec]:
    f5_arch, f5_cfg = upstream_arch("F5TTS_v1_Base")
    e2_arch, e2_cfg = upstream_arch("E2TTS_Base")
    specs = [
        ModelSpec(
            id="F5-TTS",
            name="F5-TTS v1 Base",
            architecture=f5_arch,
            config=f5_cfg,
            checkpoint=config.f5_ckpt
            or "hf://SWivid/F5-TTS/F5TTS_v1_Base/model_1250000.safetensors",
            # Empty vocab = the copy of F5TTS_v1_Base/vocab.txt bundled in the f5-tts wheel,
            # as upstream's own F5TTS API uses, so offline installs need only the checkpoint.
            vocab=config.f5_vocab,
            description="F5-TTS v1 Base (DiT, 337M parameters), zero-shot voice cloning, "
            "English and Chinese.",
            license="CC-BY-NC-4.0",
            env_hint="TTS_F5_CKPT",
        ),
        ModelSpec(
            id="E2-TTS",
            name="E2-TTS Base",
            architecture=e2_arch,
            config=e2_cfg,
            checkpoint=config.e2_ckpt or "hf://SWivid/E2-TTS/E2TTS_Base/model_1200000.safetensors",
            vocab=config.e2_vocab,
            description="E2-TTS Base (flat UNet-Transformer, 333M parameters), zero-shot voice "
            "cloning, English and Chinese.",
            license="CC-BY-NC-4.0",
            env_hint="TTS_E2_CKPT",
        ),
    ]
    if config.custom_ckpt:
        specs.append(custom_spec(config))
    return specs


def custom_spec(config: EngineConfig) -> ModelSpec:
    """The Custom model, configured as upstream's Gradio custom model (ckpt, vocab, JSON config)."""
    architecture = config.custom_arch or "DiT"
    if architecture not in ARCHITECTURES:
        raise ValueError(f"TTS_CUSTOM_ARCH must be one of {ARCHITECTURES}, not {architecture!r}")
    if config.custom_config:
        try:
            arch_config = json.loads(config.custom_config)
        except json.JSONDecodeError as exc:
            raise ValueError(f"TTS_CUSTOM_CONFIG is not valid JSON: {exc}") from exc
    else:
        arch_config = upstream_arch("F5TTS_v1_Base" if architecture == "DiT" else "E2TTS_Base")[1]
    return ModelSpec(
        id="Custom",
        name="Custom checkpoint",
        architecture=architecture,
        config=arch_config,
        checkpoint=config.custom_ckpt,
        vocab=config.custom_vocab,
        description=f"Operator-supplied {architecture} checkpoint (TTS_CUSTOM_CKPT).",
        env_hint="TTS_CUSTOM_CKPT",
    )


def specs_from_file(path: str | Path, *, reserved: tuple[str, ...] = ()) -> list[ModelSpec]:
    """Specs from a TOML or JSON models file, validated by tts.engine.models_file (which
    raises one ConfigurationError naming the file, entry and field of every mistake).

    Relative paths in the file are taken relative to the file's own folder, so a folder of
    checkpoints plus its models file can be moved as one. ``reserved`` ids (the built-ins)
    cannot be redefined.
    """
    return [ModelSpec(id=entry.id, name=entry.name, architecture=entry.architecture,
                      config=dict(entry.config), checkpoint=entry.checkpoint, vocab=entry.vocab,
                      vocoder=entry.vocoder, description=entry.description,
                      license=entry.license, env_hint=entry.env_hint, tags=tuple(entry.tags),
                      normalize=entry.normalize)
            for entry in load_entries(path, reserved=reserved)]


class ModelRegistry:
    """Ordered id → spec mapping."""

    def __init__(self, specs: list[ModelSpec]):
        self._specs = {spec.id: spec for spec in specs}

    @classmethod
    def from_config(cls, config: EngineConfig) -> ModelRegistry:
        """All configured models; a broken configuration raises ConfigurationError."""
        try:
            specs = builtin_specs(config)
            if config.models_file:
                specs += specs_from_file(config.models_file,
                                         reserved=(*(spec.id for spec in specs), "Custom"))
            for spec in specs:
                for location in (spec.checkpoint, spec.vocab):
                    if location.startswith(HUB_PREFIX) and location.count("/") < 4:
                        raise ValueError(f"model {spec.id!r}: {location!r} is not a hub URI of "
                                         "the form hf://owner/repo/path/to/file")
        except ConfigurationError:
            raise
        except (ValueError, OSError, KeyError, TypeError) as exc:
            raise ConfigurationError(
                f"The model configuration does not load: {exc}. Check TTS_MODELS_FILE and "
                "the TTS_CUSTOM_* variables.") from exc
        return cls(specs)

    def get(self, model_id: str) -> ModelSpec:
        try:
            return self._specs[model_id]
        except KeyError:
            raise ModelNotFound(
                f"Unknown model {model_id!r}. Available: {', '.join(self._specs)} "
                "(see GET /api/tts/models/).",
                attr="model",
            ) from None

    def ids(self) -> list[str]:
        return list(self._specs)

    def __iter__(self):
        return iter(self._specs.values())

    def __contains__(self, model_id: str) -> bool:
        return model_id in self._specs
