"""What TTS_COMPILE costs at start, cold and warm, and what it gains per denoising step, on the
real-size architectures (random weights, the server's precision unless ``--precision``).

For each model, two fresh processes (nothing compiled in memory, as at a server's start):

1. **cold**: build the model, compile its layers into an empty persisted cache
   (tts.engine.compile_cache, as the server does): the first start of a configuration;
2. **warm**: build it again, compile from the cache the first process filled: every later
   start; then one forward pass of the transformer (a 5 s output after a 3.4 s reference,
   with guidance: batch 2, about 790 frames) eager and compiled in turn, ``--rounds`` times
   (interleaved, so a shared machine's load hits both alike).

    .venv/bin/python -m bench.compile_start                       # F5TTS_v1_Base and E2TTS_Base
    .venv/bin/python -m bench.compile_start --models E2TTS_Base --rounds 3
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import common

ARCHITECTURES = ("F5TTS_v1_Base", "E2TTS_Base")
FRAMES = 790  # (3.4 s + 5 s) * 24000 / 256
TEXT = 60


def forward(transformer: Any) -> float:
    import torch

    x = torch.randn(1, FRAMES, 100)
    text = torch.randint(1, 2000, (1, TEXT))
    started = time.perf_counter()
    with torch.inference_mode():
        transformer(x=x, cond=x, text=text, time=torch.tensor(0.5), mask=None,
                    drop_audio_cond=False, drop_text=False, cfg_infer=True, cache=False)
    return time.perf_counter() - started


def child(name: str, precision: str, cache_dir: str, rounds: int) -> dict[str, Any]:
    """One start: build, compile (from whatever the cache holds), then time eager/compiled."""
    import torch

    from bench.rtf import build_model
    from tts.engine.compile_cache import CompileCache, cache_key
    from tts.engine.compiler import compile_transformer
    from tts.engine.registry import upstream_arch

    started = time.perf_counter()
    model, _ = build_model(name, "cpu", precision=precision)
    built = time.perf_counter() - started
    architecture, config = upstream_arch(name)
    chosen = model.transformer
    cache = CompileCache(cache_dir)
    key = cache_key(architecture=architecture, config=config, precision=precision,
                    device="cpu")
    state = cache.state(key)[0]
    eager = copy.deepcopy(chosen) if rounds else None
    seconds = compile_transformer(chosen, model_id=name, cache=cache, key=key)
    result: dict[str, Any] = {"build_s": built, "compile_s": seconds, "cache_found": state}
    if rounds:
        eager_times, compiled_times = [], []
        forward(eager), forward(chosen)  # first calls
        for index in range(rounds):
            pair = [(eager, eager_times), (chosen, compiled_times)]
            for module, times in (pair if index % 2 == 0 else pair[::-1]):
                times.append(forward(module))
        result |= {"eager_s": common.median(eager_times),
                   "compiled_s": common.median(compiled_times)}
    torch._dynamo.reset()
    return result


def run_child(name: str, precision: str, cache_dir: str, rounds: int) -> dict[str, Any]:
    code = ("import json, sys; from bench.compile_start import child; "
            f"print('RESULT', json.dumps(child({name!r}, {precision!r}, {cache_dir!r}, "
            f"{rounds})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, cwd=Path(__file__).resolve().parent.parent)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{name}: the child failed:\n{done.stderr[-3000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", choices=ARCHITECTURES, default=list(ARCHITECTURES))
    parser.add_argument("--precision", default="", help="default: what the server's auto picks")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    common.stop_on_sigterm()
    from tts.engine.precision import resolve_precision

    precision = args.precision or resolve_precision("auto", "cpu").name
    common.print_header("bench/compile_start.py: TTS_COMPILE at start (cold and warm cache) "
                        "and per step", device="cpu", models=" ".join(args.models),
                        precision=precision, rounds=args.rounds)
    rows = []
    for name in args.models:
        with tempfile.TemporaryDirectory(prefix="compile-cache-") as cache_dir:
            cold = run_child(name, precision, cache_dir, 0)
            print(f"{name} cold: {cold} (load {os.getloadavg()[0]:.2f})", flush=True)
            warm = run_child(name, precision, cache_dir, args.rounds)
            print(f"{name} warm: {warm} (load {os.getloadavg()[0]:.2f})", flush=True)
        rows.append([name, precision, cold["cache_found"], cold["build_s"], cold["compile_s"],
                     warm["cache_found"], warm["compile_s"], warm["compile_s"] / cold["compile_s"],
                     warm["eager_s"], warm["compiled_s"], warm["eager_s"] / warm["compiled_s"]])
    print()
    common.print_table(["model", "precision", "1st cache", "build s", "cold compile s",
                        "2nd cache", "warm compile s", "warm / cold", "eager step s",
                        "compiled step s", "gain per step"], rows)
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for row in rows:
        print(f"RATIO compile warm/cold {row[0]}: {row[7]:.3f}")
        print(f"RATIO compile gain per step {row[0]} {row[1]}: {row[10]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
