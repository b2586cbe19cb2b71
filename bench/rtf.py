"""Real-time factor of the real-size architectures: F5TTS_v1_Base (DiT, 337 M parameters) and
E2TTS_Base (UNetT, 333 M) with the full-size Vocos, built with random weights (the weights
do not change the cost), for a 5 s output after a short reference.

The generation is upstream's own path: ``preprocess_ref_audio_text`` then ``infer_process``
with ``fix_duration`` = reference + 5 s, at each ``--nfe``. The device is the server's
(``TTS_DEVICE``, default auto: the GPU when one is usable) and the model runs in the precision
the server would use there (``tts.engine.devices.model_dtype``: fp16 on CUDA with compute
capability 7 or more), the vocoder in fp32. The header names the device, the GPU and the CUDA
version; the table gives each model's peak GPU memory on CUDA.

On a 2-core CPU one NFE step of F5TTS_v1_Base costs seconds, so the CPU default is bounded:
nfe 8 and 16, one round each, and a time budget after which further runs are skipped.

    .venv/bin/python bench/rtf.py                 # the server's device; on a CPU bounded
    .venv/bin/python bench/rtf.py --models F5TTS_v1_Base --nfe 8 --rounds 1
    .venv/bin/python bench/rtf.py --device cpu    # on a GPU machine, the CPU anyway
"""

from __future__ import annotations

import argparse
import gc
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


def server_dtype(device: str) -> Any:
    """The dtype the server loads models in on ``device`` (one function decides it)."""
    from tts.engine.devices import model_dtype

    return model_dtype(device)


def build_model(name: str, device: str, seed: int = 0) -> tuple[Any, int]:
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
    model = model.to(server_dtype(device)).to(device).eval()
    return model, params


def generate(model: Any, vocoder: Any, ref_path: str, ref_text: str, *, nfe: int,
             device: str, output_seconds: float) -> tuple[float, float]:
    """One generation; returns (wall seconds, output seconds)."""
    import torch
    from f5_tts.infer.utils_infer import infer_process
    from f5_tts.model.utils import seed_everything

    ref_seconds = common.audio_seconds(Path(ref_path))
    with common.silenced():
        seed_everything(0)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        started = time.perf_counter()
        wave, sample_rate, _ = infer_process(
            ref_path, ref_text, common.GEN_TEXT, model, vocoder, mel_spec_type="vocos",
            nfe_step=nfe, fix_duration=ref_seconds + output_seconds, device=device)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        wall = time.perf_counter() - started
    return wall, len(wave) / sample_rate


def peak_memory_gb(device: str) -> float:
    """Peak GPU memory allocated by torch (reset per model) on CUDA; peak RSS on a CPU."""
    return common.peak_memory_mb(device) / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default=None,
                        help="cpu, cuda or cuda:N (default: the server's, from TTS_DEVICE)")
    parser.add_argument("--models", nargs="+", choices=ARCHITECTURES, default=list(ARCHITECTURES))
    parser.add_argument("--nfe", nargs="+", type=int, default=None,
                        help="default: 8 16 on cpu, 8 16 32 on cuda")
    parser.add_argument("--rounds", type=int, default=None, help="default: 1 on cpu, 3 on cuda")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds; runs that would end later are skipped "
                             "(default: 900 on cpu, none on cuda)")
    parser.add_argument("--seconds", type=float, default=OUTPUT_SECONDS, help="output length")
    parser.add_argument("--workdir", help="vocoder and audio (default: $BENCH_WORKDIR or temp)")
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
    nfes = args.nfe or ([8, 16, 32] if on_cuda else [8, 16])
    rounds = args.rounds or (3 if on_cuda else 1)
    budget = args.budget if args.budget is not None else (float("inf") if on_cuda else 900.0)
    common.print_header("bench/rtf.py: real-time factor of the real-size architectures",
                        device=args.device, models=" ".join(args.models),
                        nfe=" ".join(map(str, nfes)), rounds=rounds, budget_s=budget)

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
        if on_cuda:
            torch.cuda.reset_peak_memory_stats(args.device)
        build_started = time.perf_counter()
        model, params = build_model(name, args.device)
        build = time.perf_counter() - build_started
        # Warm-up: 2 steps for 1 s of output; scaled to the full sequence, it also gives the
        # per-step estimate the budget check uses (an overestimate: fixed costs scale too).
        warm, _ = generate(model, vocoder, ref_path, ref_text, nfe=2, device=args.device,
                           output_seconds=WARMUP_SECONDS)
        per_step = warm / 2 * (ref_seconds + args.seconds) / (ref_seconds + WARMUP_SECONDS)
        print(f"{name}: {params / 1e6:.1f} M parameters, built in {build:.1f} s; warm-up "
              f"(nfe 2, {WARMUP_SECONDS:g} s) {warm:.2f} s: about {per_step:.2f} s per step")
        for nfe in nfes:
            estimate = per_step * nfe * rounds * BUDGET_MARGIN
            if time.monotonic() - started + estimate > budget:
                print(f"  nfe {nfe}: skipped, about {estimate:.0f} s would pass the "
                      f"{budget:.0f} s budget")
                rows.append([name, nfe, 0, float("nan"), float("nan"), float("nan"),
                             float("nan"), "skipped (budget)"])
                continue
            walls, output = [], 0.0
            for _ in range(rounds):
                wall, output = generate(model, vocoder, ref_path, ref_text, nfe=nfe,
                                        device=args.device, output_seconds=args.seconds)
                walls.append(wall)
            wall = common.median(walls)
            rows.append([name, nfe, rounds, output, wall, wall / output, wall / nfe,
                         f"{peak_memory_gb(args.device):.2f}"])
            print(f"  nfe {nfe}: {wall:.2f} s for {output:.2f} s of audio "
                  f"(RTF {wall / output:.3f})")
        del model
        gc.collect()
        if on_cuda:
            torch.cuda.empty_cache()
    common.upstream_ref_cache_clear()
    print()
    common.print_table(["model", "nfe", "rounds", "audio s", "wall s (median)", "RTF",
                        "s per step", "peak GPU mem GB" if on_cuda else "peak RSS GB"], rows)
    print("RTF = wall seconds / seconds of audio generated (below 1: faster than real time); "
          "wall includes text prep, sampling and the vocoder, not reference preprocessing.")
    measured = [row for row in rows if row[2]]
    for row in measured:
        print(f"RATIO rtf {row[0]} nfe {row[1]} ({args.device}): {row[5]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
