"""Helpers shared by the benchmark scripts: machine facts, reference speech, random-weight
models, a live server on the loopback interface, an HTTP client and small statistics.

Everything stays on 127.0.0.1 and every wait is bounded. The models have random weights:
their output is noise, but their cost is that of trained weights of the same shape.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import io
import os
import platform
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support import audio as support_audio
from tests.support.server import LiveServer

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here may reach the hub

#: The reference clip: espeak-ng speech, resampled to the models' 24 kHz so that neither the server
#: (ffmpeg) nor upstream (pydub/torchaudio) resamples it: both start from the same samples.
REF_TEXT = "Hello there, this is a short reference clip for the benchmark."
#: About 5 s of output after that reference (upstream estimates duration from text bytes).
GEN_TEXT = ("The quick brown fox jumps over the lazy dog, and then it runs far away into "
            "the quiet forest.")
SAMPLE_RATE = 24_000

#: A mid-size DiT: inference dominates a request, as with the real models, yet one request
#: costs seconds rather than minutes on a 2-core CPU.
MID_DIT = {"dim": 256, "depth": 4, "heads": 4, "dim_head": 64, "ff_mult": 2, "text_dim": 128,
           "conv_layers": 2}
#: Upstream's Vocos (charactr/vocos-mel-24khz): backbone dim 512, intermediate 1536, 8 layers.
FULL_VOCOS_DIMS = {"dim": 512, "intermediate_dim": 1536, "num_layers": 8}
MODEL_IDS = {"tiny": "tiny-f5", "mid": "mid-f5"}


# --- machine ---------------------------------------------------------------------------------
def bench_device() -> str:
    """The device the server would use here: ``TTS_DEVICE`` (default ``auto``) resolved by the
    server's own rule. Every benchmark runs there unless told otherwise, and the servers the
    benchmarks start are given it explicitly, so direct and served runs share one device."""
    from tts.engine.devices import resolve_device

    return resolve_device(os.environ.get("TTS_DEVICE", "auto"))


def machine_info(device: str | None = None) -> dict[str, str]:
    """Date, cores, CPU model, torch build, device with its name, CUDA version and the
    precision the server would use there, for the results header."""
    import torch

    from tts.engine import devices

    device = device or bench_device()
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                cpu = line.split(":", 1)[1].strip()
                break
    from tts.engine.errors import EngineError

    facts = devices.collect_facts()
    info = devices.device_info(device, facts)
    try:  # what the server's TTS_PRECISION (default auto) resolves to on this device
        chosen = server_precision(device)
        precision = f"{chosen.name} ({chosen.reason}; vocoder float32)"
    except EngineError as exc:
        precision = exc.message
    name = f"{device} ({info['name']}, {info['memory_total_mb']} MB)" if device != "cpu" \
        else device
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "cores": str(os.cpu_count()),
        "cpu": cpu,
        "torch": torch.__version__,
        "cuda": f"{facts.cuda or 'none'} (GPU usable: {'yes' if facts.gpu_usable else 'no'})",
        "torch threads": str(torch.get_num_threads()),
        "device": name,
        "precision": precision,
        "load average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def print_header(title: str, device: str | None = None, **extra: Any) -> None:
    print(f"== {title} ==")
    facts = machine_info(device)
    facts.update({key.replace("_", " "): str(value) for key, value in extra.items()})
    for key, value in facts.items():
        print(f"{key:>14}: {value}")
    print()


def peak_memory_mb(device: str) -> float:
    """Peak memory of this process so far: allocated by torch on a GPU, resident on a CPU."""
    from tts.engine.devices import memory_usage

    return memory_usage(device)[1] or float("nan")


# --- tables and statistics -----------------------------------------------------------------
def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            if value != value:
                return "nan"
            return f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"
        return str(value)

    text = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in text)) if text else len(h)
              for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line)
    print("  ".join("-" * w for w in widths))
    for row in text:
        print("  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)))
    print()


# --- audio ---------------------------------------------------------------------------------
def speak(text: str, path: Path, *, speed: int = 160, pitch: int = 50) -> Path:
    """Speech from espeak-ng, converted to mono 16-bit WAV at 24 kHz."""
    return support_audio.speak(text, path, speed=speed, pitch=pitch, sample_rate=SAMPLE_RATE)


def audio_seconds(path: Path) -> float:
    import soundfile as sf

    return float(sf.info(str(path)).duration)


def decode_wav(data: bytes) -> Any:
    import soundfile as sf

    samples, _ = sf.read(io.BytesIO(data), dtype="float32")
    return samples


# --- models ----------------------------------------------------------------------------------
def prepare_models(folder: Path) -> Path:
    """Tiny models (the project's helper), a mid-size DiT with the full-size Vocos, and a
    models file listing ``tiny-f5``, ``tiny-e2`` and ``mid-f5``. Reuses a finished folder."""
    models_file = folder / "bench-models.toml"
    if models_file.exists():
        return models_file
    import torch

    from tts.engine.tiny import (
        TINY_DIT,
        TINY_UNETT,
        build_cfm,
        models_toml_entry,
        save_checkpoint,
        write_tiny_models,
        write_vocos,
    )

    write_tiny_models(folder)
    write_vocos(folder / "vocos-full", seed=7, dims=FULL_VOCOS_DIMS)
    torch.manual_seed(11)
    save_checkpoint(build_cfm("DiT", MID_DIT), folder / "mid_dit.safetensors")
    note = "Random weights: output is noise. Benchmark only."
    entries = [
        models_toml_entry("tiny-f5", "DiT", "tiny_dit.safetensors", TINY_DIT, description=note),
        models_toml_entry("tiny-e2", "UNetT", "tiny_unett.pt", TINY_UNETT, description=note),
        models_toml_entry("mid-f5", "DiT", "mid_dit.safetensors", MID_DIT,
                          vocoder="vocos-full", description=note),
    ]
    tmp = models_file.with_suffix(".tmp")
    tmp.write_text("# Benchmark models, random weights.\n\n" + "\n".join(entries), encoding="utf-8")
    tmp.replace(models_file)
    return models_file


def server_precision(device: str) -> Any:
    """What the server's TTS_PRECISION (default auto) resolves to on ``device``."""
    from tts.engine.precision import resolve_precision

    return resolve_precision(os.environ.get("TTS_PRECISION", "auto"), device)


def real_size_model(folder: Path, name: str) -> tuple[Path, str]:
    """A models file serving upstream's ``name`` architecture (F5TTS_v1_Base, E2TTS_Base) at
    full size with random weights, upstream's vocab and the full-size Vocos of ``folder``
    (``vocos-full``); the checkpoint is written once. Returns the file and the model id."""
    import torch

    from tts.engine.registry import upstream_arch
    from tts.engine.tiny import build_cfm, models_toml_entry, save_checkpoint, write_vocab

    architecture, config = upstream_arch(name)
    model_id = f"{name.lower()}-random"
    checkpoint = folder / f"{model_id}.safetensors"
    if not checkpoint.exists():
        from importlib.resources import files

        vocab_file = files("f5_tts").joinpath("infer/examples/vocab.txt")
        vocab = [line[:-1] for line in vocab_file.read_text(encoding="utf-8").splitlines(True)]
        write_vocab(folder / "vocab-full.txt", vocab)
        torch.manual_seed(0)
        save_checkpoint(build_cfm(architecture, config, vocab=vocab), checkpoint)
    models_file = folder / f"{model_id}.toml"
    toml_config = {key: value for key, value in config.items() if value is not None}  # no null
    models_file.write_text(models_toml_entry(
        model_id, architecture, checkpoint.name, toml_config, vocab="vocab-full.txt",
        vocoder="vocos-full", description="Random weights (benchmark)."), encoding="utf-8")
    return models_file, model_id


def model_files(folder: Path, model_id: str) -> dict[str, Any]:
    """Checkpoint, vocab, vocoder folder and config of a model in ``bench-models.toml``."""
    import tomllib

    data = tomllib.loads((folder / "bench-models.toml").read_text(encoding="utf-8"))
    entry = next(e for e in data["models"] if e["id"] == model_id)
    return {"architecture": entry["architecture"], "config": dict(entry["config"]),
            "checkpoint": folder / entry["checkpoint"], "vocab": folder / entry["vocab"],
            "vocoder": folder / entry["vocoder"]}


def variant(wav: Path, index: int) -> bytes:
    """The same clip with one sample nudged by one LSB: new content hash, same cost."""
    import numpy as np
    import soundfile as sf

    samples, rate = sf.read(str(wav), dtype="int16")
    samples = samples.copy()
    position = (index * 7919) % len(samples)
    samples[position] = samples[position] + 1 if samples[position] < 32767 else 32766
    buffer = io.BytesIO()
    sf.write(buffer, np.asarray(samples), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def workdir(path: str | None) -> Path:
    """The folder for models and audio: ``--workdir``, ``$BENCH_WORKDIR`` or a new temp dir."""
    chosen = path or os.environ.get("BENCH_WORKDIR")
    folder = Path(chosen) if chosen else Path(tempfile.mkdtemp(prefix="tts-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def stop_on_sigterm() -> None:
    """Turn SIGTERM (``timeout``, ``kill``) into SystemExit so that servers we started are
    stopped by their context managers instead of being orphaned."""

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


# --- the server ----------------------------------------------------------------------------
@dataclass
class Server(LiveServer):
    """The server as ``make serve`` runs it (tests/support/server.py), on the benchmark's
    device, and saying at the end what it ran on (device, CUDA, precision, peak memory)."""

    #: TTS_DEVICE for the server; empty: the benchmark's device (``bench_device()``).
    device: str = ""
    #: The server's own health report, read just before it stops.
    health: dict[str, Any] | None = None

    def env(self) -> dict[str, str]:
        env = super().env()
        if "TTS_DEVICE" not in self.extra_env:
            env["TTS_DEVICE"] = self.device or bench_device()
        return env

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.report_device()
        self.stop()

    def report_device(self) -> None:
        """Print what the server ran on, from its own health report: device, name, CUDA
        version, precision, peak memory (GPU memory on a GPU) and any warning."""
        import requests

        try:
            self.health = requests.get(f"{self.url}/api/tts/health/", timeout=30).json()
            info, build = self.health["device_info"], self.health["torch"]
        except (requests.RequestException, ValueError, KeyError) as exc:
            print(f"server device: unknown ({type(exc).__name__})")
            return
        print(f"server device: {info['device']} ({info['name']}), torch {build['torch']} "
              f"(CUDA {build['cuda'] or 'none'}), {info['precision']}, peak memory "
              f"{info['memory_peak_mb']} MB of {info['memory_total_mb']} MB")
        for warning in self.health.get("warnings", []):
            print(f"server warning: {warning}")


# --- the client ----------------------------------------------------------------------------
@dataclass
class Reply:
    status: int
    seconds: float  # client-measured: request sent until the body is in hand
    body: dict[str, Any] | None
    retry_after: str | None = None
    error: str | None = None  # transport error (connection refused, reset, timeout)


def post_generate(session: Any, url: str, *, ref_audio: bytes, ref_text: str, gen_text: str,
                  model: str, nfe_step: int | None, seed: int | None = 0, timeout: float = 300.0,
                  output_format: str = "wav", quality: str | None = None) -> Reply:
    """One multipart ``POST /api/tts/generate/``; never raises for HTTP or transport errors.
    ``nfe_step`` None leaves the steps to ``quality`` (or the server's default)."""
    import requests

    data = {"ref_text": ref_text, "gen_text": gen_text, "model": model,
            "output_format": output_format}
    if nfe_step is not None:
        data["nfe_step"] = str(nfe_step)
    if quality is not None:
        data["quality"] = quality
    if seed is not None:
        data["seed"] = str(seed)
    started = time.perf_counter()
    try:
        response = session.post(f"{url}/api/tts/generate/", data=data, timeout=timeout,
                                files={"ref_audio": ("ref.wav", ref_audio, "audio/wav")})
        body = response.json() if response.content else None
    except requests.RequestException as exc:
        return Reply(0, time.perf_counter() - started, None, error=type(exc).__name__)
    except ValueError:
        body = None
    return Reply(response.status_code, time.perf_counter() - started, body,
                 retry_after=response.headers.get("Retry-After"))


def reply_samples(reply: Reply) -> Any:
    """The generated samples of a 200 reply (base64 → WAV → float32)."""
    assert reply.body is not None
    return decode_wav(base64.b64decode(reply.body["audio"]))


# --- upstream's own API, without its hub downloads -------------------------------------------
class DirectF5:
    """What ``f5_tts.api.F5TTS(...).infer(...)`` does, with local weights: ``load_vocoder``
    and ``load_model`` once; per call ``seed_everything``, ``preprocess_ref_audio_text``
    (cached by MD5 in-process after the first call) and ``infer_process``."""

    def __init__(self, files: dict[str, Any], device: str | None = None):
        from f5_tts.infer.utils_infer import load_model, load_vocoder
        from f5_tts.model import DiT, UNetT

        device = device or bench_device()  # the server's device, so both sides match
        self.device = device
        with silenced():
            self.vocoder = load_vocoder("vocos", is_local=True, local_path=str(files["vocoder"]),
                                        device=device)
            backbone = {"DiT": DiT, "UNetT": UNetT}[files["architecture"]]
            self.model = load_model(backbone, files["config"], str(files["checkpoint"]),
                                    mel_spec_type="vocos", vocab_file=str(files["vocab"]),
                                    device=device)
        from tts.engine.precision import autocast_forward, weight_dtype

        # The server's precision, applied as the server does, so both sides do the same work.
        chosen = server_precision(device)
        self.model = self.model.to(weight_dtype(chosen, device))
        autocast_forward(self.model.transformer, chosen, device)

    def infer(self, ref_file: Path, ref_text: str, gen_text: str, *, nfe_step: int,
              seed: int) -> tuple[Any, int]:
        from f5_tts.infer.utils_infer import infer_process, preprocess_ref_audio_text
        from f5_tts.model.utils import seed_everything

        with silenced():
            seed_everything(seed)
            ref_path, ref_text = preprocess_ref_audio_text(str(ref_file), ref_text)
            wave, sample_rate, _ = infer_process(ref_path, ref_text, gen_text, self.model,
                                                 self.vocoder, mel_spec_type="vocos",
                                                 nfe_step=nfe_step, device=self.device)
        return wave, sample_rate


@contextlib.contextmanager
def silenced() -> Iterator[None]:
    """Upstream prints (vocab, ref_text, chunks) and draws tqdm bars: keep the tables clean."""
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), \
            contextlib.redirect_stderr(sink):
        yield


def upstream_ref_cache_clear() -> None:
    """Forget upstream's in-process preprocessing cache (its temp wavs are left on disk by
    upstream; we delete the ones we made it write)."""
    from f5_tts.infer import utils_infer

    for path in utils_infer._ref_audio_cache.values():
        with contextlib.suppress(OSError):
            os.unlink(path)
    utils_infer._ref_audio_cache.clear()


@dataclass
class StreamTiming:
    status: int
    first_audio: float  # request sent until the first audio byte arrived
    total: float  # until the last byte
    audio_bytes: int
    #: (seconds since the request was sent, bytes) of every piece of the body as it came.
    arrivals: list[tuple[float, int]] = field(default_factory=list)

    def underruns(self, bytes_per_second: int = 2 * SAMPLE_RATE) -> Any:
        """A listener playing the body at real time from its first byte (raw pcm: 16-bit
        mono at 24 kHz): tts.engine.pacing's PlaybackClock after every piece."""
        from tts.engine.pacing import count_underruns

        return count_underruns((at, size / bytes_per_second) for at, size in self.arrivals)


def post_stream(url: str, *, ref_audio: bytes, ref_text: str, gen_text: str, model: str,
                nfe_step: int, seed: int = 0, timeout: float = 600.0,
                stop_after_first: bool = False, headers: dict[str, str] | None = None,
                output_format: str = "pcm") -> StreamTiming:
    """One ``stream=true`` request, by default for raw pcm (so every body byte is audio), timed
    to the first byte and to the end; ``stop_after_first`` hangs up after the first piece."""
    import requests

    data = {"ref_text": ref_text, "gen_text": gen_text, "model": model,
            "nfe_step": str(nfe_step), "seed": str(seed), "stream": "true",
            "output_format": output_format}
    started = time.perf_counter()
    first, received, arrivals = float("nan"), 0, []
    with requests.post(f"{url}/api/tts/generate/", data=data, stream=True, timeout=timeout,
                       headers={"Accept": "audio/*", **(headers or {})},
                       files={"ref_audio": ("ref.wav", ref_audio, "audio/wav")}) as response:
        for piece in response.iter_content(chunk_size=None):
            if piece and received == 0:
                first = time.perf_counter() - started
            if piece:
                arrivals.append((time.perf_counter() - started, len(piece)))
            received += len(piece)
            if stop_after_first and received:
                break
        status = response.status_code
    return StreamTiming(status, first, time.perf_counter() - started, received, arrivals)
