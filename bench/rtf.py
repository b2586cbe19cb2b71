"""Real-time factor of the real-size architectures: F5TTS_v1_Base (DiT, 337 M parameters) and
E2TTS_Base (UNetT, 333 M) with the full-size Vocos, built with random weights (the weights
do not change the cost), for a 5 s output after a short reference.

The generation is upstream's own path: ``preprocess_ref_audio_text`` then ``infer_process``
with ``fix_duration`` = reference + 5 s, at each ``--nfe`` and each ``--precisions`` (applied
as the server applies TTS_PRECISION: tts.engine.precision). On CUDA float16 is upstream's
float16 weights; bfloat16 (and float16 on a CPU) is autocast around the transformer alone.
Every precision other than float32 also reports the relative error of its mel-spectrogram
against the float32 one of the same seed and nfe: ||mel - mel_fp32|| / ||mel_fp32|| (and
against bfloat16's, when bfloat16 is among the variants). ``int8`` is TTS_PRECISION=int8:
the transformer's linear layers dynamically quantised (CPU only).

A variant is a precision, optionally with ``+compile`` (TTS_COMPILE: the transformer's layers
compiled by torch.compile when the model is built; the compile time is reported). All
variants of a model are built first and then run in turn at each nfe, in an order that
rotates, so that a machine whose load drifts (a shared one) hits them alike: the ratios
between variants are the figures to trust there.

On a 2-core CPU one NFE step of F5TTS_v1_Base costs seconds, so the CPU default is bounded:
nfe 7 and 16, one round each, and a time budget after which further runs are skipped.

    .venv/bin/python -m bench.rtf                                   # CPU, bounded
    .venv/bin/python -m bench.rtf --models F5TTS_v1_Base --nfe 8 --rounds 1
    .venv/bin/python -m bench.rtf --device cuda                     # nfe 8 16 32, 3 rounds
    .venv/bin/python -m bench.rtf --precisions float32 bfloat16 bfloat16+compile --nfe 7 16 32
    .venv/bin/python -m bench.rtf --models F5TTS_v1_Base --precisions float32 bfloat16 int8 --nfe 7
    .venv/bin/python -m bench.rtf --server --models F5TTS_v1_Base --quality fast

``--server`` measures end to end instead: one server (`make serve`'s) per variant
(TTS_PRECISION, TTS_COMPILE), all started first with a real-size random checkpoint, then
``--rounds`` POST /api/tts/generate/ to each in turn at ``--quality``: text prep, sampling,
vocoder and WAV encoding, as a client sees it (reference preparation excluded: the reference
is sent once first to warm each server's cache).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

from bench import common

ARCHITECTURES = ("F5TTS_v1_Base", "E2TTS_Base")
OUTPUT_SECONDS = 5.0
WARMUP_SECONDS = 1.0
#: The warm-up estimate runs short; a shared machine can be slower still.
BUDGET_MARGIN = 1.5


def upstream_dtype(device: str) -> Any:
    """fp16 on CUDA with compute capability >= 7, else fp32: upstream's ``load_checkpoint``."""
    import torch

    if device.startswith("cuda") and torch.cuda.get_device_properties(device).major >= 7:
        return torch.float16
    return torch.float32


def split_variant(variant: str) -> tuple[str, bool]:
    """``bfloat16+compile`` -> (``bfloat16``, True)."""
    precision, _, extra = variant.partition("+")
    return precision, extra == "compile"


def build_model(name: str, device: str, seed: int = 0, precision: str = "",
                compile_layers: bool = False) -> tuple[Any, int]:
    """A real-size CFM as upstream's ``load_model`` builds it (upstream's config and vocab),
    with random weights, in ``precision`` as the server applies it (and compiled as
    TTS_COMPILE does); returns the model and its parameter count."""
    from importlib.resources import files

    import torch

    from tts.engine.registry import upstream_arch
    from tts.engine.tiny import build_cfm

    architecture, config = upstream_arch(name)
    vocab_file = files("f5_tts").joinpath("infer/examples/vocab.txt")
    vocab = [line[:-1] for line in vocab_file.read_text(encoding="utf-8").splitlines(True)]
    torch.manual_seed(seed)
    model = build_cfm(architecture, config, vocab=vocab)
    params = sum(p.numel() for p in model.parameters())
    if precision:
        from tts.engine.precision import apply_precision, resolve_precision, weight_dtype

        chosen = resolve_precision(precision, device)
        model = model.to(weight_dtype(chosen, device)).to(device).eval()
        apply_precision(model.transformer, chosen, device)
    else:
        model = model.to(upstream_dtype(device)).to(device).eval()
    if compile_layers:
        from tts.engine.compiler import compile_transformer

        compile_transformer(model.transformer, model_id=name)
    return model, params


def module_gb(module: Any) -> float:
    from tts.engine.devices import module_megabytes

    return module_megabytes(module) / 1024


def resident_gb() -> float:
    from tts.engine.devices import memory_usage

    used = memory_usage("cpu")[0]
    return used / 1024 if used is not None else float("nan")


def generate(model: Any, vocoder: Any, ref_path: str, ref_text: str, *, nfe: int,
             device: str, output_seconds: float) -> tuple[float, float, Any]:
    """One generation; returns (wall seconds, output seconds, mel-spectrogram)."""
    import torch
    from f5_tts.infer.utils_infer import infer_process
    from f5_tts.model.utils import seed_everything

    ref_seconds = common.audio_seconds(Path(ref_path))
    with common.silenced():
        seed_everything(0)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        started = time.perf_counter()
        wave, sample_rate, mel = infer_process(
            ref_path, ref_text, common.GEN_TEXT, model, vocoder, mel_spec_type="vocos",
            nfe_step=nfe, fix_duration=ref_seconds + output_seconds, device=device)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        wall = time.perf_counter() - started
    return wall, len(wave) / sample_rate, mel


def relative_error(mel: Any, reference: Any) -> float:
    import numpy as np

    return float(np.linalg.norm(mel - reference) / np.linalg.norm(reference))


def reset_peak_memory(device: str) -> None:
    """CUDA's peak counter, or the process's peak RSS (Linux: ``clear_refs`` 5 resets VmHWM)."""
    import torch

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
        return
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)  # freed memory back, so RSS is what is live
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_memory_gb(device: str) -> float:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**30
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def server_rows(args: Any, folder: Path, name: str) -> list[list[Any]]:
    """End to end through live servers, one per variant, all up at once and asked in turn."""
    import requests

    models_file, model_id = common.real_size_model(folder, name)
    clip = (folder / "rtf-ref.wav").read_bytes()
    walls: dict[str, list[float]] = {variant: [] for variant in args.precisions}
    served: dict[str, dict[str, Any]] = {}
    with contextlib.ExitStack() as stack:
        servers = {}
        for variant in args.precisions:
            precision, compiled = split_variant(variant)
            env = {"TTS_PRECISION": "auto" if precision == "upstream" else precision,
                   "TTS_COMPILE": "1" if compiled else "0",
                   "TTS_COMPILE_CACHE_DIR": str(folder / "compile-cache")}
            started = time.perf_counter()
            server = stack.enter_context(common.Server(
                models_file, preload=[model_id], default_model=model_id, extra_env=env,
                start_timeout=1800))
            session = stack.enter_context(requests.Session())
            compute = session.get(f"{server.url}/api/tts/health/", timeout=30).json()["compute"]
            # Warm the reference cache (and the first-call paths) with a short request.
            common.post_generate(session, server.url, ref_audio=clip, ref_text=common.REF_TEXT,
                                 gen_text="Hi.", model=model_id, nfe_step=4, timeout=3600)
            servers[variant] = (server, session)
            print(f"{name} server {variant}: {compute['precision']} "
                  f"({compute['precision_reason']}), compile {compute.get('compile')}, up and "
                  f"warm in {time.perf_counter() - started:.1f} s")
        for round_index in range(args.rounds):
            order = args.precisions if round_index % 2 == 0 else args.precisions[::-1]
            for variant in order:
                server, session = servers[variant]
                reply = common.post_generate(session, server.url, ref_audio=clip,
                                             ref_text=common.REF_TEXT, gen_text=common.GEN_TEXT,
                                             model=model_id, nfe_step=None,
                                             quality=args.quality, timeout=3600)
                if reply.status != 200:
                    raise RuntimeError(f"generate answered {reply.status}: {reply.body}")
                body = reply.body or {}
                walls[variant].append(reply.seconds)
                served[variant] = body
                print(f"  round {round_index + 1} {variant}, quality {args.quality}: "
                      f"{reply.seconds:.2f} s wall for {body['duration']:.2f} s of audio "
                      f"(RTF {reply.seconds / body['duration']:.3f}; server inference "
                      f"{body['timing']['inference_seconds']:.2f} s)", flush=True)
        memory: dict[str, tuple[float, float]] = {}
        for variant, (server, session) in servers.items():
            model = session.get(f"{server.url}/api/tts/models/{model_id}/", timeout=30).json()
            health = session.get(f"{server.url}/api/tts/health/", timeout=30).json()
            memory[variant] = (model["weights_mb"] / 1024,
                               health["device_info"]["memory_used_mb"] / 1024)
            print(f"{variant} server: weights {memory[variant][0]:.2f} GB, resident memory "
                  f"after the runs {memory[variant][1]:.2f} GB")
    rows = []
    base = common.median(walls.get("float32", []))
    for variant in args.precisions:
        wall, body = common.median(walls[variant]), served[variant]
        bf16 = common.median(walls.get("bfloat16", []))
        rows.append([name, variant, body["parameters"]["nfe_step"], len(walls[variant]),
                     body["duration"], wall, wall / body["duration"], base / wall, bf16 / wall,
                     f"{memory[variant][0]:.2f}", f"RSS {memory[variant][1]:.2f}", "-", "-"])
    return rows


def direct_rows(args: Any, name: str, vocoder: Any, ref_path: str, ref_text: str,
                ref_seconds: float, nfes: list[int], rounds: int, budget: float,
                started: float) -> list[list[Any]]:
    """Every variant of one architecture built, then run in turn at each nfe."""
    import torch

    models: dict[str, Any] = {}
    per_step: dict[str, float] = {}
    weights: dict[str, float] = {}
    for variant in args.precisions:
        precision, compiled = split_variant(variant)
        build_started = time.perf_counter()
        model, params = build_model(name, args.device, compile_layers=compiled,
                                    precision="" if precision == "upstream" else precision)
        build = time.perf_counter() - build_started
        # Warm-up: 2 steps for 1 s of output, twice (the first pays first-call costs); the
        # second, scaled to the full sequence, gives the per-step estimate the budget check
        # uses until a real run measures it (an overestimate: fixed costs scale).
        for _ in range(2):
            warm, _, _ = generate(model, vocoder, ref_path, ref_text, nfe=2,
                                  device=args.device, output_seconds=WARMUP_SECONDS)
        per_step[variant] = warm / 2 * (ref_seconds + args.seconds) / (ref_seconds +
                                                                      WARMUP_SECONDS)
        models[variant], weights[variant] = model, module_gb(model)
        print(f"{name} {variant}: {params / 1e6:.1f} M parameters ({weights[variant]:.2f} GB), "
              f"built{' and compiled' if compiled else ''} in {build:.1f} s; warm-up (nfe 2, "
              f"{WARMUP_SECONDS:g} s) {warm:.2f} s: about {per_step[variant]:.2f} s per step",
              flush=True)
    results: dict[tuple[str, int], tuple[float, float, Any, float]] = {}
    for index, nfe in enumerate(nfes):
        shift = index % len(args.precisions)
        order = args.precisions[shift:] + args.precisions[:shift]
        for variant in order:
            estimate = per_step[variant] * nfe * rounds * BUDGET_MARGIN
            if time.monotonic() - started + estimate > budget:
                print(f"  {variant} nfe {nfe}: skipped, about {estimate:.0f} s would pass the "
                      f"{budget:.0f} s budget")
                continue
            walls, output, mel = [], 0.0, None
            reset_peak_memory(args.device)
            before = resident_gb()
            for _ in range(rounds):
                wall, output, mel = generate(models[variant], vocoder, ref_path, ref_text,
                                             nfe=nfe, device=args.device,
                                             output_seconds=args.seconds)
                walls.append(wall)
            working = max(peak_memory_gb(args.device) - (0 if args.device.startswith("cuda")
                                                         else before), 0.0)
            results[variant, nfe] = (common.median(walls), output, mel, working)
            per_step[variant] = common.median(walls) / nfe  # measured: better than warm-up's
            print(f"  {variant} nfe {nfe}: {common.median(walls):.2f} s for {output:.2f} s of "
                  f"audio (load {os.getloadavg()[0]:.2f})", flush=True)
    rows = []
    for variant in args.precisions:
        for nfe in nfes:
            if (variant, nfe) not in results:
                rows.append([name, variant, nfe, 0, float("nan"), float("nan"), float("nan"),
                             float("nan"), float("nan"), f"{weights[variant]:.2f}", "skipped",
                             "-", "-"])
                continue
            wall, output, mel, working = results[variant, nfe]
            base = results.get(("float32", nfe))
            error = (f"{relative_error(mel, base[2]):.4f}"
                     if base is not None and variant != "float32" else "-")
            bf16 = results.get(("bfloat16", nfe))
            bf16_error = (f"{relative_error(mel, bf16[2]):.4f}"
                          if bf16 is not None and variant != "bfloat16" else "-")
            speedup = base[0] / wall if base is not None else float("nan")
            bf16_speedup = bf16[0] / wall if bf16 is not None else float("nan")
            rows.append([name, variant, nfe, rounds, output, wall, wall / output, speedup,
                         bf16_speedup, f"{weights[variant]:.2f}", f"{working:.3f}", error,
                         bf16_error])
    del models
    gc.collect()
    if args.device.startswith("cuda"):
        torch.cuda.empty_cache()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default=None,
                        help="cpu, cuda or cuda:N (default: the server's, from TTS_DEVICE)")
    parser.add_argument("--models", nargs="+", choices=ARCHITECTURES, default=list(ARCHITECTURES))
    parser.add_argument("--nfe", nargs="+", type=int, default=None,
                        help="default: 7 16 on cpu, 7 16 32 on cuda")
    parser.add_argument("--precisions", nargs="+", default=["float32", "bfloat16"],
                        choices=[f"{name}{extra}" for name in ("float32", "bfloat16", "float16",
                                                               "upstream")
                                 for extra in ("", "+compile")] + ["int8"],
                        help="variants; upstream: upstream's own choice (fp16 on CUDA, else "
                             "fp32); int8: TTS_PRECISION=int8 (CPU); +compile: also "
                             "TTS_COMPILE=1")
    parser.add_argument("--rounds", type=int, default=None, help="default: 1 on cpu, 3 on cuda")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds; runs that would end later are skipped "
                             "(default: 900 on cpu, none on cuda)")
    parser.add_argument("--seconds", type=float, default=OUTPUT_SECONDS, help="output length")
    parser.add_argument("--workdir", help="vocoder and audio (default: $BENCH_WORKDIR or temp)")
    parser.add_argument("--server", action="store_true",
                        help="end to end through a live server instead (see above)")
    parser.add_argument("--quality", default="fast", choices=["fast", "balanced", "best"],
                        help="the preset --server asks for")
    args = parser.parse_args(argv)
    common.stop_on_sigterm()


    from tts.engine.devices import resolve_device
    from tts.engine.errors import ModelUnavailable

    try:
        args.device = resolve_device(args.device) if args.device else common.bench_device()
    except ModelUnavailable as exc:
        parser.error(f"--device: {exc.message}")
    on_cuda = args.device.startswith("cuda")
    args.rounds = args.rounds or (3 if on_cuda else 1)
    nfes = args.nfe or ([7, 16, 32] if on_cuda else [7, 16])
    rounds = args.rounds
    budget = args.budget if args.budget is not None else (float("inf") if on_cuda else 900.0)
    from tts.engine.precision import CPU_BF16_FLAGS, cpu_feature

    common.print_header("bench/rtf.py: real-time factor of the real-size architectures",
                        device=args.device, models=" ".join(args.models),
                        nfe=f"quality {args.quality} (--server)" if args.server
                        else " ".join(map(str, nfes)), precisions=" ".join(args.precisions),
                        rounds=rounds, budget_s=budget,
                        cpu_bf16=cpu_feature(CPU_BF16_FLAGS) or "none (no amx_bf16/avx512_bf16)")

    from f5_tts.infer.utils_infer import load_vocoder, preprocess_ref_audio_text

    from tts.engine.tiny import write_vocos

    folder = common.workdir(args.workdir)
    vocos_dir = folder / "vocos-full"
    if not (vocos_dir / "pytorch_model.bin").exists():
        write_vocos(vocos_dir, seed=7, dims=common.FULL_VOCOS_DIMS)
    with common.silenced():
        vocoder = load_vocoder("vocos", is_local=True, local_path=str(vocos_dir),
                               device=args.device)
        clip = common.speak(common.REF_TEXT, folder / "rtf-ref.wav")
        ref_path, ref_text = preprocess_ref_audio_text(str(clip), common.REF_TEXT)
    ref_seconds = common.audio_seconds(Path(ref_path))
    print(f"reference: {ref_seconds:.2f} s after upstream's "
          f"preprocessing; output fixed at {args.seconds:g} s; full-size Vocos (random)\n")

    started = time.monotonic()
    rows: list[list[Any]] = []
    for name in args.models:
        if args.server:
            rows += server_rows(args, folder, name)
        else:
            rows += direct_rows(args, name, vocoder, ref_path, ref_text, ref_seconds, nfes,
                                rounds, budget, started)
    common.upstream_ref_cache_clear()
    print()
    common.print_table(["model", "variant", "nfe", "rounds", "audio s", "wall s (median)",
                        "RTF", "speed-up vs fp32", "speed-up vs bf16", "weights GB",
                        "working peak GB", "mel rel. err vs fp32", "mel rel. err vs bf16"],
                       rows)
    print("RTF = wall seconds / seconds of audio generated (below 1: faster than real time); "
          "wall includes text prep, sampling and the vocoder, not reference preprocessing "
          "(--server: the client's round trip). Weights: the model's parameters in memory. "
          "Working peak: on a CPU the process's peak RSS during the run minus its RSS before "
          "it (activations, vocoder work); on CUDA the peak allocation; with --server, the "
          "server's whole resident memory after the runs (RSS).")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for row in rows:
        if row[3]:
            print(f"RATIO rtf {row[0]} {row[1]} nfe {row[2]} ({args.device}): {row[6]:.3f}")
        if row[3] and row[7] == row[7] and row[1] != "float32":
            print(f"RATIO speedup {row[0]} {row[1]} vs float32 nfe {row[2]}: {row[7]:.3f}")
        if row[3] and row[8] == row[8] and row[1] != "bfloat16":
            print(f"RATIO speedup {row[0]} {row[1]} vs bfloat16 nfe {row[2]}: {row[8]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
