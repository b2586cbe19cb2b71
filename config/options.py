"""Every ``TTS_*`` setting, declared once: name, type, default and meaning.

config/settings.py turns these into Django settings (``TTS_<NAME>``), tts/work/runtime.py
builds the engine's EngineConfig from the same names, and the configuration table of
docs/configuration.md is generated from here (``manage.py settings_table``; a test keeps it
in step).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Literal

from django.core.exceptions import ImproperlyConfigured
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

BASE_DIR = Path(__file__).resolve().parent.parent
PREFIX = "TTS_"


class SettingsError(ImproperlyConfigured):
    """An environment variable has a value the server cannot use. manage.py prints it
    without a traceback."""


def _doc(text: str, shown: str | None = None, *, section: str = "engine"):
    """Field metadata: the documentation text, the default as shown there, and its table section."""
    extra = {"section": section}
    if shown is not None:
        extra["shown_default"] = shown
    return {"description": text, "json_schema_extra": extra}


CommaList = Annotated[list[str], NoDecode]


class TTSSettings(BaseSettings):
    """Read from the environment (and the project's ``.env``, loaded by config/settings.py)."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, env_ignore_empty=True, extra="ignore",
                                      validate_default=True)

    # --- Where things live and what to serve ---------------------------------------------
    var_dir: Path = Field(BASE_DIR / "var", **_doc(
        "Folder for the database, the generated secret key and demo models; created by "
        "`manage.py migrate`, never at import.", "`var/`", section="server"))
    demo: bool = Field(False, **_doc(
        "`1`: build and serve the tiny noise models; also allows a non-loopback HOST without "
        "DJANGO_SECRET_KEY and DJANGO_ALLOWED_HOSTS.", "`0`", section="server"))
    demo_dir: Path | None = Field(None, **_doc(
        "Where demo mode writes the tiny models.", "`var/tiny-models`", section="server"))
    studio: bool = Field(True, **_doc(
        "The studio page at `/` (record or upload a voice, type, listen as it streams; it calls "
        "only the public API). `0`: `/` is a 404 and only the API and its docs are served.",
        "`1`", section="server"))
    default_model: str = Field("", **_doc(
        "Model used when a request names none; readiness waits for it.",
        "`F5-TTS` (`tiny-f5` in demo)"))
    preload: CommaList | None = Field(None, **_doc(
        "Comma-separated ids to load when the server starts (in the background: health "
        "answers meanwhile).", "the default model"))
    warmup: bool = Field(True, **_doc(
        "Each preloaded model makes one short generation before readiness turns green (CUDA "
        "context, kernels, vocoder), so the first real request costs what later ones do.",
        "on"))
    device: str = Field("auto", **_doc(
        "`auto` (the first GPU, else mps, else cpu, with a warning when a CUDA build finds no "
        "GPU), `cpu`, `cuda`, `cuda:N`, `mps` (an explicit device that is not usable stops the "
        "start).", "`auto`"))
    precision: Literal["auto", "float32", "bfloat16", "float16", "int8"] = Field("auto", **_doc(
        "Numeric precision of the transformer: `auto` = float16 on CUDA GPUs of compute "
        "capability 7 or more (as upstream), bfloat16 on CPUs with native bfloat16 (`amx_bf16` "
        "or `avx512_bf16`), float32 otherwise; or `float32`, `bfloat16`, `float16`, `int8` "
        "(CPU only: dynamic int8 quantisation of the transformer's linear layers, the rest "
        "float32; not chosen by `auto`, see [Performance](performance.md#int8)). Health's "
        "`compute` says what was chosen and why "
        "([Performance](performance.md#cpu-precision-and-presets)).", "`auto`"))
    compile: Literal["auto", "1", "0"] = Field("auto", **_doc(
        "torch.compile the transformer's layers when a model loads. `auto` compiles a model "
        "where it was measured to gain (a real-size F5-TTS/DiT model in bfloat16 on a CPU "
        "with AMX, `amx_bf16`; not E2-TTS, not CPUs without AMX, where no gain was shown, "
        "not the tiny demo models, not int8) and only when its compile cache is "
        "warm, so no start "
        "waits for a compile from nothing; `manage.py compile_cache` fills the cache once (a "
        "cache made for another torch or CPU, or damaged, is rebuilt once). `1` compiles "
        "every model, accepting a first start of a minute or more (and fails the model if "
        "torch.compile cannot run: it needs a C++ compiler on a CPU); `0` never. Health's "
        "`compute.compile_models` says what each loaded model got and why "
        "([Performance](performance.md#compile)).", "`auto`"))
    compile_cache_dir: Path | None = Field(None, **_doc(
        "Where compiled code persists, one folder per torch version, architecture, precision, "
        "device and CPU flags; a stale or corrupt folder is rebuilt with a warning.",
        "`var/compile-cache`"))
    stream_pacing: Literal["measured", "fixed"] = Field("measured", **_doc(
        "How a stream's chunks are sized. `measured`: from what a chunk costs on this "
        "machine (the first about a second of speech, the next ones as long as can be ready "
        "before the audio before them has played), so a stream's seed reproduces its samples "
        "while the server's speed stays about the same; `fixed`: the first about a second of "
        "speech, the rest normal-size, the same on every machine (a stream's seed then "
        "reproduces anywhere, e.g. across workers of different speeds) "
        "([Streaming](api/streaming.md)).", "`measured`"))
    threads: int = Field(0, ge=0, **_doc(
        "torch intra-op threads; 0 = the CPUs this process may use (affinity mask, cgroup "
        "quota such as `docker --cpus`).", "0"))
    interop_threads: int = Field(0, ge=0, **_doc(
        "torch inter-op threads; 0 = 1 on up to 2 CPUs, else 2.", "0"))
    # --- Weights --------------------------------------------------------------------------
    f5_ckpt: str = Field("", **_doc("Local F5-TTS checkpoint (`.safetensors` or `.pt`).", "hub"))
    f5_vocab: str = Field("", **_doc("Local F5-TTS vocab.txt.", "bundled"))
    e2_ckpt: str = Field("", **_doc("Local E2-TTS checkpoint.", "hub"))
    e2_vocab: str = Field("", **_doc("Local E2-TTS vocab.txt.", "bundled"))
    custom_ckpt: str = Field("", **_doc("Checkpoint of the `Custom` model (unset: no Custom "
                                        "model).", "unset"))
    custom_vocab: str = Field("", **_doc("Vocab of the `Custom` model.", "bundled"))
    custom_arch: Literal["DiT", "UNetT"] = Field("DiT", **_doc(
        "Architecture of the `Custom` model.", "`DiT`"))
    custom_config: str = Field("", **_doc(
        "JSON object of the `Custom` model's architecture (as upstream's model configs).",
        "upstream's for the architecture"))
    vocoder_path: str = Field("", **_doc("Local Vocos folder (config.yaml + "
                                         "pytorch_model.bin).", "hub"))
    models_file: str = Field("", **_doc(
        "TOML or JSON file with more models (validated at start; "
        "[Installation](installation.md#a-models-file)).",
        "unset (the demo's in demo mode)"))
    lexicon_file: str = Field("", **_doc(
        "TOML or JSON pronunciation lexicon: `\"word\" = \"how to say it\"` (validated at "
        "start; [Generate](api/generate.md#pronunciations)).", "unset"))
    allow_downloads: bool | None = Field(None, **_doc(
        "May hub files be downloaded.", "on unless `HF_HUB_OFFLINE=1`"))
    hf_cache_dir: str | None = Field(None, **_doc("Hub cache folder.", "the hub's default"))
    asr_model: str = Field("", **_doc(
        "faster-whisper model name or folder, to transcribe references sent without "
        "`ref_text`.", "unset"))
    asr_language: str | None = Field(None, **_doc("Language of the references for speech "
                                                  "recognition.", "detected"))
    verify_default: bool = Field(False, **_doc(
        "Whether generations are verified (`verify`) when a request does not say: each chunk is "
        "heard back by speech recognition (needs `TTS_ASR_MODEL`) and generated again with the "
        "next seed when too much of it is wrong.", "`0`"))
    verify_max_cer: float = Field(0.3, ge=0, le=2, **_doc(
        "Character error rate (recognised against asked-for text) above which `verify` "
        "generates a chunk again.", "0.3"))
    verify_retries: int = Field(2, ge=0, le=10, **_doc(
        "Extra attempts `verify` makes for a chunk over `TTS_VERIFY_MAX_CER`; the best attempt "
        "is kept.", "2"))
    verify_min_similarity: float = Field(0.0, ge=0, le=1, **_doc(
        "With `verify`: a chunk whose speaker similarity to the reference is below this is "
        "generated again like one that mis-speaks (0 turns the check off; 0.75 suits real "
        "weights, see [Voice match](api/voice-match.md)).", "0"))
    similarity_default: bool = Field(False, **_doc(
        "Whether replies report speaker similarity (`similarity`) when a request does not "
        "say.", "`0`"))
    reference_report: bool = Field(True, **_doc(
        "Whether each uploaded reference clip gets a report (speech ratio, loudness, "
        "clipping, noise, music, a second speaker, a cut word) with advice, shown by generate "
        "and saved voices.", "`1`"))
    reference_strict: bool = Field(False, **_doc(
        "Refuse (400) a reference clip whose report has a severe finding, instead of "
        "warning.", "`0`"))
    storage_backend: str = Field("tts.storage.AtomicFileSystemStorage", **_doc(
        "Django storage class for saved voices' files (e.g. storages.backends.s3.S3Storage).",
        "local files in `MEDIA_ROOT`", section="server"))
    storage_options: dict = Field(default_factory=dict, **_doc(
        "Options of that storage class, as a JSON object.", "`{}`", section="server"))
    min_free_mb: float = Field(200.0, ge=0, **_doc(
        "Readiness turns 503 while the data folder or `MEDIA_ROOT` has less free space than "
        "this (health shows both); 0 turns the check off.", "200", section="server"))
    # --- Request limits -------------------------------------------------------------------
    max_text_chars: int = Field(5000, ge=1, **_doc("Longest `gen_text`.", "5000",
                                                   section="limits"))
    max_upload_mb: float = Field(20.0, gt=0, **_doc("Largest request body, in MB.", "20",
                                                    section="limits"))
    min_ref_seconds: float = Field(1.0, ge=0, **_doc("Shortest accepted reference.", "1",
                                                     section="limits"))
    max_ref_upload_seconds: float = Field(60.0, gt=0, **_doc(
        "Longest accepted reference upload.", "60", section="limits"))
    max_queue: int = Field(8, ge=0, **_doc(
        "Requests that may wait while another generates (one device); more get 503.", "8",
        section="limits"))
    queue_timeout: float = Field(300.0, gt=0, **_doc(
        "Seconds a request waits for a turn on the device, for a preparation slot, or for its "
        "model to load.", "300",
        section="limits"))
    max_loaded_models: int = Field(2, ge=1, **_doc(
        "Models kept loaded on the device; the least recently used idle one is unloaded (its "
        "memory freed) to load another.", "2", section="limits"))
    max_preparations: int = Field(2, ge=1, **_doc(
        "Reference clips decoded, clipped and transcribed at once.",
        "2", section="limits"))
    preparation_nice: int = Field(10, ge=0, le=19, **_doc(
        "Niceness added to the threads that prepare references (ffmpeg, speech recognition), "
        "so that on a small CPU a generation gets the cores first; 0: same priority.", "10"))
    header_timeout: float = Field(10.0, gt=0, **_doc(
        "Seconds a connection may take to send its request headers before it is closed.",
        "10", section="limits"))
    body_timeout: float = Field(30.0, gt=0, **_doc(
        "Seconds a request body may stall before the request gets 408 and is closed.", "30",
        section="limits"))
    stream_send_timeout: float = Field(30.0, gt=0, **_doc(
        "Seconds a streaming client (audio stream, SSE) may accept no data before it is "
        "disconnected and its generation cancelled; a client that is only behind slows its "
        "generation down instead of having it buffered.", "30", section="limits"))
    ref_cache_entries: int = Field(64, ge=0, **_doc("Prepared-reference cache entries.", "64",
                                                    section="limits"))
    ref_cache_mb: int = Field(256, ge=0, **_doc("Prepared-reference cache size in MB.", "256",
                                                section="limits"))
    # --- Access, quotas, audit, metrics ---------------------------------------------------
    require_api_key: bool = Field(False, **_doc(
        "Every endpoint but health and the docs needs `Authorization: Bearer <key>` or "
        "`X-API-Key: <key>` (keys: `manage.py apikeys`).", "`0`", section="access"))
    rate_limit_per_minute: int = Field(0, ge=0, **_doc(
        "Generation requests per minute per key (per client IP without keys); a key's own "
        "limit wins. 0: unlimited.", "0", section="access"))
    write_rate_limit_per_minute: int = Field(0, ge=0, **_doc(
        "Voice creations, updates and deletions and job submissions per minute per key (per "
        "client IP without keys). 0: they count against the generation limit above (the same "
        "budget); set, they have a budget of their own.", "0", section="access"))
    voices_per_key: int = Field(0, ge=0, **_doc(
        "Saved voices one key (or, without keys, all callers together) may keep; admin keys "
        "are exempt. Over it a new voice is a 403 `voice_limit_reached`. 0: unlimited.", "0",
        section="access"))
    voice_storage_mb_per_key: float = Field(0.0, ge=0, **_doc(
        "Megabytes of voice files (clips as uploaded and prepared references) one key may "
        "keep; a new voice that would pass it is a 403 `voice_storage_limit_reached`. 0: "
        "unlimited.", "0", section="access"))
    jobs_per_key: int = Field(0, ge=0, **_doc(
        "Jobs one key (or, without keys, all anonymous callers together) may have queued or "
        "running at once; admin keys are exempt. One more is a 429 `too_many_jobs`. 0: no "
        "cap.", "0", section="access"))
    audio_seconds_per_day: float = Field(0.0, ge=0, **_doc(
        "Seconds of audio generated per key (or client IP) in any 24 h; a key's own limit "
        "wins. 0: unlimited.", "0", section="access"))
    num_proxies: int = Field(0, ge=0, **_doc(
        "Reverse proxies in front of the server, so the client IP is read from "
        "X-Forwarded-For.", "0", section="access"))
    audit_store_text: bool = Field(False, **_doc(
        "Also keep the generated text in the audit log (normally only its length).", "`0`",
        section="access"))
    admin_login_attempts: int = Field(5, ge=1, **_doc(
        "Wrong passwords in a row at `/admin/` before that user name from that address is "
        "locked out (django-axes).", "5", section="access"))
    admin_lockout_minutes: float = Field(15.0, gt=0, **_doc(
        "How long an admin lock-out lasts; `manage.py axes_reset` lifts them all at once.",
        "15", section="access"))
    metrics_token: str = Field("", **_doc(
        "When set, `/metrics` needs `Authorization: Bearer <token>`.", "unset (open)",
        section="access"))

    # --- Jobs and scale-out ---------------------------------------------------------------
    execution: Literal["inline", "celery"] = Field("inline", **_doc(
        "`inline`: this process owns the models and runs jobs in a thread. `celery`: web "
        "processes hold no model (torch is never imported); generation, streaming, voices "
        "and jobs run on `make worker` processes through CELERY_BROKER_URL.", "`inline`",
        section="scale"))
    worker_models: CommaList | None = Field(None, **_doc(
        "Models a worker serves (it consumes only their queues, so it loads only them).",
        "every configured model", section="scale"))
    worker_metrics_port: int = Field(0, ge=0, le=65535, **_doc(
        "Celery mode: a worker process serves its own Prometheus metrics (generations, jobs, "
        "queue, loaded models) on this port; 0 turns that off. Give each worker on a machine "
        "its own port.", "0 (off)", section="scale"))
    worker_wait_seconds: float = Field(30.0, gt=0, **_doc(
        "Celery mode: how long a request waits for a worker to start on it before a 503 "
        "(the task then expires unrun).", "30", section="scale"))
    job_retention_hours: float = Field(24.0, gt=0, **_doc(
        "Finished jobs, their audio and uploads are deleted after this long "
        "(`manage.py purge_jobs`, run every TTS_JOB_PURGE_SECONDS by the inline job runner, "
        "or by Celery beat in celery mode).", "24", section="scale"))
    job_purge_seconds: float = Field(3600.0, gt=0, **_doc(
        "How often expired jobs, and files that no voice or job names (left by a crash, "
        "older than an hour), are looked for and deleted.", "3600", section="scale"))
    max_job_chars: int = Field(100_000, ge=1, **_doc(
        "Longest `gen_text` of a job (generate's limit is TTS_MAX_TEXT_CHARS).", "100000",
        section="scale"))
    callback_secret: str = Field("", **_doc(
        "Key of the HMAC-SHA256 signature of job callbacks (`X-TTS-Signature`), which you "
        "hand to the receivers; off loopback at least 32 characters and not a placeholder. "
        "Unset: a key derived from the Django secret key (never the key itself), and "
        "`manage.py check --deploy` asks for one of its own (tts.W010).",
        "derived from DJANGO_SECRET_KEY", section="scale"))
    callback_allow_private: bool = Field(False, **_doc(
        "`1`: job callbacks may go to loopback, private and link-local addresses (a receiver "
        "inside your network). Off, such a `callback_url` is a 400 and a name that resolves "
        "to one is not posted to, so clients cannot reach internal services through it.",
        "`0`", section="scale"))
    callback_attempts: int = Field(4, ge=1, **_doc(
        "Deliveries tried per callback (waits 1, 2, 4 ... s between them).", "4",
        section="scale"))
    job_heartbeat_seconds: float = Field(5.0, gt=0, **_doc(
        "How often a running job proves its worker alive; a job silent for 3 beats is "
        "taken over at the next sweep and run again from the start with the same seed.", "5",
        section="scale"))
    job_sweep_seconds: float = Field(10.0, gt=0, **_doc(
        "How often every process that runs jobs (the inline server, each Celery worker) "
        "looks for jobs whose worker went quiet, and for callbacks whose delivery was lost. "
        "A job of a dead worker is running again within 3 heartbeats plus this.", "10",
        section="scale"))

    @field_validator("preload", "worker_models", mode="before")
    @classmethod
    def _split(cls, value):
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("compile", mode="before")
    @classmethod
    def _compile(cls, value):
        """Booleans as before (``true``, ``on``, ``false``, ``off``) still mean 1 and 0."""
        text = str(value).strip().lower()
        return {"true": "1", "yes": "1", "on": "1", "false": "0", "no": "0",
                "off": "0"}.get(text, text)

    @field_validator("custom_config")
    @classmethod
    def _json_object(cls, value: str) -> str:
        if value:
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not valid JSON ({exc})") from None
            if not isinstance(parsed, dict):
                raise ValueError("must be a JSON object such as {\"dim\": 1024, \"depth\": 22}")
        return value

    @model_validator(mode="after")
    def _derived_defaults(self) -> TTSSettings:
        """Defaults that depend on other values (demo mode, HF_HUB_OFFLINE)."""
        if self.demo_dir is None:
            self.demo_dir = self.var_dir / "tiny-models"
        if self.compile_cache_dir is None:
            self.compile_cache_dir = self.var_dir / "compile-cache"
        if not self.models_file and self.demo:
            self.models_file = str(self.demo_dir / "models.toml")
        if not self.default_model:
            self.default_model = "tiny-f5" if self.demo else "F5-TTS"
        if self.preload is None:
            self.preload = [self.default_model]
        if self.allow_downloads is None:
            self.allow_downloads = os.environ.get("HF_HUB_OFFLINE") != "1"
        return self

    def django_settings(self) -> dict[str, object]:
        """``{"TTS_DEVICE": "auto", ...}`` for config/settings.py."""
        return {env_name(name): value for name, value in self}


def env_name(field: str) -> str:
    return PREFIX + field.upper()


def load() -> TTSSettings:
    """The settings from the environment, or one SettingsError listing every bad variable."""
    try:
        return TTSSettings()
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            name = env_name(field) if field else "TTS_*"
            lines.append(f"  {name}={os.environ.get(name, '')!r}: {error['msg']}")
        raise SettingsError("Invalid configuration:\n" + "\n".join(lines)) from None


SECTIONS = {
    "server": "Server",
    "engine": "Models and engine",
    "limits": "Request limits",
    "access": "Access, quotas, audit and metrics",
    "scale": "Jobs and scale-out",
}


def settings_table() -> str:
    """docs/configuration.md's table of settings, one row per declared setting."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for section, title in SECTIONS.items():
        rows.append(f"| **{title}** | | |")
        for name, info in TTSSettings.model_fields.items():
            extra = info.json_schema_extra or {}
            if extra.get("section") != section:
                continue
            shown = extra.get("shown_default", repr(info.default))
            rows.append(f"| `{env_name(name)}` | {shown} | {info.description} |")
    return "\n".join(rows)
