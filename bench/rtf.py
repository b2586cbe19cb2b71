"""Real-time factor of the real-size architectures: F5TTS_v1_Base (DiT, 337 M parameters) and
E2TTS_Base (UNetT, 333 M) with the full-size Vocos, built with random weights (the weights
do not change the cost), for a 5 s output after a short reference.

The generation is upstream's own path: ``preprocess_ref_audio_text`` then ``infer_process``
with ``fix_duration`` = reference + 5 s, at each ``--nfe`` and each ``--precisions`` (applied
as the server applies TTS_PRECISION: tts.engine.precision). On CUDA float16 is upstream's
float16 weights; bfloat16 (and float16 on a CPU) is autocast around the transformer alone.
Every precision other than float32 also reports the relative error of its mel-spectrogram
against the float32 one of the same seed and nfe: ||mel - mel_fp32|| / ||mel_fp32||.

On a 2-core CPU one NFE step of F5TTS_v1_Base costs seconds, so the CPU default is bounded:
nfe 8 and 16, one round each, and a time budget after which further runs are skipped.

    .venv/bin/python bench/rtf.py                                   # CPU, bounded
    .venv/bin/python bench/rtf.py --models F5TTS_v1_Base --nfe 8 --rounds 1
    .venv/bin/python bench/rtf.py --device cuda                     # nfe 8 16 32, 3 rounds
    .venv/bin/python bench/rtf.py --precisions float32 bfloat16 --nfe 7 16 32
    .venv/bin/python bench/rtf.py --server --models F5TTS_v1_Base --quality fast

``--server`` measures end to end instead: the server (`make serve`'s) with a real-size random
checkpoint, one POST /api/tts/generate/ per precision (TTS_PRECISION) at ``--quality``: text
prep, sampling, vocoder and WAV encoding, as a client sees it (reference preparation excluded:
the reference is sent once first to warm the server's cache).
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

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


def build_model(name: str, device: str, seed: int = 0, precision: str = "") -> tuple[Any, int]:
    """A real-size CFM as upstream's ``load_model`` builds it (upstream's config and vocab),
    with random weights; returns the model and its parameter count."""
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
        from tts.engine.precision import autocast_forward, resolve_precision, weight_dtype

        chosen = resolve_precision(precision, device)
        model = model.to(weight_dtype(chosen, device)).to(device).eval()
        autocast_forward(model.transformer, chosen, device)
    else:
        model = model.to(upstream_dtype(device)).to(device).eval()
    return model, params


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
    """End to end through a live server, once per precision."""
    import requests
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
    clip = (folder / "rtf-ref.wav").read_bytes()
    rows = []
    for precision in args.precisions:
        env = {"TTS_PRECISION": "auto" if precision == "upstream" else precision}
        with common.Server(models_file, preload=[model_id], default_model=model_id,
                           extra_env=env, start_timeout=900) as server, \
                requests.Session() as session:
            compute = session.get(f"{server.url}/api/tts/health/", timeout=30).json()["compute"]
            # Warm the reference cache (and the first-call paths) with a short request.
            common.post_generate(session, server.url, ref_audio=clip, ref_text=common.REF_TEXT,
                                 gen_text="Hi.", model=model_id, nfe_step=4, timeout=3600)
            reply = common.post_generate(session, server.url, ref_audio=clip,
                                         ref_text=common.REF_TEXT, gen_text=common.GEN_TEXT,
                                         model=model_id, nfe_step=None, quality=args.quality,
                                         timeout=3600)
            if reply.status != 200:
                raise RuntimeError(f"generate answered {reply.status}: {reply.body}")
            body = reply.body or {}
            rows.append([name, compute["precision"], body["parameters"]["nfe_step"], 1,
                         body["duration"], reply.seconds, reply.seconds / body["duration"],
                         float("nan"), "-", "-"])
            print(f"{name} server {compute['precision']} ({compute['precision_reason']}), "
                  f"quality {args.quality}: {reply.seconds:.2f} s wall for "
                  f"{body['duration']:.2f} s of audio (RTF {reply.seconds / body['duration']:.3f};"
                  f" server inference {body['timing']['inference_seconds']:.2f} s)")
    walls = {row[1]: row[5] for row in rows}
    for row in rows:
        row[7] = walls.get("float32", float("nan")) / row[5]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default=None,
                        help="cpu, cuda or cuda:N (default: the server's, from TTS_DEVICE)")
    parser.add_argument("--models", nargs="+", choices=ARCHITECTURES, default=list(ARCHITECTURES))
    parser.add_argument("--nfe", nargs="+", type=int, default=None,
                        help="default: 7 16 on cpu, 7 16 32 on cuda")
    parser.add_argument("--precisions", nargs="+", default=["float32", "bfloat16"],
                        choices=["float32", "bfloat16", "float16", "upstream"],
                        help="upstream: upstream's own choice (fp16 on CUDA, else fp32)")
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

    import torch

    from tts.engine.devices import resolve_device
    from tts.engine.errors import ModelUnavailable

    try:
        args.device = resolve_device(args.device) if args.device else common.bench_device()
    except ModelUnavailable as exc:
        parser.error(f"--device: {exc.message}")
    on_cuda = args.device.startswith("cuda")
    nfes = args.nfe or ([7, 16, 32] if on_cuda else [7, 16])
    rounds = args.rounds or (3 if on_cuda else 1)
    budget = args.budget if args.budget is not None else (float("inf") if on_cuda else 900.0)
    from tts.engine.precision import CPU_BF16_FLAGS, cpu_feature

    common.print_header("bench/rtf.py: real-time factor of the real-size architectures",
                        device=args.device, models=" ".join(args.models),
                        nfe=" ".join(map(str, nfes)), precisions=" ".join(args.precisions),
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
    for name in args.models if args.server else ():
        rows += server_rows(args, folder, name)
    for name in () if args.server else args.models:
        mels: dict[int, Any] = {}  # nfe -> float32 mel, for the error of the others
        walls32: dict[int, float] = {}
        for precision in args.precisions:
            build_started = time.perf_counter()
            model, params = build_model(name, args.device,
                                        precision="" if precision == "upstream" else precision)
            build = time.perf_counter() - build_started
            # Warm-up: 2 steps for 1 s of output; scaled to the full sequence, it also gives
            # the per-step estimate the budget check uses (an overestimate: fixed costs scale).
            warm, _, _ = generate(model, vocoder, ref_path, ref_text, nfe=2, device=args.device,
                                  output_seconds=WARMUP_SECONDS)
            per_step = warm / 2 * (ref_seconds + args.seconds) / (ref_seconds + WARMUP_SECONDS)
            print(f"{name} {precision}: {params / 1e6:.1f} M parameters, built in {build:.1f} s;"
                  f" warm-up (nfe 2, {WARMUP_SECONDS:g} s) {warm:.2f} s: about "
                  f"{per_step:.2f} s per step")
            for nfe in nfes:
                estimate = per_step * nfe * rounds * BUDGET_MARGIN
                if time.monotonic() - started + estimate > budget:
                    print(f"  nfe {nfe}: skipped, about {estimate:.0f} s would pass the "
                          f"{budget:.0f} s budget")
                    rows.append([name, precision, nfe, 0, float("nan"), float("nan"),
                                 float("nan"), float("nan"), "skipped", "-"])
                    continue
                walls, output, mel = [], 0.0, None
                reset_peak_memory(args.device)
                for _ in range(rounds):
                    wall, output, mel = generate(model, vocoder, ref_path, ref_text, nfe=nfe,
                                                 device=args.device, output_seconds=args.seconds)
                    walls.append(wall)
                wall = common.median(walls)
                if precision == "float32":
                    mels[nfe], walls32[nfe] = mel, wall
                error = (f"{relative_error(mel, mels[nfe]):.4f}"
                         if precision != "float32" and nfe in mels else "-")
                speedup = walls32[nfe] / wall if nfe in walls32 else float("nan")
                rows.append([name, precision, nfe, rounds, output, wall, wall / output, speedup,
                             f"{peak_memory_gb(args.device):.2f}", error])
                print(f"  nfe {nfe}: {wall:.2f} s for {output:.2f} s of audio "
                      f"(RTF {wall / output:.3f}, mel rel. error vs float32 {error})")
            del model
            gc.collect()
            if on_cuda:
                torch.cuda.empty_cache()
    common.upstream_ref_cache_clear()
    print()
    common.print_table(["model", "precision", "nfe", "rounds", "audio s", "wall s (median)",
                        "RTF", "speed-up vs fp32", "peak mem GB", "mel rel. err vs fp32"], rows)
    print("RTF = wall seconds / seconds of audio generated (below 1: faster than real time); "
          "wall includes text prep, sampling and the vocoder, not reference preprocessing. "
          "Peak memory: the process's peak RSS during that run (CPU) or CUDA's peak allocation.")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for row in rows:
        if row[3]:
            print(f"RATIO rtf {row[0]} {row[1]} nfe {row[2]} ({args.device}): {row[6]:.3f}")
        if row[3] and row[7] == row[7] and row[1] != "float32":
            print(f"RATIO speedup {row[0]} {row[1]} vs float32 nfe {row[2]}: {row[7]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
