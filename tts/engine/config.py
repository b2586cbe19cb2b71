"""Plain-value engine configuration. Django settings build it; the engine never reads Django."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass(frozen=True)
class EngineConfig:
    device: str = "auto"
    #: auto | float32 | bfloat16 | float16 (tts.engine.precision says what auto picks).
    precision: str = "auto"
    #: auto | 1 | 0: torch.compile the transformer's layers when a model loads
    #: (tts.engine.compiler.plan_compile says what auto decides; booleans are accepted).
    compile: str = "auto"
    #: Folder of the persisted compile caches (tts.engine.compile_cache); empty: torch's own
    #: temporary cache, which ``auto`` treats as cold.
    compile_cache_dir: str = ""
    #: measured | fixed: streams' chunks sized from the measured cost, or the same everywhere.
    stream_pacing: str = "measured"
    #: torch intra-op threads; 0 = the cores this process may use (affinity and cgroup quota).
    threads: int = 0
    #: torch inter-op threads; 0 = a small default (tts.engine.threads).
    interop_threads: int = 0
    #: Local Vocos folder (config.yaml + pytorch_model.bin); empty means the hub's.
    vocoder_path: str = ""
    #: May hub URIs (hf://…) be downloaded? False where the hub is unreachable.
    allow_downloads: bool = field(default_factory=lambda: os.environ.get("HF_HUB_OFFLINE") != "1")
    hf_cache_dir: str | None = None
    # Built-in overrides: a local file for each hub URI.
    f5_ckpt: str = ""
    f5_vocab: str = ""
    e2_ckpt: str = ""
    e2_vocab: str = ""
    # The "Custom" model, as upstream's Gradio custom model.
    custom_ckpt: str = ""
    custom_vocab: str = ""
    custom_arch: str = "DiT"
    custom_config: str = ""
    #: TOML or JSON file with more models.
    models_file: str = ""
    #: TOML or JSON pronunciation lexicon (tts.engine.frontend.lexicon); empty: none.
    lexicon_file: str = ""
    default_model: str = "F5-TTS"
    #: Requests allowed to wait for one model while it is busy; more get EngineBusy.
    max_queue: int = 8
    #: Seconds a request waits for its model before giving up with EngineBusy.
    queue_timeout: float = 300.0
    #: Models kept loaded on the device at once; the least recently used idle one goes first.
    max_loaded_models: int = 2
    #: Reference preparations (decoding, clipping, speech recognition) running at once.
    max_preparations: int = 2
    #: Niceness added to the threads that prepare references (0: same priority as generation).
    preparation_nice: int = 10
    # Reference audio rules.
    min_ref_seconds: float = 1.0
    max_ref_upload_seconds: float = 60.0
    max_ref_clip_seconds: float = 12.0
    #: Whether each uploaded reference gets a report (tts.engine.inspection) and voiceprint.
    reference_report: bool = True
    # Prepared-reference cache bounds.
    ref_cache_entries: int = 64
    ref_cache_mb: int = 256

    def __post_init__(self) -> None:
        object.__setattr__(self, "compile", normalise_compile(self.compile))


def normalise_compile(value: object) -> str:
    """TTS_COMPILE as ``auto``, ``1`` or ``0`` (booleans and on/off/true/false accepted)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    text = str(value if value is not None else "auto").strip().lower()
    if text in ("1", "true", "yes", "on"):
        return "1"
    if text in ("0", "false", "no", "off"):
        return "0"
    if text in ("", "auto"):
        return "auto"
    raise ValueError(f"TTS_COMPILE={value!r} is not one of auto, 1, 0")
